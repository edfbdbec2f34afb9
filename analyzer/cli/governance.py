"""Governance: risk acceptance, approvals and rejections, the gate, executions and the review."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from analyzer.cli.base import ctx_store, handled, main, say_freshness
from analyzer.cli.common_governance import ANCHOR, KEY_DIR, TRUST_ROOT, ledger_of, trust_root_of
from analyzer.timeutil import now, parse_time


@main.command("accept-risk")
@click.option(
    "--as", "who", required=True, help="Identity accepting the risk (must hold the policy owner's role)."
)
@click.option(
    "--kind", "kinds", required=True, multiple=True, help="Change kind the acceptance covers (repeatable)."
)
@click.option("--max-risk", type=click.IntRange(0, 100), required=True, help="Highest risk score covered.")
@click.option(
    "--max-criticality",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default="low",
    show_default=True,
    help="Highest impacted criticality covered.",
)
@click.option("--expires", required=True, help="ISO 8601 expiry.")
@click.option("--statement", required=True, help="What is accepted and why.")
@KEY_DIR
@click.pass_context
@handled
def accept_risk_cmd(
    ctx: click.Context,
    who: str,
    kinds: tuple[str, ...],
    max_risk: int,
    max_criticality: str,
    expires: str,
    statement: str,
    key_dir: Path | None,
) -> None:
    """Record a signed, scoped, expiring acceptance under which `auto` changes may run unattended.

    \b
    Example:
      blastwall accept-risk --as dana --kind iam.update_trust_policy --max-risk 10 \\
        --expires 2026-12-31T00:00:00Z --statement "Unused external trust may be removed automatically"
    """
    from analyzer import api
    from analyzer.governance.decisions import accept_risk

    a = accept_risk(
        ledger_of(ctx),
        who=who,
        policy=api.current_policy(ctx_store(ctx)),
        kinds=list(kinds),
        max_risk=max_risk,
        max_criticality=max_criticality,
        expires=expires,
        statement=statement,
        key_dir=key_dir,
    )
    click.echo(f"risk acceptance {a['acceptance_id']} by {who} ({a['role']}) until {a['expires']}")


def _decide(
    ctx: click.Context, proposal_id: str, who: str, comment: str, key_dir: Path | None, ok: bool
) -> None:
    from analyzer import api
    from analyzer.governance.decisions import decide

    store = ctx_store(ctx)
    d = decide(
        store,
        ledger_of(ctx),
        proposal_id,
        who=who,
        approve=ok,
        comment=comment,
        policy=api.current_policy(store),
        key_dir=key_dir,
    )
    click.echo(f"{proposal_id} {d['decision']} by {who} at {d['decided_at']}")


@main.command()
@click.argument("proposal_id")
@click.option("--as", "who", required=True, help="Your identity (its role must be the one the tier names).")
@click.option("--comment", required=True, help="Why.")
@KEY_DIR
@click.pass_context
@handled
def approve(ctx: click.Context, proposal_id: str, who: str, comment: str, key_dir: Path | None) -> None:
    """Approve a scored proposal: signed, checked against the tier's approver role, recorded in the ledger.

    \b
    Example:
      blastwall approve bw-87109988a633 --as priya --comment "ETL moved to its own role first (CHG0042)"
    """
    _decide(ctx, proposal_id, who, comment, key_dir, True)


@main.command()
@click.argument("proposal_id")
@click.option("--as", "who", required=True, help="Your identity.")
@click.option("--comment", required=True, help="Why.")
@KEY_DIR
@click.pass_context
@handled
def reject(ctx: click.Context, proposal_id: str, who: str, comment: str, key_dir: Path | None) -> None:
    """Reject a scored proposal (signed, recorded in the ledger); the gate will then refuse it.

    \b
    Example:
      blastwall reject bw-87109988a633 --as priya --comment "Feeds fraud detection; redesign first"
    """
    _decide(ctx, proposal_id, who, comment, key_dir, False)


@main.command()
@click.argument("proposal_id")
@TRUST_ROOT
@ANCHOR
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def gate(
    ctx: click.Context, proposal_id: str, trust_root: str | None, anchors: tuple[str, ...], fmt: str
) -> None:
    """Exit 0 if the change may run now (approved, and nothing the approval binds to has changed; or
    auto under a live risk acceptance), 3 if a human is needed, 1 on error. It answers only from a ledger
    that verifies against the trust root (and every anchored head). Put it in front of Custodian,
    Prowler --fixer or a CI job.

    \b
    Example:
      export BLASTWALL_TRUST_ROOT=trust-root.json
      blastwall gate bw-87109988a633 && custodian run ...
    """
    from analyzer import api
    from analyzer.governance.decisions import gate as run_gate

    store = ctx_store(ctx)
    v = run_gate(
        store,
        ledger_of(ctx, anchors),
        proposal_id,
        policy=api.current_policy(store),
        trust_root=trust_root_of(trust_root),
    )
    if fmt == "json":
        from analyzer.output import to_json

        click.echo(
            to_json(
                {
                    "proposal_id": proposal_id,
                    "allowed": v.allowed,
                    "tier": v.tier,
                    "reason": v.reason,
                    "differences": list(v.differences),
                }
            )
        )
    else:
        click.echo(f"{'ALLOWED' if v.allowed else 'NEEDS A HUMAN'}: {v.reason}")
    sys.exit(v.exit_code)


@main.command("record-execution")
@click.argument("proposal_id")
@click.option("--outcome", type=click.Choice(["applied", "failed", "rolled-back"]), required=True)
@click.option("--at", "at", default=None, help="When it ran (ISO 8601; default now).")
@click.option(
    "--by",
    "reported_by",
    default="remediation-tool",
    show_default=True,
    help="Who reports it (the tool or person that ran the change).",
)
@click.option("--detail", default="", help="Free text: run id, ticket, error.")
@click.pass_context
@handled
def record_execution_cmd(
    ctx: click.Context, proposal_id: str, outcome: str, at: str | None, reported_by: str, detail: str
) -> None:
    """Record what the remediation tool reports it did with a proposal (into the ledger).

    \b
    Example:
      blastwall record-execution bw-87109988a633 --outcome applied --by custodian --detail run-4411
    """
    from analyzer.governance.review import record_execution

    body = record_execution(
        ctx_store(ctx),
        ledger_of(ctx),
        proposal_id,
        outcome=outcome,
        at=parse_time(at) if at else now(),
        reported_by=reported_by,
        detail=detail,
    )
    click.echo(f"{proposal_id}: {body['outcome']} at {body['executed_at']} (reported by {reported_by})")


@main.command("review")
@click.option("--since", default="30d", show_default=True, help="A duration (30d, 12h) or an ISO 8601 time.")
@click.option("--until", default=None, help="End of the period (ISO 8601; default now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a human-readable HTML report here.",
)
@click.option(
    "--pdf",
    "pdf_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as a PDF (printed by headless Chromium, charts included).",
)
@click.option(
    "--suggest-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write each suggested policy edit here as a complete policy file (<id>.yaml) to read, diff and "
    "adopt with `policy load FILE --adopts ID --as YOU`. Nothing is applied.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Exit 5 when something diverged in the period (a run without a gate pass, or breakage nobody "
    "predicted): for a scheduled job that opens a ticket.",
)
@TRUST_ROOT
@click.pass_context
@handled
def review_cmd(
    ctx: click.Context,
    since: str,
    until: str | None,
    fmt: str,
    html_out: Path | None,
    pdf_out: Path | None,
    suggest_dir: Path | None,
    check: bool,
    trust_root: str | None,
) -> None:
    """Post-action review: executed changes, predicted vs observed breakage, what Blastwall would have
    said about changes nobody asked it about, patterns per change kind, proposer, rule and approver role,
    and suggested edits of the tier policy with their evidence (never applied).

    \b
    Example:
      blastwall review --since 7d --html review.html --pdf review.pdf --suggest-dir suggestions/
      blastwall review --since 7d --format json --check || open-a-ticket   # exit 5: something diverged
    """
    from analyzer import api
    from analyzer.governance.review import parse_since, review, review_html

    store = ctx_store(ctx)
    end = parse_time(until) if until else now()
    policy = api.current_policy(store)
    report = review(
        store,
        ledger_of(ctx),
        policy,
        parse_since(since, end),
        end,
        trust_root_of(trust_root),
        rescore=api.retro_scorer(store, policy),
    )
    if html_out or pdf_out:
        page = review_html(report)
        if html_out:
            html_out.write_text(page, encoding="utf-8")
        if pdf_out:
            from analyzer.governance.review_pdf import write_pdf

            write_pdf(page, pdf_out)
    if suggest_dir:
        suggest_dir.mkdir(parents=True, exist_ok=True)
        for sug in report["suggestions"]:
            if sug["kind"] == "policy_edit":
                (suggest_dir / f"{sug['suggestion_id']}.yaml").write_text(sug["policy_yaml"])
    if fmt == "json":
        from analyzer.output import to_json

        click.echo(to_json(report))
    else:
        say_freshness(report["freshness"], fmt)
        from analyzer.governance.review_text import review_lines

        for line in review_lines(report):
            click.echo(line)
    s = report["summary"]
    if check and (s["without_gate_pass"] or s["with_unpredicted_breakage"]):
        ctx.exit(DIVERGED)


DIVERGED = 5
"""Exit status of ``review --check`` when a change ran without a gate pass or broke what nobody predicted."""
