"""Ids of graph nodes that more than one source names, made in one place so the sources meet on one node.

A web identity is its OIDC issuer (without ``https://``) and subject: ``urn:aws:web-identity:<issuer>:
<sub>``. CloudTrail's ``WebIdentityUser`` names it (``identityProvider``: ``arn:aws:iam::<account>:
oidc-provider/<issuer>``, ``userName``: the subject; IAM User Guide, "Logging IAM and AWS STS API calls
with AWS CloudTrail"), and so does a Kubernetes service account of a cluster whose issuer is known
(``system:serviceaccount:<ns>:<name>``), whichever is loaded first.

>>> web_identity_of_provider("arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/AB12", "system:serviceaccount:fraud:scorer")
'urn:aws:web-identity:oidc.eks.us-east-1.amazonaws.com/id/AB12:system:serviceaccount:fraud:scorer'
"""

from __future__ import annotations

WEB_IDENTITY_PREFIX = "urn:aws:web-identity:"


def web_identity_of_provider(provider: str, subject: str) -> str:
    """The web identity node of a CloudTrail ``WebIdentityUser`` (its ``identityProvider``, an OIDC provider
    ARN or a bare issuer such as ``accounts.google.com``, and its ``userName``)."""
    issuer = provider.split(":oidc-provider/", 1)[1] if ":oidc-provider/" in provider else provider
    return f"{WEB_IDENTITY_PREFIX}{issuer.removeprefix('https://').rstrip('/')}:{subject}"


def split_web_identity(node_id: str) -> tuple[str, str] | None:
    """(issuer, subject) of a web identity node id; None for any other id. The issuer is a host and path
    (it holds no ``:``), the subject the rest.

    >>> split_web_identity("urn:aws:web-identity:oidc.eks.us-east-1.amazonaws.com/id/AB12:system:serviceaccount:a:b")
    ('oidc.eks.us-east-1.amazonaws.com/id/AB12', 'system:serviceaccount:a:b')
    """
    if not node_id.startswith(WEB_IDENTITY_PREFIX):
        return None
    issuer, sep, subject = node_id.removeprefix(WEB_IDENTITY_PREFIX).partition(":")
    return (issuer, subject) if sep and issuer and subject else None
