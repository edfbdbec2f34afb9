"""The read-only policy the README tells users to give the collector allows every call the collector
makes (a call it refuses is reported as missing coverage, so a gap here is silent loss of evidence)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import connectors.aws as aws

ROOT = Path(aws.__file__).parent
API_TO_ACTION = {  # Service Authorization Reference, Amazon S3 (S3 Control's calls are s3: actions too)
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3control:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
}


def test_the_collector_policy_allows_every_call_the_collector_makes() -> None:
    policy = json.loads((ROOT / "collector-policy.json").read_text())
    allowed = {
        a
        for st in policy["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    source = (ROOT / "collect.py").read_text()
    ops = set(
        re.findall(
            r'"((?:iam|ec2|eks|s3control|s3|kms|lambda|sqs|sns|organizations|cloudwatch)-[A-Z][A-Za-z]+)',
            source,
        )
    )
    assert "ec2-DescribeVpcEndpoints" in ops and "organizations-ListPolicies" in ops
    missing = sorted(
        a
        for a in (API_TO_ACTION.get(o.replace("-", ":", 1), o.replace("-", ":", 1)) for o in ops)
        if a not in allowed
    )
    assert missing == []
