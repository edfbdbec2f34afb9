"""``azure.storage_setting``: a storage account's access settings, as Defender for Cloud's and Azure
Policy's storage recommendations fix them:

* ``{"allow_blob_public_access": false}`` ("Storage account public access should be disallowed"): no
  anonymous reads of containers or blobs;
* ``{"allow_shared_key_access": false}`` ("Storage accounts should prevent shared key access"): requests
  signed with an account key, and SAS tokens signed with one, are refused; Microsoft Entra ID (OAuth) and
  user delegation SAS still work.

``apply`` takes and returns ``{"allow_blob_public_access": bool, "allow_shared_key_access": bool}`` (the
storage account's ``allowBlobPublicAccess`` / ``allowSharedKeyAccess``); the rollback puts the previous
values back.
"""

from __future__ import annotations

from typing import Any

from analyzer.changes import ChangeKind, register

SETTINGS = ("allow_blob_public_access", "allow_shared_key_access")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {k: {"type": "boolean"} for k in SETTINGS},
}


def apply(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply({"allow_blob_public_access": True, "allow_shared_key_access": True}, {"allow_blob_public_access": False})
    {'allow_blob_public_access': False, 'allow_shared_key_access': True}
    """
    return {k: delta[k] if k in delta else state.get(k) for k in SETTINGS}


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {k: bool(before.get(k) if before.get(k) is not None else True) for k in delta}


SETTING = register(
    ChangeKind(
        name="azure.storage_setting",
        summary="Turn a storage account's anonymous blob access or shared key access off (or on).",
        delta_schema=SCHEMA,
        example={"allow_blob_public_access": False},
        apply=apply,
        invert=invert,
        target_kind="AzureStorageAccount",
    )
)


NETWORK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "default_action": {"enum": ["Allow", "Deny"]},
        "ip_rules": {"type": "array", "items": {"type": "string"}},
        "vnet_rules": {"type": "array", "items": {"type": "string"}},
    },
}
NETWORK_KEYS = ("default_action", "ip_rules", "vnet_rules")


def apply_network(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The firewall as the delta sets it: each key given replaces the account's.

    >>> apply_network({"default_action": "Allow", "ip_rules": [], "vnet_rules": []}, {"default_action": "Deny"})
    {'default_action': 'Deny', 'ip_rules': [], 'vnet_rules': []}
    """
    return {k: delta[k] if k in delta else state.get(k) for k in NETWORK_KEYS}


def invert_network(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    return {
        k: before.get(k) if before.get(k) is not None else ("Allow" if k == "default_action" else [])
        for k in delta
    }


NETWORK_RULES = register(
    ChangeKind(
        name="azure.storage_network_rules",
        summary="Set a storage account's firewall: default action, allowed address ranges and subnets.",
        delta_schema=NETWORK_SCHEMA,
        example={"default_action": "Deny", "ip_rules": ["20.31.4.0/24"]},
        apply=apply_network,
        invert=invert_network,
        target_kind="AzureStorageFirewall",
    )
)
