"""OPA Gatekeeper audit results -> proposals: ``kubectl get constraints -o json`` (every constraint of every
template, ``constraints.gatekeeper.sh`` ``v1beta1``/``v1``), or one constraint.

Gatekeeper audits resources that already exist and records what violates a constraint in its status
(``status.violations``: ``kind``, ``name``, ``namespace``, ``message``, ``enforcementAction``; at most the
audit's limit, with ``totalViolations``). It changes nothing itself: the fix is whoever acts on the
violation, so each becomes a runbook Blastwall cannot see (``opaque.runbook``, unknown, never safe),
named for the constraint and the resource. A constraint in ``dryrun`` or ``warn`` mode is a lower
severity than ``deny``; one whose violations were cut at the audit limit says how many it did not list.
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, Skipped, proposal_id, register

SEVERITY = {"deny": "high", "warn": "medium", "dryrun": "low"}


def _constraints(data: Any) -> list[Any]:
    if isinstance(data, dict) and data.get("kind") == "List":
        return list(data.get("items") or [])
    return [data]


def detect(data: Any) -> bool:
    items = _constraints(data)
    return bool(items) and all(
        isinstance(c, dict) and str(c.get("apiVersion", "")).startswith("constraints.gatekeeper.sh/")
        for c in items
    )


def parse(data: Any, file: str) -> list[Any]:
    out: list[Any] = []
    for i, c in enumerate(_constraints(data)):
        meta, status = c.get("metadata") or {}, c.get("status") or {}
        if not isinstance(meta, dict) or not isinstance(status, dict):
            raise BadInput(
                "a constraint's metadata and status must be objects", file=file, path=f"items[{i}]"
            )
        name, kind = str(meta.get("name") or ""), str(c.get("kind") or "")
        violations = status.get("violations") or []
        if not isinstance(violations, list):
            raise BadInput(
                "status.violations must be a list", file=file, path=f"items[{i}].status.violations"
            )
        for j, v in enumerate(violations):
            if not isinstance(v, dict) or not isinstance(v.get("name"), str):
                raise BadInput(
                    "a violation needs the resource's name",
                    file=file,
                    path=f"items[{i}].status.violations[{j}]",
                )
            ns = v.get("namespace") if isinstance(v.get("namespace"), str) and v.get("namespace") else None
            where = f"{ns}/{v.get('kind')}/{v['name']}" if ns else f"{v.get('kind')}/{v['name']}"
            finding = f"{kind}/{name}|{where}"
            action = str(
                v.get("enforcementAction") or (c.get("spec") or {}).get("enforcementAction") or "deny"
            )
            out.append(
                {
                    "proposal_id": proposal_id("gatekeeper", finding),
                    "source": {
                        "format": "gatekeeper",
                        "finding_id": finding,
                        "title": f"{kind} {name}: {v.get('kind')} {where}"[:400],
                        "severity": SEVERITY.get(action, "medium"),
                        "product": "gatekeeper",
                        "generator": f"{kind}/{name}",
                        "detail": str(v.get("message") or "")[:2000],
                        "file": file,
                    },
                    "change": {
                        "kind": "opaque.runbook",
                        "target": f"namespace:{where}" if ns else where,
                        "delta": {
                            "runbook": f"gatekeeper:{kind}/{name}",
                            "recommendation": str(v.get("message") or "")[:1000],
                        },
                        "fidelity": "opaque",
                    },
                }
            )
        total = status.get("totalViolations")
        if isinstance(total, int) and total > len(violations):
            out += [Skipped("not_available", f"{kind}/{name}#{k}") for k in range(total - len(violations))]
    return out


FORMAT = register(
    ProposalFormat(
        "gatekeeper",
        "OPA Gatekeeper constraints' audit violations (each a runbook Blastwall cannot see)",
        detect,
        parse,
    )
)
