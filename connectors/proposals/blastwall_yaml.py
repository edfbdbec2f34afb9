"""Blastwall's own proposals file (YAML or JSON), for changes written by hand or by a pipeline::

    blastwall_proposals: 1
    proposals:
      - id: CHG0042
        title: Close SSH to the world on the bastion
        severity: high
        proposer: platform-team
        change:
          kind: sg.revoke_rules
          target: sg-0a1b2c3d4e5f60718
          delta:
            ingress:
              - {IpProtocol: tcp, FromPort: 22, ToPort: 22, IpRanges: [{CidrIp: 0.0.0.0/0}]}

The envelope follows ``analyzer/schemas/proposals.v1.json``; each delta its change kind's schema. The
delta is the user's own, so the fidelity is ``exact`` (``opaque`` for ``opaque.runbook``).
"""

from __future__ import annotations

from typing import Any

from analyzer.changes import get_kind, validate_delta
from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, proposal_id, register


def detect(data: Any) -> bool:
    return isinstance(data, dict) and "blastwall_proposals" in data


def parse(data: Any, file: str) -> list[dict[str, Any]]:
    import jsonschema

    from analyzer.schemas import proposals_schema

    try:
        jsonschema.validate(data, proposals_schema())
    except jsonschema.ValidationError as exc:
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
        raise BadInput(exc.message, file=file, path=path) from exc
    out = []
    for i, p in enumerate(data["proposals"]):
        change = p["change"]
        try:
            kind = get_kind(change["kind"])
            validate_delta(kind, change["delta"])
        except BadInput as exc:
            raise BadInput(
                exc.message,
                file=file,
                path=f"$.proposals[{i}].change" + (exc.path or "").removeprefix("$.change"),
            ) from exc
        out.append(
            {
                "proposal_id": proposal_id("blastwall", p["id"]),
                "source": {
                    "format": "blastwall",
                    "finding_id": p["id"],
                    "product": p.get("proposer") or "blastwall",
                    "title": p["title"],
                    "severity": p.get("severity", "medium"),
                    "file": file,
                },
                "change": {
                    "kind": kind.name,
                    "target": change["target"],
                    "account": change.get("account"),
                    "region": change.get("region"),
                    "delta": change["delta"],
                    "fidelity": "opaque" if kind.name == "opaque.runbook" else "exact",
                    "lookup": None,
                },
            }
        )
    return out


FORMAT = register(ProposalFormat("blastwall", "Blastwall's own proposals file (YAML/JSON)", detect, parse))
