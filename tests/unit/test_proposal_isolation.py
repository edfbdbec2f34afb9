"""One proposal that fails its check costs only itself: it is reported with the file, the proposal and
the field, and the file's other proposals are imported (a synthetic L enterprise's two oversized deltas
once cost their file 7,502 good proposals)."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.graph.store import open_store
from connectors.proposals import COLLECTION, MAX_CHANGE_BYTES, import_proposals


def _proposal(pid: str, **change: object) -> dict:
    base = {
        "kind": "iam.update_trust_policy",
        "target": f"arn:aws:iam::111122223333:role/{pid}",
        "delta": {"remove_principals_of_account": ["444455556666"]},
    }
    return {"id": pid, "title": f"narrow {pid}", "change": {**base, **change}}


def test_a_bad_proposal_is_reported_and_its_file_mates_are_kept(tmp_path: Path) -> None:
    huge = {
        "new_document": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"AWS": ["x" * 100] * (MAX_CHANGE_BYTES // 90)},
                }
            ]
        }
    }
    proposals = [
        _proposal("ok-1"),
        _proposal("too-big", delta=huge),
        _proposal("no-target", target=""),
        _proposal("ok-2"),
    ]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"blastwall_proposals": 1, "proposals": proposals}))
    store = open_store(tmp_path / "store")
    report = import_proposals(store, [path])
    assert len(report.imported) == 2 and len(report.errors) == 2
    big, empty = sorted(report.errors, key=lambda e: "target" in e)
    assert str(path) in big and "too-big" in big and "$.change.delta" in big and "larger than" in big
    assert str(path) in empty and "no-target" in empty and "target" in empty
    stored = {p["source"]["finding_id"] for p in store.get_documents(COLLECTION).values()}
    assert stored == {"ok-1", "ok-2"}
