"""Kubernetes policy reports (``wgpolicyk8s.io/v1alpha2`` PolicyReport and ClusterPolicyReport, as Kyverno
writes them; ``kubectl get policyreports,clusterpolicyreports -A -o json`` or one report) -> proposals.

Each ``fail`` result is a finding on the resources it names (``results[].resources``, or the report's
``scope`` in Kyverno 1.10 and later, which writes one report per resource); ``pass``, ``skip``, ``warn`` and
``error`` are counted. A failure of a policy that requires a NetworkPolicy (its policy or rule name
says ``networkpolicy`` / ``network-policy``) becomes what Kyverno's generate rule for it creates: a
default-deny NetworkPolicy in the namespace (``k8s.network_policy``, ``podSelector: {}``, both
directions), which Blastwall decides against the namespace's observed flows. Any other failure is a
runbook whose effect Blastwall cannot see (``opaque.runbook``): said as unknown, never safe.

A report names a namespace, not a cluster: the namespace is found among the loaded clusters at import
(``namespace:<name>`` until then; a namespace no loaded cluster holds, or two do, stays named so and is
scored as missing).
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, Skipped, proposal_id, register

NAMESPACE_PREFIX = "namespace:"
DEFAULT_DENY = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
SEVERITY = {"critical": "critical", "high": "high", "medium": "medium", "low": "low", "info": "informational"}


def _reports(data: Any) -> list[Any]:
    if isinstance(data, dict) and data.get("kind") == "List":
        return list(data.get("items") or [])
    return [data]


def detect(data: Any) -> bool:
    reports = _reports(data)
    return bool(reports) and all(
        isinstance(r, dict)
        and str(r.get("apiVersion", "")).startswith("wgpolicyk8s.io/")
        and r.get("kind") in ("PolicyReport", "ClusterPolicyReport")
        for r in reports
    )


def _needs_network_policy(result: dict[str, Any]) -> bool:
    text = f"{result.get('policy', '')} {result.get('rule', '')}".lower()
    return "networkpolicy" in text or "network-policy" in text


def parse(data: Any, file: str) -> list[Any]:
    out: list[Any] = []
    for i, report in enumerate(_reports(data)):
        if not isinstance(report, dict) or not isinstance(report.get("results") or [], list):
            raise BadInput("a policy report's results must be a list", file=file, path=f"items[{i}].results")
        meta = report.get("metadata") or {}
        scope = report.get("scope")
        for j, result in enumerate(report.get("results") or []):
            where = f"items[{i}].results[{j}]"
            if not isinstance(result, dict) or not isinstance(result.get("policy"), str):
                raise BadInput("a result needs its policy", file=file, path=where)
            resources = result.get("resources") or ([scope] if isinstance(scope, dict) else [])
            for k, res in enumerate(resources):
                if not isinstance(res, dict) or not isinstance(res.get("name"), str):
                    raise BadInput("a resource needs its name", file=file, path=f"{where}.resources[{k}]")
                kind = str(res.get("kind") or "")
                ns = (
                    res.get("namespace")
                    or meta.get("namespace")
                    or (res["name"] if kind == "Namespace" else None)
                )
                finding = (
                    str(
                        res.get("uid") or f"{result['policy']}|{result.get('rule')}|{kind}|{ns}|{res['name']}"
                    )
                    + f"|{result['policy']}|{result.get('rule')}"
                )
                if result.get("result") != "fail":
                    out.append(
                        Skipped("passed" if result.get("result") == "pass" else "not_available", finding)
                    )
                    continue
                title = f"{result['policy']}/{result.get('rule')}: {kind} {ns + '/' if ns and kind != 'Namespace' else ''}{res['name']}"
                source = {
                    "format": "policy-report",
                    "finding_id": finding,
                    "title": title[:400],
                    "severity": SEVERITY.get(str(result.get("severity") or "").lower(), "medium"),
                    "product": str(result.get("source") or "kyverno"),
                    "generator": str(result["policy"]),
                    "detail": str(result.get("message") or "")[:2000],
                    "file": file,
                }
                if _needs_network_policy(result) and isinstance(ns, str) and ns:
                    change = {
                        "kind": "k8s.network_policy",
                        "target": NAMESPACE_PREFIX + ns,
                        "delta": {"add": {"name": "default-deny", "spec": DEFAULT_DENY}},
                        "fidelity": "inferred",
                    }
                else:
                    change = {
                        "kind": "opaque.runbook",
                        "target": f"{NAMESPACE_PREFIX}{ns}/{kind}/{res['name']}"
                        if ns
                        else f"{kind}/{res['name']}",
                        "delta": {
                            "runbook": f"{result['policy']}/{result.get('rule')}",
                            "recommendation": str(result.get("message") or "")[:1000],
                        },
                        "fidelity": "opaque",
                    }
                out.append(
                    {"proposal_id": proposal_id("policy-report", finding), "source": source, "change": change}
                )
    return out


def resolve_namespaces(proposals: list[dict[str, Any]], namespaces: list[Any]) -> None:
    """``namespace:<name>`` targets of a network policy change to the one loaded namespace of that name."""
    by_name: dict[str, list[str]] = {}
    for n in namespaces:
        by_name.setdefault(str((n.props or {}).get("name") or n.id.rsplit("/", 1)[-1]), []).append(n.id)
    for p in proposals:
        if p["change"]["kind"] != "k8s.network_policy":
            continue
        found = by_name.get(str(p["change"]["target"]).removeprefix(NAMESPACE_PREFIX), [])
        if len(found) == 1:
            p["change"]["target"] = found[0]
            p["change"]["account"] = found[0].removeprefix("k8s://").split("/", 1)[0]


FORMAT = register(
    ProposalFormat(
        "policy-report",
        "Kubernetes PolicyReport / ClusterPolicyReport (Kyverno): a required NetworkPolicy as the default deny",
        detect,
        parse,
    )
)
