"""IAM questions: ``can``, ``who-can``, ``facts``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from analyzer.cli.base import ctx_store, handled, main
from analyzer.errors import BadInput


# -- IAM questions ------------------------------------------------------------------------------------
def _context_pairs(pairs: tuple[str, ...]) -> dict[str, str | list[str]]:
    """``KEY=VALUE`` pairs; a key given twice is multivalued; ``KEY=`` means the key is absent."""
    out: dict[str, str | list[str]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise BadInput(f"--context expects KEY=VALUE, got {pair!r}", path="--context")
        k, v = pair.split("=", 1)
        if k in out:
            prev = out[k]
            out[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
        else:
            out[k] = v
    return out


CONTEXT_OPTION = click.option(
    "--context",
    "context_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A request context key (repeatable; the same key twice is multivalued; KEY= says it is absent). "
    "Keys not given stay unknown and make a decision that needs them conditional.",
)


@main.command("can")
@click.argument("args", nargs=-1, required=True, metavar="[PRINCIPAL] ACTION RESOURCE")
@CONTEXT_OPTION
@click.option(
    "--anonymous",
    is_flag=True,
    help="The caller is anonymous (an unauthenticated request); give only ACTION and RESOURCE.",
)
@click.option(
    "--session-policy",
    "session_policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON policy document passed when the role session was created (AssumeRole Policy): the "
    "session can do only what both it and the role's policies allow.",
)
@click.option(
    "--session-name", help="The role session's name (a resource policy may grant to its session ARN)."
)
@click.option(
    "--source-vpce",
    metavar="VPCE_ID",
    help="The request goes through this VPC endpoint: its policy (from the snapshot) must allow it too, "
    "and aws:SourceVpce is set. An endpoint not in the snapshot makes the answer conditional.",
)
@click.option("--explain", is_flag=True, help="Show each deciding statement's policy text.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def can_cmd(
    ctx: click.Context,
    args: tuple[str, ...],
    context_pairs: tuple[str, ...],
    anonymous: bool,
    session_policy: Path | None,
    session_name: str | None,
    source_vpce: str | None,
    explain: bool,
    fmt: str,
) -> None:
    """Can PRINCIPAL do ACTION on RESOURCE? allowed, denied or conditional (with the context keys it
    depends on), decided by AWS's evaluation logic over SCPs, RCPs, identity policies, the permissions
    boundary, the session policy, the VPC endpoint policy and the resource (or trust, or key) policy.

    PRINCIPAL: an ARN, a role or user name, an account id, a service (ec2.amazonaws.com), or * for an
    anonymous caller (same as --anonymous).
    RESOURCE: an ARN, a bucket, queue, key, function or role name, or * for the actions that take no
    resource (s3:ListAllMyBuckets, ec2:Describe*, iam:List*).

    \b
    Example:
      blastwall can legacy-etl-role sts:AssumeRole datalake-reader --explain
      blastwall can --anonymous s3:GetObject arn:aws:s3:::acme-datalake-curated/part-0001.parquet
      blastwall can fraud-feature-pipeline s3:ListAllMyBuckets '*'
      blastwall can arn:aws:iam::615294837560:role/fraud-feature-pipeline s3:GetObject \\
          arn:aws:s3:::acme-legacy-etl-output/daily.csv --context aws:SecureTransport=true --format json
    """
    from analyzer import api
    from analyzer.output import to_json
    from analyzer.scoring.access import (
        can,
        decision_dict,
        resolve_principal,
        resolve_resource,
        statement_texts,
    )

    want = 2 if anonymous else 3
    if len(args) != want:
        hint = " (quote * so the shell does not expand it: '*')" if len(args) > want else ""
        raise BadInput(
            f"expected {'ACTION RESOURCE' if anonymous else 'PRINCIPAL ACTION RESOURCE'}, got {len(args)} "
            f"argument(s): {' '.join(args[:6])}{' …' if len(args) > 6 else ''}{hint}",
            path="ARGS",
        )
    principal, action, resource = ("*", *args) if anonymous else args
    extra = _context_pairs(context_pairs)
    actx = api.analysis_context(ctx_store(ctx))
    p = resolve_principal(actx, principal)
    r = resolve_resource(actx, resource)
    policy_doc = _policy_file(session_policy) if session_policy is not None else None
    d = can(
        actx,
        p,
        action,
        r,
        extra,
        session_policy=policy_doc,
        session_name=session_name,
        source_vpce=source_vpce,
    )
    payload = decision_dict(d, principal=p, action=action, resource=r)
    if session_name or policy_doc is not None:
        payload["session"] = {"name": session_name, "policy": str(session_policy) if session_policy else None}
    if source_vpce:
        payload["source_vpce"] = source_vpce
    texts = statement_texts(actx, p, r, d.statements) if explain else {}
    if fmt == "json":
        if explain:
            payload["statement_text"] = texts
        click.echo(to_json(payload))
        return
    click.echo(f"{d.state.upper()}: {p} -> {action} -> {r}")
    if d.reason:
        click.echo(f"  why: {d.reason}")
    for label in d.statements:
        click.echo(f"  statement: {label}")
        if label in texts:
            for line in json.dumps(texts[label], indent=2).splitlines():
                click.echo(f"      {line}")
    for k in d.missing_context:
        click.echo(f"  depends on: {k}")


def _policy_file(path: Path) -> object:
    """A policy document from a JSON file, or a clear error naming the file and the place."""
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BadInput(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise BadInput("a policy document needs a Statement", file=str(path), path="$.Statement")
    return doc


@main.command("who-can")
@click.argument("action")
@click.argument("resource")
@CONTEXT_OPTION
@click.option("--all", "include_denied", is_flag=True, help="List denied principals too.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def who_can_cmd(
    ctx: click.Context,
    action: str,
    resource: str,
    context_pairs: tuple[str, ...],
    include_denied: bool,
    fmt: str,
) -> None:
    """Every principal that can (or conditionally can) do ACTION on RESOURCE: the principals of every
    collected account plus the outsiders the resource policy names, decided in one batch.

    \b
    Example:
      blastwall who-can s3:GetObject arn:aws:s3:::acme-datalake-curated/part-0001.parquet
      blastwall who-can sts:AssumeRole datalake-reader --format json
      blastwall who-can sts:AssumeRoleWithWebIdentity eks-fraud-datalake   # its pods' service accounts
    """
    from analyzer import api
    from analyzer.output import to_json
    from analyzer.scoring.access import resolve_resource, who_can

    extra = _context_pairs(context_pairs)
    actx = api.analysis_context(ctx_store(ctx))
    r = resolve_resource(actx, resource)
    rows = who_can(actx, action, r, extra, include_denied)
    if action.lower() == "sts:assumerolewithwebidentity" and not extra:
        # the pods' service accounts (and identities CloudTrail saw): their token's sub and aud are known
        from analyzer.scoring.web_identity_trust import who_can_assume

        rows += [
            {**w, "principal": f"{w['principal']} ({w['subject']})"}
            for w in who_can_assume(actx, r)
            if include_denied or w["decision"] != "denied"
        ]
    if fmt == "json":
        click.echo(to_json({"action": action, "resource": r, "count": len(rows), "principals": rows}))
        return
    click.echo(f"{len(rows)} principal(s) for {action} on {r}")
    for row in rows:
        note = f"  (depends on: {', '.join(row['missing_context'])})" if row["missing_context"] else ""
        click.echo(f"  {row['decision']:<11} {row['principal']}{note}")


@main.command("facts")
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(["CAN_ASSUME", "CAN_ACCESS"]),
    multiple=True,
    help="Only these kinds (default: both).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def facts_cmd(ctx: click.Context, kinds: tuple[str, ...], fmt: str) -> None:
    """The IAM facts with their justification: CAN_ASSUME for every principal a trust policy names or
    that was seen assuming the role, CAN_ACCESS for every observed call and for every principal against
    resources marked sensitive (a classification tag, or the CI's classification).

    \b
    Example:
      blastwall facts --kind CAN_ASSUME --format json
    """
    from analyzer import api
    from analyzer.scoring.access import facts, facts_summary, to_json

    items = facts(api.analysis_context(ctx_store(ctx)), kinds or ("CAN_ASSUME", "CAN_ACCESS"))
    if fmt == "json":
        click.echo(to_json(items))
        return
    summary = facts_summary(items)
    for kind, c in summary["by_kind"].items():
        click.echo(f"{kind}: {c['allowed']} allowed, {c['conditional']} conditional, {c['denied']} denied")
    for f in items:
        if f.decision.state != "denied":
            click.echo(f"  {f.decision.state:<11} {f.principal} {f.action} {f.resource}")
