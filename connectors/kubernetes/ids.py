"""The ids Kubernetes objects and web identities have in the graph.

A cluster is its EKS ARN (``arn:aws:eks:<region>:<account>:cluster/<name>``). An object inside it is named
the way the API server paths name it, under the cluster: ``k8s://<account>/<region>/<cluster>/namespaces/
<ns>/<plural>/<name>`` (a namespace: ``…/namespaces/<ns>``). A web identity is its OIDC issuer (without
``https://``) and subject: ``urn:aws:web-identity:<issuer>:<sub>`` — what CloudTrail's ``WebIdentityUser``
names (``identityProvider`` ``arn:aws:iam::<account>:oidc-provider/<issuer>``, ``userName`` the subject),
so evidence and the cluster's service accounts meet on one node whichever is loaded first.

>>> c = Cluster("arn:aws:eks:us-east-1:111122223333:cluster/fraud", "https://oidc.eks.us-east-1.amazonaws.com/id/AB12")
>>> c.object_id("fraud", "serviceaccounts", "scorer")
'k8s://111122223333/us-east-1/fraud/namespaces/fraud/serviceaccounts/scorer'
>>> c.web_identity("fraud", "scorer")
'urn:aws:web-identity:oidc.eks.us-east-1.amazonaws.com/id/AB12:system:serviceaccount:fraud:scorer'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.graph.ids import WEB_IDENTITY_PREFIX

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

    def web_identity(self, ns: str, service_account: str) -> str | None:
        host = self.issuer_host
        return f"{WEB_IDENTITY_PREFIX}{host}:system:serviceaccount:{ns}:{service_account}" if host else None
