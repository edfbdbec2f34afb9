"""Prowler's ``;``-separated CSV output (``-M csv``): one row per check result; FAIL rows become proposals
through the check lookup (``inferred``) or as runbooks (``opaque``)."""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, proposal_id, register
from connectors.proposals.checks import change

REQUIRED = ("FINDING_UID", "CHECK_ID", "STATUS", "RESOURCE_UID", "ACCOUNT_UID")


def detect(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and "CHECK_ID" in data[0]
        and "FINDING_UID" in data[0]
    )


def parse(data: Any, file: str) -> list[dict[str, Any]]:
    out = []
    for i, row in enumerate(data):
        for need in REQUIRED:
            if not row.get(need):
                raise BadInput(f"Prowler CSV row lacks {need}", file=file, line=i + 2, path=need)
        if row["STATUS"].upper() != "FAIL" or str(row.get("MUTED", "")).lower() == "true":
            continue
        out.append(
            {
                "proposal_id": proposal_id("prowler-csv", row["FINDING_UID"]),
                "source": {
                    "format": "prowler-csv",
                    "finding_id": row["FINDING_UID"],
                    "product": "Prowler",
                    "generator": row["CHECK_ID"],
                    "title": row.get("CHECK_TITLE") or row["CHECK_ID"],
                    "severity": (row.get("SEVERITY") or "informational").lower(),
                    "proposer": "prowler --fixer",
                    "file": file,
                },
                "change": change(
                    (row["CHECK_ID"],),
                    row["RESOURCE_UID"],
                    row["ACCOUNT_UID"],
                    row.get("REGION"),
                    row.get("REMEDIATION_RECOMMENDATION_TEXT"),
                ),
            }
        )
    return out


FORMAT = register(ProposalFormat("prowler-csv", "Prowler CSV output (;-separated)", detect, parse))
