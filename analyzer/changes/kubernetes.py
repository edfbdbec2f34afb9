"""``k8s.quarantine_pod``: isolate a pod suspected of compromise.

Two ways a response tool does it:

* ``{"method": "network_policy"}`` (the default): the pod gets the label ``blastwall.io/quarantine=<pod>``
  and a NetworkPolicy ``quarantine-<pod>`` selects it with ``policyTypes: [Ingress, Egress]`` and no rules:
  it may neither receive nor send (Kubernetes "Network Policies": a pod selected by a policy of a type is
  isolated for that direction, and only what some policy allows gets through). The rollback deletes the
  policy and the label.
* ``{"method": "label", "set": {"app": "quarantined"}}``: the pod's labels are changed so its Services and
  its controller no longer select it (the controller starts a replacement; the pod keeps running, cut off
  from its Services). The rollback puts the labels back.

``apply`` takes and returns the pod's state: ``{"labels": {...}, "isolated": ["Ingress", "Egress"]}``.

``k8s.remove_binding``: delete a RoleBinding or ClusterRoleBinding (the target is its id,
``k8s://…/namespaces/<ns>/rolebindings/<name>`` or ``k8s://…/clusterrolebindings/<name>``), ``{}``. The
rollback recreates it with the same role and subjects: ``{"recreate": {"role": ..., "subjects": [...]}}``.
``apply`` takes and returns ``{"role": ..., "subjects": [...]}`` (``role`` None once deleted).
"""

from __future__ import annotations

import copy
from typing import Any

from analyzer.changes import ChangeKind, register

QUARANTINE_LABEL = "blastwall.io/quarantine"

DELTA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "method": {"enum": ["network_policy", "label", "unquarantine"]},
        "set": {"type": "object", "minProperties": 1, "additionalProperties": {"type": ["string", "null"]}},
    },
}


def apply(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The pod's state after the change.

    >>> apply({"labels": {"app": "scoring"}, "isolated": []}, {})
    {'labels': {'app': 'scoring', 'blastwall.io/quarantine': 'true'}, 'isolated': ['Egress', 'Ingress']}
    >>> apply({"labels": {"app": "scoring"}, "isolated": []}, {"method": "label", "set": {"app": "quarantined"}})
    {'labels': {'app': 'quarantined'}, 'isolated': []}
    """
    after = copy.deepcopy(state)
    labels: dict[str, Any] = dict(after.get("labels") or {})
    method = delta.get("method", "network_policy")
    if method == "network_policy":
        labels[QUARANTINE_LABEL] = "true"
        after["isolated"] = sorted({*after.get("isolated", []), "Ingress", "Egress"})
    elif method == "unquarantine":
        labels.pop(QUARANTINE_LABEL, None)
        after["isolated"] = []
    for key, value in (delta.get("set") or {}).items():
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    after["labels"] = labels
    return after


def invert(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The rollback: the policy (and its label) removed, the labels as they were."""
    labels = before.get("labels") or {}
    touched = set(delta.get("set") or {})
    if delta.get("method", "network_policy") == "network_policy" and QUARANTINE_LABEL not in labels:
        touched.add(QUARANTINE_LABEL)
    restore = {k: labels.get(k) for k in sorted(touched)}
    out: dict[str, Any] = {"method": "unquarantine"} if not before.get("isolated") else {"method": "label"}
    if restore:
        out["set"] = restore
    return out


KIND = register(
    ChangeKind(
        name="k8s.quarantine_pod",
        summary="Isolate a Kubernetes pod: a deny-all NetworkPolicy selecting it, or a label change.",
        delta_schema=DELTA_SCHEMA,
        example={"method": "network_policy"},
        apply=apply,
        invert=invert,
        target_kind="Pod",
    )
)


BINDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "recreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["role", "subjects"],
            "properties": {
                "role": {"type": "string"},
                "subjects": {"type": "array", "items": {"type": "string"}},
            },
        }
    },
}


def apply_binding(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """
    >>> apply_binding({"role": "r", "subjects": ["s"]}, {})
    {'role': None, 'subjects': []}
    >>> apply_binding({"role": None, "subjects": []}, {"recreate": {"role": "r", "subjects": ["s"]}})
    {'role': 'r', 'subjects': ['s']}
    """
    again = delta.get("recreate")
    if again:
        return {"role": again["role"], "subjects": sorted(again["subjects"])}
    return {"role": None, "subjects": []}


def invert_binding(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    if before.get("role") is None:
        return {}
    return {"recreate": {"role": before["role"], "subjects": sorted(before.get("subjects") or [])}}


REMOVE_BINDING = register(
    ChangeKind(
        name="k8s.remove_binding",
        summary="Delete a Kubernetes RoleBinding or ClusterRoleBinding (its subjects lose what its role grants).",
        delta_schema=BINDING_SCHEMA,
        example={},
        apply=apply_binding,
        invert=invert_binding,
        target_kind="KubernetesBinding",
    )
)


_NAMED_SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["name", "spec"],
    "properties": {"name": {"type": "string", "minLength": 1}, "spec": {"type": "object"}},
}
"""A NetworkPolicy as a change names it: its name and its spec."""

POLICY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "add": _NAMED_SPEC,
        "replace": _NAMED_SPEC,
        "remove": {"type": "string", "minLength": 1},
    },
}


def apply_policy(state: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """A namespace's NetworkPolicies (``{"policies": {name: spec}}``) after the change.

    >>> apply_policy({"policies": {}}, {"add": {"name": "deny", "spec": {"podSelector": {}}}})
    {'policies': {'deny': {'podSelector': {}}}}
    >>> apply_policy({"policies": {"deny": {}}}, {"remove": "deny"})
    {'policies': {}}
    """
    policies = copy.deepcopy(dict(state.get("policies") or {}))
    if "remove" in delta:
        policies.pop(delta["remove"], None)
    for key in ("add", "replace"):
        if key in delta:
            policies[delta[key]["name"]] = copy.deepcopy(delta[key]["spec"])
    return {"policies": policies}


def invert_policy(before: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    policies = before.get("policies") or {}
    name = delta["remove"] if "remove" in delta else (delta.get("add") or delta.get("replace") or {})["name"]
    if name in policies:
        return {"replace": {"name": name, "spec": copy.deepcopy(policies[name])}}
    return {"remove": name}


NETWORK_POLICY = register(
    ChangeKind(
        name="k8s.network_policy",
        summary="Add, replace or remove a NetworkPolicy in a namespace (the target: the namespace's id).",
        delta_schema=POLICY_SCHEMA,
        example={
            "add": {"name": "default-deny-ingress", "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
        },
        apply=apply_policy,
        invert=invert_policy,
        target_kind="KubernetesNamespace",
    )
)
