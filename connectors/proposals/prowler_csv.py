"""Prowler's ``;``-separated CSV output (``-M csv``): one row per check result; FAIL rows become proposals
through the check lookup (``inferred``) or as runbooks (``opaque``)."""

from __future__ import annotations

from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, Skipped, prowler_proposal_id, register
from connectors.proposals.checks import change, prowler_proposer

REQUIRED = ("FINDING_UID", "CHECK_ID", "STATUS", "RESOURCE_UID", "ACCOUNT_UID")


def detect(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and "CHECK_ID" in data[0]
        and "FINDING_UID" in data[0]
    )


def parse(data: Any, file: str) -> list[Any]:
    out: list[Any] = []
    for i, row in enumerate(data):
        for need in REQUIRED:
            if not row.get(need):
                raise BadInput(f"Prowler CSV row lacks {need}", file=file, line=i + 2, path=need)
        status = row["STATUS"].upper()
        if status != "FAIL":
            out.append(Skipped("passed" if status == "PASS" else status.lower(), row["FINDING_UID"]))
            continue
        if str(row.get("MUTED", "")).lower() == "true":
            out.append(Skipped("muted", row["FINDING_UID"]))
            continue
        out.append(
            {
                "proposal_id": prowler_proposal_id(
                    row["CHECK_ID"], row["ACCOUNT_UID"], row.get("REGION"), row["RESOURCE_UID"]
                ),
                "source": {
                    "format": "prowler-csv",
                    "finding_id": row["FINDING_UID"],
                    "product": "Prowler",
                    "generator": row["CHECK_ID"],
                    "title": row.get("CHECK_TITLE") or row["CHECK_ID"],
                    "severity": (row.get("SEVERITY") or "informational").lower(),
                    "proposer": prowler_proposer(row["CHECK_ID"]),
                    "resource_name": row.get("RESOURCE_NAME") or None,
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
