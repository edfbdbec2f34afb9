"""Blast radius of isolating a pod (``k8s.quarantine_pod``).

Isolated (a deny-all NetworkPolicy selects it), the pod can neither be reached nor reach anything: not its
Services' callers, not the AWS APIs its service account's role is used for (the token exchange with STS is
egress too). Relabelled, it drops out of its Services and its controller's selector (the controller starts
a replacement).

What that breaks depends on what else serves the same purpose. A pod whose workload keeps other running
replicas costs capacity, not a dependency: said in a note, nothing severed. A pod that is the last one
of its workload (or has no workload) takes the workload's dependencies with it: its role's use (observed
when CloudTrail shows its service account's web identity, or the role, in use), every Service left with
no endpoint, and the flows VPC flow logs show at its address (attributed to the pod at ingest). With no
flow logs of its account, who calls its Services is an unknown, never a clean bill.

Two things the export does not say are unknowns of every isolation: whether the cluster's network plugin
enforces NetworkPolicy at all (if it does not, the quarantine isolates nothing), and, for a pod on the
host network, what a policy does to it (Kubernetes leaves it undefined).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.changes.kubernetes import QUARANTINE_LABEL
from analyzer.kubernetes.rbac import AUTHENTICATED, SA_GROUP, Request, who_can
from analyzer.scoring.context import SERVICE_PREFIX, Context
from analyzer.scoring.outcome import Outcome, in_window, record_flow_change, severed_entry, simulated_rollback
from analyzer.scoring.service_trust import POD_IDENTITY
from analyzer.timeutil import iso


def _selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def kubernetes_change(ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime) -> Outcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = Outcome(evidence_sources=("cloudtrail",))  # the role its service account gets, used in CloudTrail
    snap = ctx.snap
    pod = snap.node(str(change.get("target") or ""))
    if pod is None or pod.kind != "Pod" or not pod.props:
        return out.target_missing(f"{change.get('target')} is not a pod of a loaded cluster")
    out.account = pod.account or ""
    before = {"labels": dict(pod.props.get("labels") or {}), "isolated": []}
    if (pod.props.get("labels") or {}).get(QUARANTINE_LABEL):
        before["isolated"] = ["Egress", "Ingress"]
    after = kind.apply(before, change["delta"])
    out.applied = after == before
    isolated = bool(after["isolated"]) and not before["isolated"]
    relabelled = after["labels"] != before["labels"]
    name = pod.props.get("name") or pod.id
    lo, hi = iso(start), iso(as_of)

    owners = [e.dst for e in snap.edges_from("PART_OF", pod.id)]
    workload = owners[0] if owners else None
    siblings = sorted(
        e.src
        for e in (snap.edges_into("PART_OF", workload) if workload else [])
        if e.src != pod.id and getattr(snap.node(e.src), "props", {}).get("phase") == "Running"
    )
    consumer = workload or pod.id
    owner = snap.node(workload) if workload else None
    template: dict[str, Any] = dict((owner.props.get("pod_labels") if owner is not None else None) or {})
    # the controller's selector is part of its pod template's labels: kept whole, it still selects the pod
    still_owned = workload is None or all(after["labels"].get(k) == v for k, v in template.items())
    if isolated:
        out.notes.append(f"{name} is isolated: no traffic in or out")
    elif relabelled:
        was: dict[str, Any] = dict(pod.props.get("labels") or {})
        now: dict[str, Any] = dict(after["labels"])
        changed = sorted(k for k in {*was, *now} if was.get(k) != now.get(k))
        out.notes.append(f"{name} is relabelled ({', '.join(changed)})")
    # flows to and from the pod's address are the pod's (VPC CNI), where flow logs of its account exist
    flows_seen = bool(out.account) and ctx.covered_days(out.account, start, as_of, ("flowlogs",))[0] > 0
    # the Services it serves, and what each keeps
    for sid in _selecting(ctx, pod.id):
        svc = snap.node(sid)
        if svc is None or svc.kind != "KubernetesService":
            continue
        if not isolated and _selects(svc.props.get("selector") or {}, after["labels"]):
            continue  # relabelled, but still selected
        others = _running_others(ctx, sid, pod.id)
        if others:
            out.notes.append(f"Service {svc.props.get('name')} keeps {len(others)} other endpoint(s)")
            continue
        entry = severed_entry(
            ctx,
            sid,
            pod.id,
            "Service endpoint",
            observed=False,
            reason=f"Service {svc.props.get('name')} has no endpoint left",
        )
        entry["consumer_cis"] = entry["consumer_cis"] or ctx.ci_names(ctx.ci_of.get(consumer, []))
        out.severed.append(entry)
        if not flows_seen:
            out.unknowns.append(
                {
                    "reason": "callers_not_in_evidence",
                    "detail": f"who calls Service {svc.props.get('namespace')}/{svc.props.get('name')} is not in "
                    f"the evidence (no VPC flow logs of account {out.account} in the window): its callers lose it",
                }
            )
    # what it reaches: the AWS APIs its service account's role is used for (egress, STS included)
    if isolated and not siblings:
        for sa_edge in snap.edges_from("USES_SERVICE_ACCOUNT", pod.id):
            for run in snap.edges_from("RUNS_AS", sa_edge.dst):
                callers = [i.dst for i in snap.edges_from("AUTHENTICATES_AS", sa_edge.dst)]
                if run.props.get("method") == "pod-identity":  # EKS assumes it as its service principal
                    callers.append(SERVICE_PREFIX + POD_IDENTITY)
                seen_edges = [
                    a for c in callers for a in snap.edges_from("OBSERVED_ASSUME", c) if a.dst == run.dst
                ]
                edge = next((a for a in seen_edges if in_window(a, lo, hi)), None)
                entry = severed_entry(
                    ctx,
                    consumer,
                    run.dst,
                    f"AWS APIs as {run.dst.rsplit('/', 1)[-1]} ({run.props.get('method')})",
                    edge=edge,
                    observed=edge is not None,
                    reason=f"{name} may not send traffic: not to STS, not to the AWS APIs",
                )
                entry["via_service_account"] = sa_edge.dst
                out.severed.append(entry)
    if isolated and not _pod_has_flows(ctx, pod.id):
        hosts = _interfaces_holding(ctx, [str(ip) for ip in pod.props.get("pod_ips") or []])
        busy = [
            h for h in hosts if snap.edges_from("OBSERVED_FLOW", h) or snap.edges_into("OBSERVED_FLOW", h)
        ]
        if busy:
            out.unknowns.append(
                {
                    "reason": "pod_flows_unattributed",
                    "detail": f"flows of {', '.join(busy)}, which holds {name}'s address, were loaded before the "
                    "cluster: which of them are the pod's is not told (ingest the flow logs again)",
                }
            )
    if isolated and not siblings:  # its callers lose it
        for e in snap.edges_into("OBSERVED_FLOW", pod.id) if "OBSERVED_FLOW" in snap.edges else []:
            out.severed.append(
                severed_entry(
                    ctx,
                    e.src,
                    pod.id,
                    f"{e.props.get('protocol')}/{e.props.get('port')}",
                    edge=e,
                    observed=in_window(e, lo, hi),
                    reason=f"{name} is isolated: nothing reaches it",
                )
            )
    if isolated and not siblings:
        # what it reaches
        for e in snap.edges_from("OBSERVED_FLOW", pod.id) if "OBSERVED_FLOW" in snap.edges else []:
            entry = severed_entry(
                ctx,
                consumer,
                e.dst,
                f"{e.props.get('protocol')}/{e.props.get('port')}",
                edge=e,
                observed=in_window(e, lo, hi),
                reason=f"{name} is isolated: it reaches nothing",
            )
            entry["via_pod"] = pod.id
            out.severed.append(entry)
    if relabelled and not isolated:
        # the NetworkPolicies that select the pod as relabelled decide its flows now
        cut = _relabelled_flows(ctx, pod.id, after["labels"], consumer, lo, hi)
        out.severed += cut
        if cut:
            out.unknowns.append(
                {
                    "reason": "enforcement_unknown",
                    "detail": "whether the cluster's network plugin enforces NetworkPolicy is not in the "
                    "export: if it does not, the policies selecting the new labels change nothing",
                }
            )
        if workload is not None and not still_owned:
            out.notes.append(
                f"its controller no longer selects it and starts a replacement: {workload.rsplit('/', 1)[-1]} keeps "
                "its replicas"
            )
    if isolated and siblings:
        shown = ", ".join(s.rsplit("/", 1)[-1] for s in siblings[:3])
        out.notes.append(
            f"capacity, not a dependency: {consumer.rsplit('/', 1)[-1]} keeps {len(siblings)} other running "
            f"replica(s) ({shown}); what the pod did, they do"
        )
    if isolated:
        out.unknowns.append(
            {
                "reason": "enforcement_unknown",
                "detail": "whether the cluster's network plugin enforces NetworkPolicy is not in the export: "
                "if it does not, this quarantine isolates nothing",
            }
        )
        if pod.props.get("host_network"):
            out.unknowns.append(
                {
                    "reason": "host_network_pod",
                    "detail": f"{name} uses the node's network: what a NetworkPolicy does to it is left to the "
                    "network plugin",
                }
            )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    out.rollback = simulated_rollback(
        kind,
        pod.id,
        before,
        after,
        change["delta"],
        "apply then invert restores the pod's labels and isolation",
        "the pod's state is not restored",
    )
    return out


def _selecting(ctx: Context, pod: str) -> list[str]:
    """The Services and NetworkPolicies whose selector selects ``pod``."""
    return sorted({e.src for e in ctx.snap.edges_into("SELECTS", pod)})


def _selected_by(ctx: Context, selector: str) -> list[str]:
    return sorted({e.dst for e in ctx.snap.edges_from("SELECTS", selector)})


def _running_others(ctx: Context, selector: str, pod: str) -> set[str]:
    out = set()
    for p in _selected_by(ctx, selector):
        n = ctx.snap.node(p)
        if p != pod and n is not None and n.props.get("phase") == "Running":
            out.add(p)
    return out


def _binding_of(target: str) -> tuple[str, str] | None:
    """(cluster prefix, binding key) of a binding's id."""
    if "/namespaces/" in target and "/rolebindings/" in target:
        prefix, _, rest = target.partition("/namespaces/")
        ns, _, name = rest.partition("/rolebindings/")
        return prefix + "/", f"RoleBinding/{ns}/{name}"
    if "/clusterrolebindings/" in target:
        prefix, _, name = target.partition("/clusterrolebindings/")
        return prefix + "/", f"ClusterRoleBinding/{name}"
    return None


def _identities(actor: str, prefix: str, groups: list[str]) -> set[str]:
    """The subjects a request of ``actor`` is made as: itself and its groups (a service account is also in
    ``system:serviceaccounts``, ``system:serviceaccounts:<ns>`` and ``system:authenticated``)."""
    out = {actor} | {f"{prefix}groups/{g}" for g in groups}
    if "/serviceaccounts/" in actor:
        ns = actor.split("/namespaces/", 1)[1].split("/", 1)[0]
        out |= {f"{prefix}groups/{g}" for g in (SA_GROUP, f"{SA_GROUP}:{ns}", AUTHENTICATED)}
    return out


def binding_change(ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime) -> Outcome:
    """Deleting a binding: every request the audit log shows it allowing that no other binding of the
    same user (or its groups) allows is severed; subjects with no such use are listed from the
    configuration; with no audit log of the cluster in the window, whether anyone uses it is unknown."""
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = Outcome(evidence_sources=("k8s-audit",))
    snap = ctx.snap
    target = str(change.get("target") or "")
    where = _binding_of(target)
    bound = (
        [
            e
            for e in snap.edge_records("BOUND_TO")
            if e.src.startswith(where[0]) and e.props.get("binding") == where[1]
        ]
        if where
        else []
    )
    if where is None or not bound:
        return out.target_missing(f"{target} is not a binding of a loaded cluster")
    prefix, key = where
    out.account = prefix.removeprefix("k8s://").split("/", 1)[0]
    role = bound[0].dst
    before = {"role": role, "subjects": sorted(e.src for e in bound)}
    after = kind.apply(before, change["delta"])
    out.applied = before == after
    roles = {n.id: n.props for n in snap.of_kind("KubernetesRole") if n.id.startswith(prefix)}
    others = [
        (e.src, "", e.dst, str(e.props.get("binding")), e.props.get("namespace"))
        for e in snap.edge_records("BOUND_TO")
        if e.src.startswith(prefix) and e.props.get("binding") != key
    ]
    lo, hi = iso(start), iso(as_of)
    used: set[str] = set()
    for e in snap.edge_records("OBSERVED_K8S_ACCESS") if "OBSERVED_K8S_ACCESS" in snap.edges else []:
        if e.props.get("binding") != key or not e.src.startswith(prefix) or not in_window(e, lo, hi):
            continue
        used.add(e.src)
        verb, resource, ns = (
            str(e.props.get("verb")),
            str(e.props.get("resource")),
            e.props.get("namespace") or None,
        )
        req = Request.parse(verb, resource, ns)
        me = _identities(e.src, prefix, list(e.props.get("groups") or []))
        still = [g for g in who_can(req, roles, others) if g.subject in me]
        access = f"{verb} {resource}" + (f" in {ns}" if ns else " cluster-wide")
        if still:
            out.notes.append(f"{e.src.rsplit('/', 1)[-1]} may still {access}: {still[0].binding} allows it")
            continue
        users = _workloads_of(ctx, e.src) if "/serviceaccounts/" in e.src else [e.src]
        for consumer in users:
            entry = severed_entry(
                ctx, consumer, role, access, edge=e, observed=True, reason=f"{key} is deleted"
            )
            entry["via_binding"] = key
            if consumer != e.src:
                entry["via_service_account"] = e.src
            out.severed.append(entry)
    for subject in before["subjects"]:
        if subject in used:
            continue
        entry = severed_entry(
            ctx,
            subject,
            role,
            f"what {role.rsplit('/', 1)[-1]} grants, through {key}",
            observed=False,
            reason=f"{key} is deleted",
        )
        entry["via_binding"] = key
        out.severed.append(entry)
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    out.rollback = simulated_rollback(
        kind,
        target,
        before,
        after,
        change["delta"],
        "recreating it with the same role and subjects restores every grant",
        "the binding is not restored",
    )
    return out


def _workloads_of(ctx: Context, sa: str) -> list[str]:
    """The workloads that run as a service account (itself when none is loaded)."""
    snap = ctx.snap
    found = sorted(
        {
            e.src
            for e in snap.edges_into("USES_SERVICE_ACCOUNT", sa)
            if getattr(snap.node(e.src), "kind", "") == "KubernetesWorkload"
        }
    )
    return found or [sa]


def _pod_has_flows(ctx: Context, pod: str) -> bool:
    snap = ctx.snap
    return "OBSERVED_FLOW" in snap.edges and bool(
        snap.edges_from("OBSERVED_FLOW", pod) or snap.edges_into("OBSERVED_FLOW", pod)
    )


def _interfaces_holding(ctx: Context, ips: list[str]) -> list[str]:
    """The interfaces whose addresses include any of ``ips`` (a node's, for its pods)."""
    index = ctx.snap.memo(
        ("interfaces-by-address",),
        lambda: {
            str(ip): n.id
            for n in ctx.snap.of_kind("NetworkInterface")
            for ip in (n.props.get("private_ips") or [])
        },
    )
    assert isinstance(index, dict)
    return sorted({index[ip] for ip in ips if ip in index})


def _netpol_world(ctx: Context, prefix: str) -> tuple[dict[str, Any], dict[str, dict[str, str]], list[Any]]:
    """The cluster's pods (by id), namespaces' labels and NetworkPolicies, for ``analyzer.kubernetes.netpol``
    (made once per snapshot and cluster)."""
    got = ctx.snap.memo(("netpol-world", prefix), lambda: _netpol_world_of(ctx, prefix))
    return got  # type: ignore[return-value]


def _netpol_compiled(ctx: Context, prefix: str) -> Any:
    """The cluster's NetworkPolicies as they are, compiled against its pods (``netpol_many``; once per
    snapshot and cluster), pods in ``_netpol_world``'s order."""
    from analyzer.kubernetes.netpol_many import CompiledPolicies

    def build() -> Any:
        pods, namespaces, policies = _netpol_world(ctx, prefix)
        return CompiledPolicies(policies, list(pods.values()), namespaces)

    return ctx.snap.memo(("netpol-compiled", prefix), build)


def _netpol_world_of(
    ctx: Context, prefix: str
) -> tuple[dict[str, Any], dict[str, dict[str, str]], list[Any]]:
    from analyzer.kubernetes.netpol import Pod, Policy

    snap = ctx.snap
    pods = {
        n.id: Pod(
            n.id,
            str(n.props.get("namespace")),
            dict(n.props.get("labels") or {}),
            tuple(n.props.get("pod_ips") or ()),
            bool(n.props.get("host_network")),
        )
        for n in snap.of_kind("Pod")
        if n.id.startswith(prefix) and n.props
    }
    namespaces = {
        str(n.props.get("name")): dict(n.props.get("labels") or {})
        for n in snap.of_kind("KubernetesNamespace")
        if n.id.startswith(prefix) and n.props
    }
    policies = [
        Policy(str(n.props.get("name")), str(n.props.get("namespace")), dict(n.props.get("spec") or {}))
        for n in snap.of_kind("NetworkPolicy")
        if n.id.startswith(prefix) and n.props
    ]
    return pods, namespaces, policies


def _decided(
    ctx: Context,
    edges: list[Any],
    worlds: list[tuple[list[Any], dict[str, Any], Any]],
    namespaces: dict[str, dict[str, str]],
) -> list[list[str]]:
    """The NetworkPolicy decision of each observed flow in ``edges`` under each world (its policies, its
    pods by id, and its compiled form or None to compile it), vectorized (``netpol_many``); a flow whose
    outside end has no IPv4 address is decided alone (``netpol.decide``), as is every flow when there are
    few."""
    import ipaddress

    import numpy as np

    from analyzer.kubernetes.netpol import decide
    from analyzer.kubernetes.netpol_many import CompiledPolicies, protocol_number

    states = ("denied", "unknown", "allowed")
    rows = []
    for e in edges:
        src_ip, dst_ip = _address(ctx, e.src), _address(ctx, e.dst)
        try:
            s4, d4 = (int(ipaddress.IPv4Address(x)) if x else 0 for x in (src_ip, dst_ip))
        except ValueError:
            s4 = d4 = -1
        rows.append(
            (e, src_ip, dst_ip, s4, d4, int(e.props["port"]), str(e.props.get("protocol") or "tcp").upper())
        )
    out: list[list[str]] = []
    for policies, pods, compiled in worlds:
        order = list(pods)
        index = {pid: i for i, pid in enumerate(order)}
        cp = compiled or CompiledPolicies(policies, [pods[p] for p in order], namespaces)
        got = cp.decide_many(
            np.array([index.get(r[0].src, -1) for r in rows], np.int64),
            np.array([index.get(r[0].dst, -1) for r in rows], np.int64),
            np.array([r[3] for r in rows], np.int64),
            np.array([r[4] for r in rows], np.int64),
            np.array([r[5] for r in rows], np.int64),
            np.array([protocol_number(r[6]) for r in rows], np.int64),
        ).tolist()
        decided = []
        for r, g in zip(rows, got, strict=True):
            if r[3] < 0:  # an IPv6 end: one by one
                e = r[0]
                g = states.index(
                    decide(
                        policies, namespaces, pods.get(e.src), pods.get(e.dst), r[2], r[5], r[6], r[1]
                    ).state
                )
            decided.append(states[g])
        out.append(decided)
    return out


def _why(
    policies: list[Any], pods: dict[str, Any], namespaces: dict[str, dict[str, str]], ctx: Context, e: Any
) -> Any:
    """One flow's decision with its reason and the policies deciding it (``netpol.decide``)."""
    from analyzer.kubernetes.netpol import decide

    return decide(
        policies,
        namespaces,
        pods.get(e.src),
        pods.get(e.dst),
        _address(ctx, e.dst),
        int(e.props["port"]),
        str(e.props.get("protocol") or "tcp").upper(),
        _address(ctx, e.src),
    )


def _address(ctx: Context, node_id: str) -> str:
    if node_id.startswith("urn:ip:"):
        return node_id.removeprefix("urn:ip:")
    n = ctx.snap.node(node_id)
    ips = (n.props.get("private_ips") or n.props.get("pod_ips") or []) if n is not None and n.props else []
    return str(ips[0]) if ips else ""


def network_policy_change(
    ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime
) -> Outcome:
    """A NetworkPolicy added, replaced or removed in a namespace: every observed flow to or from a pod of
    the namespace decided before and after (``analyzer.kubernetes.netpol``); allowed and then denied is
    severed, allowed and then unknown is an unknown, denied and then allowed is exposure."""
    from analyzer.kubernetes.netpol import Policy

    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = Outcome(evidence_sources=("flowlogs",))
    snap = ctx.snap
    target = str(change.get("target") or "")
    ns_node = snap.node(target)
    if ns_node is None or ns_node.kind != "KubernetesNamespace" or "/namespaces/" not in target:
        return out.target_missing(f"{target} is not a namespace of a loaded cluster")
    prefix = target.split("/namespaces/", 1)[0] + "/"
    namespace = target.rsplit("/", 1)[-1]
    out.account = ns_node.account or ""
    pods, namespaces, policies = _netpol_world(ctx, prefix)
    mine = {p.name: dict(p.spec) for p in policies if p.namespace == namespace}
    before = {"policies": mine}
    after = kind.apply(before, change["delta"])
    out.applied = after == before
    rest = [p for p in policies if p.namespace != namespace]
    sets = [
        rest + [Policy(name, namespace, spec) for name, spec in state["policies"].items()]
        for state in (before, after)
    ]
    lo, hi = iso(start), iso(as_of)
    # the flows of the namespace's pods (through the per-node offsets, not a scan of every flow)
    edges: dict[tuple[str, str, str], Any] = {}
    if "OBSERVED_FLOW" in snap.edges:
        for pid in sorted(p.id for p in pods.values() if p.namespace == namespace):
            for e in [*snap.edges_from("OBSERVED_FLOW", pid), *snap.edges_into("OBSERVED_FLOW", pid)]:
                edges.setdefault((e.src, e.dst, e.key), e)
    flows = [e for e in edges.values() if str(e.props.get("port") or "").isdigit()]
    worlds = [(sets[0], pods, _netpol_compiled(ctx, prefix)), (sets[1], pods, None)]
    for e, b_state, a_state in zip(flows, *_decided(ctx, flows, worlds, namespaces), strict=True):
        if b_state == a_state:
            continue
        b, a = (_why(ps, pods, namespaces, ctx, e) for ps in sets)  # the reasons, for what changed
        port, protocol = str(e.props["port"]), str(e.props.get("protocol") or "tcp").upper()
        access = f"{protocol.lower()}/{port}"
        record_flow_change(
            ctx,
            out,
            e,
            access,
            (b.state, b.policies),
            (a.state, a.policies, a.reason),
            (lo, hi),
            ("access_may_be_severed", f"{e.src} -> {e.dst} ({access}): {a.reason}"),
        )
    out.severed.sort(key=lambda s: (not s["observed"], -s["events"], s["consumer"]))
    out.unknowns.append(
        {
            "reason": "enforcement_unknown",
            "detail": "whether the cluster's network plugin enforces NetworkPolicy is not in the export: if it "
            "does not, this change has no effect",
        }
    )
    out.rollback = simulated_rollback(
        kind,
        target,
        before,
        after,
        change["delta"],
        "apply then invert restores the namespace's policies",
        "the namespace's policies are not restored",
    )
    return out


def _relabelled_flows(
    ctx: Context, pod_id: str, labels: dict[str, Any], consumer: str, lo: str, hi: str
) -> list[dict[str, Any]]:
    """The pod's observed flows that its namespace's NetworkPolicies allow with its labels as they are and
    deny with ``labels`` (``analyzer.kubernetes.netpol``)."""
    from dataclasses import replace

    from analyzer.kubernetes.netpol import decide

    snap = ctx.snap
    prefix = pod_id.split("/namespaces/", 1)[0] + "/"
    pods, namespaces, policies = _netpol_world(ctx, prefix)
    me = pods.get(pod_id)
    if me is None:
        return []
    moved = {**pods, pod_id: replace(me, labels={k: str(v) for k, v in labels.items()})}
    out = []
    if "OBSERVED_FLOW" not in snap.edges:
        return []
    for e in [*snap.edges_into("OBSERVED_FLOW", pod_id), *snap.edges_from("OBSERVED_FLOW", pod_id)]:
        port = str(e.props.get("port") or "")
        if not port.isdigit():
            continue
        protocol = str(e.props.get("protocol") or "tcp").upper()
        src_ip, dst_ip = _address(ctx, e.src), _address(ctx, e.dst)
        b, a = (
            decide(
                policies, namespaces, world.get(e.src), world.get(e.dst), dst_ip, int(port), protocol, src_ip
            )
            for world in (pods, moved)
        )
        if b.state != "denied" and a.state == "denied":
            outbound = e.src == pod_id
            entry = severed_entry(
                ctx,
                consumer if outbound else e.src,
                e.dst,
                f"{protocol.lower()}/{port}",
                edge=e,
                observed=in_window(e, lo, hi),
                reason=a.reason,
            )
            if outbound:
                entry["via_pod"] = pod_id
            out.append(entry)
    return out
