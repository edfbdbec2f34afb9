"""Trust changes on a tiny organization built in memory: cross-account needs both sides."""

from datetime import UTC, datetime

from analyzer.changes import get_kind
from analyzer.governance.tier_policy import load_policy
from analyzer.graph.schema import Batch, EdgeRow, NodeRow
from analyzer.graph.snapshot import build_snapshot
from analyzer.graph.store import EdgeTable, GraphContents, StoredEdge, StoredNode
from analyzer.scoring.assume import decide_assume, trust_statements
from analyzer.scoring.blast import score_proposal
from analyzer.scoring.context import build_context

A, B = "111111111111", "222222222222"
ROLE = f"arn:aws:iam::{A}:role/target"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "WholeAccountB",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def contents(batch: Batch) -> GraphContents:
    nodes = [StoredNode(n.id, n.kind, n.props, "t", n.account, 1, None, None) for n in batch.nodes]
    edges = [
        StoredEdge(
            e.src, e.kind, e.dst, e.key, e.props, "t", e.account, 1, e.count, e.first_seen, e.last_seen
        )
        for e in batch.edges
    ]
    return GraphContents(1, nodes, EdgeTable.of(edges))


def org(identity_allows: bool) -> Batch:
    b = Batch("t")
    b.nodes.append(NodeRow(ROLE, "IamRole", {"name": "target", "trust_policy": TRUST}, A))
    stmt = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": ROLE if identity_allows else "arn:aws:iam::1:role/x",
    }
    b.nodes.append(
        NodeRow(
            f"arn:aws:iam::{B}:role/caller",
            "IamRole",
            {
                "name": "caller",
                "trust_policy": {"Version": "2012-10-17", "Statement": []},
                "inline_policies": [
                    {"name": "p", "document": {"Version": "2012-10-17", "Statement": [stmt]}}
                ],
            },
            B,
        )
    )
    return b


def test_cross_account_needs_the_identity_side_too() -> None:
    for allows, state in ((True, "allowed"), (False, "denied")):
        ctx = build_context(build_snapshot(contents(org(allows))), {})
        d = decide_assume(ctx, f"arn:aws:iam::{B}:role/caller", ROLE, trust_statements(ROLE, TRUST))
        assert d.state == state


def test_principal_outside_the_snapshot_is_conditional() -> None:
    ctx = build_context(build_snapshot(contents(org(True))), {})
    d = decide_assume(ctx, f"arn:aws:iam::{B}:role/ghost", ROLE, trust_statements(ROLE, TRUST))
    assert d.state == "conditional"


def test_remove_account_severs_observed_use_and_rollback_restores() -> None:
    b = org(True)
    b.edges.append(
        EdgeRow(
            f"arn:aws:iam::{B}:role/caller",
            "OBSERVED_ASSUME",
            ROLE,
            count=7,
            first_seen="2026-05-01T00:00:00Z",
            last_seen="2026-05-10T00:00:00Z",
        )
    )
    cov = {"c": {"source": "cloudtrail", "account": A, "region": "us-east-1", "days": ["2026-05-10"]}}
    ctx = build_context(build_snapshot(contents(b)), cov)
    proposal = {
        "proposal_id": "p",
        "source": {"format": "test", "finding_id": "f", "title": "t"},
        "change": {
            "kind": "iam.update_trust_policy",
            "target": ROLE,
            "account": A,
            "delta": {"remove_principals_of_account": [B]},
            "fidelity": "exact",
        },
    }
    r = score_proposal(proposal, ctx, load_policy(None), datetime(2026, 5, 15, tzinfo=UTC))
    (s,) = r["severed"]
    assert s["observed"] and s["events"] == 7 and s["documented"] is False
    assert r["rollback"]["verified"] is True
    assert r["tier"] == "approval"  # the built-in policy never auto-runs
    assert r["unknowns"] == []


def test_apply_invert_round_trip_on_url_encoded_document() -> None:
    kind = get_kind("iam.update_trust_policy")
    encoded = (
        "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C"
        "%22Principal%22%3A%7B%22AWS%22%3A%22arn%3Aaws%3Aiam%3A%3A222222222222%3Aroot%22%7D%2C"
        "%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"
    )
    after = kind.apply(encoded, {"remove_principals_of_account": [B]})  # type: ignore[misc]
    assert after["Statement"] == []
    restored = kind.apply(after, kind.invert(encoded, {}))  # type: ignore[misc]
    assert restored["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{B}:root"


def test_every_lookup_entry_is_a_valid_delta_of_a_known_kind() -> None:
    # the check lookup is data: each entry must name a registered kind and validate against its schema
    from analyzer.changes import get_kind, validate_delta
    from connectors.proposals.checks import _table

    table = _table()
    assert len(table) >= 8
    for entry in table.values():
        validate_delta(get_kind(entry["kind"]), entry["delta"])


def test_every_config_runbook_is_a_valid_delta_of_a_known_kind() -> None:
    from analyzer.changes import get_kind, validate_delta
    from connectors.proposals.aws_config import runbooks

    for entry in runbooks().values():
        validate_delta(get_kind(entry["kind"]), entry["delta"])


SVC_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _service_org() -> Batch:
    b = Batch("t")
    b.nodes.append(NodeRow(ROLE, "IamRole", {"name": "target", "trust_policy": SVC_TRUST}, A))
    fn = f"arn:aws:lambda:us-east-1:{A}:function:scorer"
    b.nodes.append(NodeRow(fn, "LambdaFunction", {"name": "scorer"}, A))
    b.edges.append(EdgeRow(fn, "RUNS_AS", ROLE))
    for svc, n in (("lambda.amazonaws.com", 30), ("ecs-tasks.amazonaws.com", 12)):
        b.nodes.append(NodeRow(f"urn:aws:service:{svc}", "ServicePrincipal", {}, None))
        b.edges.append(
            EdgeRow(
                f"urn:aws:service:{svc}",
                "OBSERVED_ASSUME",
                ROLE,
                count=n,
                first_seen="2026-05-01T00:00:00Z",
                last_seen="2026-05-10T00:00:00Z",
            )
        )
    return b


def _score_delta(b: Batch, delta: dict) -> dict:
    cov = {"c": {"source": "cloudtrail", "account": A, "region": "us-east-1", "days": ["2026-05-10"]}}
    ctx = build_context(build_snapshot(contents(b)), cov)
    proposal = {
        "proposal_id": "p",
        "source": {"format": "test", "finding_id": "f", "title": "t"},
        "change": {
            "kind": "iam.update_trust_policy",
            "target": ROLE,
            "account": A,
            "delta": delta,
            "fidelity": "exact",
        },
    }
    return score_proposal(proposal, ctx, load_policy(None), datetime(2026, 5, 15, tzinfo=UTC))


def test_dropping_lambda_severs_the_function_running_as_the_role() -> None:
    r = _score_delta(_service_org(), {"remove_service_principals": ["lambda.amazonaws.com"]})
    (s,) = r["severed"]
    assert s["consumer"] == f"arn:aws:lambda:us-east-1:{A}:function:scorer"
    assert s["via_service"] == "lambda.amazonaws.com" and s["observed"] and s["events"] == 30
    assert r["unknowns"] == [] and r["rollback"]["verified"] is True


def test_a_service_whose_workloads_are_not_collected_is_severed_and_says_so() -> None:
    r = _score_delta(_service_org(), {"remove_service_principals": ["ecs-tasks.amazonaws.com"]})
    (s,) = r["severed"]
    assert s["consumer"] == "ecs-tasks.amazonaws.com" and s["observed"] and s["events"] == 12
    (u,) = r["unknowns"]
    assert u["reason"] == "workloads_not_collected" and "12 times in CloudTrail" in u["detail"]


def test_service_principals_are_not_judged_as_roles() -> None:
    """Observed services are callers of kind service, never a role whose policies are unknown."""
    ctx = build_context(build_snapshot(contents(_service_org())), {})
    d = decide_assume(ctx, "urn:aws:service:lambda.amazonaws.com", ROLE, trust_statements(ROLE, SVC_TRUST))
    assert d.state == "allowed"
