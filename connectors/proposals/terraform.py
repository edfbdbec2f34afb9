"""Terraform plans (``terraform show -json PLANFILE``): the ``resource_changes`` of a pull request, each with
its ``change.before`` and ``change.after``, turned into exact deltas:

* ``aws_security_group`` (inline ``ingress``/``egress`` blocks): peers removed -> ``sg.revoke_rules``,
  peers added -> ``sg.authorize_rules``;
* ``aws_security_group_rule`` and ``aws_vpc_security_group_{ingress,egress}_rule``: a deleted rule ->
  ``sg.revoke_rules``, a created one -> ``sg.authorize_rules`` (a replaced one: both), one updated in
  place (its port or protocol changed) -> ``sg.replace_rules`` on its group;
* ``aws_iam_role``: a changed ``assume_role_policy`` -> ``iam.update_trust_policy`` (``new_document``);
* ``aws_s3_bucket_policy``: an updated or deleted policy -> ``resource_policy.remove_statements``
  (``new_document``);
* anything else that changes an existing resource (``aws_s3_bucket_public_access_block``, policy
  attachments …) -> ``opaque.runbook`` with the planned values, never ``auto``.

Resources the plan creates touch nothing that exists and are left out (counted: ``propose`` says how many),
except a standalone rule created on a group that already exists (its ``security_group_id`` is known at
plan time): that opens the existing group -> ``sg.authorize_rules``. A proposal's id is made of the
resource address *and* the change itself, so two plans changing the same address differently are two
proposals, and the same plan imported twice is one. Plans of ``format_version`` 0.x and 1.x are read;
another is refused naming the field.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from analyzer.errors import BadInput
from connectors.proposals import ProposalFormat, Skipped, proposal_id, register

SUPPORTED_MAJOR = ("0", "1")


def detect(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and "format_version" in data
        and ("resource_changes" in data or "planned_values" in data)
    )


def _proto(p: Any) -> str:
    text = str(p).lower()
    return {"all": "-1", "-1": "-1", "6": "tcp", "17": "udp", "1": "icmp"}.get(text, text)


def _perm(
    proto: Any,
    lo: Any,
    hi: Any,
    *,
    cidrs: list[str] | None = None,
    v6: list[str] | None = None,
    groups: list[str] | None = None,
    prefix_lists: list[str] | None = None,
) -> dict[str, Any]:
    p: dict[str, Any] = {"IpProtocol": _proto(proto)}
    if p["IpProtocol"] != "-1" and lo is not None:
        p["FromPort"], p["ToPort"] = int(lo), int(hi if hi is not None else lo)
    if cidrs:
        p["IpRanges"] = [{"CidrIp": c} for c in cidrs]
    if v6:
        p["Ipv6Ranges"] = [{"CidrIpv6": c} for c in v6]
    if groups:
        p["UserIdGroupPairs"] = [{"GroupId": g} for g in groups]
    if prefix_lists:
        p["PrefixListIds"] = [{"PrefixListId": x} for x in prefix_lists]
    return p


def _inline(block: dict[str, Any], own: str | None) -> list[tuple[tuple[Any, ...], str, str]]:
    """An inline ingress/egress block as (protocol, from, to) + one peer per entry."""
    key = (_proto(block.get("protocol")), block.get("from_port"), block.get("to_port"))
    peers = [("IpRanges", c) for c in block.get("cidr_blocks") or []]
    peers += [("Ipv6Ranges", c) for c in block.get("ipv6_cidr_blocks") or []]
    peers += [("UserIdGroupPairs", g) for g in block.get("security_groups") or []]
    peers += [("PrefixListIds", x) for x in block.get("prefix_list_ids") or []]
    if block.get("self") and own:
        peers.append(("UserIdGroupPairs", own))
    return [(key, kind, value) for kind, value in peers]


def _perms(entries: list[tuple[tuple[Any, ...], str, str]]) -> list[dict[str, Any]]:
    grouped: dict[tuple[Any, ...], dict[str, list[str]]] = {}
    for key, kind, value in entries:
        grouped.setdefault(key, {}).setdefault(kind, []).append(value)
    out = []
    for (proto, lo, hi), peers in grouped.items():
        out.append(
            _perm(
                proto,
                lo,
                hi,
                cidrs=peers.get("IpRanges", []),
                v6=peers.get("Ipv6Ranges", []),
                groups=peers.get("UserIdGroupPairs", []),
                prefix_lists=peers.get("PrefixListIds", []),
            )
        )
    return out


def _rule_perm(rtype: str, v: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(direction, group id, permission) of a standalone rule resource."""
    if rtype == "aws_security_group_rule":
        groups = [v["source_security_group_id"]] if v.get("source_security_group_id") else []
        if v.get("self"):
            groups.append(v.get("security_group_id"))
        perm = _perm(
            v.get("protocol"),
            v.get("from_port"),
            v.get("to_port"),
            cidrs=v.get("cidr_blocks") or [],
            v6=v.get("ipv6_cidr_blocks") or [],
            groups=groups,
            prefix_lists=v.get("prefix_list_ids") or [],
        )
        return str(v.get("type")), str(v.get("security_group_id")), perm
    direction = "ingress" if rtype.endswith("ingress_rule") else "egress"
    perm = _perm(
        v.get("ip_protocol"),
        v.get("from_port"),
        v.get("to_port"),
        cidrs=[v["cidr_ipv4"]] if v.get("cidr_ipv4") else [],
        v6=[v["cidr_ipv6"]] if v.get("cidr_ipv6") else [],
        groups=[v["referenced_security_group_id"]] if v.get("referenced_security_group_id") else [],
        prefix_lists=[v["prefix_list_id"]] if v.get("prefix_list_id") else [],
    )
    return direction, str(v.get("security_group_id")), perm


def _doc(v: Any) -> Any:
    if isinstance(v, str) and v.strip():
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    return v or None


RULE_TYPES = (
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
)


def _on_existing_group(rtype: str, actions: list[str], after: dict[str, Any], unknown: Any) -> bool:
    """A rule resource the plan creates on a group that exists already (the group id is known now)."""
    gid = after.get("security_group_id")
    return (
        rtype in RULE_TYPES
        and actions == ["create"]
        and isinstance(gid, str)
        and gid.startswith("sg-")
        and not (isinstance(unknown, dict) and unknown.get("security_group_id"))
    )


def parse(data: Any, file: str) -> list[Any]:
    version = str(data.get("format_version", ""))
    if version.split(".", 1)[0] not in SUPPORTED_MAJOR:
        raise BadInput(
            f"unsupported Terraform plan format_version {version!r} (0.x and 1.x are read)",
            file=file,
            path="$.format_version",
        )
    changes = data.get("resource_changes") or []
    if not isinstance(changes, list):
        raise BadInput("resource_changes must be a list", file=file, path="$.resource_changes")
    out: list[Any] = []
    for i, rc in enumerate(changes):
        where = f"$.resource_changes[{i}]"
        if not isinstance(rc, dict) or not isinstance(rc.get("change"), dict):
            raise BadInput("a resource change needs a change object", file=file, path=f"{where}.change")
        actions = rc["change"].get("actions") or []
        before = rc["change"].get("before") or {}
        after = rc["change"].get("after") or {}
        rtype, address = rc.get("type", ""), rc.get("address", f"#{i}")
        if actions == ["create"] and not _on_existing_group(
            rtype, actions, after, rc["change"].get("after_unknown")
        ):
            out.append(Skipped("terraform_creates", str(address)))
            continue
        if actions in (["no-op"], ["read"]) or not actions:
            continue
        made: list[tuple[str, str | None, dict[str, Any], str]] = []  # kind, target, delta, fidelity
        if rtype == "aws_security_group":
            own = before.get("id")
            for side in ("ingress", "egress"):
                b = {x for blk in before.get(side) or [] for x in _inline(blk, own)}
                a = (
                    {x for blk in after.get(side) or [] for x in _inline(blk, own)}
                    if "delete" not in actions
                    else set()
                )
                if b - a:
                    made.append(("sg.revoke_rules", own, {side: _perms(sorted(b - a, key=str))}, "exact"))
                if a - b:
                    made.append(("sg.authorize_rules", own, {side: _perms(sorted(a - b, key=str))}, "exact"))
        elif rtype in RULE_TYPES and actions == ["update"] and before and after:
            side_b, group_b, perm_b = _rule_perm(rtype, before)
            side_a, group_a, perm_a = _rule_perm(rtype, after)
            if (side_b, group_b) == (side_a, group_a) and perm_b != perm_a:
                replace: dict[str, Any] = {"revoke": {side_b: [perm_b]}, "authorize": {side_a: [perm_a]}}
                made.append(("sg.replace_rules", group_b, replace, "exact"))
            elif perm_b != perm_a or group_b != group_a:
                made.append(("sg.revoke_rules", group_b, {side_b: [perm_b]}, "exact"))
                made.append(("sg.authorize_rules", group_a, {side_a: [perm_a]}, "exact"))
        elif rtype in RULE_TYPES:
            if "delete" in actions and before:
                direction, group, perm = _rule_perm(rtype, before)
                made.append(("sg.revoke_rules", group, {direction: [perm]}, "exact"))
            if "create" in actions and after:
                direction, group, perm = _rule_perm(rtype, after)
                made.append(("sg.authorize_rules", group, {direction: [perm]}, "exact"))
        elif rtype == "aws_iam_role" and "update" in actions:
            trust_before, trust_after = (
                _doc(before.get("assume_role_policy")),
                _doc(after.get("assume_role_policy")),
            )
            if trust_before != trust_after and isinstance(trust_after, dict):
                made.append(
                    ("iam.update_trust_policy", before.get("arn"), {"new_document": trust_after}, "exact")
                )
        elif rtype == "aws_s3_bucket_policy":
            bucket = before.get("bucket") or after.get("bucket")
            policy_after = None if "delete" in actions else _doc(after.get("policy"))
            if _doc(before.get("policy")) != policy_after:
                made.append(
                    (
                        "resource_policy.remove_statements",
                        f"arn:aws:s3:::{bucket}",
                        {"new_document": policy_after},
                        "exact",
                    )
                )
        elif rtype == "aws_s3_bucket_public_access_block" and "delete" not in actions:
            flags = {
                "BlockPublicAcls": "block_public_acls",
                "IgnorePublicAcls": "ignore_public_acls",
                "BlockPublicPolicy": "block_public_policy",
                "RestrictPublicBuckets": "restrict_public_buckets",
            }
            delta = {
                k: bool(after.get(v)) for k, v in flags.items() if bool(after.get(v)) != bool(before.get(v))
            }
            if delta:
                made.append(("public_access.block", f"arn:aws:s3:::{before.get('bucket')}", delta, "exact"))
        elif rtype == "aws_iam_role_policy_attachment" and "delete" in actions and before:
            role = before.get("role")
            made.append(
                ("iam.detach_policy", f"role:{role}", {"policy_arn": before.get("policy_arn")}, "exact")
            )
        if not made and before:
            target = before.get("arn") or before.get("id") or address
            made.append(
                (
                    "opaque.runbook",
                    target,
                    {
                        "runbook": f"terraform:{rtype}:{'+'.join(actions)}",
                        "planned": after if "delete" not in actions else None,
                    },
                    "opaque",
                )
            )
        for kind, target, delta, fidelity in made:
            digest = hashlib.sha256(
                json.dumps([kind, target, delta], sort_keys=True, default=str).encode()
            ).hexdigest()[:16]
            finding = f"terraform:{address}:{kind}:{digest}"
            out.append(
                {
                    "proposal_id": proposal_id("terraform", finding),
                    "source": {
                        "format": "terraform",
                        "finding_id": finding,
                        "product": "terraform",
                        "title": f"Terraform plan: {'+'.join(actions)} {address}",
                        "severity": "medium",
                        "terraform_version": data.get("terraform_version"),
                        "file": file,
                    },
                    "change": {
                        "kind": kind,
                        "target": target,
                        "account": None,
                        "region": None,
                        "delta": delta,
                        "fidelity": fidelity,
                        "lookup": None,
                    },
                }
            )
    return out


FORMAT = register(ProposalFormat("terraform", "Terraform plan JSON (terraform show -json)", detect, parse))
