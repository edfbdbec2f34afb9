"""Write the ``acme-fin`` sample organization in the formats the real systems produce.

Deterministic: running it twice gives byte-identical files (a test checks the committed copy is what
this script writes). Run ``python data/samples/make_acme_fin.py [OUT]`` (default: beside this file).

The story (see acme-fin/README.md): a legacy ETL job in the legacy-batch account assumes the data-lake
account's ``datalake-reader`` role every five minutes through a trust policy that names the whole
legacy account. That feed keeps the fraud feature pipeline fresh, which the fraud scoring engine, and so
the critical Fraud Detection service, depend on. The CMDB documents the fraud chain but not the ETL's
use of the data lake.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ORG_ID = "o-7k2x9q4m1p"
ROOT_ID = "r-7k2x"
MGMT = "210987654321"
DATA = "482510973311"
LEGACY = "739406228105"
FRAUD = "615294837560"
VENDOR = "444455556666"  # an external vendor, outside the organization
OLD_VENDOR = "999988887777"  # an external vendor whose contract ended
REGION = "us-east-1"
EVIDENCE_START = datetime(2026, 5, 1, tzinfo=UTC)
EVIDENCE_DAYS = 14
COLLECTED_AT = datetime(2026, 5, 15, 6, 0, tzinfo=UTC)
# The incident the product was born from, replayed: the CSPM's auto-remediation removes the legacy
# account's trust from datalake-reader (an SSM Automation run, no gate pass), the ETL is refused every five
# minutes for three hours, and the platform on-call engineer puts the trust back.
INCIDENT_AT = datetime(2026, 5, 12, 9, 14, 29, tzinfo=UTC)
RESTORED_AT = datetime(2026, 5, 12, 12, 13, 52, tzinfo=UTC)
CSPM_RUNBOOK = "ACME-CSPM-RestrictCrossAccountTrust"
CSPM_ROLE = "cspm-auto-remediation"
CSPM_EXECUTION = "5b7c3f0e-2d41-4c8a-9e1f-7a6b2c9d4e30"
SN_INSTANCE = "https://acmefin.service-now.com"
CLUSTER = "fraud-eks"
CLUSTER_ARN = f"arn:aws:eks:{REGION}:{FRAUD}:cluster/{CLUSTER}"

ACCOUNT_NAMES = {
    MGMT: "acme-management",
    DATA: "acme-prod-datalake",
    LEGACY: "acme-legacy-batch",
    FRAUD: "acme-prod-fraud",
}


# -- deterministic identifiers ------------------------------------------------------------------------
def h(*parts: object, n: int = 32) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]


def aws_id(prefix: str, *parts: object, n: int = 17) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return prefix + "".join(alphabet[b % 32] for b in digest[:n])


def uuid_like(*parts: object) -> str:
    x = h(*parts)
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:32]}"


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def oidc_issuer() -> str:
    """The fraud cluster's OIDC issuer, as IAM writes it (host and path)."""
    return f"oidc.eks.{REGION}.amazonaws.com/id/{h('oidc', CLUSTER_ARN, n=32).upper()}"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# -- writers ------------------------------------------------------------------------------------------
def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_gz(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())


# -- IAM ----------------------------------------------------------------------------------------------
def role(
    account: str,
    name: str,
    trust: dict[str, Any],
    *,
    inline: dict[str, dict[str, Any]] | None = None,
    managed: list[str] | None = None,
    tags: dict[str, str] | None = None,
    profile: str | None = None,
    created: str = "2019-03-11T14:22:05Z",
    last_used: datetime | None = None,
) -> dict[str, Any]:
    arn = f"arn:aws:iam::{account}:role/{name}"
    out: dict[str, Any] = {
        "Path": "/",
        "RoleName": name,
        "RoleId": aws_id("AROA", account, name),
        "Arn": arn,
        "CreateDate": created,
        "AssumeRolePolicyDocument": trust,
        "InstanceProfileList": [],
        "RolePolicyList": [{"PolicyName": k, "PolicyDocument": v} for k, v in (inline or {}).items()],
        "AttachedManagedPolicies": [
            {"PolicyName": p.rsplit("/", 1)[-1], "PolicyArn": p} for p in (managed or [])
        ],
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        "RoleLastUsed": {},
    }
    if last_used:
        out["RoleLastUsed"] = {"LastUsedDate": ts(last_used), "Region": REGION}
    if profile:
        out["InstanceProfileList"] = [
            {
                "Path": "/",
                "InstanceProfileName": profile,
                "InstanceProfileId": aws_id("AIPA", account, profile),
                "Arn": f"arn:aws:iam::{account}:instance-profile/{profile}",
                "CreateDate": created,
                "Roles": [
                    {
                        "Path": "/",
                        "RoleName": name,
                        "RoleId": out["RoleId"],
                        "Arn": arn,
                        "CreateDate": created,
                        "AssumeRolePolicyDocument": trust,
                    }
                ],
            }
        ]
    return out


def managed_policy(account: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "PolicyId": aws_id("ANPA", account, name),
        "Arn": f"arn:aws:iam::{account}:policy/{name}",
        "Path": "/",
        "DefaultVersionId": "v1",
        "AttachmentCount": 1,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": "2020-01-15T10:00:00Z",
        "UpdateDate": "2020-01-15T10:00:00Z",
        "PolicyVersionList": [
            {
                "Document": document,
                "VersionId": "v1",
                "IsDefaultVersion": True,
                "CreateDate": "2020-01-15T10:00:00Z",
            }
        ],
    }


def service_trust(service: str) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def datalake_reader_trust(*, legacy: bool = True) -> dict[str, Any]:
    """The trust the story turns on; without the legacy account's statement it is what the CSPM's
    auto-remediation left on 2026-05-12 for three hours."""
    legacy_statement = {
        "Sid": "LegacyBatchAccount",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{LEGACY}:root"},
        "Action": "sts:AssumeRole",
    }
    pipeline = {
        "Sid": "FraudFeaturePipeline",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{FRAUD}:role/fraud-feature-pipeline"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
    }
    return doc(legacy_statement, pipeline) if legacy else doc(pipeline)


def gaad(account: str) -> dict[str, Any]:
    users: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    last = COLLECTED_AT - timedelta(minutes=4)
    if account == DATA:
        roles.append(
            role(
                DATA,
                "datalake-reader",
                datalake_reader_trust(),
                inline={
                    "read-curated-zone": doc(
                        {
                            "Sid": "ReadCurated",
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:ListBucket"],
                            "Resource": [
                                "arn:aws:s3:::acme-datalake-curated",
                                "arn:aws:s3:::acme-datalake-curated/*",
                            ],
                        }
                    )
                },
                tags={"cmdb_ci": "Enterprise Data Lake", "owner": "data-platform"},
                last_used=last,
            )
        )
        roles.append(
            role(
                DATA,
                "vendor-support-access",
                doc(
                    {
                        "Sid": "VendorSupport",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{VENDOR}:root"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"sts:ExternalId": "acme-7731"}},
                    }
                ),
                managed=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                tags={"cmdb_ci": "Enterprise Data Lake"},
            )
        )
        roles.append(
            role(
                DATA,
                "datalake-admin",
                doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{DATA}:root"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                    }
                ),
                managed=[f"arn:aws:iam::{DATA}:policy/DataLakeAdministration"],
                tags={"cmdb_ci": "Enterprise Data Lake"},
            )
        )
        issuer = oidc_issuer()
        roles.append(
            role(
                DATA,
                "eks-fraud-datalake",
                doc(
                    {
                        "Sid": "FraudEksServiceAccounts",
                        "Effect": "Allow",
                        "Principal": {"Federated": f"arn:aws:iam::{DATA}:oidc-provider/{issuer}"},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringLike": {f"{issuer}:sub": "system:serviceaccount:fraud:*"},
                            "StringEquals": {f"{issuer}:aud": "sts.amazonaws.com"},
                        },
                    }
                ),
                inline={
                    "read-curated-zone": doc(
                        {
                            "Sid": "ReadCurated",
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:ListBucket"],
                            "Resource": [
                                "arn:aws:s3:::acme-datalake-curated",
                                "arn:aws:s3:::acme-datalake-curated/*",
                            ],
                        }
                    )
                },
                tags={"cmdb_ci": "Enterprise Data Lake", "owner": "fraud-platform"},
                created="2025-11-03T10:12:44Z",
                last_used=last,
            )
        )
        policies.append(
            managed_policy(
                DATA,
                "DataLakeAdministration",
                doc({"Effect": "Allow", "Action": ["s3:*", "glue:*", "lakeformation:*"], "Resource": "*"}),
            )
        )
    elif account == LEGACY:
        roles.append(
            role(
                LEGACY,
                "legacy-etl-role",
                service_trust("ec2.amazonaws.com"),
                inline={
                    "assume-datalake-reader": doc(
                        {
                            "Sid": "AssumeDataLakeReader",
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Resource": f"arn:aws:iam::{DATA}:role/datalake-reader",
                        }
                    ),
                    "write-etl-output": doc(
                        {
                            "Effect": "Allow",
                            "Action": ["s3:PutObject", "s3:GetObject"],
                            "Resource": "arn:aws:s3:::acme-legacy-etl-output/*",
                        }
                    ),
                },
                tags={"cmdb_ci": "Legacy Fraud ETL", "owner": "risk-engineering"},
                profile="legacy-etl-profile",
                created="2017-08-02T09:14:51Z",
                last_used=last,
            )
        )
        roles.append(
            role(
                LEGACY,
                "legacy-ops-automation",
                doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{LEGACY}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ),
                inline={"ops-admin": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})},
                tags={"owner": "platform-ops"},
                created="2018-02-20T16:40:12Z",
            )
        )
        users.append(
            {
                "Path": "/",
                "UserName": "etl-operator",
                "UserId": aws_id("AIDA", LEGACY, "etl-operator"),
                "Arn": f"arn:aws:iam::{LEGACY}:user/etl-operator",
                "CreateDate": "2017-08-02T09:30:00Z",
                "UserPolicyList": [
                    {
                        "PolicyName": "read-etl-logs",
                        "PolicyDocument": doc(
                            {
                                "Effect": "Allow",
                                "Action": ["logs:GetLogEvents", "logs:FilterLogEvents"],
                                "Resource": "*",
                            }
                        ),
                    }
                ],
                "GroupList": [],
                "AttachedManagedPolicies": [],
                "Tags": [],
            }
        )
    elif account == FRAUD:
        roles.append(
            role(
                FRAUD,
                "fraud-feature-pipeline",
                service_trust("lambda.amazonaws.com"),
                inline={
                    "pipeline-access": doc(
                        {
                            "Sid": "AssumeDataLakeReader",
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Resource": f"arn:aws:iam::{DATA}:role/datalake-reader",
                        },
                        {
                            "Sid": "ReadLegacyEtlOutput",
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::acme-legacy-etl-output/*",
                        },
                        {
                            "Sid": "WriteFeatures",
                            "Effect": "Allow",
                            "Action": "dynamodb:BatchWriteItem",
                            "Resource": f"arn:aws:dynamodb:{REGION}:{FRAUD}:table/fraud-features",
                        },
                    )
                },
                tags={"cmdb_ci": "Fraud Feature Pipeline", "owner": "fraud-platform"},
                last_used=last,
            )
        )
        roles.append(
            role(
                FRAUD,
                "fraud-scoring-engine",
                service_trust("ecs-tasks.amazonaws.com"),
                inline={
                    "read-features": doc(
                        {
                            "Effect": "Allow",
                            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                            "Resource": f"arn:aws:dynamodb:{REGION}:{FRAUD}:table/fraud-features",
                        }
                    )
                },
                tags={"cmdb_ci": "Fraud Scoring Engine", "owner": "fraud-platform"},
                last_used=last,
            )
        )
    elif account == MGMT:
        roles.append(
            role(
                MGMT,
                "old-vendor-audit",
                doc(
                    {
                        "Sid": "AuditVendor",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{OLD_VENDOR}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ),
                managed=["arn:aws:iam::aws:policy/SecurityAudit"],
                created="2018-11-05T12:00:00Z",
            )
        )
    return {
        "UserDetailList": users,
        "GroupDetailList": [],
        "RoleDetailList": roles,
        "Policies": policies,
        "IsTruncated": False,
    }


# -- Organizations ------------------------------------------------------------------------------------
def organizations(out: Path) -> None:
    base = out / "aws" / MGMT / "global"
    org_arn = f"arn:aws:organizations::{MGMT}:organization/{ORG_ID}"
    write_json(
        base / "organizations-DescribeOrganization.json",
        {
            "Organization": {
                "Id": ORG_ID,
                "Arn": org_arn,
                "FeatureSet": "ALL",
                "MasterAccountArn": f"arn:aws:organizations::{MGMT}:account/{ORG_ID}/{MGMT}",
                "MasterAccountId": MGMT,
                "MasterAccountEmail": "aws-root@acmefin.example",
                "AvailablePolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}],
            }
        },
    )
    accounts = [
        {
            "Id": a,
            "Arn": f"arn:aws:organizations::{MGMT}:account/{ORG_ID}/{a}",
            "Email": f"aws+{n}@acmefin.example",
            "Name": n,
            "Status": "ACTIVE",
            "JoinedMethod": "INVITED" if a == LEGACY else ("CREATED" if a != MGMT else "INVITED"),
            "JoinedTimestamp": "2019-01-10T08:00:00Z",
        }
        for a, n in ACCOUNT_NAMES.items()
    ]
    write_json(base / "organizations-ListAccounts.json", {"Accounts": accounts})
    write_json(
        base / "organizations-ListRoots.json",
        {
            "Roots": [
                {
                    "Id": ROOT_ID,
                    "Arn": f"arn:aws:organizations::{MGMT}:root/{ORG_ID}/{ROOT_ID}",
                    "Name": "Root",
                    "PolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}],
                }
            ]
        },
    )
    prod = f"ou-{ROOT_ID[2:]}-prod0001"
    legacy = f"ou-{ROOT_ID[2:]}-lgcy0001"
    ous = {
        ROOT_ID: {
            "OrganizationalUnits": [
                {
                    "Id": prod,
                    "Arn": f"arn:aws:organizations::{MGMT}:ou/{ORG_ID}/{prod}",
                    "Name": "Production",
                },
                {
                    "Id": legacy,
                    "Arn": f"arn:aws:organizations::{MGMT}:ou/{ORG_ID}/{legacy}",
                    "Name": "Legacy",
                },
            ]
        },
        prod: {"OrganizationalUnits": []},
        legacy: {"OrganizationalUnits": []},
    }
    write_json(base / "organizations-ListOrganizationalUnitsForParent.json", ous)
    by_id = {a["Id"]: a for a in accounts}
    write_json(
        base / "organizations-ListAccountsForParent.json",
        {
            ROOT_ID: {"Accounts": [by_id[MGMT]]},
            prod: {"Accounts": [by_id[DATA], by_id[FRAUD]]},
            legacy: {"Accounts": [by_id[LEGACY]]},
        },
    )
    full = "p-FullAWSAccess"
    deny = "p-4x8rq2mz"
    summaries = [
        {
            "Id": full,
            "Arn": "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess",
            "Name": "FullAWSAccess",
            "Description": "Allows access to every operation",
            "Type": "SERVICE_CONTROL_POLICY",
            "AwsManaged": True,
        },
        {
            "Id": deny,
            "Arn": f"arn:aws:organizations::{MGMT}:policy/{ORG_ID}/service_control_policy/{deny}",
            "Name": "DenyLeaveOrganizationAndTrailTampering",
            "Description": "Guardrails for every account",
            "Type": "SERVICE_CONTROL_POLICY",
            "AwsManaged": False,
        },
    ]
    write_json(base / "organizations-ListPolicies.json", {"Policies": summaries})
    contents = {
        full: doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        deny: doc(
            {
                "Sid": "DenyLeave",
                "Effect": "Deny",
                "Action": ["organizations:LeaveOrganization"],
                "Resource": "*",
            },
            {
                "Sid": "DenyTrailTampering",
                "Effect": "Deny",
                "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"],
                "Resource": "*",
            },
        ),
    }
    write_json(
        base / "organizations-DescribePolicy.json",
        {
            s["Id"]: {"Policy": {"PolicySummary": s, "Content": json.dumps(contents[s["Id"]])}}
            for s in summaries
        },
    )
    root_target = {
        "TargetId": ROOT_ID,
        "Arn": f"arn:aws:organizations::{MGMT}:root/{ORG_ID}/{ROOT_ID}",
        "Name": "Root",
        "Type": "ROOT",
    }
    # AWS attaches FullAWSAccess to every root, OU and account unless someone detaches it
    full_targets = [root_target]
    for ou, name in ((prod, "Production"), (legacy, "Legacy")):
        full_targets.append(
            {
                "TargetId": ou,
                "Arn": f"arn:aws:organizations::{MGMT}:ou/{ORG_ID}/{ou}",
                "Name": name,
                "Type": "ORGANIZATIONAL_UNIT",
            }
        )
    for a in accounts:
        full_targets.append({"TargetId": a["Id"], "Arn": a["Arn"], "Name": a["Name"], "Type": "ACCOUNT"})
    write_json(
        base / "organizations-ListTargetsForPolicy.json",
        {full: {"Targets": full_targets}, deny: {"Targets": [root_target]}},
    )


# -- S3 -----------------------------------------------------------------------------------------------
BUCKETS = {
    DATA: {
        "acme-datalake-curated": {
            "tags": {"cmdb_ci": "Enterprise Data Lake", "data-classification": "confidential"},
            "policy": doc(
                {
                    "Sid": "ReaderRole",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{DATA}:role/datalake-reader"},
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [
                        "arn:aws:s3:::acme-datalake-curated",
                        "arn:aws:s3:::acme-datalake-curated/*",
                    ],
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [
                        "arn:aws:s3:::acme-datalake-curated",
                        "arn:aws:s3:::acme-datalake-curated/*",
                    ],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ),
        }
    },
    LEGACY: {
        "acme-legacy-etl-output": {
            "tags": {"cmdb_ci": "Legacy Fraud ETL"},
            "policy": doc(
                {
                    "Sid": "FraudPipelineRead",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{FRAUD}:role/fraud-feature-pipeline"},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::acme-legacy-etl-output/*",
                }
            ),
        }
    },
    FRAUD: {},
    MGMT: {"acme-org-cloudtrail": {"tags": {"owner": "security"}, "policy": None}},
}


def s3(out: Path, account: str) -> None:
    base = out / "aws" / account / "global"
    buckets = BUCKETS[account]
    write_json(
        base / "s3-ListBuckets.json",
        {
            "Buckets": [{"Name": b, "CreationDate": "2019-04-02T11:00:00Z"} for b in buckets],
            "Owner": {"DisplayName": ACCOUNT_NAMES[account], "ID": h("canonical", account, n=64)},
        },
    )
    write_json(
        base / "s3-GetBucketPolicy.json",
        {b: {"Policy": json.dumps(v["policy"])} for b, v in buckets.items() if v["policy"]},
    )
    write_json(
        base / "s3-GetBucketTagging.json",
        {b: {"TagSet": [{"Key": k, "Value": x} for k, x in v["tags"].items()]} for b, v in buckets.items()},
    )


# -- KMS, Lambda, SQS: resource policies ---------------------------------------------------------------
DATALAKE_KEY = "5b1e7c2a-9d4f-4e8b-a3c6-2f7d9e1b4a80"


def resource_policies(out: Path, account: str) -> None:
    """KMS keys (kms-ListKeys, DescribeKey, GetKeyPolicy, ListResourceTags), Lambda functions
    (ListFunctions, GetPolicy) and SQS queues (ListQueues, GetQueueAttributes, ListQueueTags), keyed by
    resource in the per-resource files as live collection writes them."""
    base = out / "aws" / account / REGION
    if account == DATA:
        arn = f"arn:aws:kms:{REGION}:{DATA}:key/{DATALAKE_KEY}"
        write_json(
            base / "kms-ListKeys.json", {"Keys": [{"KeyId": DATALAKE_KEY, "KeyArn": arn}], "Truncated": False}
        )
        write_json(
            base / "kms-DescribeKey.json",
            {
                DATALAKE_KEY: {
                    "KeyMetadata": {
                        "AWSAccountId": DATA,
                        "KeyId": DATALAKE_KEY,
                        "Arn": arn,
                        "KeyManager": "CUSTOMER",
                        "KeyState": "Enabled",
                        "KeyUsage": "ENCRYPT_DECRYPT",
                        "Description": "Data lake curated zone (SSE-KMS)",
                    }
                }
            },
        )
        key_policy = doc(
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DATA}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CuratedZoneReaders",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DATA}:role/datalake-reader"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
        )
        write_json(
            base / "kms-GetKeyPolicy.json",
            {DATALAKE_KEY: {"Policy": json.dumps(key_policy), "PolicyName": "default"}},
        )
        write_json(
            base / "kms-ListResourceTags.json",
            {
                DATALAKE_KEY: {
                    "Tags": [
                        {"TagKey": "cmdb_ci", "TagValue": "Enterprise Data Lake"},
                        {"TagKey": "data-classification", "TagValue": "confidential"},
                    ],
                    "Truncated": False,
                }
            },
        )
    if account == FRAUD:
        fn = f"arn:aws:lambda:{REGION}:{FRAUD}:function:fraud-alert-dispatch"
        write_json(
            base / "lambda-ListFunctions.json",
            {
                "Functions": [
                    {
                        "FunctionName": "fraud-alert-dispatch",
                        "FunctionArn": fn,
                        "Runtime": "python3.12",
                        "Role": f"arn:aws:iam::{FRAUD}:role/fraud-scoring-engine",
                        "Handler": "dispatch.handler",
                        "LastModified": "2026-03-02T10:11:12.000+0000",
                    }
                ]
            },
        )
        queue_arn = f"arn:aws:sqs:{REGION}:{FRAUD}:fraud-alerts"
        fn_policy = doc(
            {
                "Sid": "FromFraudAlertsQueue",
                "Effect": "Allow",
                "Principal": {"Service": "sqs.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": fn,
                "Condition": {"ArnLike": {"AWS:SourceArn": queue_arn}},
            }
        )
        write_json(
            base / "lambda-GetPolicy.json",
            {"fraud-alert-dispatch": {"Policy": json.dumps(fn_policy), "RevisionId": uuid_like("rev", fn)}},
        )
        url = f"https://sqs.{REGION}.amazonaws.com/{FRAUD}/fraud-alerts"
        write_json(base / "sqs-ListQueues.json", {"QueueUrls": [url]})
        queue_policy = doc(
            {
                "Sid": "ScoringEngineSends",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{FRAUD}:role/fraud-scoring-engine"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            }
        )
        write_json(
            base / "sqs-GetQueueAttributes.json",
            {
                url: {
                    "Attributes": {
                        "QueueArn": queue_arn,
                        "Policy": json.dumps(queue_policy),
                        "VisibilityTimeout": "30",
                    }
                }
            },
        )
        write_json(
            base / "sqs-ListQueueTags.json",
            {url: {"Tags": {"cmdb_ci": "Fraud Scoring Engine", "data-classification": "restricted"}}},
        )


# -- EC2 networking -----------------------------------------------------------------------------------
NETS = {
    DATA: ("10.10", None),
    LEGACY: ("10.40", ("legacy-etl-01", "legacy-etl-profile", "Legacy Fraud ETL")),
    FRAUD: ("10.30", ("fraud-scoring-01", None, "Fraud Scoring Engine")),
    MGMT: ("10.0", None),
}


def ec2(out: Path, account: str) -> dict[str, str]:
    """Write the account's VPC networking; return {private ip: eni id} for the flow logs."""
    base = out / "aws" / account / REGION
    prefix, instance = NETS[account]
    vpc = "vpc-" + h("vpc", account, n=17)
    subnet = "subnet-" + h("subnet", account, n=17)
    sg = "sg-" + h("sg", account, n=17)
    write_json(
        base / "ec2-DescribeVpcs.json",
        {
            "Vpcs": [
                {
                    "VpcId": vpc,
                    "OwnerId": account,
                    "CidrBlock": f"{prefix}.0.0/16",
                    "CidrBlockAssociationSet": [
                        {
                            "AssociationId": "vpc-cidr-assoc-" + h("a", vpc, n=17),
                            "CidrBlock": f"{prefix}.0.0/16",
                            "CidrBlockState": {"State": "associated"},
                        }
                    ],
                    "State": "available",
                    "IsDefault": False,
                    "InstanceTenancy": "default",
                    "Tags": [{"Key": "Name", "Value": f"{ACCOUNT_NAMES[account]}-vpc"}],
                }
            ]
        },
    )
    write_json(
        base / "ec2-DescribeSubnets.json",
        {
            "Subnets": [
                {
                    "SubnetId": subnet,
                    "SubnetArn": f"arn:aws:ec2:{REGION}:{account}:subnet/{subnet}",
                    "VpcId": vpc,
                    "OwnerId": account,
                    "CidrBlock": f"{prefix}.1.0/24",
                    "AvailabilityZone": f"{REGION}a",
                    "AvailabilityZoneId": "use1-az1",
                    "AvailableIpAddressCount": 250,
                    "MapPublicIpOnLaunch": False,
                    "State": "available",
                    "Tags": [{"Key": "Name", "Value": "private-a"}],
                }
            ]
        },
    )
    ingress = [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": f"{prefix}.0.0/16", "Description": "vpc-internal https"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }
    ]
    write_json(
        base / "ec2-DescribeSecurityGroups.json",
        {
            "SecurityGroups": [
                {
                    "GroupId": sg,
                    "GroupName": "workload",
                    "Description": "workload instances",
                    "OwnerId": account,
                    "VpcId": vpc,
                    "IpPermissions": ingress,
                    "IpPermissionsEgress": [
                        {
                            "IpProtocol": "-1",
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                            "Ipv6Ranges": [],
                            "PrefixListIds": [],
                            "UserIdGroupPairs": [],
                        }
                    ]
                    + (
                        [  # a second, narrower grant for the same S3 traffic: revoking either alone cuts nothing
                            {
                                "IpProtocol": "tcp",
                                "FromPort": 443,
                                "ToPort": 443,
                                "IpRanges": [
                                    {
                                        "CidrIp": "52.216.0.0/15",
                                        "Description": "S3 us-east-1 (ip-ranges.json)",
                                    }
                                ],
                                "Ipv6Ranges": [],
                                "PrefixListIds": [],
                                "UserIdGroupPairs": [],
                            }
                        ]
                        if account == LEGACY
                        else []
                    ),
                    "Tags": [],
                }
            ]
        },
    )
    enis: list[dict[str, Any]] = []
    reservations: list[dict[str, Any]] = []
    ips: dict[str, str] = {}
    if instance:
        name, profile, ci = instance
        iid = "i-" + h("instance", account, name, n=17)
        eni = "eni-" + h("eni", account, name, n=17)
        ip = f"{prefix}.1.25"
        ips[ip] = eni
        enis.append(
            {
                "NetworkInterfaceId": eni,
                "InterfaceType": "interface",
                "OwnerId": account,
                "SubnetId": subnet,
                "VpcId": vpc,
                "AvailabilityZone": f"{REGION}a",
                "PrivateIpAddress": ip,
                "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": ip}],
                "Groups": [{"GroupId": sg, "GroupName": "workload"}],
                "Attachment": {
                    "AttachmentId": "eni-attach-" + h("att", eni, n=17),
                    "InstanceId": iid,
                    "InstanceOwnerId": account,
                    "DeviceIndex": 0,
                    "Status": "attached",
                },
                "Status": "in-use",
                "TagSet": [],
            }
        )
        inst: dict[str, Any] = {
            "InstanceId": iid,
            "InstanceType": "m5.large",
            "ImageId": "ami-" + h("ami", n=17),
            "State": {"Code": 16, "Name": "running"},
            "PrivateIpAddress": ip,
            "SubnetId": subnet,
            "VpcId": vpc,
            "LaunchTime": "2024-02-11T03:12:40Z",
            "SecurityGroups": [{"GroupId": sg, "GroupName": "workload"}],
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": eni,
                    "PrivateIpAddress": ip,
                    "SubnetId": subnet,
                    "VpcId": vpc,
                    "Groups": [{"GroupId": sg, "GroupName": "workload"}],
                }
            ],
            "MetadataOptions": {"HttpTokens": "optional", "HttpEndpoint": "enabled", "State": "applied"},
            "Tags": [{"Key": "Name", "Value": name}, {"Key": "cmdb_ci", "Value": ci}],
        }
        if profile:
            inst["IamInstanceProfile"] = {
                "Arn": f"arn:aws:iam::{account}:instance-profile/{profile}",
                "Id": aws_id("AIPA", account, profile),
            }
        reservations.append(
            {
                "ReservationId": "r-" + h("res", iid, n=17),
                "OwnerId": account,
                "Groups": [],
                "Instances": [inst],
            }
        )
    write_json(base / "ec2-DescribeNetworkInterfaces.json", {"NetworkInterfaces": enis})
    write_json(base / "ec2-DescribeInstances.json", {"Reservations": reservations})
    if instance:
        # CloudWatch MetadataNoToken (IMDSv1 requests) per day: the 2017 ETL's SDK still uses IMDSv1
        days = [EVIDENCE_START + timedelta(days=d) for d in range(EVIDENCE_DAYS)]
        per_day = 288 if account == LEGACY else 0
        write_json(
            base / "cloudwatch-GetMetricData-MetadataNoToken.json",
            {
                iid: {
                    "MetricDataResults": [
                        {
                            "Id": "notoken",
                            "Label": "MetadataNoToken",
                            "Timestamps": [ts(d) for d in reversed(days)],
                            "Values": [float(per_day)] * len(days),
                            "StatusCode": "Complete",
                        }
                    ],
                    "Messages": [],
                }
            },
        )
    routing(base, account, prefix, vpc, subnet)
    return ips


def routing(base: Path, account: str, prefix: str, vpc: str, subnet: str) -> None:
    """Route tables, network ACLs, NAT and internet gateways, peering connections (none). The legacy
    account's private subnet reaches S3 through a NAT gateway in a public subnet; its ACL has denied the
    old vendor's SFTP host (203.0.113.80) since May, so the flow logs' earlier SFTP flows are stale."""
    igw = "igw-" + h("igw", account, n=17)
    rtb_main = "rtb-" + h("rtb", account, n=17)
    routes = [
        {
            "DestinationCidrBlock": f"{prefix}.0.0/16",
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        }
    ]
    tables = []
    nats: list[dict[str, Any]] = []
    acl_default = "acl-" + h("acl", account, n=17)
    allow_all = [
        {
            "RuleNumber": 100,
            "Protocol": "-1",
            "RuleAction": "allow",
            "Egress": egress,
            "CidrBlock": "0.0.0.0/0",
        }
        for egress in (False, True)
    ] + [
        {
            "RuleNumber": 32767,
            "Protocol": "-1",
            "RuleAction": "deny",
            "Egress": egress,
            "CidrBlock": "0.0.0.0/0",
        }
        for egress in (False, True)
    ]
    acls = [
        {
            "NetworkAclId": acl_default,
            "VpcId": vpc,
            "IsDefault": True,
            "OwnerId": account,
            "Entries": allow_all,
            "Associations": []
            if account == LEGACY
            else [
                {
                    "NetworkAclAssociationId": "aclassoc-" + h("aa", subnet, n=17),
                    "NetworkAclId": acl_default,
                    "SubnetId": subnet,
                }
            ],
        }
    ]
    if account == LEGACY:
        public = "subnet-" + h("subnet-public", account, n=17)
        nat = "nat-" + h("nat", account, n=17)
        rtb_public = "rtb-" + h("rtb-public", account, n=17)
        subnets = json.loads((base / "ec2-DescribeSubnets.json").read_text())
        subnets["Subnets"].append(
            {
                "SubnetId": public,
                "SubnetArn": f"arn:aws:ec2:{REGION}:{account}:subnet/{public}",
                "VpcId": vpc,
                "OwnerId": account,
                "CidrBlock": f"{prefix}.0.0/24",
                "AvailabilityZone": f"{REGION}a",
                "AvailabilityZoneId": "use1-az1",
                "AvailableIpAddressCount": 250,
                "MapPublicIpOnLaunch": True,
                "State": "available",
                "Tags": [{"Key": "Name", "Value": "public-a"}],
            }
        )
        write_json(base / "ec2-DescribeSubnets.json", subnets)
        nats.append(
            {
                "NatGatewayId": nat,
                "SubnetId": public,
                "VpcId": vpc,
                "State": "available",
                "ConnectivityType": "public",
                "NatGatewayAddresses": [{"PublicIp": "44.210.17.9", "PrivateIp": f"{prefix}.0.12"}],
            }
        )
        tables.append(
            {
                "RouteTableId": rtb_public,
                "VpcId": vpc,
                "OwnerId": account,
                "Routes": [
                    *routes,
                    {
                        "DestinationCidrBlock": "0.0.0.0/0",
                        "GatewayId": igw,
                        "Origin": "CreateRoute",
                        "State": "active",
                    },
                ],
                "Associations": [
                    {
                        "Main": False,
                        "RouteTableAssociationId": "rtbassoc-" + h("ra", public, n=17),
                        "RouteTableId": rtb_public,
                        "SubnetId": public,
                    }
                ],
            }
        )
        tables.append(
            {
                "RouteTableId": rtb_main,
                "VpcId": vpc,
                "OwnerId": account,
                "Routes": [
                    *routes,
                    {
                        "DestinationCidrBlock": "0.0.0.0/0",
                        "NatGatewayId": nat,
                        "Origin": "CreateRoute",
                        "State": "active",
                    },
                ],
                "Associations": [
                    {
                        "Main": True,
                        "RouteTableAssociationId": "rtbassoc-" + h("ra", rtb_main, n=17),
                        "RouteTableId": rtb_main,
                    }
                ],
            }
        )
        acl_private = "acl-" + h("acl-private", account, n=17)
        acls[0]["Associations"] = [
            {
                "NetworkAclAssociationId": "aclassoc-" + h("aa", public, n=17),
                "NetworkAclId": acl_default,
                "SubnetId": public,
            }
        ]
        acls.append(
            {
                "NetworkAclId": acl_private,
                "VpcId": vpc,
                "IsDefault": False,
                "OwnerId": account,
                "Entries": [
                    {
                        "RuleNumber": 50,
                        "Protocol": "6",
                        "RuleAction": "deny",
                        "Egress": True,
                        "CidrBlock": "203.0.113.80/32",
                        "PortRange": {"From": 22, "To": 22},
                    },
                    *allow_all,
                ],
                "Associations": [
                    {
                        "NetworkAclAssociationId": "aclassoc-" + h("aa", subnet, n=17),
                        "NetworkAclId": acl_private,
                        "SubnetId": subnet,
                    }
                ],
                "Tags": [{"Key": "Name", "Value": "legacy-private (vendor SFTP blocked, CHG0031)"}],
            }
        )
        write_json(
            base / "ec2-DescribeInternetGateways.json",
            {
                "InternetGateways": [
                    {
                        "InternetGatewayId": igw,
                        "OwnerId": account,
                        "Attachments": [{"VpcId": vpc, "State": "available"}],
                    }
                ]
            },
        )
    else:
        tables.append(
            {
                "RouteTableId": rtb_main,
                "VpcId": vpc,
                "OwnerId": account,
                "Routes": routes,
                "Associations": [
                    {
                        "Main": True,
                        "RouteTableAssociationId": "rtbassoc-" + h("ra", rtb_main, n=17),
                        "RouteTableId": rtb_main,
                    }
                ],
            }
        )
    write_json(base / "ec2-DescribeRouteTables.json", {"RouteTables": tables})
    write_json(base / "ec2-DescribeNetworkAcls.json", {"NetworkAcls": acls})
    write_json(base / "ec2-DescribeNatGateways.json", {"NatGateways": nats})
    write_json(base / "ec2-DescribeVpcPeeringConnections.json", {"VpcPeeringConnections": []})


# -- CloudTrail ---------------------------------------------------------------------------------------
def assumed_identity(account: str, role_name: str, session: str, key: str) -> dict[str, Any]:
    role_id = aws_id("AROA", account, role_name)
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{role_name}",
                "accountId": account,
                "userName": role_name,
            },
            "attributes": {"creationDate": "", "mfaAuthenticated": "false"},
        },
    }


def assume_record(
    when: datetime,
    caller_account: str,
    caller_role: str,
    caller_session: str,
    target_account: str,
    target_role: str,
    session_name: str,
    src_ip: str,
    agent: str,
) -> dict[str, Any]:
    caller_key = aws_id("ASIA", "caller", caller_account, caller_role, when.isoformat(), n=16)
    new_key = aws_id("ASIA", "new", target_role, when.isoformat(), n=16)
    ident = assumed_identity(caller_account, caller_role, caller_session, caller_key)
    ident["sessionContext"]["attributes"]["creationDate"] = ts(when - timedelta(minutes=50))
    role_arn = f"arn:aws:iam::{target_account}:role/{target_role}"
    return {
        "eventVersion": "1.08",
        "userIdentity": ident,
        "eventTime": ts(when),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": REGION,
        "sourceIPAddress": src_ip,
        "userAgent": agent,
        "requestParameters": {"roleArn": role_arn, "roleSessionName": session_name, "durationSeconds": 3600},
        "responseElements": {
            "credentials": {
                "accessKeyId": new_key,
                "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN" + h("tok", new_key, n=24),
                "expiration": (when + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p"),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{aws_id('AROA', target_account, target_role)}:{session_name}",
                "arn": f"arn:aws:sts::{target_account}:assumed-role/{target_role}/{session_name}",
            },
        },
        "requestID": uuid_like("req", role_arn, when.isoformat(), caller_role),
        "eventID": uuid_like("evt", role_arn, when.isoformat(), caller_role),
        "readOnly": True,
        "resources": [{"accountId": target_account, "type": "AWS::IAM::Role", "ARN": role_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": target_account,
        "sharedEventID": uuid_like("shared", role_arn, when.isoformat(), caller_role),
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.2",
            "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
            "clientProvidedHostHeader": "sts.amazonaws.com",
        },
    }


def service_assume_record(
    when: datetime, service: str, account: str, role: str, session_name: str
) -> dict[str, Any]:
    """An AWS service assuming a role for a workload (CloudTrail User Guide, "CloudTrail userIdentity
    element": type AWSService, invokedBy the service; the source address and agent are the service)."""
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    new_key = aws_id("ASIA", "svc", service, role, when.isoformat(), n=16)
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "AWSService", "invokedBy": service},
        "eventTime": ts(when),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": REGION,
        "sourceIPAddress": service,
        "userAgent": service,
        "requestParameters": {"roleArn": role_arn, "roleSessionName": session_name},
        "responseElements": {
            "credentials": {
                "accessKeyId": new_key,
                "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN" + h("tok", new_key, n=24),
                "expiration": (when + timedelta(hours=6)).strftime("%b %d, %Y, %I:%M:%S %p"),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{aws_id('AROA', account, role)}:{session_name}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session_name}",
            },
        },
        "requestID": uuid_like("req", role_arn, when.isoformat(), service),
        "eventID": uuid_like("evt", role_arn, when.isoformat(), service),
        "readOnly": True,
        "resources": [{"accountId": account, "type": "AWS::IAM::Role", "ARN": role_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "sharedEventID": uuid_like("shared", role_arn, when.isoformat(), service),
        "eventCategory": "Management",
    }


def s3_record(
    when: datetime,
    account: str,
    role_name: str,
    session: str,
    bucket: str,
    bucket_account: str,
    key: str,
    event: str,
    src_ip: str,
    error: str | None = None,
    tls: bool = True,
) -> dict[str, Any]:
    access_key = aws_id("ASIA", "s3", account, role_name, when.isoformat(), n=16)
    ident = assumed_identity(account, role_name, session, access_key)
    ident["sessionContext"]["attributes"]["creationDate"] = ts(when - timedelta(minutes=1))
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": ts(when),
        "eventSource": "s3.amazonaws.com",
        "eventName": event,
        "awsRegion": REGION,
        "sourceIPAddress": src_ip,
        "userAgent": "[aws-sdk-java/1.11.1030 Linux/4.14.355 OpenJDK_64-Bit_Server_VM/25.412-b08 java/1.8.0_412]",
        "requestParameters": {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com", "key": key},
        "responseElements": None,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": h("amzid", bucket, key, when.isoformat(), n=40),
            "bytesTransferredOut": 48213,
        },
        "requestID": h("s3req", bucket, key, when.isoformat(), n=16).upper(),
        "eventID": uuid_like("s3evt", bucket, key, when.isoformat()),
        "readOnly": event.startswith("Get"),
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": bucket_account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": bucket_account,
        "eventCategory": "Data",
        "tlsDetails": {
            "tlsVersion": "TLSv1.2",
            "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
            "clientProvidedHostHeader": f"{bucket}.s3.amazonaws.com",
        },
    }
    if not tls:  # the 2017 ETL's SDK writes over plain HTTP: CloudTrail then records no tlsDetails
        del rec["tlsDetails"]
        del rec["additionalEventData"]["CipherSuite"]
        rec["requestParameters"]["Host"] = f"{bucket}.s3.amazonaws.com"
        rec["userAgent"] = (
            "[aws-sdk-java/1.11.163 Linux/3.10.0 OpenJDK_64-Bit_Server_VM/25.141-b16 java/1.8.0_141]"
        )
    if account != bucket_account:
        rec["sharedEventID"] = uuid_like("s3shared", bucket, key, when.isoformat())
    if error:
        rec["errorCode"] = error
        rec["errorMessage"] = "Access Denied"
        rec["additionalEventData"]["bytesTransferredOut"] = 0
    return rec


def dynamodb_record(
    when: datetime, account: str, role_name: str, session: str, table: str, event: str, src_ip: str
) -> dict[str, Any]:
    """A DynamoDB data event (CloudTrail User Guide, "Logging data events": resources names the table)."""
    access_key = aws_id("ASIA", "ddb", account, role_name, when.isoformat(), n=16)
    ident = assumed_identity(account, role_name, session, access_key)
    ident["sessionContext"]["attributes"]["creationDate"] = ts(when - timedelta(minutes=3))
    table_arn = f"arn:aws:dynamodb:{REGION}:{account}:table/{table}"
    params: dict[str, Any] = (
        {"requestItems": [{"tableName": table}]}
        if event == "BatchWriteItem"
        else {"tableName": table, "keyConditionExpression": "card_id = :c", "limit": 50}
    )
    return {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": ts(when),
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": event,
        "awsRegion": REGION,
        "sourceIPAddress": src_ip,
        "userAgent": "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10 lang/python#3.11.8",
        "requestParameters": params,
        "responseElements": None,
        "requestID": h("ddbreq", role_name, when.isoformat(), n=32).upper(),
        "eventID": uuid_like("ddbevt", role_name, table, when.isoformat()),
        "readOnly": event != "BatchWriteItem",
        "resources": [{"accountId": account, "type": "AWS::DynamoDB::Table", "ARN": table_arn}],
        "eventType": "AwsApiCall",
        "apiVersion": "2012-08-10",
        "managementEvent": False,
        "recipientAccountId": account,
        "eventCategory": "Data",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"dynamodb.{REGION}.amazonaws.com",
        },
    }


def etl_assume(when: datetime, legacy_instance: str, session: str) -> dict[str, Any]:
    """The legacy ETL's instance-profile session assuming the data-lake reader, cross-account."""
    return assume_record(
        when,
        LEGACY,
        "legacy-etl-role",
        legacy_instance,
        DATA,
        "datalake-reader",
        session,
        "3.91.22.140",
        "aws-sdk-java/1.11.1030 Linux/4.14.355 OpenJDK_64-Bit_Server_VM/25.412-b08",
    )


def denied_assume_record(when: datetime, legacy_instance: str, session: str) -> dict[str, Any]:
    """The ETL's AssumeRole refused while the trust named no legacy principal (a failed call: an error
    code and message, no response elements, no resources)."""
    rec = etl_assume(when, legacy_instance, session)
    rec["errorCode"] = "AccessDenied"
    rec["errorMessage"] = (
        f"User: {rec['userIdentity']['arn']} is not authorized to perform: sts:AssumeRole on resource: "
        f"arn:aws:iam::{DATA}:role/datalake-reader"
    )
    rec["responseElements"] = None
    del rec["resources"]
    return rec


def trust_change_record(
    when: datetime, identity: dict[str, Any], agent: str, document: dict[str, Any]
) -> dict[str, Any]:
    """``iam:UpdateAssumeRolePolicy`` on datalake-reader as CloudTrail logs it (the new document as text in
    ``requestParameters.policyDocument``; IAM is global: logged in us-east-1)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": ts(when),
        "eventSource": "iam.amazonaws.com",
        "eventName": "UpdateAssumeRolePolicy",
        "awsRegion": REGION,
        "sourceIPAddress": agent if agent.endswith("amazonaws.com") else "198.51.100.23",
        "userAgent": agent,
        "requestParameters": {"roleName": "datalake-reader", "policyDocument": json.dumps(document)},
        "responseElements": None,
        "requestID": uuid_like("iamreq", when.isoformat()),
        "eventID": uuid_like("iamevt", when.isoformat()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": DATA,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "iam.amazonaws.com",
        },
    }


def trust_changes() -> list[dict[str, Any]]:
    """The CSPM's runbook narrowing the trust, and the on-call engineer putting it back three hours later."""
    automation = assumed_identity(
        DATA, CSPM_ROLE, CSPM_EXECUTION, aws_id("ASIA", "cspm", INCIDENT_AT.isoformat(), n=16)
    )
    automation["invokedBy"] = "ssm.amazonaws.com"
    automation["sessionContext"]["attributes"]["creationDate"] = ts(INCIDENT_AT - timedelta(seconds=4))
    oncall = assumed_identity(
        DATA,
        "AWSReservedSSO_PlatformOnCall_5e1f0c2a9b7d4e31",
        "maria.okafor@acmefin.example",
        aws_id("ASIA", "oncall", RESTORED_AT.isoformat(), n=16),
    )
    oncall["sessionContext"]["attributes"]["creationDate"] = ts(RESTORED_AT - timedelta(minutes=9))
    return [
        trust_change_record(
            INCIDENT_AT, automation, "ssm.amazonaws.com", datalake_reader_trust(legacy=False)
        ),
        trust_change_record(
            RESTORED_AT,
            oncall,
            "aws-cli/2.15.40 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/iam.update-assume-role-policy",
            datalake_reader_trust(),
        ),
    ]


def cspm_run(out: Path) -> None:
    """``aws ssm get-automation-execution`` of the CSPM's run (AWS CLI v2: times in ISO 8601; the step's
    inputs as the JSON text of what they resolved to)."""

    def at(t: datetime) -> str:
        return t.isoformat(timespec="microseconds")

    started = INCIDENT_AT - timedelta(seconds=2, microseconds=388000)
    policy = json.dumps(datalake_reader_trust(legacy=False))
    execution = {
        "AutomationExecution": {
            "AutomationExecutionId": CSPM_EXECUTION,
            "DocumentName": CSPM_RUNBOOK,
            "DocumentVersion": "3",
            "ExecutionStartTime": at(started),
            "ExecutionEndTime": at(INCIDENT_AT + timedelta(microseconds=604000)),
            "AutomationExecutionStatus": "Success",
            "StepExecutions": [
                {
                    "StepName": "RemoveExternalAccountPrincipals",
                    "Action": "aws:executeAwsApi",
                    "ExecutionStartTime": at(INCIDENT_AT - timedelta(microseconds=912000)),
                    "ExecutionEndTime": at(INCIDENT_AT + timedelta(microseconds=411000)),
                    "StepStatus": "Success",
                    "Inputs": {
                        "Api": json.dumps("UpdateAssumeRolePolicy"),
                        "PolicyDocument": json.dumps(policy),
                        "RoleName": json.dumps("datalake-reader"),
                        "Service": json.dumps("iam"),
                    },
                    "Outputs": {"OutputPayload": ['{"ResponseMetadata":{"HTTPStatusCode":200}}']},
                    "StepExecutionId": uuid_like("ssmstep", CSPM_EXECUTION),
                    "OverriddenParameters": {},
                    "IsEnd": True,
                    "IsCritical": True,
                    "ValidNextSteps": [],
                }
            ],
            "StepExecutionsTruncated": False,
            "Parameters": {
                "AutomationAssumeRole": [f"arn:aws:iam::{DATA}:role/{CSPM_ROLE}"],
                "RoleName": ["datalake-reader"],
                "FindingId": [
                    f"arn:aws:access-analyzer:{REGION}:{DATA}:analyzer/account-analyzer/arn:aws:iam::{DATA}:role/datalake-reader/{LEGACY}"
                ],
            },
            "Outputs": {},
            "Mode": "Auto",
            "ExecutedBy": f"arn:aws:sts::{DATA}:assumed-role/{CSPM_ROLE}/SecurityHubAutomatedResponse",
            "Targets": [],
            "ResolvedTargets": {"ParameterValues": [], "Truncated": False},
            "ProgressCounters": {
                "TotalSteps": 1,
                "SuccessSteps": 1,
                "FailedSteps": 0,
                "CancelledSteps": 0,
                "TimedOutSteps": 0,
            },
        }
    }
    write_json(out / "findings" / "cspm-ssm-automation.json", execution)


def etl_run(
    records: dict[str, list[dict[str, Any]]],
    t: datetime,
    m: int,
    session: str,
    legacy_instance: str,
    etl_ip: str,
) -> None:
    """One run of the legacy ETL: it assumes the data-lake reader cross-account (an EC2 instance profile
    session), reads the curated zone, and hourly writes its feature extract."""
    records[DATA].append(etl_assume(t, legacy_instance, session))
    # ...and reads the curated zone with that session (logged in the bucket owner's trail)
    records[DATA].append(
        s3_record(
            t + timedelta(seconds=3),
            DATA,
            "datalake-reader",
            session,
            "acme-datalake-curated",
            DATA,
            f"transactions/dt={t:%Y-%m-%d}/hour={t:%H}/part-{m % 60:04d}.parquet",
            "GetObject",
            "3.91.22.140",
        )
    )
    if m % 60 == 0:
        # hourly: the ETL writes its feature extract into its own bucket
        records[LEGACY].append(
            s3_record(
                t + timedelta(seconds=40),
                LEGACY,
                "legacy-etl-role",
                legacy_instance,
                "acme-legacy-etl-output",
                LEGACY,
                f"features/{t:%Y/%m/%d/%H}/extract.csv.gz",
                "PutObject",
                etl_ip,
                tls=False,
            )
        )


def cloudtrail(out: Path) -> None:
    records: dict[str, list[dict[str, Any]]] = {DATA: [], LEGACY: [], FRAUD: []}
    etl_ip = "10.40.1.25"
    legacy_instance = "i-" + h("instance", LEGACY, "legacy-etl-01", n=17)
    minutes = EVIDENCE_DAYS * 24 * 60
    for m in range(0, minutes, 5):
        t = EVIDENCE_START + timedelta(minutes=m, seconds=7)
        session = f"legacy-etl-{t.strftime('%Y%m%d%H%M')}"
        if INCIDENT_AT <= t < RESTORED_AT:
            # the trust names no legacy principal: every attempt is refused, nothing is read or written
            records[DATA].append(denied_assume_record(t, legacy_instance, session))
        else:
            etl_run(records, t, m, session, legacy_instance, etl_ip)
        if m % 15 == 0:
            fsession = f"feature-pipeline-{t.strftime('%H%M')}"
            tf = t + timedelta(minutes=2)
            records[DATA].append(
                assume_record(
                    tf,
                    FRAUD,
                    "fraud-feature-pipeline",
                    "fraud-feature-pipeline",
                    DATA,
                    "datalake-reader",
                    fsession,
                    "52.23.180.14",
                    "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10 lang/python#3.11.8 "
                    "exec-env/AWS_Lambda_python3.11",
                )
            )
            # the feature pipeline reads the legacy ETL's extract (cross-account, bucket owner's trail)
            records[LEGACY].append(
                s3_record(
                    tf + timedelta(seconds=20),
                    FRAUD,
                    "fraud-feature-pipeline",
                    "fraud-feature-pipeline",
                    "acme-legacy-etl-output",
                    LEGACY,
                    f"features/{t:%Y/%m/%d/%H}/extract.csv.gz",
                    "GetObject",
                    "52.23.180.14",
                )
            )
            # ...and writes the features the scoring engine reads (its own account's trail: data events)
            records[FRAUD].append(
                dynamodb_record(
                    tf + timedelta(seconds=45),
                    FRAUD,
                    "fraud-feature-pipeline",
                    "fraud-feature-pipeline",
                    "fraud-features",
                    "BatchWriteItem",
                    "52.23.180.14",
                )
            )
        # the scoring engine (an ECS task) reads features for the transactions it scores
        records[FRAUD].append(
            dynamodb_record(
                t + timedelta(seconds=30),
                FRAUD,
                "fraud-scoring-engine",
                "ecs-task-7f3c2a91",
                "fraud-features",
                "Query",
                "10.30.1.10",
            )
        )
    records[DATA] += trust_changes()
    # EC2 refreshes the legacy instance's profile credentials (the session is named after the instance)
    for m in range(0, minutes, 360):
        t = EVIDENCE_START + timedelta(minutes=m, seconds=41)
        records[LEGACY].append(
            service_assume_record(t, "ec2.amazonaws.com", LEGACY, "legacy-etl-role", legacy_instance)
        )
    # a stale developer script that is refused (denied evidence, kept apart)
    for d in range(0, EVIDENCE_DAYS, 3):
        t = EVIDENCE_START + timedelta(days=d, hours=9, minutes=12)
        records[DATA].append(
            s3_record(
                t,
                FRAUD,
                "fraud-scoring-engine",
                "notebook-export",
                "acme-datalake-curated",
                DATA,
                "transactions/export.csv",
                "GetObject",
                "52.23.180.99",
                error="AccessDenied",
            )
        )
    # the fraud cluster's pods refresh their web identity credentials hourly (the SDK's default session)
    for hour in range(EVIDENCE_DAYS * 24):
        for i, sa in enumerate(K8S_APPS):
            t = EVIDENCE_START + timedelta(hours=hour, minutes=17 + 11 * i)
            records[DATA].append(web_identity_record(t, sa, hour))
    for account, recs in records.items():
        recs.sort(key=lambda r: (r["eventTime"], r["eventID"]))
        buckets: dict[datetime, list[dict[str, Any]]] = {}
        for r in recs:
            t = datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            start = t.replace(hour=(t.hour // 6) * 6, minute=0, second=0)
            buckets.setdefault(start, []).append(r)
        for start, chunk in sorted(buckets.items()):
            delivered = start + timedelta(hours=6, minutes=4)
            name = f"{account}_CloudTrail_{REGION}_{delivered:%Y%m%dT%H%MZ}_{h('ct', account, start.isoformat(), n=16)}"
            path = (
                out
                / "cloudtrail"
                / "AWSLogs"
                / account
                / "CloudTrail"
                / REGION
                / f"{start:%Y}"
                / f"{start:%m}"
                / f"{start:%d}"
                / f"{name}.json.gz"
            )
            write_gz(path, json.dumps({"Records": chunk}, separators=(",", ":")).encode())


# -- the fraud EKS cluster: kubectl get -o json, aws eks describe-cluster ------------------------------
K8S_APPS = {  # deployment -> (replicas, the CI its cmdb_ci label names)
    "fraud-scoring": (2, "Fraud Scoring Engine"),
    "fraud-batch": (1, "Fraud Feature Pipeline"),
}


def kubernetes(out: Path) -> None:
    """The cluster the fraud team runs its newer services on: fraud-scoring (part of the Fraud Scoring
    Engine) and fraud-batch (part of the Fraud Feature Pipeline), each with an IRSA service account
    annotated with eks-fraud-datalake. Shapes as kubectl and the EKS API write them."""
    created = "2026-04-20T09:00:00Z"
    started = "2026-04-20T09:00:04Z"  # the pods' startTime: before the evidence, which starts on 1 May

    def meta(name: str, ns: str | None, **more: Any) -> dict[str, Any]:
        m: dict[str, Any] = {"name": name, "uid": uuid_like("k8s", ns, name), "creationTimestamp": created}
        if ns:
            m["namespace"] = ns
        m.update(more)
        return m

    role_arn = f"arn:aws:iam::{DATA}:role/eks-fraud-datalake"
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta("fraud", None, labels={"team": "fraud"})}
    ]
    for app, (replicas, ci_name) in K8S_APPS.items():
        labels = {"app.kubernetes.io/name": app, "cmdb_ci": h("ci", ci_name)}
        digest = h("rs", app, n=10)[:9]
        items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta(app, "fraud", labels=labels),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "serviceAccountName": app,
                            "containers": [{"name": app, "image": f"acme/{app}:2026.04.2"}],
                        },
                    },
                },
                "status": {"replicas": replicas, "readyReplicas": replicas},
            }
        )
        items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": meta(
                    f"{app}-{digest}",
                    "fraud",
                    labels={**labels, "pod-template-hash": digest},
                    ownerReferences=[
                        {"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "controller": True}
                    ],
                ),
                "spec": {"replicas": replicas},
            }
        )
        for i in range(replicas):
            ip = f"10.50.{12 + i}.{40 + len(app) + i}"
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": meta(
                        f"{app}-{digest}-{h('pod', app, i, n=5)}",
                        "fraud",
                        labels={**labels, "pod-template-hash": digest},
                        ownerReferences=[
                            {
                                "apiVersion": "apps/v1",
                                "kind": "ReplicaSet",
                                "name": f"{app}-{digest}",
                                "controller": True,
                            }
                        ],
                    ),
                    "spec": {
                        "serviceAccountName": app,
                        "nodeName": f"ip-10-50-{12 + i}-10.ec2.internal",
                        "containers": [{"name": app, "image": f"acme/{app}:2026.04.2"}],
                    },
                    "status": {
                        "phase": "Running",
                        "hostIP": f"10.50.{12 + i}.10",
                        "podIP": ip,
                        "podIPs": [{"ip": ip}],
                        "startTime": started,
                        "containerStatuses": [
                            {
                                "name": app,
                                "image": f"acme/{app}:2026.04.2",
                                "ready": True,
                                "restartCount": 0,
                                "started": True,
                                "state": {"running": {"startedAt": started}},
                            }
                        ],
                    },
                }
            )
        items.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": meta(app, "fraud", annotations={"eks.amazonaws.com/role-arn": role_arn}),
            }
        )
    items.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("fraud-scoring", "fraud"),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "172.20.31.7",
                "selector": {"app.kubernetes.io/name": "fraud-scoring"},
                "ports": [{"name": "grpc", "port": 50051, "targetPort": 50051, "protocol": "TCP"}],
            },
        }
    )
    base = out / "kubernetes" / CLUSTER
    write_json(
        base / "objects.json",
        {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}},
    )
    write_json(
        base / "describe-cluster.json",
        {
            "cluster": {
                "name": CLUSTER,
                "arn": CLUSTER_ARN,
                "createdAt": "2025-10-01T12:00:00+00:00",
                "version": "1.31",
                "roleArn": f"arn:aws:iam::{FRAUD}:role/eks-cluster-role",
                "identity": {"oidc": {"issuer": f"https://{oidc_issuer()}"}},
                "status": "ACTIVE",
                "platformVersion": "eks.12",
            }
        },
    )


def web_identity_record(when: datetime, service_account: str, n: int) -> dict[str, Any]:
    """``AssumeRoleWithWebIdentity`` by a pod's service account (userIdentity type WebIdentityUser)."""
    provider = f"arn:aws:iam::{DATA}:oidc-provider/{oidc_issuer()}"
    subject = f"system:serviceaccount:fraud:{service_account}"
    role_arn = f"arn:aws:iam::{DATA}:role/eks-fraud-datalake"
    session = f"botocore-session-{int(when.timestamp())}"
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "WebIdentityUser",
            "principalId": f"{provider}:sts.amazonaws.com:{subject}",
            "userName": subject,
            "identityProvider": provider,
        },
        "eventTime": ts(when),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRoleWithWebIdentity",
        "awsRegion": REGION,
        "sourceIPAddress": "54.87.112.9",
        "userAgent": "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#6.1.112 lang/python#3.12.7",
        "requestParameters": {"roleArn": role_arn, "roleSessionName": session},
        "responseElements": {
            "credentials": {
                "accessKeyId": aws_id("ASIA", "web", service_account, when.isoformat(), n=16),
                "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN" + h("webtok", service_account, n, n=24),
                "expiration": (when + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p"),
            },
            "subjectFromWebIdentityToken": subject,
            "assumedRoleUser": {
                "assumedRoleId": f"{aws_id('AROA', DATA, 'eks-fraud-datalake')}:{session}",
                "arn": f"arn:aws:sts::{DATA}:assumed-role/eks-fraud-datalake/{session}",
            },
            "provider": provider,
            "audience": "sts.amazonaws.com",
        },
        "requestID": uuid_like("req-web", service_account, when.isoformat()),
        "eventID": uuid_like("evt-web", service_account, when.isoformat()),
        "readOnly": True,
        "resources": [{"accountId": DATA, "type": "AWS::IAM::Role", "ARN": role_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": DATA,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "sts.us-east-1.amazonaws.com",
        },
    }


# -- VPC flow logs (version 2, default format, S3 layout) ---------------------------------------------
def flowlogs(out: Path, legacy_ips: dict[str, str]) -> None:
    ((etl_ip, eni),) = legacy_ips.items()
    s3_ips = ["52.216.88.133", "52.217.44.20", "3.5.29.104"]
    for day in range(EVIDENCE_DAYS):
        d0 = EVIDENCE_START + timedelta(days=day)
        lines = [
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
        ]
        for m in range(0, 24 * 60, 10):
            t0 = int((d0 + timedelta(minutes=m)).timestamp())
            dst = s3_ips[(m // 10) % len(s3_ips)]
            sport = 32768 + (m * 7) % 28000
            lines.append(
                f"2 {LEGACY} {eni} {etl_ip} {dst} {sport} 443 6 {40 + m % 9} {48000 + m} {t0} {t0 + 60} ACCEPT OK"
            )
            lines.append(
                f"2 {LEGACY} {eni} {dst} {etl_ip} 443 {sport} 6 {52 + m % 5} {910000 + m} {t0} {t0 + 60} ACCEPT OK"
            )
        if day < 4:  # the nightly upload to the old vendor's SFTP host, until the ACL blocked it
            t0 = int((d0 + timedelta(hours=1, minutes=30)).timestamp())
            lines.append(
                f"2 {LEGACY} {eni} {etl_ip} 203.0.113.80 41022 22 6 310 2250000 {t0} {t0 + 60} ACCEPT OK"
            )
        for k in range(3):
            t0 = int((d0 + timedelta(hours=3 + 7 * k)).timestamp())
            lines.append(
                f"2 {LEGACY} {eni} 198.51.100.{23 + k} {etl_ip} 51{k}44 22 6 1 60 {t0} {t0 + 58} REJECT OK"
            )
        t0 = int((d0 + timedelta(hours=23, minutes=59)).timestamp())
        lines.append(f"2 {LEGACY} {eni} - - - - - - - {t0} {t0 + 60} - NODATA")
        flow_log_id = "fl-" + h("fl", LEGACY, n=17)
        name = f"{LEGACY}_vpcflowlogs_{REGION}_{flow_log_id}_{d0:%Y%m%dT0000Z}_{h('flh', day, n=8)}.log.gz"
        path = (
            out
            / "flowlogs"
            / "AWSLogs"
            / LEGACY
            / "vpcflowlogs"
            / REGION
            / f"{d0:%Y}"
            / f"{d0:%m}"
            / f"{d0:%d}"
            / name
        )
        write_gz(path, ("\n".join(lines) + "\n").encode())


# -- ServiceNow Table API exports ---------------------------------------------------------------------
def sn_ref(table: str, sys_id: str) -> dict[str, str]:
    return {"link": f"{SN_INSTANCE}/api/now/table/{table}/{sys_id}", "value": sys_id}


def servicenow(out: Path) -> None:
    base = out / "servicenow"
    users = {
        "fraud-owner": h("user", "m.okafor"),
        "data-owner": h("user", "l.chen"),
        "risk-owner": h("user", "p.novak"),
    }
    groups = {
        "fraud": h("grp", "fraud-platform"),
        "data": h("grp", "data-platform"),
        "risk": h("grp", "risk-eng"),
    }
    common = {
        "sys_created_by": "admin",
        "sys_created_on": "2021-06-14 09:12:44",
        "sys_updated_by": "cmdb.sync",
        "sys_updated_on": "2026-04-30 22:05:17",
        "operational_status": "1",
        "install_status": "1",
        "sys_domain": {"link": f"{SN_INSTANCE}/api/now/table/sys_user_group/global", "value": "global"},
    }

    def ci(name: str, cls: str, crit: str, owner: str, group: str, **extra: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "sys_id": h("ci", name),
            "name": name,
            "sys_class_name": cls,
            "busines_criticality": crit,
            "owned_by": sn_ref("sys_user", users[owner]),
            "support_group": sn_ref("sys_user_group", groups[group]),
            "short_description": "",
            "object_id": "",
            "correlation_id": "",
            "environment": "Production",
            "used_for": "Production",
            **common,
        }
        row.update(extra)
        return row

    services = [
        ci(
            "Fraud Detection",
            "cmdb_ci_service_business",
            "1 - most critical",
            "fraud-owner",
            "fraud",
            short_description="Real-time card transaction fraud detection",
            service_classification="Business Service",
        ),
        ci(
            "Customer Payments",
            "cmdb_ci_service_business",
            "2 - somewhat critical",
            "fraud-owner",
            "fraud",
            short_description="Card and ACH payment processing",
            service_classification="Business Service",
        ),
        ci(
            "Analytics Reporting",
            "cmdb_ci_service_business",
            "4 - not critical",
            "data-owner",
            "data",
            short_description="Internal BI dashboards",
            service_classification="Business Service",
        ),
    ]
    apps = [
        ci(
            "Fraud Scoring Engine",
            "cmdb_ci_appl",
            "1 - most critical",
            "fraud-owner",
            "fraud",
            short_description="Scores transactions against the fraud model",
        ),
        ci(
            "Fraud Feature Pipeline",
            "cmdb_ci_appl",
            "2 - somewhat critical",
            "fraud-owner",
            "fraud",
            short_description="Builds model features from transactions and the legacy extract",
            correlation_id=f"arn:aws:dynamodb:{REGION}:{FRAUD}:table/fraud-features",  # its feature store
        ),
        ci(
            "Legacy Fraud ETL",
            "cmdb_ci_appl",
            "3 - less critical",
            "risk-owner",
            "risk",
            short_description="Nightly-turned-continuous batch ETL (2017)",
        ),
        ci(
            "Enterprise Data Lake",
            "cmdb_ci_appl",
            "2 - somewhat critical",
            "data-owner",
            "data",
            short_description="Curated zone of the data lake",
            correlation_id="arn:aws:s3:::acme-datalake-curated",
        ),
        ci(
            "BI Warehouse",
            "cmdb_ci_appl",
            "4 - not critical",
            "data-owner",
            "data",
            short_description="Reporting warehouse",
        ),
        ci(
            "Fraud Model Training",
            "cmdb_ci_appl",
            "2 - somewhat critical",
            "fraud-owner",
            "fraud",
            short_description="Nightly retraining of the fraud model (Azure)",
        ),
        ci(
            "Fraud Training Data",
            "cmdb_ci_appl",
            "3 - less critical",
            "data-owner",
            "data",
            short_description="Labelled transaction extracts for model training (Azure Storage)",
        ),
    ]
    write_json(base / "cmdb_ci_service.json", {"result": services})
    write_json(base / "cmdb_ci.json", {"result": services + apps})
    rel_types = [
        {
            "sys_id": "1a9cb166f1571100a92eb60da2bce5c5",
            "name": "Depends on::Used by",
            "parent_descriptor": "Depends on",
            "child_descriptor": "Used by",
            **common,
        },
        {
            "sys_id": "60bc4e22c0a8010e01f074cbe6bd73c3",
            "name": "Runs on::Runs",
            "parent_descriptor": "Runs on",
            "child_descriptor": "Runs",
            **common,
        },
        {
            "sys_id": "55c95bf6c0a8010e0118ec7056ebc54d",
            "name": "Contains::Contained by",
            "parent_descriptor": "Contains",
            "child_descriptor": "Contained by",
            **common,
        },
    ]
    write_json(base / "cmdb_rel_type.json", {"result": rel_types})
    depends = "1a9cb166f1571100a92eb60da2bce5c5"
    pairs = [
        ("Fraud Detection", "Fraud Scoring Engine"),
        ("Customer Payments", "Fraud Scoring Engine"),
        ("Fraud Scoring Engine", "Fraud Feature Pipeline"),
        ("Fraud Feature Pipeline", "Legacy Fraud ETL"),
        ("Fraud Feature Pipeline", "Enterprise Data Lake"),
        ("Analytics Reporting", "BI Warehouse"),
        ("BI Warehouse", "Enterprise Data Lake"),
        ("Fraud Scoring Engine", "Fraud Model Training"),  # the engine serves the model training builds
    ]
    rels = [
        {
            "sys_id": h("rel", p, c),
            "parent": sn_ref("cmdb_ci", h("ci", p)),
            "child": sn_ref("cmdb_ci", h("ci", c)),
            "type": sn_ref("cmdb_rel_type", depends),
            "connection_strength": "Always",
            "port": "",
            "percent_outage": "",
            **common,
        }
        for p, c in pairs
    ]
    write_json(base / "cmdb_rel_ci.json", {"result": rels})


# -- the fraud team's Azure subscription: az exports, archived storage logs, Defender ----------------------
AZ_TENANT = uuid_like("azure", "tenant")
AZ_SUB = uuid_like("azure", "subscription", "acme-fraud-ml")
AZ_RG = f"/subscriptions/{AZ_SUB}/resourceGroups/fraud-ml-rg"
AZ_STORAGE = f"{AZ_RG}/providers/Microsoft.Storage/storageAccounts/acmefraudtraining"
AZ_TRAINER_IP = "10.70.1.4"


def azure(out: Path) -> None:
    """The subscription where the fraud model is retrained every night: a training VM reads labelled
    extracts from the storage account acmefraudtraining with the account key (a connection string in the
    job's config, from before Entra ID was used). The CMDB relates the training to the scoring engine, not
    to the data it reads. Shapes as `az ... -o json` prints them and as diagnostic settings archive logs."""
    base = out / "azure"
    mg = f"/providers/Microsoft.Management/managementGroups/{AZ_TENANT}"
    write_json(
        base / "management-group-show.json",
        {
            "children": [
                {
                    "children": None,
                    "displayName": "acme-fraud-ml",
                    "id": f"/subscriptions/{AZ_SUB}",
                    "name": AZ_SUB,
                    "type": "/subscriptions",
                }
            ],
            "details": {
                "parent": None,
                "updatedBy": uuid_like("azure", "admin"),
                "updatedTime": "2026-03-02T10:11:12.000000+00:00",
                "version": 2,
            },
            "displayName": "Tenant Root Group",
            "id": mg,
            "name": AZ_TENANT,
            "type": "Microsoft.Management/managementGroups",
        },
    )
    write_json(
        base / "account-list.json",
        [
            {
                "cloudName": "AzureCloud",
                "homeTenantId": AZ_TENANT,
                "id": AZ_SUB,
                "isDefault": True,
                "managedByTenants": [],
                "name": "acme-fraud-ml",
                "state": "Enabled",
                "tenantId": AZ_TENANT,
                "user": {"name": "blastwall-reader@acmefin.example", "type": "servicePrincipal"},
            }
        ],
    )
    contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"  # as "Azure built-in roles" prints it
    write_json(
        base / "role-definition-list.json",
        [
            {
                "assignableScopes": ["/"],
                "description": "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
                "id": f"/subscriptions/{AZ_SUB}/providers/Microsoft.Authorization/roleDefinitions/{contributor}",
                "name": contributor,
                "permissions": [
                    {
                        "actions": ["*"],
                        "condition": None,
                        "conditionVersion": None,
                        "dataActions": [],
                        "notActions": [
                            "Microsoft.Authorization/*/Delete",
                            "Microsoft.Authorization/*/Write",
                            "Microsoft.Authorization/elevateAccess/Action",
                            "Microsoft.Blueprint/blueprintAssignments/write",
                            "Microsoft.Blueprint/blueprintAssignments/delete",
                            "Microsoft.Compute/galleries/share/action",
                            "Microsoft.Purview/consents/write",
                            "Microsoft.Purview/consents/delete",
                        ],
                        "notDataActions": [],
                    }
                ],
                "roleName": "Contributor",
                "roleType": "BuiltInRole",
                "type": "Microsoft.Authorization/roleDefinitions",
            }
        ],
    )
    engineers = uuid_like("azure", "group", "fraud-ml-engineers")
    write_json(
        base / "role-assignment-list.json",
        [
            {
                "condition": None,
                "conditionVersion": None,
                "createdBy": uuid_like("azure", "admin"),
                "createdOn": "2026-03-02T10:20:00.000000+00:00",
                "delegatedManagedIdentityResourceId": None,
                "description": "",
                "id": f"/subscriptions/{AZ_SUB}/providers/Microsoft.Authorization/roleAssignments/{uuid_like('azure', 'ra', 'engineers')}",
                "name": uuid_like("azure", "ra", "engineers"),
                "principalId": engineers,
                "principalName": "fraud-ml-engineers",
                "principalType": "Group",
                "roleDefinitionId": f"/subscriptions/{AZ_SUB}/providers/Microsoft.Authorization/roleDefinitions/{contributor}",
                "roleDefinitionName": "Contributor",
                "scope": f"/subscriptions/{AZ_SUB}",
                "type": "Microsoft.Authorization/roleAssignments",
                "updatedBy": uuid_like("azure", "admin"),
                "updatedOn": "2026-03-02T10:20:00.000000+00:00",
            }
        ],
    )
    vnet = f"{AZ_RG}/providers/Microsoft.Network/virtualNetworks/fraud-ml-vnet"
    nsg = f"{AZ_RG}/providers/Microsoft.Network/networkSecurityGroups/training-nsg"
    subnet = f"{vnet}/subnets/training"
    write_json(
        base / "vnet-list.json",
        [
            {
                "addressSpace": {"addressPrefixes": ["10.70.0.0/16"]},
                "id": vnet,
                "location": "westeurope",
                "name": "fraud-ml-vnet",
                "provisioningState": "Succeeded",
                "resourceGroup": "fraud-ml-rg",
                "subnets": [
                    {
                        "addressPrefix": "10.70.1.0/24",
                        "id": subnet,
                        "name": "training",
                        "networkSecurityGroup": {"id": nsg, "resourceGroup": "fraud-ml-rg"},
                        "provisioningState": "Succeeded",
                        "resourceGroup": "fraud-ml-rg",
                        "serviceEndpoints": [
                            {
                                "locations": ["westeurope", "northeurope"],
                                "provisioningState": "Succeeded",
                                "service": "Microsoft.Storage",
                            }
                        ],
                        "type": "Microsoft.Network/virtualNetworks/subnets",
                    }
                ],
                "type": "Microsoft.Network/virtualNetworks",
                "virtualNetworkPeerings": [],
            }
        ],
    )
    write_json(
        base / "nsg-list.json",
        [
            {
                "defaultSecurityRules": [],
                "id": nsg,
                "location": "westeurope",
                "name": "training-nsg",
                "resourceGroup": "fraud-ml-rg",
                "securityRules": [
                    {
                        "access": "Allow",
                        "destinationAddressPrefix": "Storage.WestEurope",
                        "destinationAddressPrefixes": [],
                        "destinationPortRange": "443",
                        "destinationPortRanges": [],
                        "direction": "Outbound",
                        "id": f"{nsg}/securityRules/allow-storage-out",
                        "name": "allow-storage-out",
                        "priority": 100,
                        "protocol": "Tcp",
                        "provisioningState": "Succeeded",
                        "resourceGroup": "fraud-ml-rg",
                        "sourceAddressPrefix": "VirtualNetwork",
                        "sourceAddressPrefixes": [],
                        "sourcePortRange": "*",
                        "sourcePortRanges": [],
                        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                    }
                ],
                "subnets": [{"id": subnet, "resourceGroup": "fraud-ml-rg"}],
                "type": "Microsoft.Network/networkSecurityGroups",
            }
        ],
    )
    nic = f"{AZ_RG}/providers/Microsoft.Network/networkInterfaces/fraud-trainer-nic"
    write_json(
        base / "nic-list.json",
        [
            {
                "id": nic,
                "ipConfigurations": [
                    {
                        "id": f"{nic}/ipConfigurations/ipconfig1",
                        "name": "ipconfig1",
                        "primary": True,
                        "privateIPAddress": AZ_TRAINER_IP,
                        "privateIPAddressVersion": "IPv4",
                        "privateIPAllocationMethod": "Dynamic",
                        "subnet": {"id": subnet, "resourceGroup": "fraud-ml-rg"},
                    }
                ],
                "location": "westeurope",
                "name": "fraud-trainer-nic",
                "networkSecurityGroup": None,
                "resourceGroup": "fraud-ml-rg",
                "tags": {"cmdb_ci": "Fraud Model Training"},
                "type": "Microsoft.Network/networkInterfaces",
                "virtualMachine": {
                    "id": f"{AZ_RG}/providers/Microsoft.Compute/virtualMachines/fraud-trainer",
                    "resourceGroup": "fraud-ml-rg",
                },
            }
        ],
    )
    write_json(
        base / "storage-account-list.json",
        [
            {
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": True,
                "id": AZ_STORAGE,
                "kind": "StorageV2",
                "location": "westeurope",
                "minimumTlsVersion": "TLS1_2",
                "name": "acmefraudtraining",
                "networkRuleSet": {
                    "bypass": "AzureServices",
                    "defaultAction": "Deny",
                    "ipRules": [],
                    "virtualNetworkRules": [
                        {"action": "Allow", "state": "Succeeded", "virtualNetworkResourceId": subnet}
                    ],
                },
                "publicNetworkAccess": "Enabled",
                "resourceGroup": "fraud-ml-rg",
                "sku": {"name": "Standard_LRS", "tier": "Standard"},
                "tags": {"cmdb_ci": "Fraud Training Data"},
                "type": "Microsoft.Storage/storageAccounts",
            }
        ],
    )
    # storage logs: the nightly retraining reads the extracts with the account key at 02:00
    account = AZ_STORAGE.replace(AZ_SUB, AZ_SUB.upper())
    for day in range(EVIDENCE_DAYS):
        when = EVIDENCE_START + timedelta(days=day, hours=2)
        folder = (
            out
            / "azure-logs"
            / "insights-logs-storageread"
            / f"resourceId=/SUBSCRIPTIONS/{AZ_SUB.upper()}/RESOURCEGROUPS/FRAUD-ML-RG/PROVIDERS/MICROSOFT.STORAGE/STORAGEACCOUNTS/ACMEFRAUDTRAINING/BLOBSERVICES/DEFAULT"
            / f"y={when:%Y}"
            / f"m={when:%m}"
            / f"d={when:%d}"
            / f"h={when:%H}"
            / "m=00"
        )
        records = []
        for k, blob in enumerate(
            ("labels/latest.parquet", "features/latest.parquet", "holdout/latest.parquet")
        ):
            t = when + timedelta(minutes=4 + 7 * k, seconds=13)
            records.append(
                {
                    "time": f"{t:%Y-%m-%dT%H:%M:%S}.{h('az-ms', day, k, n=7).translate(str.maketrans('abcdef', '123456'))}Z",
                    "resourceId": f"{account}/blobServices/default",
                    "category": "StorageRead",
                    "operationName": "GetBlob",
                    "operationVersion": "2021-08-06",
                    "schemaVersion": "1.0",
                    "statusCode": 200,
                    "statusText": "Success",
                    "durationMs": 41,
                    "callerIpAddress": f"{AZ_TRAINER_IP}:{49152 + day * 3 + k}",
                    "correlationId": uuid_like("az-log", day, k),
                    "identity": {"type": "AccountKey", "tokenHash": "key1(0C5D1E9A5B7F3A8C)"},
                    "location": "westeurope",
                    "properties": {
                        "accountName": "acmefraudtraining",
                        "userAgentHeader": "azsdk-python-storage-blob/12.19.0 Python/3.11.9 (Linux-6.8.0-azure-x86_64)",
                        "serviceType": "blob",
                        "objectKey": f"/acmefraudtraining/extracts/{blob}",
                    },
                    "uri": f"https://acmefraudtraining.blob.core.windows.net/extracts/{blob}",
                    "protocol": "HTTPS",
                    "resourceType": "Microsoft.Storage/storageAccounts/blobServices",
                }
            )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "PT1H.json").write_text(
            "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        )
    # Defender for Cloud: the recommendation the platform team's auto-remediation would apply
    assessment = uuid_like("azure", "assessment", "shared-key")
    write_json(
        out / "findings" / "defender-assessments.json",
        [
            {
                "displayName": "Storage accounts should prevent shared key access",
                "id": f"{AZ_STORAGE}/providers/Microsoft.Security/assessments/{assessment}",
                "metadata": {
                    "assessmentType": "BuiltIn",
                    "displayName": "Storage accounts should prevent shared key access",
                    "implementationEffort": "Low",
                    "severity": "Medium",
                    "userImpact": "High",
                },
                "name": assessment,
                "resourceDetails": {"Id": AZ_STORAGE, "Source": "Azure"},
                "resourceGroup": "fraud-ml-rg",
                "status": {
                    "cause": "",
                    "code": "Unhealthy",
                    "description": "Shared key access is allowed on the storage account",
                },
                "type": "Microsoft.Security/assessments",
            }
        ],
    )


# -- Security Hub findings (IAM Access Analyzer, ASFF) ------------------------------------------------
def findings(out: Path) -> None:
    created = COLLECTED_AT - timedelta(minutes=48)

    def finding(
        account: str, role_name: str, principal: str, condition: str, severity: str, norm: int
    ) -> dict[str, Any]:
        arn = f"arn:aws:iam::{account}:role/{role_name}"
        analyzer = f"arn:aws:access-analyzer:{REGION}:{account}:analyzer/account-analyzer"
        return {
            "SchemaVersion": "2018-10-08",
            "Id": f"{analyzer}/{arn}/{principal}",
            "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/access-analyzer",
            "ProductName": "IAM Access Analyzer",
            "CompanyName": "AWS",
            "Region": REGION,
            "GeneratorId": "aws/access-analyzer",
            "AwsAccountId": account,
            "Types": [
                "Software and Configuration Checks/AWS Security Best Practices/External Access Granted"
            ],
            "CreatedAt": ts(created),
            "UpdatedAt": ts(created),
            "Severity": {"Product": norm, "Label": severity, "Normalized": norm},
            "Title": f"AwsIamRole/{arn}/ allows cross-account access",
            "Description": f"AWS::IAM::Role/{arn}/ allows cross-account access from AWS {principal}",
            "Remediation": {
                "Recommendation": {
                    "Text": "If the access isn't intended, it indicates a potential security risk. Use the console "
                    "for the resource to modify or remove the policy that grants the unintended access."
                }
            },
            "SourceUrl": f"https://console.aws.amazon.com/access-analyzer/home?region={REGION}#/findings/details/{uuid_like('aa', arn, principal)}",
            "ProductFields": {
                "ResourceOwnerAccount": account,
                "aws/securityhub/FindingId": f"arn:aws:securityhub:{REGION}::product/aws/access-analyzer/{uuid_like('sh', arn, principal)}",
                "aws/securityhub/ProductName": "IAM Access Analyzer",
                "aws/securityhub/CompanyName": "AWS",
            },
            "Resources": [
                {
                    "Type": "AwsIamRole",
                    "Id": arn,
                    "Partition": "aws",
                    "Region": REGION,
                    "Details": {
                        "Other": {
                            "External Principal Type": "AWS",
                            "Condition": condition,
                            "Action Granted": "sts:AssumeRole",
                            "External Principal": principal,
                        }
                    },
                }
            ],
            "WorkflowState": "NEW",
            "Workflow": {"Status": "NEW"},
            "RecordState": "ACTIVE",
        }

    write_json(
        out / "findings" / "securityhub-access-analyzer.json",
        {
            "Findings": [
                finding(DATA, "datalake-reader", LEGACY, "none", "HIGH", 70),
                finding(DATA, "vendor-support-access", VENDOR, "sts:ExternalId", "MEDIUM", 40),
                finding(MGMT, "old-vendor-audit", OLD_VENDOR, "none", "HIGH", 70),
            ]
        },
    )


PLATFORM_PROPOSALS = f"""\
# Proposed by the platform team's IAM hygiene pipeline: IRSA trusts that admit every service account of
# a namespace are narrowed to the service accounts the CMDB lists as the role's users.
blastwall_proposals: 1
proposals:
  - id: IAMHYG-0412
    title: Narrow the IRSA trust of eks-fraud-datalake to the service account the CMDB lists
    severity: medium
    proposer: platform-iam-hygiene
    change:
      kind: iam.update_trust_policy
      target: arn:aws:iam::{DATA}:role/eks-fraud-datalake
      delta:
        restrict_web_identity_subjects:
          - system:serviceaccount:fraud:fraud-batch
"""


TIER_POLICY = """\
# ACME Financial: authorization tiers for automated remediation.
# Owned by the CISO; changes go through the security governance board (minutes ref SGB-2026-04).
schema_version: 1
policy_id: acme-remediation-tiers
version: "2026.05"
authority: "ACME Financial Information Security Policy ISP-7.3: Change Management for Automated Remediation"
owner_role: CISO
owner: "Dana Whitfield"
effective: "2026-05-01"
evidence_window_days: 90
# Rules are tried in order; the first that matches decides. Unknowns never reach `auto`, whatever a rule says.
rules:
  - id: critical-undocumented-dependency
    description: Cuts observed use that the CMDB does not document and that high or critical services sit behind.
    when:
      severed_observed_min: 1
      undocumented_min: 1
      impacted_criticality_at_least: high
    tier: cab
    approver_role: change-advisory-board
  - id: severed-observed-use
    description: Cuts observed use; the owner of what depends on it must agree.
    when:
      severed_observed_min: 1
    tier: approval
    approver_role: service-owner
  - id: unknown-impact
    description: Blastwall could not see everything it needed to decide.
    when:
      unknowns_min: 1
    tier: approval
    approver_role: cloud-security-lead
  - id: no-observed-impact
    description: Nothing observed is cut and nothing is unknown.
    when: {}
    tier: auto
"""


def last_accessed(account: str) -> dict[str, Any]:
    """GetServiceLastAccessedDetails per role (the job's completed response), keyed by role ARN."""
    used = {
        DATA: {"datalake-reader": [("Amazon S3", "s3")], "vendor-support-access": [], "datalake-admin": []},
        LEGACY: {
            "legacy-etl-role": [("AWS Security Token Service", "sts"), ("Amazon S3", "s3")],
            "legacy-ops-automation": [],
        },
        FRAUD: {
            "fraud-feature-pipeline": [("AWS Security Token Service", "sts"), ("Amazon S3", "s3")],
            "fraud-scoring-engine": [("Amazon DynamoDB", "dynamodb")],
        },
    }.get(account, {})
    last = COLLECTED_AT - timedelta(minutes=7)
    out = {}
    for role_name, services in used.items():
        arn = f"arn:aws:iam::{account}:role/{role_name}"
        rows: list[dict[str, Any]] = [
            {
                "ServiceName": name,
                "ServiceNamespace": ns,
                "LastAuthenticated": ts(last),
                "LastAuthenticatedEntity": arn,
                "LastAuthenticatedRegion": REGION,
                "TotalAuthenticatedEntities": 1,
            }
            for name, ns in services
        ]
        rows.append(
            {
                "ServiceName": "AWS Key Management Service",
                "ServiceNamespace": "kms",
                "TotalAuthenticatedEntities": 0,
            }
        )
        out[arn] = {
            "JobStatus": "COMPLETED",
            "JobType": "SERVICE_LEVEL",
            "JobCreationDate": ts(COLLECTED_AT - timedelta(minutes=2)),
            "JobCompletionDate": ts(COLLECTED_AT - timedelta(minutes=1)),
            "ServicesLastAccessed": rows,
            "IsTruncated": False,
        }
    return out


def main(out: Path) -> None:
    for account in ACCOUNT_NAMES:
        write_json(
            out / "aws" / account / "global" / "iam-GetAccountAuthorizationDetails.json", gaad(account)
        )
        if last_accessed(account):
            write_json(
                out / "aws" / account / "global" / "iam-GetServiceLastAccessedDetails.json",
                last_accessed(account),
            )
        s3(out, account)
    ips = {}
    for account in ACCOUNT_NAMES:
        ips[account] = ec2(out, account)
        resource_policies(out, account)
    organizations(out)
    cloudtrail(out)
    flowlogs(out, ips[LEGACY])
    servicenow(out)
    findings(out)
    cspm_run(out)
    kubernetes(out)
    azure(out)
    (out / "findings" / "platform-iam-hygiene.yaml").write_text(PLATFORM_PROPOSALS)
    (out / "policy").mkdir(parents=True, exist_ok=True)
    (out / "policy" / "tier-policy.yaml").write_text(TIER_POLICY)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "acme-fin")
