"""Falco alerts (``json_output: true``, as Falco writes them to a file, stdout or its HTTP output, and as
Falcosidekick forwards them: ``uuid``, ``output``, ``priority``, ``rule``, ``time``, ``source``,
``hostname``, ``tags``, ``output_fields``) -> the isolation a response engine would apply to the pod
(Falco Talon's ``kubernetes:networkpolicy``): ``k8s.quarantine_pod`` with a deny-all NetworkPolicy.

One alert, or a list of them, per file; Falco's file output (one alert per line) as ``.jsonl``. An alert
is a proposal when it names a pod (``k8s.ns.name`` and ``k8s.pod.name`` in its ``output_fields``; Falco
writes ``<NA>`` outside Kubernetes) and its priority is one a response engine acts on (Error and above);
the others are read and counted (``not_a_pod``, ``informational``). The pod is named by namespace, name
and the node that saw it (``hostname``), and found among the loaded clusters' pods at import; a pod no
loaded cluster holds stays named as Falco named it, and scoring says it is missing (never safe).
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, Skipped, proposal_id, register

RESPONSE_PRIORITIES = {"emergency": "critical", "alert": "critical", "critical": "critical", "error": "high"}
"""Falco priorities a response engine acts on, and the severity each is."""
POD_PREFIX = "pod:"


def _alerts(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


def detect(data: Any) -> bool:
    alerts = _alerts(data)
    return bool(alerts) and all(
        isinstance(a, dict) and "rule" in a and "priority" in a and isinstance(a.get("output_fields"), dict)
        for a in alerts[:5]
    )


def pod_ref(namespace: str, pod: str, node: str | None) -> str:
    """``pod:<namespace>/<name>[@<node>]``: a pod as an alert names it, until a loaded cluster says which."""
    return f"{POD_PREFIX}{namespace}/{pod}" + (f"@{node}" if node else "")


def parse(data: Any, file: str) -> list[Any]:
    out: list[Any] = []
    for i, alert in enumerate(_alerts(data)):
        if not isinstance(alert, dict) or not isinstance(alert.get("output_fields"), dict):
            raise BadInput("not a Falco alert (no output_fields)", file=file, path=f"$[{i}]")
        fields = alert["output_fields"]
        ns, pod = fields.get("k8s.ns.name"), fields.get("k8s.pod.name")
        rule, when = alert.get("rule"), alert.get("time")
        if not isinstance(rule, str) or not isinstance(when, str):
            raise BadInput("a Falco alert needs its rule and time as text", file=file, path=f"$[{i}]")
        finding = str(alert.get("uuid") or f"{rule}|{when}|{alert.get('hostname')}|{ns}/{pod}")
        if not (isinstance(ns, str) and isinstance(pod, str)) or "<NA>" in (ns, pod) or not ns or not pod:
            out.append(Skipped("not_a_pod", finding))
            continue
        severity = RESPONSE_PRIORITIES.get(str(alert.get("priority", "")).lower())
        if severity is None:
            out.append(Skipped("informational", finding))
            continue
        node = alert.get("hostname") if isinstance(alert.get("hostname"), str) else None
        out.append(
            {
                "proposal_id": proposal_id("falco", finding),
                "source": {
                    "format": "falco",
                    "finding_id": finding,
                    "title": f"{rule}: isolate pod {ns}/{pod}",
                    "severity": severity,
                    "product": "Falco",
                    "generator": rule,
                    "created_at": when,
                    "file": file,
                    "detail": str(alert.get("output") or "")[:2000],
                },
                "change": {
                    "kind": "k8s.quarantine_pod",
                    "target": pod_ref(ns, pod, node),
                    "delta": {"method": "network_policy"},
                    "fidelity": "exact",
                },
            }
        )
    return out


def resolve_pods(proposals: list[dict[str, Any]], pods: list[Any]) -> None:
    """``pod:`` targets to the loaded pod they name: by namespace and name, and by node where two
    clusters hold a pod of that name (left as they are when no loaded cluster, or more than one, holds
    it)."""
    by_name: dict[tuple[str, str], list[Any]] = {}
    for n in pods:
        props = n.props or {}
        by_name.setdefault((str(props.get("namespace")), str(props.get("name"))), []).append(n)
    for p in proposals:
        ref = str(p["change"]["target"]).removeprefix(POD_PREFIX)
        where, _, node = ref.partition("@")
        ns, _, name = where.partition("/")
        found = by_name.get((ns, name), [])
        if len(found) > 1 and node:
            found = [n for n in found if (n.props or {}).get("node_name") == node]
        if len(found) == 1:
            p["change"]["target"] = found[0].id
            p["change"]["account"] = found[0].account


FORMAT = register(
    ProposalFormat("falco", "Falco / Falcosidekick alerts (JSON): isolate the pod", detect, parse)
)
