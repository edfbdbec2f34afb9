"""Blast radius of isolating a pod (``k8s.quarantine_pod``).

Isolated (a deny-all NetworkPolicy selects it), the pod can neither be reached nor reach anything: not its
Services' callers, not the AWS APIs its service account's role is used for (the token exchange with STS is
egress too). Relabelled, it drops out of its Services and its controller's selector (the controller starts
a replacement).

What that breaks depends on what else serves the same purpose. A pod whose workload keeps other running
replicas costs capacity, not a dependency: said in a note, nothing severed. A pod that is the last one
of its workload (or has no workload) takes the workload's dependencies with it: its role's use (observed
when CloudTrail shows its service account's web identity, or the role, in use) and every Service left with
no endpoint. Who calls a Service is not in the evidence this version reads (flow logs name the node's
interface, not the pod): an unknown, never a clean bill.

Two things the export does not say are unknowns of every isolation: whether the cluster's network plugin
enforces NetworkPolicy at all (if it does not, the quarantine isolates nothing), and, for a pod on the
host network, what a policy does to it (Kubernetes leaves it undefined).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyzer.changes import get_kind
from analyzer.changes.kubernetes import QUARANTINE_LABEL
from analyzer.scoring.context import SERVICE_PREFIX, Context
from analyzer.scoring.outcome import Outcome, config_digest, in_window, severed_entry
from analyzer.scoring.service_trust import POD_IDENTITY
from analyzer.timeutil import iso


def _selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def kubernetes_change(ctx: Context, proposal: dict[str, Any], start: datetime, as_of: datetime) -> Outcome:
    change = proposal["change"]
    kind = get_kind(change["kind"])
    assert kind.apply is not None and kind.invert is not None
    out = Outcome()
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
    if isolated or relabelled:
        out.notes.append(
            f"{name} is isolated: no traffic in or out"
            if isolated
            else f"{name} is relabelled: its Services and its controller no longer select it"
        )
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
        out.unknowns.append(
            {
                "reason": "callers_not_in_evidence",
                "detail": f"who calls Service {svc.props.get('namespace')}/{svc.props.get('name')} is not in the "
                "evidence (flow logs name the node's interface, not the pod): its callers lose it",
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
    elif isolated and siblings:
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
    inverse = kind.invert(before, change["delta"])
    restored = kind.apply(after, inverse)
    out.rollback = {
        "change": {"kind": kind.name, "target": pod.id, "delta": inverse},
        "verified": restored == before,
        "detail": "apply then invert restores the pod's labels and isolation"
        if restored == before
        else "the pod's state is not restored",
        "before_digest": config_digest(before),
        "after_digest": config_digest(after),
    }
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
