"""What analysis needs from a snapshot, derived once per snapshot: principals and their policies, the
organization's SCP chain, the resource -> CI mapping, documented CI relations and evidence coverage."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from analyzer.graph.snapshot import Snapshot
from analyzer.iam.applicability import policy_kind
from analyzer.iam.authorize import Endpoint, Subject, Target
from analyzer.iam.conditions import OutsideOf
from analyzer.iam.evaluate import Caller, PolicySet
from analyzer.iam.policy import parse_lenient
from analyzer.scoring.coverage import coverage_index, covered_days

CMDB_TAG = "cmdb_ci"
PART_OF_LABEL = "app.kubernetes.io/part-of"
"""The Kubernetes recommended label naming the application an object is part of (a CI by name)."""
SERVICE_PREFIX = "urn:aws:service:"
"""How CloudTrail evidence names an AWS service principal (``userIdentity.type`` ``AWSService``)."""
ANONYMOUS = "anonymous"
"""The principal of an unauthenticated request (what ``Principal: "*"`` lets in besides every account)."""
POLICY_RESOURCE_KINDS = frozenset({"S3Bucket", "KmsKey", "LambdaFunction", "SqsQueue", "SnsTopic"})
"""Node kinds whose ``policy`` property is their resource-based policy (None: collected, and none set)."""


@dataclass
class Principal:
    arn: str
    kind: str
    account: str
    identity: PolicySet
    boundary: PolicySet | None
    malformed: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    path: str | None = None


_PROCESS_CACHES = frozenset({"_subjects", "_coverage_days"})


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
    management_accounts: set[str] = field(default_factory=set)
    org_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    network_docs: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """The raw VPC configuration per ``<account>/<region>`` (for network change kinds)."""
    rcp_levels: dict[str, list[tuple[str, PolicySet]]] = field(default_factory=dict)
    """Per member account, the RCPs at each level of its path (empty: RCPs not enabled)."""
    _targets: dict[str, Target] = field(default_factory=dict)
    _memo: dict[object, object] = field(default_factory=dict)
    persisted_keys: frozenset[str] | None = None
    """The memo's keys when this context was last persisted or loaded (None: never)."""

    def memo_keys(self) -> list[object]:
        """The keys of the structures derived so far, this context's and its snapshot's."""
        return [*self._memo, *(k for k, _ in self.snap.memo_items())]

    def memo(self, key: object, build: Callable[[], object]) -> object:
        """A structure derived from this context (its CMDB mapping, principals or VPC documents, not the
        snapshot alone), built once and kept with it: a persisted context keeps it too (keys must be
        stable values, never object ids)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def forget(self, family: str, but: object = None) -> None:
        """Drop the memo's structures whose key starts with ``family`` (all but ``but``)."""
        for k in [k for k in self._memo if isinstance(k, tuple) and k[:1] == (family,) and k != but]:
            del self._memo[k]

    def persisted_columns(self) -> list[Sequence[object]]:
        """The large collections of one class a persisted context writes as column tables
        (``analyzer.graph.persisted``): those the structures in the memo name (``persisted_columns``),
        then the snapshot's nodes."""
        out: list[Sequence[object]] = []
        for value in self._memo.values():
            named = getattr(value, "persisted_columns", None)
            if callable(named):
                out.extend(named())
        out.append(self.snap.nodes)
        return out

    def __getstate__(self) -> dict[str, Any]:
        """What a persisted context keeps: not the per-process caches (made again on first use)."""
        return {k: v for k, v in self.__dict__.items() if k not in _PROCESS_CACHES}

    def subject(self, arn: str) -> Subject:
        """The caller ``arn`` with its policies, tags and organization, as the evaluator needs it (made once
        per caller: a trust change asks for tens of thousands)."""
        cache = self.__dict__.setdefault("_subjects", {})  # one dict, whichever thread asks first
        got: Subject | None = cache.get(arn)
        if got is None:
            got = cache[arn] = self._subject(arn)
        return got

    def covered_days(
        self, account: str, start: datetime, end: datetime, sources: tuple[str, ...] = ("cloudtrail",)
    ) -> tuple[int, int]:
        """``analyzer.scoring.coverage.covered_days`` of this context's coverage (indexed on first use)."""
        index = self.__dict__.get("_coverage_days")
        if index is None:  # built whole, then published: a thread never reads half an index
            index = self.__dict__["_coverage_days"] = coverage_index(self.coverage)
        return covered_days(index, account, start, end, sources)

    def _subject(self, arn: str) -> Subject:
        p = self.principals.get(arn)
        account = account_of(arn)
        if arn.startswith(SERVICE_PREFIX):
            arn = arn.removeprefix(SERVICE_PREFIX)
        if arn.endswith(".amazonaws.com"):
            return Subject(Caller(arn, None, "service"), PolicySet(), scp_exempt=True, tags={})
        if arn == ANONYMOUS:
            return Subject(Caller(ANONYMOUS, None, "anonymous"), PolicySet(), scp_exempt=True, tags={})
        kind = "user" if ":user/" in arn else "root" if arn.endswith(":root") else "role"
        org: Any = self.account_org.get(account)
        if org is None and self.account_org:
            org = OutsideOf(frozenset(self.account_org.values()))
        levels = tuple(self.scp_levels.get(account, []))
        if p is None:
            return Subject(Caller(arn, account, kind), None, scp_levels=levels, org_id=org)  # type: ignore[arg-type]
        identity: PolicySet = p.identity
        if p.malformed:
            from analyzer.iam.policy import Unreadable

            identity = identity + PolicySet(
                (), tuple(Unreadable(m, "managed policy missing from the snapshot") for m in p.malformed)
            )
        service_linked = (p.path or "").startswith("/aws-service-role/")
        return Subject(
            Caller(arn, account, kind, has_boundary=p.boundary is not None),  # type: ignore[arg-type]
            identity,
            p.boundary,
            scp_levels=levels,
            scp_exempt=account in self.management_accounts or service_linked,
            service_linked=service_linked,
            tags=p.tags,
            username=p.name if kind == "user" else None,
            org_id=org,
            org_paths=self.org_paths.get(account),
        )

    def target(self, arn: str) -> Target:
        """The resource ``arn`` with its resource policy (or the knowledge that it has none)."""
        if arn in self._targets:
            return self._targets[arn]
        node = self.snap.node(arn)
        account = account_of(arn) or (node.account if node else None) or None
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        known = node is not None and bool(node.props)  # a stub has no properties: only its id is known
        tags = (node.props.get("tags") or {}) if node is not None and known else None
        problems: list[str] = []
        t: Target
        if arn == "*":
            t = Target("*", None, "none")  # no resource (List*, Describe*): the caller's own account
        elif node is not None and known and node.kind == "IamRole":
            policy = _policyset(
                f"{arn}#trust", node.props.get("trust_policy"), problems, f"{arn} trust policy"
            )
            t = Target(arn, account, "trust", policy, tags=tags, role_path=node.props.get("path"))
        elif node is not None and known and node.kind in POLICY_RESOURCE_KINDS:
            doc = node.props.get("policy")
            kind = "kms" if node.kind == "KmsKey" else "policy"
            label = f"{arn}#{'key-policy' if kind == 'kms' else 'policy'}"
            rp = _policyset(label, doc, problems, label) if doc is not None else None
            collected = bool(node.props.get("policy_collected", True))
            t = Target(arn, node.account or account, kind, rp, collected, tags=tags)  # type: ignore[arg-type]
        elif service == "s3" and arn.count(":") == 5:
            bucket = arn.split(":", 5)[5].split("/", 1)[0]
            parent = self.target(f"arn:aws:s3:::{bucket}") if "/" in arn.split(":", 5)[5] else None
            if parent is not None and parent.policy_known:
                t = Target(arn, parent.account, "policy", parent.policy, tags=None)
            else:
                t = Target(arn, account, "policy", None, policy_known=False)
        elif (kind := policy_kind(arn)) != "none":
            # a resource whose type carries a policy Blastwall did not collect: unknown, never "none"
            t = Target(arn, account, kind, None, policy_known=False)
        else:
            t = Target(arn, account, "none", tags=tags)  # its type has no resource policy at all
        if t.account and t.account in self.account_org:
            t = replace(t, org_id=self.account_org[t.account])
        aws_managed_key = node is not None and node.kind == "KmsKey" and node.props.get("manager") == "AWS"
        if t.account in self.rcp_levels and arn != "*" and not aws_managed_key:
            t = replace(t, rcp_levels=tuple(self.rcp_levels[t.account]))  # only RCP services keep them
        self._targets[arn] = t
        return t

    def endpoint(self, vpce_id: str) -> Endpoint:
        """The VPC endpoint ``vpce_id`` with its policy; one the snapshot does not hold has a policy
        Blastwall cannot see (every decision through it is then at most conditional)."""
        for n in self.snap.of_kind("VpcEndpoint"):
            if n.props.get("vpce_id") == vpce_id:
                doc = n.props.get("policy")
                problems: list[str] = []
                label = f"{n.id}#endpoint-policy"
                return Endpoint(vpce_id, _policyset(label, doc, problems, label) if doc is not None else None)
        return Endpoint(vpce_id, None, policy_known=False)

    def ci(self, ci_id: str) -> dict[str, Any]:
        node = self.snap.node(ci_id)
        return node.props if node else {}

    def ci_names(self, ids: list[str]) -> list[str]:
        return [str(self.ci(c).get("name") or c) for c in ids]

    def documented_between(self, consumer: str, provider: str) -> tuple[bool, str]:
        """Whether the CMDB documents ``consumer`` depending on ``provider``, and why (not)."""
        return self.documented_between_cis(self.ci_of.get(consumer, []), self.ci_of.get(provider, []))

    def documented_between_cis(self, a: list[str], b: list[str]) -> tuple[bool, str]:
        """``documented_between`` for the CIs the two ends map to (what the answer depends on)."""
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


def _policyset(
    label: str, doc: Any, problems: list[str], where: str, shared: dict[str, Any] | None = None
) -> PolicySet:
    """A policy document as statements; what cannot be read is reported (policy and statement index)
    and kept as ``unreadable`` so decisions it could change become conditional, never allowed.

    With ``shared``, documents of the same content (inline policies stamped out by templates: a hundred
    thousand roles may carry a handful of distinct ones) share their parsed statements, so evaluating
    many principals can group them by statements (``authorize_many(..., group_by_statements=True)``)."""
    if doc is None:
        return PolicySet()
    if shared is not None:
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        hit = shared.get(text)
        if hit is not None:
            return PolicySet.of(label, hit)
    parsed = parse_lenient(doc, where=where)
    if shared is not None and not parsed.unreadable:  # what cannot be read is reported where it is
        shared[text] = parsed.statements
    for u in parsed.unreadable:
        problems.append(f"{u.where}: {u.message} (skipped; decisions it could change are conditional)")
    return PolicySet.of(label, parsed.statements, parsed.unreadable)


def _org_chains(
    snap: Snapshot,
    kind: str,
    label: str,
    account_org: dict[str, str],
    parent: dict[str, str],
    problems: list[str],
) -> dict[str, list[tuple[str, PolicySet]]]:
    """Per account of the organization, the policies of ``kind`` (SCPs or RCPs) attached at each level of
    its path: the account, its OUs, the root; each parsed once."""
    docs = {n.id: n.props.get("document") for n in snap.of_kind(kind)}
    attached: dict[str, list[str]] = {}
    for e in snap.edge_records("ATTACHED"):
        if e.src in docs:
            attached.setdefault(e.dst, []).append(e.src)
    parsed: dict[str, PolicySet] = {}
    chains: dict[str, list[tuple[str, PolicySet]]] = {}
    for acct in account_org:
        chain = []
        node: str | None = f"arn:aws:iam::{acct}:root"
        while node is not None:
            ps = PolicySet()
            for pid in attached.get(node, []):
                if pid not in parsed:
                    parsed[pid] = _policyset(f"{label}:{pid.rsplit('/', 1)[-1]}", docs[pid], problems, pid)
                ps = ps + parsed[pid]
            chain.append((node, ps))
            node = parent.get(node)
        chains[acct] = chain
    return chains


def build_context(
    snap: Snapshot,
    coverage: dict[str, dict[str, Any]],
    tag_key: str = CMDB_TAG,
    collection: dict[str, dict[str, Any]] | None = None,
) -> Context:
    problems: list[str] = []
    managed = {n.id: n.props.get("document") for n in snap.of_kind("ManagedPolicy")}
    parsed_managed: dict[str, PolicySet] = {}

    def managed_set(arn: str) -> PolicySet:
        """Each managed policy parsed once, so principals that share it share its statements."""
        if arn not in parsed_managed:
            parsed_managed[arn] = _policyset(arn, managed.get(arn), problems, arn)
        return parsed_managed[arn]

    principals: dict[str, Principal] = {}
    group_policies: dict[str, PolicySet] = {}
    for g in snap.of_kind("IamGroup"):
        ps = PolicySet()
        for ip in g.props.get("inline_policies", []):
            ps = ps + _policyset(
                f"{g.id}#inline:{ip['name']}", ip["document"], problems, f"{g.id} inline {ip['name']}"
            )
        for pa in g.props.get("managed_policies", []):
            ps = ps + managed_set(pa)
        group_policies[g.props.get("name", "")] = ps
    inline_shared: dict[str, Any] = {}
    for n in snap.of_kind("IamRole", "IamUser"):
        if "inline_policies" not in (n.props or {}) and "managed_policies" not in (n.props or {}):
            continue  # known only from evidence (a caller in CloudTrail): its policies are unknown, not none
        ps = PolicySet()
        for ip in n.props.get("inline_policies", []):
            ps = ps + _policyset(
                f"{n.id}#inline:{ip['name']}",
                ip["document"],
                problems,
                f"{n.id} inline {ip['name']}",
                inline_shared,
            )
        missing_managed = []
        for pa in n.props.get("managed_policies", []):
            if managed.get(pa) is None:
                missing_managed.append(pa)
            ps = ps + managed_set(pa)
        for gname in n.props.get("groups", []):
            ps = ps + group_policies.get(gname, PolicySet())
        boundary = None
        if n.props.get("permissions_boundary"):
            boundary = managed_set(n.props["permissions_boundary"])
        p = Principal(
            n.id,
            n.kind,
            account_of(n.id),
            ps,
            boundary,
            missing_managed,
            dict(n.props.get("tags") or {}),
            n.props.get("name"),
            n.props.get("path"),
        )
        principals[n.id] = p
    # organization: account -> org id, and the SCP levels on its path (root ... OU ... account)
    account_org = {}
    for a in snap.of_kind("Account"):
        if a.props.get("org_id"):
            account_org[a.props["account_id"]] = a.props["org_id"]
    parent: dict[str, str] = {}
    for e in snap.edge_records("MEMBER_OF"):
        parent[e.src] = e.dst
    scp_levels = _org_chains(snap, "ServiceControlPolicy", "scp", account_org, parent, problems)
    # RCPs count where the organization has them enabled (its root says so), or, when the roots were not
    # collected, where any RCP was; a level without one then means it was not collected (unknown)
    roots = [n for n in snap.of_kind("OrgUnit") if n.props.get("root")]
    rcp_on = (
        any("RESOURCE_CONTROL_POLICY" in (r.props.get("policy_types") or []) for r in roots)
        if any("policy_types" in r.props for r in roots)
        else bool(snap.of_kind("ResourceControlPolicy"))
    )
    management = {
        str(o.props["management_account"])
        for o in snap.of_kind("Organization")
        if o.props.get("management_account")
    }
    rcp_levels = (
        {
            acct: chain
            for acct, chain in _org_chains(
                snap, "ResourceControlPolicy", "rcp", account_org, parent, problems
            ).items()
            if acct not in management  # RCPs do not affect the management account's resources
        }
        if rcp_on
        else {}
    )
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
                value = str(c.props[key])
                if value.lower().startswith("/subscriptions/"):  # an ARM id: the graph keys them lower case
                    value = value.lower().rstrip("/")
                by_arn.setdefault(value, []).append(c.id)
        for arn in c.props.get("aws_arns") or []:
            arm = str(arn).lower().startswith(("/subscriptions/", "urn:azure:"))
            by_arn.setdefault(str(arn).lower().rstrip("/") if arm else arn, []).append(c.id)
    ci_of: dict[str, list[str]] = {}
    for n in snap.nodes:
        found: list[str] = []
        tag = (n.props.get("tags") or {}).get(tag_key)
        labels = n.props.get("labels")
        if not tag and isinstance(
            labels, dict
        ):  # a Kubernetes object: its cmdb_ci label, else its application
            tag = labels.get(tag_key) or labels.get(PART_OF_LABEL)
        if tag and isinstance(tag, str):
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
    # a pod with no mapping of its own belongs to its workload's
    for e in snap.edge_records("PART_OF"):
        if e.src not in ci_of and e.dst in ci_of:
            ci_of[e.src] = list(ci_of[e.dst])
    # a service account (with no mapping of its own) belongs to what runs as it, and the web identity its
    # token is (what CloudTrail names) to the service account: its observed use is then that CI's
    own = set(ci_of)
    for e in snap.edge_records("USES_SERVICE_ACCOUNT"):
        if e.dst not in own and e.src in ci_of:
            ci_of[e.dst] = list(dict.fromkeys([*ci_of.get(e.dst, []), *ci_of[e.src]]))
    for e in snap.edge_records("AUTHENTICATES_AS"):
        if e.dst not in own and e.src in ci_of:
            ci_of[e.dst] = list(dict.fromkeys([*ci_of.get(e.dst, []), *ci_of[e.src]]))
    documented = set()
    for e in snap.edge_records("DEPENDS_ON"):
        documented.add((e.src, e.dst))
    org_paths: dict[str, tuple[str, ...]] = {}
    for acct, chain in scp_levels.items():
        ids = [n.rsplit(":", 1)[-1] for n, _ in reversed(chain[1:])]  # root ... OU (the account excluded)
        if acct in account_org and ids:
            org_paths[acct] = ("/".join([account_org[acct], *ids]) + "/",)
    return Context(
        snap,
        principals,
        account_org,
        scp_levels,
        ci_of,
        documented,
        coverage,
        problems,
        collection or {},
        management,
        org_paths,
        rcp_levels=rcp_levels,
    )
