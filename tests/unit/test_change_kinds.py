"""Every registered change kind: its example validates against its own schema, its module documents it,
and (unless it cannot be undone) applying it and then its rollback gives back exactly what was there."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from analyzer.changes import KINDS, _ensure_registered, get_kind, validate_delta

_ensure_registered()

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Ops",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::739406228105:root"]},
            "Action": "sts:AssumeRole",
        }
    ],
}
PRINCIPAL = {
    "managed_policies": [
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    ],
    "inline_policies": [{"name": "x", "document": {"Statement": []}}],
    "permissions_boundary": None,
}
GROUP = {
    "GroupId": "sg-1",
    "IpPermissions": [
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}],
        },
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ],
    "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
}
BEFORE: dict[str, Any] = {
    "iam.update_trust_policy": TRUST,
    "iam.detach_policy": PRINCIPAL,
    "iam.attach_or_put_policy": PRINCIPAL,
    "iam.replace_policy": PRINCIPAL,
    "iam.set_permissions_boundary": PRINCIPAL,
    "iam.update_managed_policy": {
        "document": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    },
    "resource_policy.remove_statements": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PartnerRead",
                "Effect": "Allow",
                "Principal": {"AWS": "999988887777"},
                "Action": "s3:GetObject",
                "Resource": "*",
            },
            {
                "Sid": "Own",
                "Effect": "Allow",
                "Principal": {"AWS": "111122223333"},
                "Action": "s3:*",
                "Resource": "*",
            },
        ],
    },
    "sg.revoke_rules": GROUP,
    "sg.authorize_rules": GROUP,
    "sg.replace_rules": GROUP,
    "eni.replace_security_groups": {
        "NetworkInterfaceId": "eni-1",
        "Groups": [{"GroupId": "sg-a"}, {"GroupId": "sg-b"}],
    },
    "setting.harden": {"setting": "s3_default_encryption", "value": None},
    "compute.stop_or_terminate": {"state": "running"},
    "iam.revoke_credentials": {"access_keys": "active"},
    "public_access.block": {
        "BlockPublicAcls": False,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    },
    "resource.delete": {"state": "present"},
    "k8s.quarantine_pod": {"labels": {"app.kubernetes.io/name": "fraud-scoring"}, "isolated": []},
    "k8s.network_policy": {"policies": {"allow-scoring": {"podSelector": {}, "ingress": [{}]}}},
    "k8s.remove_binding": {
        "role": "k8s://1/r/c/clusterroles/view",
        "subjects": ["k8s://1/r/c/groups/oncall"],
    },
    "azure.remove_role_assignment": {"assigned": True},
    "azure.storage_setting": {"allow_blob_public_access": True, "allow_shared_key_access": True},
    "azure.remove_managed_identity": {"state": "present"},
    "azure.storage_network_rules": {"default_action": "Allow", "ip_rules": [], "vnet_rules": []},
    "azure.nsg_rules": {
        "rules": [{"name": "allow-https-vnet", "priority": 100, "direction": "Inbound", "access": "Allow"}]
    },
}
EXAMPLES = {
    "iam.replace_policy": {
        "detach": {"policy_arn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"},
        "put": {"inline_name": "s3-read", "document": {"Statement": []}},
    }
}


def test_every_kind_is_covered_here() -> None:
    assert set(KINDS) - {"opaque.runbook"} == set(BEFORE)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_example_validates_and_is_documented(name: str) -> None:
    kind = get_kind(name)
    validate_delta(kind, kind.example)
    assert kind.summary and kind.delta_schema


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_apply_then_rollback_restores(name: str) -> None:
    kind = get_kind(name)
    assert kind.apply is not None and kind.invert is not None
    before = copy.deepcopy(BEFORE[name])
    delta = EXAMPLES.get(name, kind.example)
    after = kind.apply(copy.deepcopy(before), delta)
    assert after != before, f"{name}: the example changes nothing"
    if not kind.invertible:
        with pytest.raises(ValueError):
            kind.invert(before, delta)
        return
    inverse = kind.invert(before, delta)
    inverse_kind = get_kind(kind.inverse_kind or name)
    validate_delta(inverse_kind, inverse)
    assert inverse_kind.apply is not None
    restored = inverse_kind.apply(after, inverse)
    assert normal(restored) == normal(before), f"{name}: {restored} != {before}"


def normal(config: Any) -> Any:
    """Order carries no meaning for attachments or rule peers; an empty peer list is no peer list."""
    if isinstance(config, dict) and "IpPermissions" in config:
        out = copy.deepcopy(config)
        for field in ("IpPermissions", "IpPermissionsEgress"):
            for perm in out.get(field) or []:
                for k in [k for k, v in perm.items() if isinstance(v, list)]:
                    if perm[k]:
                        perm[k] = sorted(perm[k], key=lambda x: sorted(x.items()))
                    else:
                        del perm[k]
        return out
    if isinstance(config, dict) and "managed_policies" in config:
        return {
            **config,
            "managed_policies": sorted(config["managed_policies"] or []),
            "inline_policies": sorted(config["inline_policies"] or [], key=lambda p: p["name"]),
        }
    return config
