"""OCSF findings: Prowler's ``-M json-ocsf`` output (a list of Detection Findings, ``metadata.product.name``
"Prowler", the check id in ``metadata.event_code``) and Security Hub's OCSF findings (a list, or the
EventBridge envelope's ``detail.findings``; the control in ``compliance.control``). Findings that passed
are skipped; the others become proposals through the check lookup (``inferred``) or as runbooks
(``opaque``)."""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import (
    ProposalFormat,
    Skipped,
    proposal_id,
    prowler_proposal_id,
    register,
    securityhub_proposal_id,
)
from connectors.proposals.checks import change, prowler_proposer

CLASSES = {2001, 2003, 2004}


def _findings(data: Any) -> list[Any] | None:
    if isinstance(data, dict) and isinstance((data.get("detail") or {}).get("findings"), list):
        data = data["detail"]["findings"]
    if (
        isinstance(data, list)
        and data
        and isinstance(data[0], dict)
        and (data[0].get("class_uid") in CLASSES or ("finding_info" in data[0] and "metadata" in data[0]))
    ):
        return data
    return None


def detect(data: Any) -> bool:
    return _findings(data) is not None


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def parse(data: Any, file: str) -> list[Any]:
    findings = _findings(data) or []
    base = "$.detail.findings" if isinstance(data, dict) else "$"
    out: list[Any] = []
    for i, f in enumerate(findings):
        where = f"{base}[{i}]"
        for need in ("finding_info.uid", "resources", "metadata.product.name"):
            if _get(f, need) in (None, "", []):
                raise BadInput(f"OCSF finding lacks {need}", file=file, path=f"{where}.{need}")
        uid = str(_get(f, "finding_info.uid"))
        if (
            str(f.get("status_code", "")).upper() == "PASS"
            or str(_get(f, "compliance.status") or "").upper() == "PASSED"
        ):
            out.append(Skipped("passed", uid))
            continue
        status = str(
            f.get("status") or ""
        ).lower()  # OCSF finding status: New, In Progress, Suppressed, Resolved
        if status in ("suppressed", "resolved"):
            out.append(Skipped(status, uid))
            continue
        product = str(_get(f, "metadata.product.name"))
        prowler = product.lower() == "prowler"
        check = _get(f, "metadata.event_code")
        control = _get(f, "compliance.control")
        res = f["resources"][0]
        fmt = "prowler-ocsf" if prowler else "securityhub-ocsf"
        account = _get(f, "cloud.account.uid")
        region = res.get("region") or _get(f, "cloud.region")
        out.append(
            {
                "proposal_id": prowler_proposal_id(str(check), str(account), region, str(res.get("uid")))
                if prowler and check
                else securityhub_proposal_id(uid)
                if fmt == "securityhub-ocsf"
                else proposal_id(fmt, uid),
                "source": {
                    "format": fmt,
                    "finding_id": uid,
                    "product": product,
                    "generator": check or control,
                    "title": _get(f, "finding_info.title") or check or uid,
                    "severity": str(f.get("severity") or "informational").lower(),
                    "proposer": prowler_proposer(check) if prowler else None,
                    "resource_name": res.get("name") or None,
                    "file": file,
                },
                "change": change(
                    (check, control),
                    res.get("uid"),
                    _get(f, "cloud.account.uid"),
                    res.get("region") or _get(f, "cloud.region"),
                    _get(f, "remediation.desc"),
                ),
            }
        )
    return out


FORMAT = register(
    ProposalFormat("ocsf", "OCSF findings (Prowler json-ocsf, Security Hub OCSF)", detect, parse)
)
