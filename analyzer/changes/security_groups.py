"""``sg.revoke_rules`` and ``sg.authorize_rules``: remove or add security-group rules.

The delta is AWS's own ``IpPermissions`` shape (what ``revoke-security-group-ingress`` takes and what Cloud
Custodian's ``MatchedIpPermissions`` annotation holds)::

    {"ingress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
     "egress": []}

AWS stores one permission per protocol and port range holding every peer (CIDRs, groups, prefix lists);
revoking removes only the listed peers and leaves the rest of the permission. The target is the group id
or its ARN; ``apply`` takes and returns the group as ``DescribeSecurityGroups`` returns it.
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.changes import ChangeKind, register

PEERS = {
    "IpRanges": "CidrIp",
    "Ipv6Ranges": "CidrIpv6",
    "UserIdGroupPairs": "GroupId",
    "PrefixListIds": "PrefixListId",
}
SIDES = {"ingress": "IpPermissions", "egress": "IpPermissionsEgress"}

_PERMISSION: dict[str, Any] = {
    "type": "object",
    "required": ["IpProtocol"],
    "properties": {
        "IpProtocol": {"type": "string"},
        "FromPort": {"type": "integer"},
        "ToPort": {"type": "integer"},
        "IpRanges": {"type": "array", "items": {"type": "object", "required": ["CidrIp"]}},
        "Ipv6Ranges": {"type": "array", "items": {"type": "object", "required": ["CidrIpv6"]}},
        "UserIdGroupPairs": {"type": "array", "items": {"type": "object", "required": ["GroupId"]}},
        "PrefixListIds": {"type": "array", "items": {"type": "object", "required": ["PrefixListId"]}},
    },
}
DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "ingress": {"type": "array", "items": _PERMISSION},
        "egress": {"type": "array", "items": _PERMISSION},
    },
}


def _key(perm: dict[str, Any]) -> tuple[str, int, int]:
    proto = str(perm.get("IpProtocol", "-1"))
    proto = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}.get(proto, proto)
    lo = perm.get("FromPort", -1)
    hi = perm.get("ToPort", -1)
    return proto, -1 if lo is None else int(lo), -1 if hi is None else int(hi)


def revoke(group: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The group without the listed peers.

    >>> g = {"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
    ...      "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}]}]}
    >>> revoke(g, {"ingress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
    ...     "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]})["IpPermissions"][0]["IpRanges"]
    [{'CidrIp': '10.0.0.0/8'}]
    """
    out = copy.deepcopy(group)
    for side, field in SIDES.items():
        for gone in delta.get(side, []):
            for perm in out.get(field) or []:
                if _key(perm) != _key(gone):
                    continue
                for peers, key in PEERS.items():
                    drop = {p.get(key) for p in gone.get(peers) or []}
                    if peers in perm:
                        perm[peers] = [p for p in perm[peers] or [] if p.get(key) not in drop]
        out[field] = [p for p in out.get(field) or [] if any(p.get(k) for k in PEERS)]
    return out


def authorize(group: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The group with the listed peers added (merged into a permission with the same protocol and ports).

    >>> g = {"GroupId": "sg-1", "IpPermissions": []}
    >>> authorize(g, {"ingress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
    ...     "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]})["IpPermissions"][0]["IpRanges"]
    [{'CidrIp': '0.0.0.0/0'}]
    """
    out = copy.deepcopy(group)
    for side, field in SIDES.items():
        perms = out.setdefault(field, [])
        for add in delta.get(side, []):
            same = next((p for p in perms if _key(p) == _key(add)), None)
            if same is None:
                perms.append(copy.deepcopy(add))
                continue
            for peers, key in PEERS.items():
                have = {p.get(key) for p in same.get(peers) or []}
                new = [p for p in add.get(peers) or [] if p.get(key) not in have]
                if new:
                    same[peers] = (same.get(peers) or []) + new
    return out


def _diff(big: dict[str, Any], small: dict[str, Any]) -> dict[str, Any]:
    """The peers ``big`` has and ``small`` lacks, as an IpPermissions delta."""
    delta: dict[str, Any] = {"ingress": [], "egress": []}
    for side, field in SIDES.items():
        for perm in big.get(field) or []:
            other: dict[str, Any] = next((p for p in small.get(field) or [] if _key(p) == _key(perm)), {})
            extra: dict[str, Any] = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
            found = False
            for peers, key in PEERS.items():
                have = {p.get(key) for p in other.get(peers) or []}
                missing = [p for p in perm.get(peers) or [] if p.get(key) not in have]
                if missing:
                    extra[peers] = missing
                    found = True
            if found:
                delta[side].append(extra)
    return delta


def invert_revoke(group_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The rollback of a revoke: authorize exactly the peers the revoke removed."""
    return _diff(group_before, revoke(group_before, delta))


def invert_authorize(group_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The rollback of an authorize: revoke exactly the peers it added (not those already there)."""
    return _diff(authorize(group_before, delta), group_before)


REVOKE = register(
    ChangeKind(
        name="sg.revoke_rules",
        summary="Revoke security-group rules (e.g. an ingress rule open to 0.0.0.0/0).",
        delta_schema=DELTA_SCHEMA,
        example={
            "ingress": [
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ]
        },
        apply=revoke,
        invert=invert_revoke,
        inverse_kind="sg.authorize_rules",
        target_kind="SecurityGroup",
    )
)
AUTHORIZE = register(
    ChangeKind(
        name="sg.authorize_rules",
        summary="Add security-group rules (a loosening change: scored for the exposure it adds).",
        delta_schema=DELTA_SCHEMA,
        example={
            "ingress": [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
            ]
        },
        apply=authorize,
        invert=invert_authorize,
        inverse_kind="sg.revoke_rules",
        target_kind="SecurityGroup",
    )
)


REPLACE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"revoke": DELTA_SCHEMA, "authorize": DELTA_SCHEMA},
}


def replace(group: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Revoke some peers and authorize others in one change (e.g. replace 0.0.0.0/0 with the observed
    sources).

    >>> g = {"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
    ...      "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    >>> replace(g, {"revoke": {"ingress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
    ...     "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}, "authorize": {"ingress": [{"IpProtocol": "tcp",
    ...     "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "198.51.100.7/32"}]}]}})["IpPermissions"]
    [{'IpProtocol': 'tcp', 'FromPort': 443, 'ToPort': 443, 'IpRanges': [{'CidrIp': '198.51.100.7/32'}]}]
    """
    return authorize(revoke(group, delta.get("revoke") or {}), delta.get("authorize") or {})


def invert_replace(group_before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    after = replace(group_before, delta)
    return {"revoke": _diff(after, group_before), "authorize": _diff(group_before, after)}


REPLACE = register(
    ChangeKind(
        name="sg.replace_rules",
        summary="Revoke some rule peers and authorize others at once (a broad CIDR replaced by the observed sources).",
        delta_schema=REPLACE_SCHEMA,
        example={
            "revoke": {
                "ingress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ]
            },
            "authorize": {
                "ingress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "IpRanges": [{"CidrIp": "198.51.100.7/32"}],
                    }
                ]
            },
        },
        apply=replace,
        invert=invert_replace,
        target_kind="SecurityGroup",
    )
)
