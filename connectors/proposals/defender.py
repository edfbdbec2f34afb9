"""Microsoft Defender for Cloud recommendations and alerts -> proposals: ``az security assessment list``
output (the CLI's flattened objects), or the REST ``Assessments - List`` response (``{"value": [...]}`` with
``properties``); ``az security alert list`` (an active alert's response is a runbook Blastwall cannot see;
dismissed and resolved ones are counted).

Each assessment is one recommendation on one resource (``resourceDetails.id``; ``status.code`` Healthy,
Unhealthy or NotApplicable). An Unhealthy one becomes the change its "Fix" (or its Azure Policy
remediation) makes, where Blastwall knows it exactly; any other is a runbook Blastwall cannot see
(``opaque.runbook``: unknown, never safe). Healthy and not applicable ones are counted, not proposed.

Known fixes (by the recommendation's display name):

* "Storage account public access should be disallowed" -> ``azure.storage_setting``
  ``{"allow_blob_public_access": false}`` on the storage account;
* "Storage accounts should prevent shared key access" -> ``{"allow_shared_key_access": false}``.
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, Skipped, proposal_id, register

FIXES: dict[str, tuple[str, dict[str, Any]]] = {
    "storage account public access should be disallowed": (
        "azure.storage_setting",
        {"allow_blob_public_access": False},
    ),
    "storage accounts should prevent shared key access": (
        "azure.storage_setting",
        {"allow_shared_key_access": False},
    ),
}


def _items(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("value"), list):
        return list(data["value"])
    return data if isinstance(data, list) else [data]


def _flat(a: dict[str, Any]) -> dict[str, Any]:
    """The CLI's flattened assessment, whichever shape was given."""
    props = a.get("properties")
    return {**a, **props} if isinstance(props, dict) else a


def _is_assessment(a: Any) -> bool:
    return (
        isinstance(a, dict) and "/providers/microsoft.security/assessments/" in str(a.get("id", "")).lower()
    )


def _is_alert(a: Any) -> bool:
    return (
        isinstance(a, dict)
        and "/providers/microsoft.security/locations/" in str(a.get("id", "")).lower()
        and ("/alerts/" in str(a.get("id", "")).lower())
    )


def detect(data: Any) -> bool:
    items = _items(data)
    return bool(items) and all(_is_assessment(a) or _is_alert(a) for a in items)


def _alert(a: dict[str, Any], file: str, i: int) -> Any:
    """A security alert (``az security alert list``): a detection, not a fix; an active one becomes the
    response its remediation steps describe, a runbook Blastwall cannot see, on the resource it names."""
    finding = str(a.get("id"))
    status = str(a.get("status") or "Active").lower()
    if status in ("dismissed", "resolved"):
        return Skipped("resolved" if status == "resolved" else "suppressed", finding)
    resources = [
        str(r.get("azureResourceId") or r.get("AzureResourceId") or "")
        for r in a.get("resourceIdentifiers") or []
        if isinstance(r, dict)
    ]
    target = next((r for r in resources if r), str(a.get("compromisedEntity") or ""))
    if not target:
        raise BadInput("an alert needs resourceIdentifiers or compromisedEntity", file=file, path=f"[{i}]")
    name = str(a.get("alertDisplayName") or a.get("alertType") or "alert")
    steps = a.get("remediationSteps") or []
    return {
        "proposal_id": proposal_id("defender", finding),
        "source": {
            "format": "defender",
            "finding_id": finding,
            "title": f"{name} ({target.rsplit('/', 1)[-1]})"[:400],
            "severity": str(a.get("severity") or "medium").lower(),
            "product": "Microsoft Defender for Cloud",
            "generator": str(a.get("alertType") or ""),
            "detail": str(a.get("description") or "")[:2000],
            "file": file,
        },
        "change": {
            "kind": "opaque.runbook",
            "target": target.strip().rstrip("/").lower(),
            "delta": {
                "runbook": f"defender-alert:{a.get('alertType') or name}",
                "recommendation": " ".join(str(x) for x in steps)[:1000]
                if isinstance(steps, list)
                else str(steps)[:1000],
            },
            "fidelity": "opaque",
        },
    }


def parse(data: Any, file: str) -> list[Any]:
    out: list[Any] = []
    for i, raw in enumerate(_items(data)):
        if _is_alert(raw):
            out.append(_alert(_flat(raw), file, i))
            continue
        a = _flat(raw)
        status = a.get("status") or {}
        resource = (a.get("resourceDetails") or {}).get("id") or (a.get("resourceDetails") or {}).get("Id")
        name = str(a.get("displayName") or (a.get("metadata") or {}).get("displayName") or "")
        if not isinstance(status, dict) or not isinstance(resource, str) or not name:
            raise BadInput(
                "an assessment needs status, resourceDetails.id and displayName", file=file, path=f"[{i}]"
            )
        finding = str(a.get("id"))
        code = str(status.get("code") or "").lower()
        if code != "unhealthy":
            out.append(Skipped("passed" if code == "healthy" else "not_available", finding))
            continue
        target = resource.strip().rstrip("/").lower()
        severity = str((a.get("metadata") or {}).get("severity") or "medium").lower()
        fix = FIXES.get(name.strip().lower())
        change: dict[str, Any]
        if fix is not None:
            change = {"kind": fix[0], "target": target, "delta": dict(fix[1]), "fidelity": "exact"}
        else:
            change = {
                "kind": "opaque.runbook",
                "target": target,
                "delta": {
                    "runbook": f"defender:{finding.rsplit('/', 1)[-1]}",
                    "recommendation": name[:1000],
                },
                "fidelity": "opaque",
            }
        out.append(
            {
                "proposal_id": proposal_id("defender", finding),
                "source": {
                    "format": "defender",
                    "finding_id": finding,
                    "title": f"{name} ({target.rsplit('/', 1)[-1]})"[:400],
                    "severity": severity,
                    "product": "Microsoft Defender for Cloud",
                    "generator": finding.rsplit("/", 1)[-1],
                    "detail": str(status.get("description") or status.get("cause") or "")[:2000],
                    "file": file,
                },
                "change": change,
            }
        )
    return out


FORMAT = register(
    ProposalFormat(
        "defender",
        "Microsoft Defender for Cloud recommendations (az security assessment list, or the REST list)",
        detect,
        parse,
    )
)
