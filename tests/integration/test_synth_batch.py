"""The synthetic enterprise (``blastwall synth``) and batch scoring over it: deterministic for a seed, loads
through the real importers, has accounts without logs that score as unknown; a Dask LocalCluster gives the
same results as one process; a proposal that cannot be scored and a worker that dies become per-proposal
``error`` results while the rest of the batch is scored."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analyzer import api
from analyzer.changes import get_kind
from analyzer.demo import load_directory
from analyzer.graph.store import open_store
from analyzer.network.vector import Compiled
from analyzer.synth import generate
from analyzer.timeutil import parse_time
from tests.conftest import blastwall_cmd

VOLATILE = {"analyzer_version"}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def synth_s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "s"
    done = subprocess.run(
        [*blastwall_cmd(), "synth", "--scale", "S", "--seed", "11", "--out", str(out), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["counts"]["accounts"] == 6
    return out


@pytest.fixture(scope="module")
def loaded(synth_s: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    uri = str(tmp_path_factory.mktemp("store") / "bw")
    as_of = json.loads((synth_s / "synth.json").read_text())["as_of"]
    store = open_store(uri)
    assert load_directory(store, synth_s, seen=as_of) == []
    store.close()
    return uri, as_of


def comparable(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["proposal_id"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in payload["results"]}


def test_same_seed_same_bytes_other_seed_other_enterprise(synth_s: Path, tmp_path: Path) -> None:
    generate("S", 11, tmp_path / "again")
    generate("S", 12, tmp_path / "other")
    assert tree(tmp_path / "again") == tree(synth_s)
    assert tree(tmp_path / "other") != tree(synth_s)
    with pytest.raises(FileExistsError):
        generate("S", 11, tmp_path / "again")


def test_shape_power_law_fan_in_and_undocumented_share(synth_s: Path) -> None:
    manifest = json.loads((synth_s / "synth.json").read_text())
    counts = manifest["counts"]
    share = 1 - counts["documented_service_dependencies"] / counts["observed_service_dependencies"]
    assert 0.15 <= share <= 0.45, share
    trusted: Counter[str] = Counter()
    for f in (synth_s / "aws").glob("*/global/iam-GetAccountAuthorizationDetails.json"):
        for role in json.loads(f.read_text())["RoleDetailList"]:
            principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
            trusted[role["Arn"]] = len(principal) if isinstance(principal, list) else 1
    fan_in = sorted(trusted.values(), reverse=True)
    assert fan_in[0] >= 5 * fan_in[len(fan_in) // 2]  # hubs: a few roles trusted by many
    # cross-account pipelines: some trust names another account
    assert any(
        p.split(":")[4] != arn.split(":")[4]
        for f in (synth_s / "aws").glob("*/global/iam-GetAccountAuthorizationDetails.json")
        for role in json.loads(f.read_text())["RoleDetailList"]
        for arn in [role["Arn"]]
        for p in [role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]]
        if isinstance(p, str)
    )
    dark = set(manifest["accounts_without_logs"])
    assert dark and not any((synth_s / "cloudtrail" / "AWSLogs" / a).exists() for a in dark)


def test_scores_with_unknowns_where_no_logs(loaded: tuple[str, str], synth_s: Path) -> None:
    uri, as_of = loaded
    store = open_store(uri)
    payload = api.score(store, as_of=parse_time(as_of), save=False)
    results = payload["results"]
    assert len(results) == json.loads((synth_s / "synth.json").read_text())["counts"]["proposals"]
    kinds = Counter(r["change"]["kind"] for r in results)
    assert kinds["iam.update_trust_policy"] and kinds["sg.revoke_rules"]
    dark = set(json.loads((synth_s / "synth.json").read_text())["accounts_without_logs"])
    in_dark = [r for r in results if r["evidence"]["account"] in dark]
    assert in_dark and all(
        any(u["reason"] == "no_evidence_coverage" for u in r["unknowns"]) and r["tier"] != "auto"
        for r in in_dark
    )
    assert any(s["observed"] for r in results for s in r["severed"])
    assert any(r["undocumented_dependencies"] for r in results)
    assert {r["status"] for r in results} <= {"scored", "already_applied", "target_missing"}


def test_dask_local_cluster_equals_one_process(loaded: tuple[str, str]) -> None:
    uri, as_of = loaded
    store = open_store(uri)
    one = api.score(store, as_of=parse_time(as_of), save=False, chunk_size=7)
    dask = api.score(store, as_of=parse_time(as_of), save=False, chunk_size=7, scheduler="local", workers=2)
    assert comparable(dask) == comparable(one)
    assert len(one["results"]) > 7  # several chunks really went to the cluster


def test_existing_dask_scheduler_by_address_and_an_unreachable_one(loaded: tuple[str, str]) -> None:
    from distributed import LocalCluster

    from analyzer.errors import BadInput
    from tests.conftest import free_port

    uri, as_of = loaded
    store = open_store(uri)
    one = api.score(store, as_of=parse_time(as_of), save=False, chunk_size=9)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None, host="127.0.0.1") as cluster:
        remote = api.score(
            store, as_of=parse_time(as_of), save=False, chunk_size=9, scheduler=cluster.scheduler_address
        )
    assert comparable(remote) == comparable(one)
    with pytest.raises(BadInput, match="cannot reach the Dask scheduler"):
        api.score(store, as_of=parse_time(as_of), save=False, scheduler=f"tcp://127.0.0.1:{free_port()}")


def test_a_proposal_that_cannot_be_scored_is_an_error_and_the_batch_goes_on(
    loaded: tuple[str, str], tmp_path: Path
) -> None:
    uri, as_of = loaded
    store = open_store(uri)
    proposals = store.get_documents("proposals")
    good = sorted(proposals)[:5]
    broken = dict(proposals[good[0]], proposal_id="broken-1")
    broken["change"] = dict(
        broken["change"], delta={"ingress": "not a list of permissions"}, kind="sg.revoke_rules"
    )
    store.put_documents("proposals", {"broken-1": broken})
    try:
        payload = api.score(store, [*good, "broken-1"], as_of=parse_time(as_of), save=False)
    finally:
        store.delete_documents("proposals", ["broken-1"])
    by_id = {r["proposal_id"]: r for r in payload["results"]}
    assert by_id["broken-1"]["status"] == "error"
    assert by_id["broken-1"]["tier"] == "blocked"
    assert by_id["broken-1"]["unknowns"][0]["reason"] == "scoring_error"
    assert all(by_id[g]["status"] != "error" for g in good)


def crash_on_marked_chunk(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Injected failure: the worker process dies (as an OOM kill would) on the chunk holding 'CRASH'."""
    if any("CRASH" in p["proposal_id"] for p in chunk):
        os._exit(1)
    return api._worker_score(chunk)


@pytest.mark.parametrize("start", ["forked with the context", "each builds the context"])
def test_worker_process_that_dies_injected_gives_error_results_and_the_rest_scores(
    loaded: tuple[str, str], start: str
) -> None:
    uri, as_of = loaded
    store = open_store(uri)
    proposals = store.get_documents("proposals")
    ids = sorted(proposals)[:12]
    chunks = [[proposals[i] for i in ids[k : k + 3]] for k in range(0, 12, 3)]
    chunks[1] = [dict(p, proposal_id=p["proposal_id"] + "-CRASH") for p in chunks[1]]
    policy = api.current_policy(store)
    finished: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    if start.startswith("forked"):
        api._WORKER.update(ctx=api.analysis_context(store), policy=policy, as_of=parse_time(as_of))
    try:
        api._on_processes(
            chunks,
            2,
            None if start.startswith("forked") else (uri, policy.doc, policy.source, as_of),
            finished.extend,
            lambda batch, why: failed.extend((p["proposal_id"], why) for p in batch),
            work=crash_on_marked_chunk,
        )
    finally:
        api._WORKER.clear()
    assert sorted(p for p, _ in failed) == sorted(p["proposal_id"] for p in chunks[1])
    assert all("died" in why and "alone" in why for _, why in failed)
    assert sorted(r["proposal_id"] for r in finished) == sorted(
        p["proposal_id"] for c in (chunks[0], chunks[2], chunks[3]) for p in c
    )


def _random_trust_edits(
    ctx: Any, seed: int, n: int
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(role, edit, before, after): random edits of the synthetic org's trust policies."""
    import random

    rng = random.Random(seed)
    roles = sorted(n.id for n in ctx.snap.nodes if n.kind == "IamRole")
    accounts = sorted({r.split(":")[4] for r in roles})
    for _ in range(n):
        role = rng.choice(roles)
        before = ctx.snap.node(role).props["trust_policy"]
        stmt = dict(before["Statement"][0])
        named = stmt["Principal"]["AWS"]
        named = [named] if isinstance(named, str) else list(named)
        edit = rng.choice(["drop", "add", "root", "star", "condition", "split"])
        after_named = list(named)
        if edit == "drop" and named:
            after_named.remove(rng.choice(named))
        elif edit == "add":
            after_named.append(rng.choice(roles))
        elif edit == "root":
            after_named.append(f"arn:aws:iam::{rng.choice(accounts)}:root")
        elif edit == "star":
            after_named = ["*"]
        statements = [{**stmt, "Principal": {"AWS": after_named or named[:1]}}]
        if edit == "condition":
            statements = [{**stmt, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-other"}}}]
        elif edit == "split" and len(named) > 1:
            statements = [
                {**stmt, "Principal": {"AWS": named[:1]}},
                {**stmt, "Sid": "Rest", "Principal": {"AWS": named[1:]}},
            ]
        yield role, edit, before, {"Version": "2012-10-17", "Statement": statements}


def test_narrowed_trust_candidates_miss_no_principal_whose_access_changes(loaded: tuple[str, str]) -> None:
    """The trust scorer re-decides only principals named by what a change alters; checked against
    re-deciding every principal the documents can concern, over random edits of the synthetic org."""
    from analyzer.scoring.assume import candidates, decide_assume, touched_candidates, trust_statements

    uri, _ = loaded
    ctx = api.analysis_context(open_store(uri))
    checked = changed = 0
    for role, edit, before, after in _random_trust_edits(ctx, 5, 60):
        b_ps, a_ps = trust_statements(role, before), trust_statements(role, after)
        narrowed = set(touched_candidates(ctx, role, before, [after], set()))
        for p in candidates(ctx, role, [before, after], set()):
            checked += 1
            if decide_assume(ctx, p, role, b_ps).state != decide_assume(ctx, p, role, a_ps).state:
                changed += 1
                assert p in narrowed, (role, edit, p)
    assert checked > 100 and changed > 10  # the edits really changed access for someone


def test_trust_variants_decide_exactly_as_a_whole_evaluation_per_trust_policy(
    loaded: tuple[str, str],
) -> None:
    """The trust scorer assesses identity, boundary and SCPs once per caller and swaps only the trust
    policy: every decision (state, statements, reason, missing keys) equals ``decide_assume``'s."""
    from analyzer.scoring.assume import TrustVariants, candidates, decide_assume, trust_statements

    uri, _ = loaded
    ctx = api.analysis_context(open_store(uri))
    states: set[str] = set()
    checked = 0
    for role, _edit, before, after in _random_trust_edits(ctx, 11, 40):
        trusts = [trust_statements(role, before), trust_statements(role, after)]
        for p in candidates(ctx, role, [before, after], set()):
            variants = TrustVariants(ctx, p, role, trusts)
            for i in (1, 0):  # the later policy first: nothing may depend on the order of use
                whole = decide_assume(ctx, p, role, trusts[i])
                assert variants.decision(i) == whole, (role, p, i)
                states.add(whole.state)
                checked += 1
    assert checked > 200 and {"allowed", "denied"} <= states


def test_empty_snapshot_gives_target_missing_for_every_proposal(synth_s: Path, tmp_path: Path) -> None:
    from connectors.proposals import import_proposals

    store = open_store(str(tmp_path / "empty"))
    report = import_proposals(store, [synth_s / "findings"])
    assert not report.errors
    payload = api.score(store, as_of=parse_time("2026-05-08T00:00:00Z"), save=False)
    assert payload["results"]
    for r in payload["results"]:
        assert r["status"] == "target_missing", r["proposal_id"]
        assert r["tier"] != "auto"
        assert "target_missing" in {u["reason"] for u in r["unknowns"]}


def test_unobserved_severed_beyond_the_cap_are_counted_not_listed(
    loaded: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub role's narrowing removes access from tens of thousands of principals nobody saw using it: past
    ``UNOBSERVED_LISTED`` they are counted, and nothing the result decides changes (tier, risk, totals, every
    observed dependency listed)."""
    from analyzer.scoring import blast

    uri, as_of = loaded
    store = open_store(uri)
    ctx, policy = api.analysis_context(store), api.current_policy(store)
    full = {
        pid: blast.score_proposal(p, ctx, policy, parse_time(as_of))
        for pid, p in store.get_documents("proposals").items()
    }
    many = {pid: r for pid, r in full.items() if sum(not s["observed"] for s in r["severed"]) >= 3}
    assert many, "the synthetic org has trust narrowings that remove unused access"
    monkeypatch.setattr(blast, "UNOBSERVED_LISTED", 2)
    for pid, r in many.items():
        cut = blast.score_proposal(store.get_documents("proposals")[pid], ctx, policy, parse_time(as_of))
        unobserved = [s for s in r["severed"] if not s["observed"]]
        assert [s for s in cut["severed"] if not s["observed"]] == unobserved[:2]
        assert [s for s in cut["severed"] if s["observed"]] == [s for s in r["severed"] if s["observed"]]
        assert cut["severed_unlisted"] == len(unobserved) - 2 and r["severed_unlisted"] == 0
        assert cut["policy_facts"] == r["policy_facts"]
        assert (cut["tier"], cut["risk_score"], cut["priority"]) == (
            r["tier"],
            r["risk_score"],
            r["priority"],
        )
        assert cut["impacted_services"] == r["impacted_services"]


def test_trust_changes_decided_in_arrays_equal_deciding_each_caller(
    loaded: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many callers (a role whole accounts may assume) are decided in arrays, grouped by the statements of
    their policies; every result equals the one from deciding each caller alone: the synthetic org's
    proposals and random edits of its trust policies (accounts, stars, conditions, split statements)."""
    from analyzer.scoring import blast, trust_change

    uri, as_of = loaded
    store = open_store(uri)
    ctx, policy, when = api.analysis_context(store), api.current_policy(store), parse_time(as_of)
    proposals = [
        p for p in store.get_documents("proposals").values() if p["change"]["kind"].startswith("iam.")
    ]
    for k, (role, _edit, _before, after) in enumerate(_random_trust_edits(ctx, 23, 40)):
        proposals.append(
            {
                "proposal_id": f"edit-{k}",
                "source": {"format": "blastwall"},
                "change": {
                    "kind": "iam.update_trust_policy",
                    "target": role,
                    "delta": {"new_document": after},
                    "fidelity": "exact",
                },
            }
        )

    def all_results(threshold: int) -> dict[str, Any]:
        monkeypatch.setattr(trust_change, "TRUST_ARRAYS_FROM", threshold)  # the role trust scorer's
        return {p["proposal_id"]: blast.score_proposal(p, ctx, policy, when) for p in proposals}

    each, arrays = all_results(10**9), all_results(0)
    assert arrays == each
    assert sum(len(r["severed"]) for r in each.values()) > 20
    assert sum(len(r["exposure_added"]) for r in each.values()) > 0


@pytest.mark.parametrize("org", ["synthetic", "sample"])
def test_network_changes_decide_flows_from_arrays_as_flow_by_flow(
    org: str, loaded: tuple[str, str], tmp_path: Path
) -> None:
    """What network changes decide from the prepared arrays (ends resolved once, protocol/port once, the
    unchanged model's answers kept, rule tables of unchanged classes shared) equals deciding each observed
    flow as an object, under the unchanged model and with every rule of a group revoked, group by group."""
    from analyzer.demo import run_demo
    from analyzer.network.service import _decide_all, observed
    from analyzer.scoring.network_change import _patched, prepared

    store = open_store(loaded[0]) if org == "synthetic" else run_demo(str(tmp_path / "demo"))[0]
    ctx = api.analysis_context(store)
    prep = prepared(ctx)
    records = ctx.snap.edges["OBSERVED_FLOW"].records
    pos = np.flatnonzero(prep.has_port[prep.props_index])
    flows = observed(records.at(pos))
    assert len(flows) == len(pos) > (20 if org == "synthetic" else 0)
    slow = _decide_all(prep.model, flows, prep.compiled)
    assert prep.decided_before(ctx.snap, pos).tolist() == slow
    if org == "synthetic":  # some flows allowed, some already denied: both outcomes are exercised
        assert set(slow) >= {0, 2}
    docs = ctx.network_docs
    groups = sorted({g for e in prep.model.enis.values() for g in e.groups})
    for gid in groups[:12]:
        where = docs.locate("ec2-DescribeSecurityGroups", gid)
        item = docs.item("ec2-DescribeSecurityGroups", where)
        m = _patched(
            prep.model, get_kind("sg.revoke_rules"), where[0].split("/", 1)[0], item | {"IpPermissions": []}
        )
        cm = prep.compiled.with_group_rules(m, {gid})
        assert prep.decide(ctx.snap, m, cm, pos).tolist() == _decide_all(m, flows, Compiled(m)), gid
        # and with a rule added: the changed group's rows are read past the base table's shared columns
        wider = {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
        m = _patched(
            prep.model,
            get_kind("sg.authorize_rules"),
            where[0].split("/", 1)[0],
            item | {"IpPermissions": [*item.get("IpPermissions", []), wider]},
        )
        cm = prep.compiled.with_group_rules(m, {gid})
        assert cm.rule_table("ingress").extra is not None
        assert prep.decide(ctx.snap, m, cm, pos).tolist() == _decide_all(m, flows, Compiled(m)), gid


def test_flows_already_denied_beyond_the_cap_are_counted_not_listed(
    loaded: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub group's interfaces have thousands of observed flows the configuration already refuses: past
    ``ALREADY_DENIED_LISTED`` (the ones with most events are kept) they are counted, and nothing else the
    result says changes."""
    from analyzer.scoring import blast, network_change

    uri, as_of = loaded
    store = open_store(uri)
    ctx, policy = api.analysis_context(store), api.current_policy(store)
    proposals = store.get_documents("proposals")
    full = {pid: blast.score_proposal(p, ctx, policy, parse_time(as_of)) for pid, p in proposals.items()}
    many = {pid: r for pid, r in full.items() if len(r["already_denied"]) >= 3}
    assert many, "the synthetic org has stale flows on the groups its proposals change"
    assert all(r["already_denied_unlisted"] == 0 for r in full.values())
    monkeypatch.setattr(network_change, "ALREADY_DENIED_LISTED", 2)
    for pid, r in many.items():
        cut = blast.score_proposal(proposals[pid], ctx, policy, parse_time(as_of))
        assert cut["already_denied_unlisted"] == len(r["already_denied"]) - 2
        most = sorted(range(len(r["already_denied"])), key=lambda i: (-r["already_denied"][i]["events"], i))[
            :2
        ]
        assert cut["already_denied"] == [r["already_denied"][i] for i in sorted(most)]
        same = {k: v for k, v in r.items() if not k.startswith("already_denied")}
        assert {k: v for k, v in cut.items() if not k.startswith("already_denied")} == same
