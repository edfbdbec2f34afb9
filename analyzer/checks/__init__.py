"""Checks as predicates over the snapshot, each with the fix that makes it pass.

A scanner says *that* a resource fails a check; the exact change that fixes it depends on the resource as
it is: which rules of a security group open which port to the internet, which statements of a policy
grant what. A check here reads the resource's configuration as AWS returns it and answers with the delta
that makes the check pass (empty when it already passes: the fix is then ``already_applied``), and why.

Checks are a registry: one module per resource family registers its checks by every id the tools use
(Security Hub control ids, Prowler check ids). ``derive`` is what importers call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Derived:
    delta: dict[str, Any]
    why: str
    """What in the configuration fails the check (or that nothing does)."""
    kind: str | None = None
    """The change kind when it is not the check's own (e.g. a policy left with no statement is deleted)."""
    determined: bool = True
    """False when the configuration fails in a way the fix cannot be computed for (the change then stays
    opaque, with ``why``): never an empty delta that would read as already applied."""
    passes: bool = False
    """The resource already passes the check (the fix then changes nothing)."""

    def __post_init__(self) -> None:
        if self.determined and not any(self.delta.values()):
            object.__setattr__(self, "passes", True)


@dataclass(frozen=True)
class Check:
    ids: tuple[str, ...]
    kind: str
    """The change kind of the fix."""
    resource: str
    """What the check reads: a raw EC2 response of the network documents (``ec2-DescribeSecurityGroups``),
    or ``node``: the resource's node in the graph (its properties, ``id``, and ``finding_resource``: the
    resource name the finding gave, e.g. Prowler's ``role/inline-policy``), or ``finding``: nothing but
    the finding's target (a check whose answer does not depend on the configuration)."""
    fix: Callable[[dict[str, Any]], Derived]
    cite: str
    evidence: bool = False
    """The fix is computed from what was observed too: the item then carries ``observed_calls`` (each
    ``{"principal", "action", "resource"}`` CloudTrail recorded for the principal, or for every principal
    the policy is attached to)."""


CHECKS: dict[str, Check] = {}


def register(check: Check) -> Check:
    for i in check.ids:
        CHECKS[i] = check
    return check


def find(*ids: str | None) -> tuple[str, Check] | None:
    """The first id a registered check answers to, with the check; Prowler's port checks by pattern."""
    _ensure_registered()
    for i in ids:
        if i and i in CHECKS:
            return i, CHECKS[i]
    from analyzer.checks.security_groups import port_check

    for i in ids:
        found = port_check(i) if i else None
        if found is not None:
            return i, found  # type: ignore[return-value]
    return None


def _ensure_registered() -> None:
    from analyzer.checks import (  # noqa: F401  (they register themselves)
        iam_policies,
        resource_policies,
        security_groups,
    )
