"""Evaluation rules, each from AWS's documented policy evaluation logic (IAM User Guide,
"Policy evaluation logic" and "Cross-account policy evaluation logic")."""

from analyzer.iam.conditions import ABSENT
from analyzer.iam.evaluate import PolicySet, combine_all, condition_holds, evaluate
from analyzer.iam.policy import parse_document


def ps(*statements: dict) -> PolicySet:
    return PolicySet.of("p", parse_document({"Version": "2012-10-17", "Statement": list(statements)}))


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def test_explicit_deny_overrides_allow() -> None:
    # "An explicit deny in any policy overrides any allows."
    d = evaluate(
        ps(ALLOW_ALL, {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}), "s3:GetObject", "arn:x", {}
    )
    assert d.state == "denied" and d.reason == "explicit deny"


def test_implicit_deny_without_allow() -> None:
    # "By default, all requests are implicitly denied."
    assert (
        evaluate(ps({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}), "s3:GetObject", "a", {}).state
        == "denied"
    )


def test_actions_match_case_insensitively_resources_do_not() -> None:
    p = ps({"Effect": "Allow", "Action": "S3:getobject", "Resource": "arn:aws:s3:::Bucket/*"})
    assert evaluate(p, "s3:GetObject", "arn:aws:s3:::Bucket/k", {}).state == "allowed"
    assert evaluate(p, "s3:GetObject", "arn:aws:s3:::bucket/k", {}).state == "denied"


def test_notaction_allow_excludes_listed_actions() -> None:
    p = ps({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate(p, "iam:CreateUser", "*", {}).state == "denied"
    assert evaluate(p, "s3:ListBucket", "*", {}).state == "allowed"


def test_unknown_condition_key_is_conditional_never_allowed() -> None:
    p = ps(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"sts:ExternalId": "abc"}},
        }
    )
    d = evaluate(p, "sts:AssumeRole", "r", {})
    assert d.state == "conditional" and d.missing_context == ("sts:ExternalId",)


def test_known_condition_key_is_evaluated() -> None:
    p = ps(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
        }
    )
    assert evaluate(p, "s3:GetObject", "r", {"aws:principalorgid": "o-1"}).state == "allowed"
    assert evaluate(p, "s3:GetObject", "r", {"aws:principalorgid": "o-2"}).state == "denied"


def test_if_exists_holds_on_an_absent_key_and_is_unknown_on_an_unknown_one() -> None:
    # "...IfExists: if the key is not present, evaluate the condition as true" -- but a key Blastwall
    # does not know may be present, so it stays unknown.
    cond = {"StringEqualsIfExists": {"aws:SourceVpc": ("vpc-1",)}}
    assert condition_holds(cond, {"aws:sourcevpc": ABSENT}) == (True, ())
    assert condition_holds(cond, {}) == (None, ("aws:SourceVpc",))


def test_conditional_deny_makes_an_allow_conditional() -> None:
    p = ps(
        ALLOW_ALL,
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    assert evaluate(p, "s3:GetObject", "r", {}).state == "conditional"


def test_combine_needs_every_side() -> None:
    allow = evaluate(ps(ALLOW_ALL), "s3:GetObject", "r", {})
    deny = evaluate(ps(), "s3:GetObject", "r", {})
    assert combine_all(allow, deny).state == "denied"
    assert combine_all(allow, allow).state == "allowed"
