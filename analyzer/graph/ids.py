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

import re
from dataclasses import dataclass

WEB_IDENTITY_PREFIX = "urn:aws:web-identity:"
_CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:eks:([a-z0-9-]+):(\d{12}):cluster/([A-Za-z0-9][A-Za-z0-9_-]*)$")


@dataclass(frozen=True)
class Cluster:
    arn: str
    issuer: str | None = None
    """The cluster's OIDC issuer URL (EKS ``identity.oidc.issuer``); None when not known."""

    def __post_init__(self) -> None:
        if not _CLUSTER_ARN.match(self.arn):
            raise ValueError(
                f"{self.arn!r} is not an EKS cluster ARN (arn:aws:eks:REGION:ACCOUNT:cluster/NAME)"
            )

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def issuer_host(self) -> str | None:
        """The issuer as IAM writes it in condition keys and provider ARNs (no scheme, no trailing /)."""
        if not self.issuer:
            return None
        return self.issuer.removeprefix("https://").rstrip("/")

    def namespace_id(self, ns: str) -> str:
        return f"k8s://{self.account}/{self.region}/{self.name}/namespaces/{ns}"

    def object_id(self, ns: str, plural: str, name: str) -> str:
        return f"{self.namespace_id(ns)}/{plural}/{name}"

    def cluster_object_id(self, plural: str, name: str) -> str:
        """A cluster-scoped object (a ClusterRole), or an RBAC user or group (``users``, ``groups``)."""
        return f"k8s://{self.account}/{self.region}/{self.name}/{plural}/{name}"

    def web_identity(self, ns: str, service_account: str) -> str | None:
        host = self.issuer_host
        return f"{WEB_IDENTITY_PREFIX}{host}:system:serviceaccount:{ns}:{service_account}" if host else None

    def prefix(self) -> str:
        """What every id of an object of this cluster starts with."""
        return f"k8s://{self.account}/{self.region}/{self.name}/"


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
