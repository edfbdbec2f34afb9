"""Cloud Custodian run output: ``OUT/<policy>/{resources.json, metadata.json}`` (``custodian run -s OUT``)
and the c7n-org layout ``OUT/<account>/<region>/<policy>/``, optionally with the policy YAML given in the
same ``propose`` call (for each policy's ``description`` and ``metadata.severity``).

Each matched resource becomes one proposal. Where Custodian's annotations carry the exact delta it is
used as such (``exact``):

* ``aws.security-group`` + ``remove-permissions``: ``MatchedIpPermissions`` / ``MatchedIpPermissionsEgress``
  (``matched``) or the group's whole ``IpPermissions`` (``all``) -> ``sg.revoke_rules``;
* ``aws.s3`` + ``remove-statements``: the statements its ``cross-account`` filter flagged
  (``CrossAccountViolations``, ``statement_ids: matched``) or the listed ids ->
  ``resource_policy.remove_statements``.

Any other action is an ``opaque.runbook`` (scored conservatively, never ``auto``). A run is a dry run or
not as ``metadata.json`` says; the proposal records it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from connectors.jsonfile import load_json
from connectors.proposals import proposal_id

_ACCOUNT = __import__("re").compile(r"^\d{12}$")


def is_policy_file(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("policies"), list)
        and all(isinstance(p, dict) and "resource" in p for p in data["policies"])
    )


def policy_index(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p.get("name", ""): p for p in data["policies"]}


def units(root: Path) -> list[Path]:
    """The policy output directories under ``root`` (a directory holding resources.json or metadata.json)."""
    found = {p.parent for name in ("resources.json", "metadata.json") for p in root.rglob(name)}
    return sorted(found)


def _short(resource_type: str) -> str:
    return resource_type.removeprefix("aws.")


def _account_region(unit: Path, meta: dict[str, Any], resources: list[Any]) -> tuple[str | None, str | None]:
    config = meta.get("config") or {}
    account = config.get("account_id")
    region = config.get("region")
    parts = unit.parts
    if len(parts) >= 3 and _ACCOUNT.match(parts[-3]):  # c7n-org: <account>/<region>/<policy>
        account = account or parts[-3]
        region = region or parts[-2]
    if not account:  # real output may leave config.account_id null: take it from the resources
        for r in resources:
            if isinstance(r, dict):
                owner = (
                    r.get("OwnerId") or str(r.get("SecurityGroupArn") or r.get("Arn") or "").split(":")[4:5]
                )
                if isinstance(owner, list):
                    owner = owner[0] if owner else None
                if owner:
                    account = str(owner)
                    break
    return account, region


def parse_unit(unit: Path, policies: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    meta_path, res_path = unit / "metadata.json", unit / "resources.json"
    if not meta_path.exists():
        raise BadInput(
            "Custodian output directory without metadata.json (which policy ran, where)", file=str(unit)
        )
    meta = load_json(meta_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("policy"), dict):
        raise BadInput("metadata.json has no policy object", file=str(meta_path), path="$.policy")
    policy = meta["policy"]
    name = policy.get("name")
    rtype = policy.get("resource")
    if not name or not rtype:
        raise BadInput("the policy lacks its name or resource type", file=str(meta_path), path="$.policy")
    resources = load_json(res_path) if res_path.exists() else []
    if not isinstance(resources, list):
        raise BadInput("resources.json must be a list of resources", file=str(res_path))
    account, region = _account_region(unit, meta, resources)
    extra = (policies or {}).get(name, {})
    severity = str(
        (extra.get("metadata") or {}).get("severity")
        or (policy.get("metadata") or {}).get("severity")
        or "medium"
    ).lower()
    dryrun = bool((meta.get("config") or {}).get("dryrun"))
    actions = [a if isinstance(a, dict) else {"type": a} for a in policy.get("actions") or []]
    out = []
    for i, r in enumerate(resources):
        if not isinstance(r, dict):
            raise BadInput("a resource must be an object", file=str(res_path), path=f"$[{i}]")
        for action in actions or [{"type": "report"}]:
            change = _change(rtype, action, r, account, region, str(res_path), i)
            rid = change["target"] or f"#{i}"
            finding = f"custodian:{account}:{region}:{name}:{action.get('type')}:{rid}"
            out.append(
                {
                    "proposal_id": proposal_id("custodian", finding),
                    "source": {
                        "format": "custodian",
                        "finding_id": finding,
                        "product": "cloud-custodian",
                        "generator": name,
                        "title": extra.get("description")
                        or f"Cloud Custodian {name}: {action.get('type')} on {rid}",
                        "severity": severity,
                        "dryrun": dryrun,
                        "custodian_version": meta.get("version"),
                        "file": str(unit),
                    },
                    "change": change,
                }
            )
    return out


def _change(
    rtype: str,
    action: dict[str, Any],
    r: dict[str, Any],
    account: str | None,
    region: str | None,
    file: str,
    i: int,
) -> dict[str, Any]:
    short, atype = _short(rtype), action.get("type")
    base: dict[str, Any] = {"account": account, "region": region, "lookup": None}
    if short == "security-group" and atype == "remove-permissions":
        delta: dict[str, Any] = {}
        for side, matched, whole in (
            ("ingress", "MatchedIpPermissions", "IpPermissions"),
            ("egress", "MatchedIpPermissionsEgress", "IpPermissionsEgress"),
        ):
            how = action.get(side)
            if how == "matched":
                if matched not in r:
                    raise BadInput(
                        f"remove-permissions {side}: matched, but the resource has no {matched} annotation",
                        file=file,
                        path=f"$[{i}].{matched}",
                    )
                delta[side] = r[matched]
            elif how == "all":
                delta[side] = r.get(whole) or []
        return {
            **base,
            "kind": "sg.revoke_rules",
            "target": r.get("GroupId"),
            "delta": delta,
            "fidelity": "exact",
        }
    if short == "s3" and atype == "remove-statements":
        ids = action.get("statement_ids")
        bucket = r.get("Name")
        if ids == "matched":
            flagged = r.get("CrossAccountViolations")
            if flagged is None:
                raise BadInput(
                    "remove-statements statement_ids: matched, but no CrossAccountViolations annotation",
                    file=file,
                    path=f"$[{i}].CrossAccountViolations",
                )
            delta = {
                "statement_ids": [s["Sid"] for s in flagged if s.get("Sid")],
                "statements": [s for s in flagged if not s.get("Sid")],
            }
            delta = {k: v for k, v in delta.items() if v}
        else:
            delta = {"statement_ids": list(ids or [])}
        return {
            **base,
            "kind": "resource_policy.remove_statements",
            "target": f"arn:aws:s3:::{bucket}",
            "delta": delta,
            "fidelity": "exact",
        }
    target = (
        r.get("Arn")
        or r.get("arn")
        or (f"arn:aws:s3:::{r['Name']}" if short == "s3" and r.get("Name") else None)
    )
    target = (
        target or r.get("GroupId") or r.get("InstanceId") or r.get("NetworkInterfaceId") or r.get("RoleName")
    )
    return {
        **base,
        "kind": "opaque.runbook",
        "target": target,
        "delta": {"runbook": f"custodian:{short}:{atype}", "action": action},
        "fidelity": "opaque",
    }
