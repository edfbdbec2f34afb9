"""What analysis needs from a snapshot, derived once per snapshot: principals and their policies, the
organization's SCP chain, the resource -> CI mapping, documented CI relations and evidence coverage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.snapshot import Snapshot
from analyzer.iam.evaluate import PolicySet
from analyzer.iam.policy import parse_document

CMDB_TAG = "cmdb_ci"


@dataclass
class Principal:
    arn: str
    kind: str
    account: str
    identity: PolicySet
    boundary: PolicySet | None
    malformed: list[str] = field(default_factory=list)


@dataclass
class Context:
    snap: Snapshot
    principals: dict[str, Principal]
    account_org: dict[str, str]
    scp_levels: dict[str, list[tuple[str, PolicySet]]]
    ci_of: dict[str, list[str]]
    documented: set[tuple[str, str]]
    coverage: dict[str, dict[str, Any]]
    problems: list[str]
    collection: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ci(self, ci_id: str) -> dict[str, Any]:
        node = self.snap.node(ci_id)
        return node.props if node else {}

    def ci_names(self, ids: list[str]) -> list[str]:
        return [str(self.ci(c).get("name") or c) for c in ids]

    def documented_between(self, consumer: str, provider: str) -> tuple[bool, str]:
        """Whether the CMDB documents ``consumer`` depending on ``provider``, and why (not)."""
        a, b = self.ci_of.get(consumer, []), self.ci_of.get(provider, [])
        if not a:
            return False, "the consumer maps to no CI"
        if not b:
            return False, "the provider maps to no CI"
        if set(a) & set(b):
            return True, "both ends belong to the same CI"
        for x in a:
            for y in b:
                if (x, y) in self.documented or (y, x) in self.documented:
                    return True, f"CMDB relates {self.ci(x).get('name')} and {self.ci(y).get('name')}"
        return (
            False,
            f"the CMDB does not relate {', '.join(self.ci_names(a))} to {', '.join(self.ci_names(b))}",
        )


def account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _policyset(label: str, doc: Any, problems: list[str], where: str) -> PolicySet:
    if doc is None:
        return PolicySet()
    try:
        return PolicySet.of(label, parse_document(doc, where=where))
    except BadInput as exc:
        problems.append(f"{where}: {exc.message} (policy skipped; decisions depending on it are conditional)")
        return PolicySet()


def build_context(
    snap: Snapshot,
    coverage: dict[str, dict[str, Any]],
    tag_key: str = CMDB_TAG,
    collection: dict[str, dict[str, Any]] | None = None,
) -> Context:
    problems: list[str] = []
    managed = {n.id: n.props.get("document") for n in snap.of_kind("ManagedPolicy")}
    principals: dict[str, Principal] = {}
    group_policies: dict[str, PolicySet] = {}
    for g in snap.of_kind("IamGroup"):
        ps = PolicySet()
        for ip in g.props.get("inline_policies", []):
            ps = ps + _policyset(
                f"{g.id}#inline:{ip['name']}", ip["document"], problems, f"{g.id} inline {ip['name']}"
            )
        for pa in g.props.get("managed_policies", []):
            ps = ps + _policyset(pa, managed.get(pa), problems, pa)
        group_policies[g.props.get("name", "")] = ps
    for n in snap.of_kind("IamRole", "IamUser"):
        ps = PolicySet()
        for ip in n.props.get("inline_policies", []):
            ps = ps + _policyset(
                f"{n.id}#inline:{ip['name']}", ip["document"], problems, f"{n.id} inline {ip['name']}"
            )
        missing_managed = []
        for pa in n.props.get("managed_policies", []):
            if managed.get(pa) is None:
                missing_managed.append(pa)
            ps = ps + _policyset(pa, managed.get(pa), problems, pa)
        for gname in n.props.get("groups", []):
            ps = ps + group_policies.get(gname, PolicySet())
        boundary = None
        if n.props.get("permissions_boundary"):
            boundary = _policyset(
                n.props["permissions_boundary"],
                managed.get(n.props["permissions_boundary"]),
                problems,
                n.props["permissions_boundary"],
            )
        p = Principal(n.id, n.kind, account_of(n.id), ps, boundary)
        p.malformed = missing_managed
        principals[n.id] = p
    # organization: account -> org id, and the SCP levels on its path (root ... OU ... account)
    account_org = {}
    for a in snap.of_kind("Account"):
        if a.props.get("org_id"):
            account_org[a.props["account_id"]] = a.props["org_id"]
    parent: dict[str, str] = {}
    for e in snap.edge_records("MEMBER_OF"):
        parent[e.src] = e.dst
    attached: dict[str, list[str]] = {}
    scp_docs = {n.id: n.props.get("document") for n in snap.of_kind("ServiceControlPolicy")}
    for e in snap.edge_records("ATTACHED"):
        if e.src in scp_docs:
            attached.setdefault(e.dst, []).append(e.src)
    scp_levels: dict[str, list[tuple[str, PolicySet]]] = {}
    for acct in account_org:
        chain = []
        node: str | None = f"arn:aws:iam::{acct}:root"
        while node is not None:
            ps = PolicySet()
            for pid in attached.get(node, []):
                ps = ps + _policyset(f"scp:{pid.rsplit('/', 1)[-1]}", scp_docs[pid], problems, pid)
            chain.append((node, ps))
            node = parent.get(node)
        scp_levels[acct] = chain
    # CMDB: resource -> CIs
    cis = snap.of_kind("BusinessService", "ConfigurationItem")
    by_name: dict[str, list[str]] = {}
    by_sys_id: dict[str, str] = {}
    by_arn: dict[str, list[str]] = {}
    for c in cis:
        if c.props.get("name"):
            by_name.setdefault(str(c.props["name"]).strip().lower(), []).append(c.id)
        if c.props.get("sys_id"):
            by_sys_id[c.props["sys_id"]] = c.id
        for key in ("object_id", "correlation_id"):
            if c.props.get(key):
                by_arn.setdefault(str(c.props[key]), []).append(c.id)
        for arn in c.props.get("aws_arns") or []:
            by_arn.setdefault(arn, []).append(c.id)
    ci_of: dict[str, list[str]] = {}
    for n in snap.nodes:
        found: list[str] = []
        tag = (n.props.get("tags") or {}).get(tag_key)
        if tag:
            found += [by_sys_id[tag]] if tag in by_sys_id else by_name.get(tag.strip().lower(), [])
        found += by_arn.get(n.id, [])
        short = n.id.rsplit("/", 1)[-1]
        if short != n.id:
            found += by_arn.get(short, [])
        if found:
            ci_of[n.id] = list(dict.fromkeys(found))
    for e in snap.edge_records("BELONGS_TO"):
        ci_of.setdefault(e.src, []).append(e.dst)
    # an ENI with no mapping of its own belongs to what it is attached to (an instance's cmdb_ci tag)
    for e in snap.edge_records("ATTACHED_TO"):
        if e.src not in ci_of and e.dst in ci_of:
            ci_of[e.src] = list(ci_of[e.dst])
    documented = set()
    for e in snap.edge_records("DEPENDS_ON"):
        documented.add((e.src, e.dst))
    return Context(
        snap, principals, account_org, scp_levels, ci_of, documented, coverage, problems, collection or {}
    )
