"""Which policy types apply to a request, before any statement is read.

* A resource has a resource-based policy only if its service and type take one (a data table from the
  IAM User Guide, ``data/resource_policies.yaml``); for everything else the answer is "no resource
  policy", not "a policy we did not collect".
* A role's trust policy applies only to the ``sts:AssumeRole*`` family (and the session actions a trust
  policy grants with it); ``iam:PassRole``, ``iam:GetRole`` or ``iam:UpdateAssumeRolePolicy`` on a role are
  decided by identity policies alone.
* ``*`` (actions such as ``s3:ListAllMyBuckets`` or ``ec2:DescribeInstances`` that take no resource) is
  in the caller's own account and has no resource policy.
* Some answers are AWS's own rules, not any policy's: ``sts:GetCallerIdentity`` needs no permission; AWS
  managed policies and service-linked roles' trust cannot be changed by anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import yaml

Kind = Literal["trust", "kms", "policy", "none"]

ASSUME_ACTIONS = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
    }
)
"""What a trust policy can grant (IAM User Guide, "Roles terms and concepts: trust policy"; "Passing
session tags in AWS STS": sts:TagSession; "Monitor and control actions taken with assumed roles":
sts:SetSourceIdentity)."""


@cache
def _table() -> list[tuple[str, re.Pattern[str], Kind]]:
    text = resources.files("analyzer.iam").joinpath("data/resource_policies.yaml").read_text()
    rows = []
    for service, entry in yaml.safe_load(text)["services"].items():
        for t in entry["types"]:
            rows.append((service, re.compile(t["resource"]), t["kind"]))
    return rows


def policy_kind(arn: str) -> Kind:
    """The kind of resource-based policy the resource named by ``arn`` carries.

    >>> [policy_kind(a) for a in ("arn:aws:s3:::bucket/key", "arn:aws:iam::111122223333:user/ana",
    ...   "arn:aws:kms:us-east-1:111122223333:alias/app", "arn:aws:iam::111122223333:role/r", "*")]
    ['policy', 'none', 'none', 'trust', 'none']
    """
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return "none"
    service, rest = parts[2], parts[5]
    for svc, pattern, kind in _table():
        if svc == service and pattern.fullmatch(rest):
            return kind
    return "none"


@cache
def rcp_services() -> frozenset[str]:
    """The services whose requests RCPs restrict (``rcp_services`` in the data table)."""
    text = resources.files("analyzer.iam").joinpath("data/resource_policies.yaml").read_text()
    return frozenset(yaml.safe_load(text)["rcp_services"])


def rcp_applies(action: str) -> bool:
    """Whether an RCP can restrict ``action`` (by its service prefix).

    >>> rcp_applies("s3:GetObject"), rcp_applies("sts:AssumeRole"), rcp_applies("lambda:InvokeFunction")
    (True, True, False)
    """
    return action.split(":", 1)[0].lower() in rcp_services()


def applies(kind: Kind, action: str) -> Kind:
    """The policy kind that applies to ``action`` on a resource of ``kind``: a trust policy only to the
    assume family (anything else on a role has no resource policy).

    >>> applies("trust", "iam:PassRole"), applies("trust", "sts:AssumeRole")
    ('none', 'trust')
    """
    if kind == "trust" and action.lower() not in ASSUME_ACTIONS:
        return "none"
    return kind


@dataclass(frozen=True)
class ServiceRule:
    """AWS decides this request itself, whatever the policies say."""

    state: Literal["allowed", "denied"]
    reason: str


def service_rule(action: str, resource: str, role_path: str | None = None) -> ServiceRule | None:
    """The AWS rule that decides the request on its own, if there is one.

    >>> service_rule("sts:GetCallerIdentity", "*").state
    'allowed'
    >>> service_rule("iam:CreatePolicyVersion", "arn:aws:iam::aws:policy/ReadOnlyAccess").state
    'denied'
    """
    a = action.lower()
    if a == "sts:getcalleridentity":
        return ServiceRule(
            "allowed", "sts:GetCallerIdentity needs no permission (AWS STS API Reference, GetCallerIdentity)"
        )
    if resource.startswith("arn:aws:iam::aws:policy/") and a in (
        "iam:createpolicyversion",
        "iam:deletepolicy",
        "iam:deletepolicyversion",
        "iam:setdefaultpolicyversion",
        "iam:tagpolicy",
        "iam:untagpolicy",
    ):
        return ServiceRule(
            "denied",
            "AWS managed policies cannot be changed by customers (IAM User Guide, 'AWS managed policies')",
        )
    if (role_path or "").startswith("/aws-service-role/") and a in (
        "iam:updateassumerolepolicy",
        "iam:putrolepolicy",
        "iam:attachrolepolicy",
        "iam:detachrolepolicy",
        "iam:deleterolepolicy",
        "iam:putrolepermissionsboundary",
    ):
        return ServiceRule(
            "denied",
            "a service-linked role's trust and permissions are managed by its service (IAM User Guide, "
            "'Using service-linked roles')",
        )
    return None
