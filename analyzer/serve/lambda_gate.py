"""The loop closed on AWS: a Lambda handler an EventBridge rule on Security Hub findings invokes. It sends
the event to ``blastwall serve``, asks the gate for each proposal, and only when the gate allows it
starts the remediation (an SSM Automation runbook, a Step Functions state machine or another Lambda
function), then reports the execution back. A change the gate holds is not started; the handler says why.

Standard library and boto3 only (what the Lambda runtime has): ``python -m analyzer.serve.lambda_gate
--zip OUT.zip`` writes the deployment package; ``deploy/aws/blastwall-gate.yaml`` deploys it.

Environment:

* ``BLASTWALL_URL``: where ``serve`` answers (inside the VPC, behind TLS).
* ``BLASTWALL_TOKEN_SECRET``: the Secrets Manager secret holding the API token (scopes ``propose``,
  ``read``, ``gate``); or ``BLASTWALL_TOKEN`` itself (tests, never production).
* ``REMEDIATION``: ``ssm-automation:<document>``, ``stepfunctions:<state machine ARN>`` or
  ``lambda:<function>``.
* ``REMEDIATION_PARAMETERS``: for SSM Automation, a JSON object of parameter lists whose strings may name
  ``{target}``, ``{resource_id}``, ``{account}``, ``{region}``, ``{proposal_id}``; e.g.
  ``{"GroupId": ["{resource_id}"], "AutomationAssumeRole": ["arn:aws:iam::{account}:role/remediation"]}``.
  Step Functions and Lambda get ``{"proposal_id", "change", "finding_id"}`` as their input.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT = 20.0


@dataclass(frozen=True)
class Config:
    url: str
    token: str
    remediation: str
    parameters: dict[str, Any]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        missing = [k for k in ("BLASTWALL_URL", "REMEDIATION") if not env.get(k)]
        if missing:
            raise RuntimeError(f"set {', '.join(missing)}")
        kind = env["REMEDIATION"].split(":", 1)[0]
        if kind not in ("ssm-automation", "stepfunctions", "lambda") or ":" not in env["REMEDIATION"]:
            raise RuntimeError(
                "REMEDIATION is ssm-automation:<document>, stepfunctions:<arn> or lambda:<function>"
            )
        if env.get("BLASTWALL_TOKEN_SECRET"):
            import boto3

            token = boto3.client("secretsmanager").get_secret_value(SecretId=env["BLASTWALL_TOKEN_SECRET"])[
                "SecretString"
            ]
        elif env.get("BLASTWALL_TOKEN"):
            token = env["BLASTWALL_TOKEN"]
        else:
            raise RuntimeError("set BLASTWALL_TOKEN_SECRET (a Secrets Manager secret id)")
        return cls(
            env["BLASTWALL_URL"].rstrip("/"),
            token.strip(),
            env["REMEDIATION"],
            json.loads(env.get("REMEDIATION_PARAMETERS") or "{}"),
        )


class Blastwall:
    """``serve``'s API: JSON in and out, the token as a bearer; any answer but 2xx raises (the event is
    then retried by EventBridge / Lambda, and nothing was started)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.cfg.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.cfg.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:  # the configured URL only
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode(errors="replace")
            raise RuntimeError(f"blastwall {method} {path} answered {exc.code}: {detail}") from None


def _short(target: str) -> str:
    if target.startswith("arn:aws:s3:::"):
        return target.removeprefix("arn:aws:s3:::")
    return target.rsplit("/", 1)[-1] if target.startswith("arn:") else target


def _render(value: Any, facts: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**facts)
    if isinstance(value, list):
        return [_render(v, facts) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, facts) for k, v in value.items()}
    return value


def start_remediation(cfg: Config, result: dict[str, Any]) -> str:
    """Start the configured remediation for a scored result; returns what was started (its id)."""
    import boto3

    change = result["change"]
    target = str(change.get("target") or "")
    kind, name = cfg.remediation.split(":", 1)
    if kind == "ssm-automation":
        facts = {
            "target": target,
            "resource_id": _short(target),
            "account": str(change.get("account") or ""),
            "region": str(change.get("region") or ""),
            "proposal_id": result["proposal_id"],
        }
        out = boto3.client("ssm").start_automation_execution(
            DocumentName=name, Parameters=_render(cfg.parameters, facts)
        )
        return f"SSM Automation {name} execution {out['AutomationExecutionId']}"
    payload = {
        "proposal_id": result["proposal_id"],
        "change": change,
        "finding_id": (result.get("source") or {}).get("finding_id"),
    }
    if kind == "stepfunctions":
        out = boto3.client("stepfunctions").start_execution(
            stateMachineArn=name,
            name=f"{result['proposal_id']}-{int(time.time())}",
            input=json.dumps(payload),
        )
        return f"Step Functions execution {out['executionArn']}"
    out = boto3.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps(payload)
    )
    return f"Lambda {name} invoked (status {out['StatusCode']})"


def handler(event: dict[str, Any], context: Any = None, cfg: Config | None = None) -> dict[str, Any]:
    """For each proposal the event makes: held (the gate's reason) or started (and reported)."""
    cfg = cfg or Config.from_env()
    api = Blastwall(cfg)
    _, submitted = api.call("POST", "/v1/proposals", event)
    out = []
    for p in submitted["proposals"]:
        pid = p["proposal_id"]
        result = _scored(api, p, context)
        if result is None:
            out.append({"proposal_id": pid, "held": "not scored in time: ask again with the next event"})
            continue
        _, answer = api.call("POST", f"/v1/gate/{pid}")
        if not answer["allowed"]:
            out.append({"proposal_id": pid, "held": answer["reason"]})
            continue
        try:
            started = start_remediation(cfg, result)
        except Exception as exc:  # report what happened, then let the invocation fail visibly
            api.call(
                "POST",
                f"/v1/executions/{pid}",
                {"outcome": "failed", "detail": f"{type(exc).__name__}: {exc}"},
            )
            raise
        api.call("POST", f"/v1/executions/{pid}", {"outcome": "applied", "detail": f"started: {started}"})
        out.append({"proposal_id": pid, "started": started})
    return {"results": out}


def _scored(api: Blastwall, p: dict[str, Any], context: Any) -> dict[str, Any] | None:
    """The scored result, waiting while it is queued as long as the invocation has time."""
    while True:
        status, body = api.call("GET", p["url"])
        if status == 200:
            return body if body.get("status") != "error" else None
        left = context.get_remaining_time_in_millis() / 1000 if context is not None else 10.0
        if left < 5:
            return None
        time.sleep(1)


def package(out: str) -> None:
    """The deployment zip: this module and the two package markers it imports, nothing else."""
    import zipfile
    from pathlib import Path

    here = Path(__file__).resolve()
    root = here.parents[2]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in (root / "analyzer" / "__init__.py", here.parent / "__init__.py", here):
            z.write(f, f.relative_to(root).as_posix())


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--zip":
        package(sys.argv[2])
    else:
        raise SystemExit("python -m analyzer.serve.lambda_gate --zip OUT.zip")
