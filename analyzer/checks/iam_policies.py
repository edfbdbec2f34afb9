"""Identity-policy checks: full administrative access, ``"Action": "*"`` allowed on ``"Resource": "*"``
(AWS Security Hub User Guide, IAM.1 "IAM policies should not allow full '*' administrative privileges",
which evaluates the default version of customer managed policies; Prowler's
``iam_customer_attached_policy_no_administrative_privileges`` and, for inline policies,
``iam_inline_policy_no_administrative_privileges``).

The fix removes exactly the ``*`` action from the statements that grant it on every resource (a
statement listing other actions keeps them; one left with none is dropped): a new default version of
the managed policy, or the inline policy put back without them (deleted when nothing is left). What
the principals lose is then decided by the blast radius from what they were observed doing. Admin access
reached another way (``NotAction`` on ``*``) is not rewritten: the fix is left undetermined.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from analyzer.checks import Check, Derived, register

EVERY_RESOURCE = ("*", "*/*", "*:*")


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [] if v is None else [v]


def _document(doc: Any) -> dict[str, Any] | None:
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError:
            return None
    return doc if isinstance(doc, dict) else None


def _on_everything(st: dict[str, Any]) -> bool:
    res = _as_list(st.get("Resource"))
    return st.get("Effect") == "Allow" and bool(res) and all(r in EVERY_RESOURCE for r in res)


def without_admin(doc: Any) -> tuple[dict[str, Any] | None, int, bool]:
    """The document without ``*`` allowed on every resource: (new document, statements changed, whether
    admin access also comes through ``NotAction``, which is not rewritten).

    >>> new, n, other = without_admin({"Statement": [{"Effect": "Allow", "Action": ["*", "s3:GetObject"],
    ...                                "Resource": "*"}]})
    >>> new["Statement"], n, other
    ([{'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': '*'}], 1, False)
    """
    d = _document(doc)
    if d is None:
        return None, 0, False
    statements = d.get("Statement")
    listed = [statements] if isinstance(statements, dict) else list(statements or [])
    kept: list[Any] = []
    changed = 0
    not_action = False
    for st in listed:
        if not isinstance(st, dict) or not _on_everything(st):
            kept.append(st)
            continue
        if "NotAction" in st:
            not_action = True
        actions = _as_list(st.get("Action"))
        if "*" not in actions:
            kept.append(st)
            continue
        changed += 1
        rest = [a for a in actions if a != "*"]
        if rest:
            kept.append({**copy.deepcopy(st), "Action": rest if len(rest) > 1 else rest[0]})
    out = {**copy.deepcopy(d), "Statement": kept}
    return out, changed, not_action


def managed_fix(node: dict[str, Any]) -> Derived:
    pid = node.get("id")
    if ":aws:policy/" in str(pid):
        return Derived({}, f"{pid} is an AWS managed policy: the fix is to detach it", determined=False)
    new, changed, not_action = without_admin(node.get("document"))
    if new is None:
        return Derived({}, f"the default version of {pid} was not collected", determined=False)
    if not changed:
        if not_action:
            return Derived({}, f"{pid} grants every action through NotAction", determined=False)
        return Derived({"document": new}, f"{pid} allows '*' on no statement: the check passes", passes=True)
    return Derived(
        {"document": new},
        f"{changed} statement(s) of {pid} allow '*' on every resource: a new default version without it",
    )


def _put_back(name: str, doc: dict[str, Any], why_deleted: str, why: str) -> Derived:
    """An inline policy put back as ``doc``, or deleted when ``doc`` has no statement left."""
    if not doc.get("Statement"):
        return Derived({"inline_name": name}, why_deleted, kind="iam.detach_policy")
    return Derived({"detach": {"inline_name": name}, "put": {"inline_name": name, "document": doc}}, why)


def inline_fix(node: dict[str, Any]) -> Derived:
    arn = node.get("id")
    inline = [p for p in node.get("inline_policies") or [] if isinstance(p, dict)]
    named = str(node.get("finding_resource") or "").rsplit("/", 1)[-1]
    candidates = [p for p in inline if p.get("name") == named] or [
        p for p in inline if without_admin(p.get("document"))[1]
    ]
    if not candidates:
        if not named:
            return Derived({}, f"no inline policy of {arn} allows '*' on every resource", determined=False)
        return Derived(
            {"inline_name": named},
            f"{arn} has no inline policy {named} allowing '*' on every resource: the check passes",
            kind="iam.detach_policy",
            passes=True,
        )
    if len(candidates) > 1:
        names = ", ".join(str(p.get("name")) for p in candidates)
        return Derived(
            {},
            f"several inline policies of {arn} allow '*' ({names}): the finding names none",
            determined=False,
        )
    policy = candidates[0]
    name = str(policy.get("name"))
    new, changed, not_action = without_admin(policy.get("document"))
    if new is None or (not changed and not_action):
        return Derived({}, f"the inline policy {name} of {arn} cannot be rewritten", determined=False)
    if not changed:
        return Derived(
            {"detach": {"inline_name": name}, "put": {"inline_name": name, "document": new}},
            f"the inline policy {name} of {arn} allows '*' on no statement: the check passes",
            passes=True,
        )
    return _put_back(
        name,
        new,
        f"the inline policy {name} of {arn} only grants '*' on every resource: it is deleted",
        f"{changed} statement(s) of the inline policy {name} of {arn} allow '*' on every resource: put back without it",
    )


SH = "AWS Security Hub User Guide"
register(
    Check(
        ("IAM.1", "iam_customer_attached_policy_no_administrative_privileges"),
        "iam.update_managed_policy",
        "node",
        managed_fix,
        f"{SH}, IAM.1: IAM policies should not allow full '*' administrative privileges",
    )
)
register(
    Check(
        ("iam_inline_policy_no_administrative_privileges",),
        "iam.replace_policy",
        "node",
        inline_fix,
        "Prowler check metadata: inline IAM policies should not allow '*:*' administrative privileges",
    )
)


def _observed(node: dict[str, Any], service: str, patterns: list[str]) -> list[str]:
    """The actions of ``service`` CloudTrail saw (the principal, or those the policy is attached to) make
    on resources the statement covers, sorted."""
    from analyzer.iam.match import resource_matches

    pats = tuple(str(p) for p in patterns)
    found = set()
    for call in node.get("observed_calls") or []:
        action, resource = str(call.get("action") or ""), str(call.get("resource") or "")
        if action.split(":", 1)[0].lower() != service.lower():
            continue
        if resource_matches(pats, resource) or resource_matches(pats, resource + "/*"):
            found.add(action)
    return sorted(found)


def without_service_wildcards(node: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """The document with every ``service:*`` of an Allow replaced by the actions of that service observed
    on the statement's resources (dropped when none was); the list says what was replaced with what.

    >>> new, what = without_service_wildcards({"document": {"Statement": [{"Effect": "Allow",
    ...     "Action": ["s3:*", "sqs:SendMessage"], "Resource": "*"}]}, "observed_calls": [
    ...     {"action": "s3:GetObject", "resource": "arn:aws:s3:::b"}]})
    >>> new["Statement"][0]["Action"], what
    (['sqs:SendMessage', 's3:GetObject'], ['s3:* -> s3:GetObject'])
    """
    d = _document(node.get("document"))
    if d is None:
        return None, []
    statements = d.get("Statement")
    listed = [statements] if isinstance(statements, dict) else list(statements or [])
    kept: list[Any] = []
    what: list[str] = []
    for st in listed:
        actions = _as_list(st.get("Action")) if isinstance(st, dict) else []
        wild = [a for a in actions if isinstance(a, str) and a.endswith(":*") and a != "*:*"]
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or not wild:
            kept.append(st)
            continue
        resources = _as_list(st.get("Resource")) or ["*"]
        new_actions = [a for a in actions if a not in wild]
        for w in wild:
            used = _observed(node, w.split(":", 1)[0], resources)
            what.append(f"{w} -> {', '.join(used) if used else 'nothing (no use observed)'}")
            new_actions += [a for a in used if a not in new_actions]
        if new_actions:
            kept.append(
                {**copy.deepcopy(st), "Action": new_actions if len(new_actions) > 1 else new_actions[0]}
            )
    return {**copy.deepcopy(d), "Statement": kept}, what


def service_wildcard_fix(node: dict[str, Any]) -> Derived:
    pid = node.get("id")
    if ":aws:policy/" in str(pid):
        return Derived({}, f"{pid} is an AWS managed policy", determined=False)
    new, what = without_service_wildcards(node)
    if new is None:
        return Derived({}, f"the default version of {pid} was not collected", determined=False)
    calls = len(node.get("observed_calls") or [])
    if not what:
        return Derived(
            {"document": new}, f"{pid} allows no 'service:*' action: the check passes", passes=True
        )
    return Derived(
        {"document": new},
        f"{pid} allows {len(what)} service-wide wildcard(s); each replaced by the actions CloudTrail saw its "
        f"principals use ({calls} observed call(s)): {'; '.join(what)}",
    )


DECRYPT = ("kms:Decrypt", "kms:ReEncryptFrom")


def _all_keys(resources: list[Any]) -> bool:
    return any(r == "*" or (isinstance(r, str) and ":kms:" in r and r.endswith(":key/*")) for r in resources)


def kms_decrypt_fix(node: dict[str, Any]) -> Derived:
    """KMS.2: an inline policy allowing ``kms:Decrypt`` / ``kms:ReEncryptFrom`` on every key. The fix scopes
    those actions to the keys CloudTrail saw the principal decrypt with (dropped when none); other actions
    of the statement keep their resources. A broad pattern (``kms:*``, ``*``) is left undetermined."""
    from analyzer.iam.match import action_matches

    arn = node.get("id")
    found: list[tuple[dict[str, Any], list[int]]] = []
    for p in node.get("inline_policies") or []:
        d = _document(p.get("document")) if isinstance(p, dict) else None
        listed = (d or {}).get("Statement")
        listed = [listed] if isinstance(listed, dict) else list(listed or [])
        hits = [
            i
            for i, st in enumerate(listed)
            if isinstance(st, dict)
            and st.get("Effect") == "Allow"
            and _all_keys(_as_list(st.get("Resource")))
            and any(action_matches(tuple(map(str, _as_list(st.get("Action")))), a) for a in DECRYPT)
        ]
        if hits:
            found.append((p, hits))
    if not found:
        return Derived(
            {}, f"no inline policy of {arn} allows decryption with every KMS key", determined=False
        )
    if len(found) > 1:
        names = ", ".join(str(p.get("name")) for p, _ in found)
        return Derived({}, f"several inline policies of {arn} allow it ({names})", determined=False)
    policy, hits = found[0]
    doc = copy.deepcopy(_document(policy["document"]) or {})
    listed = doc.get("Statement")
    listed = [listed] if isinstance(listed, dict) else list(listed or [])
    keys = sorted(
        {
            c["resource"]
            for c in node.get("observed_calls") or []
            if c.get("action") in DECRYPT and ":kms:" in str(c.get("resource"))
        }
    )
    out: list[Any] = []
    for i, st in enumerate(listed):
        if i not in hits:
            out.append(st)
            continue
        actions = [str(a) for a in _as_list(st.get("Action"))]
        exact = [a for a in actions if a in DECRYPT]
        broad = [a for a in actions if a not in DECRYPT and any(action_matches((a,), d) for d in DECRYPT)]
        if broad:
            return Derived(
                {},
                f"{', '.join(broad)} in {policy.get('name')} of {arn} grants more than decryption",
                determined=False,
            )
        rest = [a for a in actions if a not in exact]
        if rest:
            out.append({**st, "Action": rest if len(rest) > 1 else rest[0]})
        if keys:
            scoped = {k: v for k, v in st.items() if k != "Sid"}
            out.append({**scoped, "Action": exact if len(exact) > 1 else exact[0], "Resource": keys})
    doc["Statement"] = out
    name = str(policy.get("name"))
    scope = f"scoped to the {len(keys)} key(s) it was seen using" if keys else "removed (no use observed)"
    return _put_back(
        name,
        doc,
        f"the inline policy {name} of {arn} only allowed decryption with every key, never observed: deleted",
        f"the inline policy {name} of {arn} allows {', '.join(DECRYPT)} on every key: {scope}",
    )


register(
    Check(
        ("IAM.21",),
        "iam.update_managed_policy",
        "node",
        service_wildcard_fix,
        f"{SH}, IAM.21: IAM customer managed policies should not allow wildcard actions for services",
        evidence=True,
    )
)
register(
    Check(
        ("KMS.2",),
        "iam.replace_policy",
        "node",
        kms_decrypt_fix,
        f"{SH}, KMS.2: IAM principals should not have inline policies that allow decryption actions on all KMS keys",
        evidence=True,
    )
)
