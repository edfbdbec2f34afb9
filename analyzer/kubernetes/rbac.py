"""Who may do what in a cluster: Kubernetes RBAC decided as the API server's RBAC authorizer decides it
(Kubernetes documentation, "Using RBAC Authorization").

A request is a verb on a resource (with its subresource: ``pods/exec``), in an API group, in a namespace
or cluster-wide, optionally on one named object. A rule allows it when its ``verbs``, ``apiGroups``,
``resources`` and ``resourceNames`` each match: ``*`` matches every verb, group or resource (a resource's
subresources too); ``pods/exec`` must be named to be granted (``pods`` does not grant it); ``*/scale``
grants the ``scale`` subresource of every resource; an empty ``resourceNames`` matches every name. RBAC
only allows: there are no deny rules, so a subject may do what any of its bindings' roles allows.

A ClusterRoleBinding holds everywhere; a RoleBinding only in its own namespace, also when it grants a
ClusterRole, and never for a cluster-scoped request. A group binds its members: ``system:serviceaccounts``
every service account, ``system:serviceaccounts:<ns>`` those of one namespace, ``system:authenticated``
everyone signed in. Users and other groups come from the cluster's authenticator (for EKS, its access
entries or aws-auth ConfigMap), which Blastwall does not read: such a subject is listed by name.

>>> rule = {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}
>>> rule_allows(rule, Request("create", "pods", "exec", "", "fraud"))
True
>>> rule_allows({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, Request("create", "pods", "exec", "", "fraud"))
False
>>> rule_allows({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, Request("create", "pods", "exec", "", "fraud"))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ALL = "*"
SA_GROUP = "system:serviceaccounts"
AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class Request:
    verb: str
    resource: str
    subresource: str | None = None
    api_group: str = ""
    namespace: str | None = None
    """None: a cluster-scoped request (nodes, namespaces, every namespace at once)."""
    name: str | None = None

    @classmethod
    def parse(
        cls,
        verb: str,
        resource: str,
        namespace: str | None = None,
        api_group: str = "",
        name: str | None = None,
    ) -> Request:
        """``RESOURCE`` as ``kubectl auth can-i`` takes it: ``pods``, ``pods/exec``, ``deployments.apps``."""
        main, _, sub = resource.partition("/")
        plural, _, group = main.partition(".")
        return cls(verb, plural, sub or None, group or api_group, namespace, name)


def rule_allows(rule: Mapping[str, Any], req: Request) -> bool:
    """Whether one PolicyRule allows ``req`` (non-resource URLs are not requests here)."""
    verbs, groups = rule.get("verbs") or [], rule.get("apiGroups") or []
    if ALL not in verbs and req.verb not in verbs:
        return False
    if ALL not in groups and req.api_group not in groups:
        return False
    combined = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    if not any(
        r in (ALL, combined) or (req.subresource is not None and r == f"*/{req.subresource}")
        for r in rule.get("resources") or []
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or (req.name is not None and req.name in names)


@dataclass(frozen=True)
class Grant:
    """A subject allowed ``req``: by which binding, which role and which of its rules."""

    subject: str
    subject_kind: str
    binding: str
    role: str
    rule: int
    members: str
    """Who the subject is: the service account itself, or the members a group stands for."""


def members_of(subject_kind: str, name: str) -> str:
    if subject_kind == "ServiceAccount":
        return "this service account"
    if name == SA_GROUP:
        return "every service account of the cluster"
    if name.startswith(SA_GROUP + ":"):
        return f"every service account of namespace {name.split(':', 2)[2]}"
    if name == AUTHENTICATED:
        return "everyone the cluster authenticates"
    return "as the cluster's authenticator maps them (not collected)"


def who_can(
    req: Request,
    roles: Mapping[str, Mapping[str, Any]],
    bindings: Iterable[tuple[str, str, str, str, str | None]],
) -> list[Grant]:
    """Every subject a binding lets do ``req``. ``roles``: role id -> its props (``rules``); ``bindings``:
    (subject id, subject kind, role id, binding, namespace it holds in or None)."""
    out: list[Grant] = []
    for subject, kind, role, binding, namespace in bindings:
        if namespace is not None and req.namespace != namespace:
            continue  # a RoleBinding: its namespace only, never cluster-scoped
        rules = (roles.get(role) or {}).get("rules") or []
        for i, rule in enumerate(rules):
            if isinstance(rule, Mapping) and rule_allows(rule, req):
                name = subject.rsplit("/", 1)[-1]
                out.append(Grant(subject, kind, binding, role, i, members_of(kind, name)))
                break
    return sorted(out, key=lambda g: (g.subject, g.binding))


def who_can_in(snap: Any, prefix: str, req: Request) -> list[Grant]:
    """``who_can`` over a snapshot's cluster (the objects whose ids start with ``prefix``)."""
    roles = {n.id: n.props for n in snap.of_kind("KubernetesRole") if n.id.startswith(prefix)}
    bindings = []
    for e in snap.edge_records("BOUND_TO"):
        if not e.src.startswith(prefix):
            continue
        node = snap.node(e.src)
        kind = (
            "ServiceAccount"
            if node is not None and node.kind == "ServiceAccount"
            else "User"
            if e.src.startswith(prefix + "users/")
            else "Group"
        )
        bindings.append((e.src, kind, e.dst, str(e.props.get("binding")), e.props.get("namespace")))
    return who_can(req, roles, bindings)
