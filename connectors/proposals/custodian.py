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

Actions whose parameters say exactly what changes (Cloud Custodian AWS reference, each action's schema as
``custodian schema aws.<resource>.actions.<action>`` prints it) map to the change kinds (``exact``):

* ``aws.ec2`` ``stop`` / ``terminate`` -> ``compute.stop_or_terminate``; ``set-metadata-access`` with
  ``tokens: required`` (and nothing else) -> ``setting.harden`` ``imdsv2_required``;
* any resource ``delete`` -> ``resource.delete``;
* ``aws.s3`` ``set-public-block`` -> ``public_access.block`` (the flags given, else all four set to
  ``state``, default true, as Custodian does); ``set-bucket-encryption`` ``crypto: aws:kms`` with a key ARN,
  or SSE-S3 (``AES256``, the default) -> ``setting.harden`` ``s3_default_encryption``;
* ``aws.s3`` / ``aws.sqs`` / ``aws.sns`` ``set-statements`` -> ``resource_policy.remove_statements`` (a
  removal alone) or the whole new document (statements added);
* ``aws.ec2`` / ``aws.eni`` ``modify-security-groups`` -> ``eni.replace_security_groups`` per interface;
* ``aws.sqs`` / ``aws.sns`` ``remove-statements`` -> ``resource_policy.remove_statements``;
* ``aws.iam-user`` ``remove-keys`` -> ``iam.revoke_credentials`` (``disable: true`` deactivates);
* ``aws.iam-role`` / ``aws.iam-user`` ``set-boundary`` -> ``iam.set_permissions_boundary``; ``set-policy``
  with one policy ARN -> ``iam.detach_policy`` / ``iam.attach_or_put_policy``.

Actions that change nothing a workload depends on (``tag``, ``mark-for-op``, ``notify`` …) are no-ops, not
proposals (counted as skipped). Any other action is an ``opaque.runbook`` (scored conservatively, never
``auto``). A run is a dry run or not as ``metadata.json`` says; the proposal records it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.timeutil import iso
from connectors.jsonfile import load_json
from connectors.proposals import Skipped, proposal_id

_ACCOUNT = __import__("re").compile(r"^\d{12}$")

NO_OP_ACTIONS = frozenset(
    {
        "tag",
        "mark",
        "unmark",
        "untag",
        "remove-tag",
        "rename-tag",
        "normalize-tag",
        "mark-for-op",
        "auto-tag-user",
        "copy-related-tag",
        "notify",
        "post-finding",
        "put-metric",
        "report",
    }
)
"""Actions that change tags, send messages or record findings: nothing a workload depends on."""


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


def parse_unit(unit: Path, policies: dict[str, dict[str, Any]] | None = None) -> list[Any]:
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
    executed = None
    if not dryrun:  # the actions ran: what comes in is a record of what was done, not a request
        run = meta.get("execution") or {}
        # when the actions were done: the run's end (its filters, a gate among them, ran before them)
        done = run.get("end_time", run.get("start"))
        executed = {
            "by": "cloud-custodian",
            "execution_id": run.get("id"),
            "at": iso(datetime.fromtimestamp(float(done), UTC)) if isinstance(done, int | float) else None,
        }
    listed = policy.get("actions") or []
    if not isinstance(listed, list):  # Custodian's policy schema: a list of names or objects, never a string
        raise BadInput(
            f"actions must be a list, not {type(listed).__name__}",
            file=str(meta_path),
            path="$.policy.actions",
        )
    actions = [a if isinstance(a, dict) else {"type": a} for a in listed]
    out: list[Any] = []
    for i, r in enumerate(resources):
        if not isinstance(r, dict):
            raise BadInput("a resource must be an object", file=str(res_path), path=f"$[{i}]")
        for action in actions or [{"type": "report"}]:
            if action.get("type") in NO_OP_ACTIONS and actions:
                out.append(Skipped("no_op_action", f"{name}:{action.get('type')}:#{i}"))
                continue
            for change in _changes(rtype, action, r, account, region, str(res_path), i):
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
                            **({"executed": executed} if executed else {}),
                            "custodian_version": meta.get("version"),
                            "file": str(unit),
                        },
                        "change": change,
                    }
                )
    return out


def _removal(flagged: list[Any]) -> dict[str, Any]:
    """The statements Custodian's ``cross-account`` filter flagged, as a removal: by Sid where they have
    one, by their text otherwise."""
    delta = {
        "statement_ids": [x["Sid"] for x in flagged if isinstance(x, dict) and x.get("Sid")],
        "statements": [x for x in flagged if isinstance(x, dict) and not x.get("Sid")],
    }
    return {k: v for k, v in delta.items() if v}


def _changes(
    rtype: str,
    action: dict[str, Any],
    r: dict[str, Any],
    account: str | None,
    region: str | None,
    file: str,
    i: int,
) -> list[dict[str, Any]]:
    """The changes one action makes to one resource: one, except ``modify-security-groups`` on an
    instance, which sets the groups of each of its network interfaces."""
    if _short(rtype) in ("ec2", "eni") and action.get("type") == "modify-security-groups":
        found = _modify_groups(_short(rtype), action, r)
        if found is not None:
            base = {"account": account, "region": region, "lookup": None, "fidelity": "exact"}
            return [
                {**base, "kind": "eni.replace_security_groups", "target": eni, "delta": {"groups": groups}}
                for eni, groups in found
            ]
    return [_change(rtype, action, r, account, region, file, i)]


def _ids(value: Any) -> list[str] | None:
    """Group ids of an action parameter (a string or a list); None when any is a name or a symbol."""
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    if not all(isinstance(x, str) and x.startswith("sg-") for x in items):
        return None
    return list(items)


def _modify_groups(
    short: str, action: dict[str, Any], r: dict[str, Any]
) -> list[tuple[str, list[str]]] | None:
    """Each interface's groups after ``modify-security-groups``, as Custodian computes them (c7n
    ``ModifyVpcSecurityGroupsAction.get_groups``): the current groups less ``remove`` (ids, ``matched``:
    the groups its filter matched, ``all``), plus ``add``; the ``isolation-group`` when none is left.
    None (opaque) for group names, ``add-by-tag`` or ``network-location``, which need lookups."""
    if "add-by-tag" in action:
        return None
    add = _ids(action.get("add", []))
    isolation = _ids(action.get("isolation-group", []))
    if add is None or isolation is None:
        return None
    interfaces = r.get("NetworkInterfaces") if short == "ec2" else [r]
    out = []
    for iface in interfaces or []:
        eni = iface.get("NetworkInterfaceId")
        listed = [g.get("GroupId") for g in iface.get("Groups") or [] if isinstance(g, dict)]
        current = [g for g in listed if isinstance(g, str)]
        if not eni or len(current) != len(listed):
            return None
        remove: list[str]
        remove_spec = action.get("remove", [])
        if remove_spec == "all":
            remove = list(current)
        elif remove_spec == "matched":
            remove = list(r.get("c7n:matched-security-groups") or [])
        else:
            found = _ids(remove_spec)
            if found is None:
                return None
            remove = found
        groups = [g for g in current if g not in remove]
        groups += [g for g in add if g not in groups]
        out.append((eni, groups or list(isolation)))
    return out or None


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
    if rtype.startswith("k8s."):  # no account or region in a Kubernetes run: the pod's cluster says
        return {**base, "region": region or None, **_kubernetes(rtype, action, r, file, i)}
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
            delta = _removal(flagged)
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
        or r.get("QueueArn")
        or r.get("TopicArn")
        or (f"arn:aws:s3:::{r['Name']}" if short == "s3" and r.get("Name") else None)
    )
    target = (
        target or r.get("GroupId") or r.get("InstanceId") or r.get("NetworkInterfaceId") or r.get("RoleName")
    )
    mapped = _mapped(short, atype, action, r, target)
    if mapped is not None:
        kind, tgt, delta = mapped
        return {**base, "kind": kind, "target": tgt, "delta": delta, "fidelity": "exact"}
    return {
        **base,
        "kind": "opaque.runbook",
        "target": target,
        "delta": {"runbook": f"custodian:{short}:{atype}", "action": action},
        "fidelity": "opaque",
    }


def _kubernetes(rtype: str, action: dict[str, Any], r: dict[str, Any], file: str, i: int) -> dict[str, Any]:
    """c7n-kube's resources (the Kubernetes client's records: ``metadata.name``, ``metadata.namespace``):
    a pod's ``label`` is ``k8s.quarantine_pod`` by relabelling (a NetworkPolicy selecting the new labels
    isolates it; Blastwall decides which); anything else a runbook it cannot see. The pod is named by
    namespace and name and found among the loaded clusters at import."""
    from connectors.proposals.falco import pod_ref

    meta = r.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise BadInput("a Kubernetes resource needs metadata.name", file=file, path=f"$[{i}].metadata.name")
    ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
    atype = action.get("type")
    if rtype == "k8s.pod" and atype == "label" and ns:
        labels = action.get("labels") or {}
        removed = action.get("remove") or []
        if not isinstance(labels, dict) or not isinstance(removed, list):
            raise BadInput(
                "label: labels must be a map and remove a list", file=file, path="$.policy.actions"
            )
        change_set = {**{str(k): str(v) for k, v in labels.items()}, **{str(k): None for k in removed}}
        if change_set:
            return {
                "kind": "k8s.quarantine_pod",
                "target": pod_ref(ns, meta["name"], None),
                "delta": {"method": "label", "set": change_set},
                "fidelity": "exact",
            }
    return {
        "kind": "opaque.runbook",
        "target": f"{rtype}:{ns + '/' if ns else ''}{meta['name']}",
        "delta": {"runbook": f"custodian:{rtype}:{atype}", "action": action},
        "fidelity": "opaque",
    }


def _set_statements(
    short: str, action: dict[str, Any], r: dict[str, Any], target: str | None
) -> tuple[str, str | None, dict[str, Any]] | None:
    """``set-statements`` (Custodian's successor of ``remove-statements``): the policy the resource has
    (Custodian's resource record carries it) less ``remove`` (ids, ``matched``: the statements its
    ``cross-account`` filter flagged, ``*``: all), plus ``statements`` (replacing a statement of the same
    Sid, with ``{bucket_name}``, ``{account_id}``, ``{region}`` filled in as Custodian does). A removal
    alone is ``remove_statements``; anything added makes it the whole new document."""
    import json
    import re

    remove, add = action.get("remove", []), action.get("statements") or []
    if not add:
        if remove == "matched":
            return (
                "resource_policy.remove_statements",
                target,
                _removal(r.get("CrossAccountViolations") or []),
            )
        if isinstance(remove, list) and remove:
            return "resource_policy.remove_statements", target, {"statement_ids": [str(x) for x in remove]}
        if remove == "*":
            return "resource_policy.remove_statements", target, {"new_document": None}
        return None
    policy = r.get("Policy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return None
    if policy is not None and not isinstance(policy, dict):
        return None
    doc = dict(policy or {"Version": "2012-10-17"})
    current = doc.get("Statement") or []
    current = [current] if isinstance(current, dict) else list(current)
    if remove == "*":
        current = []
    elif remove == "matched":
        flagged = [json.dumps(x, sort_keys=True) for x in r.get("CrossAccountViolations") or []]
        current = [st for st in current if json.dumps(st, sort_keys=True) not in flagged]
    elif isinstance(remove, list):
        current = [st for st in current if st.get("Sid") not in remove]
    else:
        return None
    values = {
        "bucket_name": r.get("Name"),
        "account_id": (target or "").split(":")[4] if (target or "").count(":") >= 5 else None,
        "region": (target or "").split(":")[3] if (target or "").count(":") >= 5 else None,
    }
    text = json.dumps(add)
    for k, v in values.items():
        if v:
            text = text.replace("{" + k + "}", str(v))
    if re.search(r"\{[a-z_]+\}", text):
        return None  # a placeholder this record cannot fill
    added = json.loads(text)
    sids = {st.get("Sid") for st in added}
    doc["Statement"] = [st for st in current if st.get("Sid") not in sids] + added
    return "resource_policy.remove_statements", target, {"new_document": doc}


def _mapped(
    short: str, atype: Any, action: dict[str, Any], r: dict[str, Any], target: str | None
) -> tuple[str, str | None, dict[str, Any]] | None:
    """(kind, target, delta) for an action whose parameters say exactly what changes, else None."""
    keys = set(action) - {"type"}
    if short == "ec2" and atype in ("stop", "terminate"):
        return "compute.stop_or_terminate", r.get("InstanceId") or target, {"action": atype}
    if atype == "delete":
        return "resource.delete", target, {}
    if (
        short == "ec2"
        and atype == "set-metadata-access"
        and action.get("tokens") == "required"
        and keys == {"tokens"}
    ):
        return "setting.harden", r.get("InstanceId") or target, {"setting": "imdsv2_required"}
    if short == "s3" and atype == "set-public-block":
        flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        given = {k: bool(action[k]) for k in flags if k in action}
        return "public_access.block", target, given or dict.fromkeys(flags, bool(action.get("state", True)))
    if short == "s3" and atype == "set-bucket-encryption":
        if action.get("enabled", True) is not True:
            return None  # enabled: false turns default encryption off: not a hardening
        key = action.get("key")
        if (
            action.get("crypto") == "aws:kms"
            and isinstance(key, str)
            and key.startswith("arn:aws")
            and ":kms:" in key
        ):
            return "setting.harden", target, {"setting": "s3_default_encryption", "kms_key": key}
        if action.get("crypto", "AES256") == "AES256" and "key" not in action:
            return "setting.harden", target, {"setting": "s3_default_encryption", "sse": "AES256"}
        return None  # an alias or the AWS managed key: not a kms_key ARN this kind can judge
    if short in ("s3", "sqs", "sns") and atype == "set-statements":
        return _set_statements(short, action, r, target)
    if short in ("sqs", "sns") and atype == "remove-statements":
        ids = action.get("statement_ids")
        if ids == "matched":
            return (
                "resource_policy.remove_statements",
                target,
                _removal(r.get("CrossAccountViolations") or []),
            )
        if isinstance(ids, list):
            return "resource_policy.remove_statements", target, {"statement_ids": [str(x) for x in ids]}
        return None  # '*': every statement, a different change
    if short == "iam-user" and atype == "remove-keys" and not action.get("matched") and "age" not in action:
        return (
            "iam.revoke_credentials",
            target,
            {
                "credential": "access_keys",
                "action": "deactivate" if action.get("disable") else "delete",
            },
        )
    if short in ("iam-role", "iam-user") and atype == "set-boundary":
        if action.get("state") == "absent":
            return "iam.set_permissions_boundary", target, {"boundary_arn": None}
        if isinstance(action.get("policy"), str) and ":policy/" in action["policy"]:
            return "iam.set_permissions_boundary", target, {"boundary_arn": action["policy"]}
        return None
    if short in ("iam-role", "iam-user") and atype == "set-policy":
        arn = action.get("arn")
        if isinstance(arn, str) and ":policy/" in arn and "*" not in arn:
            kind = "iam.detach_policy" if action.get("state") == "detached" else "iam.attach_or_put_policy"
            return kind, target, {"policy_arn": arn}
        return None  # '*' detaches every policy: not one change of these kinds
    return None
