"""Batch scoring: results are saved chunk by chunk; a batch killed half-way resumes without rescoring what
it finished and without duplicates; local worker processes give the same results as one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from analyzer.graph.store import open_store
from tests.conftest import SAMPLE_AS_OF, blastwall_cmd

N = 600


def run(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        raise AssertionError(f"{args}: exit {out.returncode}\n{out.stderr}")
    return out


@pytest.fixture
def store(tmp_path: Path, sample_dir: Path) -> Path:
    s = tmp_path / "store"
    run(s, "ingest", "aws-snapshot", str(sample_dir / "aws"), "--collected-at", SAMPLE_AS_OF)
    run(s, "ingest", "cloudtrail", str(sample_dir / "cloudtrail"))
    run(s, "ingest", "cmdb", "servicenow", str(sample_dir / "servicenow"))
    run(s, "policy", "load", str(sample_dir / "policy" / "tier-policy.yaml"))
    changes = [
        {
            "kind": "iam.update_trust_policy",
            "target": "arn:aws:iam::482510973311:role/datalake-reader",
            "delta": {"remove_principals_of_account": ["739406228105"]},
        },
        {
            "kind": "iam.detach_policy",
            "target": "arn:aws:iam::739406228105:role/legacy-etl-role",
            "delta": {"inline_name": "assume-datalake-reader"},
        },
        {
            "kind": "resource_policy.remove_statements",
            "target": "arn:aws:s3:::acme-legacy-etl-output",
            "delta": {"statement_ids": ["FraudPipelineRead"]},
        },
    ]
    doc = {
        "blastwall_proposals": 1,
        "proposals": [
            {"id": f"CHG{i:05d}", "title": f"batch {i}", "change": changes[i % len(changes)]}
            for i in range(N)
        ],
    }
    (tmp_path / "batch.yaml").write_text(yaml.safe_dump(doc))
    run(s, "propose", str(tmp_path / "batch.yaml"))
    return s


def saved(store: Path) -> dict[str, dict]:
    st = open_store(store)
    try:
        return st.get_documents("results")
    finally:
        st.close()


def test_a_killed_batch_resumes_without_rescoring_or_duplicates(store: Path) -> None:
    proc = subprocess.Popen(
        [*blastwall_cmd(), "--store", str(store), "score", "--as-of", SAMPLE_AS_OF, "--format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(saved(store)) < 100:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = saved(store)
    assert 100 <= len(first) < N, "the batch should have been killed half-way"
    out = json.loads(run(store, "score", "--resume", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)
    ids = [r["proposal_id"] for r in out["results"]]
    assert len(ids) == len(set(ids)) == N  # every proposal once
    assert out["resumed"] == len(first)  # what was finished was not scored again
    after = saved(store)
    assert all(after[pid] == first[pid] for pid in first)


def test_worker_processes_give_the_same_results(store: Path) -> None:
    one = json.loads(run(store, "score", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout)["results"]
    two = json.loads(
        run(store, "score", "--workers", "2", "--as-of", SAMPLE_AS_OF, "--format", "json").stdout
    )["results"]
    shape = lambda rs: sorted((r["proposal_id"], r["tier"], r["risk_score"], len(r["severed"])) for r in rs)  # noqa: E731
    assert shape(one) == shape(two) and len(one) == N
