"""Kubernetes questions: ``k8s who-can``."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from analyzer.cli.base import ctx_store, handled, main


@main.group("k8s")
def k8s() -> None:
    """Questions about the loaded Kubernetes clusters.

    \b
    Example:
      blastwall k8s who-can create pods/exec -n fraud --cluster arn:aws:eks:us-east-1:615294837560:cluster/fraud-eks
    """


@k8s.command("who-can")
@click.argument("verb")
@click.argument("resource")
@click.option("-n", "--namespace", default=None, help="The namespace (default: cluster-wide).")
@click.option("--name", default=None, help="One object by name (rules with resourceNames).")
@click.option("--cluster", "cluster_arn", required=True, help="The EKS cluster's ARN.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handled
def who_can(
    ctx: click.Context,
    verb: str,
    resource: str,
    namespace: str | None,
    name: str | None,
    cluster_arn: str,
    fmt: str,
) -> None:
    """Every subject Kubernetes RBAC lets do VERB on RESOURCE (as `kubectl auth can-i` names it:
    `pods`, `pods/exec`, `deployments.apps`), with the binding, role and rule that allow it.

    \b
    Example:
      blastwall k8s who-can create pods/exec -n fraud --cluster arn:aws:eks:us-east-1:615294837560:cluster/fraud-eks
      blastwall k8s who-can delete deployments.apps -n fraud --cluster ARN --format json
    """
    from analyzer import api

    grants = api.kubernetes_who_can(
        ctx_store(ctx), cluster_arn, verb, resource, namespace=namespace, name=name
    )
    where = f"in namespace {namespace}" if namespace else "cluster-wide"
    if fmt == "json":
        payload = {
            "verb": verb,
            "resource": resource,
            "namespace": namespace,
            "subjects": [asdict(g) for g in grants],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"{len(grants)} subject(s) may {verb} {resource} {where}")
    for g in grants:
        click.echo(
            f"  {g.subject_kind:<14} {g.subject}  via {g.binding} -> {g.role} (rule {g.rule}); {g.members}"
        )
