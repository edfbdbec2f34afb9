"""A synthetic enterprise in the real formats of ``data/samples/`` (``blastwall synth``), deterministic for a
seed, derived from a business world drawn first (``analyzer.synth_world``): services, who calls whom, which
job feeds which service, shared platforms. Its ground truth, which services each proposal really breaks,
is written beside it (``truth.json``).

What is written under ``OUT`` (the sample's layout, so ``blastwall ingest``/``load`` read it unchanged):

- ``aws/<account>/global/`` and ``aws/<account>/us-east-1/``: GetAccountAuthorizationDetails, Organizations,
  S3 (ListBuckets, GetBucketPolicy, GetBucketTagging) and EC2/VPC Describe* responses;
- ``cloudtrail/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz``: AssumeRole management events
  along the calls, S3 data events (PutObject, GetObject) along the pipelines and the telemetry;
- ``flowlogs/AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/*.log.gz``: flow log version 2 records
  between the interfaces of services that call each other, and within a service;
- ``servicenow/<table>.json``: Table API exports (``cmdb_ci_service``, ``cmdb_ci``, ``cmdb_rel_ci``,
  ``cmdb_rel_type``): 60-80 % of the real service dependencies documented;
- ``findings/``: proposals as Blastwall's own file and as Security Hub ASFF (IAM Access Analyzer);
- ``policy/tier-policy.yaml``, ``synth.json`` (seed, scale, the evidence window's end, counts) and
  ``truth.json`` (services, dependencies, and per finding the roles it cuts and the services it breaks).

Some accounts keep no CloudTrail or flow logs (their use cannot be seen: the scorer says unknown, never
safe).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     counts = generate("S", 7, Path(d))
...     (Path(d) / "synth.json").is_file(), (Path(d) / "truth.json").is_file(), counts["accounts"]
(True, True, 6)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.synth_world import World, draw

REGION = "us-east-1"
ORG = "o-synth00001"
START = datetime(2026, 5, 1, tzinfo=UTC)
DAYS = 7
CRITICALITY = ("1 - most critical", "2 - somewhat critical", "3 - less critical", "4 - not critical")
SN = "https://synth.service-now.com/api/now/table"


@dataclass(frozen=True)
class Scale:
    accounts: int
    services: int
    roles_per_account: int
    buckets_per_account: int
    groups_per_account: int
    enis_per_account: int
    assumes_per_day: int
    flows_per_day: int
    proposals: int


SCALES = {
    "S": Scale(6, 10, 12, 3, 5, 12, 80, 60, 40),
    "M": Scale(40, 120, 120, 20, 30, 400, 4_000, 20_000, 2_000),
    "L": Scale(250, 2_000, 400, 200, 200, 3_000, 40_000, 1_400_000, 10_000),
}
"""S runs in the test suite; M and L are for ``bench/``. L is about 1M nodes (mostly ENIs and roles) and
10M edges (mostly observed flows: each ENI talks to a few dozen others on a few service ports)."""
WRITES_PER_DAY = 24  # a pipeline's job writes hourly
READS_PER_DAY = 48  # its readers read every half hour


def _h(*parts: object, n: int = 12) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:n]


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, separators=(",", ":"), sort_keys=True))


def _gz(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode(), compresslevel=5, mtime=0))


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ref(table: str, sys_id: str) -> dict[str, str]:
    return {"link": f"{SN}/{table}/{sys_id}", "value": sys_id}


def _zipf_pick(rng: np.random.Generator, n: int, size: int, a: float = 1.6) -> np.ndarray:
    """``size`` indices in ``[0, n)``, index 0 most popular (power-law fan-in)."""
    return np.minimum(rng.zipf(a, size) - 1, n - 1)


def _trail_file(out: Path, account: str, day: datetime, key: int) -> Path:
    """Where CloudTrail delivers a log file: ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/``."""
    name = f"{account}_CloudTrail_{REGION}_{day:%Y%m%dT2355Z}_{_h('ct', account, key, n=16)}.json.gz"
    return out / "cloudtrail" / "AWSLogs" / account / "CloudTrail" / REGION / f"{day:%Y/%m/%d}" / name


def _session_identity(role_arn: str, session: str) -> dict[str, Any]:
    """``userIdentity`` of a call made with a role's session (CloudTrail ``AssumedRole``)."""
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    role_id = "AROA" + _h("role", role_arn, n=17).upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": role_arn,
                "accountId": account,
                "userName": name,
            },
            "attributes": {"creationDate": "", "mfaAuthenticated": "false"},
        },
    }


def _assume_event(t: datetime, consumer: str, provider: str, session: str, key: str) -> dict[str, Any]:
    """A cross- or same-account ``sts:AssumeRole`` as the role's account's trail records it."""
    ident = _session_identity(consumer, session)
    ident["sessionContext"]["attributes"]["creationDate"] = _ts(t - timedelta(minutes=5))
    p_account, p_name = provider.split(":")[4], provider.rsplit("/", 1)[-1]
    return {
        "eventVersion": "1.08",
        "userIdentity": ident,
        "eventTime": _ts(t),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": REGION,
        "sourceIPAddress": "10.0.0.10",
        "userAgent": "aws-sdk-java/2.25.0",
        "requestParameters": {"roleArn": provider, "roleSessionName": session},
        "responseElements": {
            "assumedRoleUser": {
                "assumedRoleId": f"AROA{_h('role', provider, n=17).upper()}:{session}",
                "arn": f"arn:aws:sts::{p_account}:assumed-role/{p_name}/{session}",
            }
        },
        "requestID": _h("req", key, n=32),
        "eventID": _h("evt", key, n=32),
        "readOnly": True,
        "resources": [{"accountId": p_account, "type": "AWS::IAM::Role", "ARN": provider}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": p_account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "clientProvidedHostHeader": "sts.amazonaws.com"},
    }


def _s3_event(
    t: datetime, role: str, bucket: str, account: str, key: str, event: str, n: str
) -> dict[str, Any]:
    """An S3 data event (``PutObject``/``GetObject``) as the bucket owner's trail records it."""
    ident = _session_identity(role, f"synth-{_h('s', role, t.date(), n=8)}")
    ident["sessionContext"]["attributes"]["creationDate"] = _ts(t - timedelta(minutes=1))
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": _ts(t),
        "eventSource": "s3.amazonaws.com",
        "eventName": event,
        "awsRegion": REGION,
        "sourceIPAddress": "10.0.0.11",
        "userAgent": "[aws-sdk-java/2.25.0]",
        "requestParameters": {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com", "key": key},
        "responseElements": None,
        "requestID": _h("s3req", n, n=16).upper(),
        "eventID": _h("s3evt", n, n=32),
        "readOnly": event.startswith("Get"),
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.2", "clientProvidedHostHeader": f"{bucket}.s3.amazonaws.com"},
    }
    if role.split(":")[4] != account:
        rec["sharedEventID"] = _h("s3shared", n, n=32)
    return rec


def generate(
    scale: str, seed: int, out: Path, overlapping_cidrs: bool = False, pods: int = 0, subscriptions: int = 0
) -> dict[str, int]:
    """Write the synthetic enterprise under ``out`` (which must be empty or absent); return what was written.
    ``overlapping_cidrs``: every account's VPC is 10.0.0.0/16, so the same private addresses exist in every
    account (as in real organizations): only the interface a flow record names tells them apart.
    ``pods``: that many pods in EKS clusters of the accounts that keep evidence, with Falco alerts about one
    in a hundred (``analyzer.synth_kubernetes``). ``subscriptions``: that many Azure subscriptions with their
    logs and Defender recommendations (``analyzer.synth_azure``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    sc = SCALES[scale]
    rng = np.random.default_rng(seed)
    accounts = [f"{300000000000 + i * 104729:012d}" for i in range(sc.accounts)]
    # about one account in eight keeps no CloudTrail and no flow logs
    dark = {accounts[i] for i in range(1, sc.accounts) if i % 8 == 3}
    world = draw(accounts, sc.services, sc.roles_per_account, sc.buckets_per_account, rng)
    counts: dict[str, int] = {
        "accounts": len(accounts),
        "accounts_without_logs": len(dark),
        "services": len(world.services),
        "roles": len(world.roles),
        "assume_dependencies": len(world.calls),
        "pipelines": len(world.pipelines),
    }
    trusts = _identities(out, world)
    _organizations(out, accounts)
    counts["buckets"] = _buckets(out, world, sc.buckets_per_account)
    enis_of, open_ssh, group_rules = _network(out, world, sc, rng, overlapping_cidrs)
    counts["security_groups"] = sc.accounts * sc.groups_per_account
    counts["security_group_rules"] = group_rules
    counts["enis"] = sc.accounts * sc.enis_per_account
    observed: set[tuple[int, int]] = set()
    counts["cloudtrail_events"] = _cloudtrail(out, world, sc, rng, dark, observed)
    counts["flows"] = _flowlogs(out, world, sc, rng, dark, enis_of, observed)
    documented = _servicenow(out, world, rng)
    real = {(c, p) for c, ps in world.depends.items() for p in ps}
    counts["observed_service_dependencies"] = len(observed & real)
    counts["documented_service_dependencies"] = len(documented & observed & real)
    findings = _proposals(out, world, trusts, open_ssh, sc.proposals)
    counts["proposals"] = len(findings)
    if pods:
        from analyzer.synth_kubernetes import write_clusters

        roles_of: dict[str, list[str]] = {}
        for role in world.roles:
            roles_of.setdefault(role.account, []).append(role.arn)
        lit = [a for a in accounts if a not in dark]
        counts.update({f"k8s_{k}": v for k, v in write_clusters(out, lit, roles_of, pods).items()})

    if subscriptions:
        from analyzer.synth_azure import write_subscriptions

        made = write_subscriptions(out, subscriptions, START, DAYS)
        counts.update({f"azure_{k}": v for k, v in made.items()})
        counts["proposals"] += made["defender_recommendations"]

    policy = Path(__file__).parent / "governance" / "default-tier-policy.yaml"
    (out / "policy").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(policy, out / "policy" / "tier-policy.yaml")
    names = [s.name for s in world.services]
    _write(
        out / "truth.json",
        {
            "services": [{"name": s.name, "tier": s.tier, "rank": s.rank} for s in world.services],
            "dependencies": sorted(
                [names[c], names[p], how] for c, ps in world.depends.items() for p, how in ps.items()
            ),
            "findings": findings,
        },
    )
    manifest = {
        "generator": "blastwall synth",
        "scale": scale,
        "shape": asdict(sc),
        "seed": seed,
        "evidence_start": _ts(START),
        "as_of": _ts(START + timedelta(days=DAYS)),
        "accounts_without_logs": sorted(dark),
        "overlapping_cidrs": overlapping_cidrs,
        "counts": counts,
    }
    _write(out / "synth.json", manifest)
    return counts


def _users(world: World) -> dict[int, set[int]]:
    """Role -> the roles that really assume it (calls, and jobs writing through a platform's role)."""
    users: dict[int, set[int]] = {}
    for c in world.calls:
        users.setdefault(c.provider_role, set()).add(c.consumer_role)
    for p in world.pipelines:
        if p.writer_role != p.job_role:
            users.setdefault(p.writer_role, set()).add(p.job_role)
    return users


def _identities(out: Path, world: World) -> dict[int, set[str]]:
    """Write every account's roles; return each role's trusted principals."""
    roles = world.roles
    trusts: dict[int, set[str]] = {}
    for target, users in sorted(_users(world).items()):
        for u in sorted(users):
            consumer = roles[u]
            cross = consumer.account != roles[target].account
            by_root = cross and _h("root", consumer.arn, roles[target].arn, n=2) < "4d"  # about 30 %
            trusts.setdefault(target, set()).add(
                f"arn:aws:iam::{consumer.account}:root" if by_root else consumer.arn
            )
    for target, stale in world.stale_trust.items():
        trusts.setdefault(target, set()).update(roles[s].arn for s in stale if s != target)
    inline = {
        "PolicyName": "workload",
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AssumeProviders", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                {
                    "Sid": "Data",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
                    "Resource": "*",
                },
            ],
        },
    }
    by_account: dict[str, list[int]] = {}
    for i, role in enumerate(roles):
        by_account.setdefault(role.account, []).append(i)
    for a in world.accounts:
        details = []
        for i in by_account.get(a, []):
            r = roles[i]
            principals = sorted(trusts.get(i, set())) or [f"arn:aws:iam::{a}:root"]
            details.append(
                {
                    "Path": "/",
                    "RoleName": r.arn.rsplit("/", 1)[-1],
                    "RoleId": "AROA" + _h("role", r.arn, n=17).upper(),
                    "Arn": r.arn,
                    "CreateDate": "2024-01-02T03:04:05Z",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": principals if len(principals) > 1 else principals[0]},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "InstanceProfileList": [],
                    "RolePolicyList": [inline],
                    "AttachedManagedPolicies": [],
                    "Tags": [{"Key": "cmdb_ci", "Value": world.services[r.service].name}],
                    "RoleLastUsed": {},
                }
            )
        _write(
            out / "aws" / a / "global" / "iam-GetAccountAuthorizationDetails.json",
            {
                "UserDetailList": [],
                "GroupDetailList": [],
                "RoleDetailList": details,
                "Policies": [],
                "IsTruncated": False,
            },
        )
    return trusts


def _organizations(out: Path, accounts: list[str]) -> None:
    """One organization, every account directly under the root; FullAWSAccess on the root and on each
    account (as AWS requires an allowing SCP at every level), so SCPs decide and nothing is conditional."""
    mgmt = accounts[0]
    _write(
        out / "aws" / mgmt / "global" / "organizations-DescribeOrganization.json",
        {
            "Organization": {
                "Id": ORG,
                "Arn": f"arn:aws:organizations::{mgmt}:organization/{ORG}",
                "FeatureSet": "ALL",
                "MasterAccountArn": f"arn:aws:organizations::{mgmt}:account/{ORG}/{mgmt}",
                "MasterAccountId": mgmt,
            }
        },
    )
    _write(
        out / "aws" / mgmt / "global" / "organizations-ListAccounts.json",
        {
            "Accounts": [
                {
                    "Id": a,
                    "Arn": f"arn:aws:organizations::{mgmt}:account/{ORG}/{a}",
                    "Email": f"aws+{i}@synth.example",
                    "Name": f"synth-{i:03d}",
                    "Status": "ACTIVE",
                    "JoinedMethod": "CREATED",
                    "JoinedTimestamp": "2023-01-01T00:00:00Z",
                }
                for i, a in enumerate(accounts)
            ]
        },
    )

    # every account directly under the root; FullAWSAccess on the root and on each account (as AWS requires
    # an allowing SCP at every level), so SCPs decide and nothing is conditional on them
    org_dir = out / "aws" / mgmt / "global"
    root_id = "r-syn0"
    root_arn = f"arn:aws:organizations::{mgmt}:root/{ORG}/{root_id}"
    _write(
        org_dir / "organizations-ListRoots.json",
        {
            "Roots": [
                {
                    "Id": root_id,
                    "Arn": root_arn,
                    "Name": "Root",
                    "PolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}],
                }
            ]
        },
    )
    _write(
        org_dir / "organizations-ListOrganizationalUnitsForParent.json",
        {root_id: {"OrganizationalUnits": []}},
    )
    _write(
        org_dir / "organizations-ListAccountsForParent.json",
        {
            root_id: {
                "Accounts": [
                    {
                        "Id": a,
                        "Arn": f"arn:aws:organizations::{mgmt}:account/{ORG}/{a}",
                        "Name": f"synth-{i:03d}",
                        "Status": "ACTIVE",
                    }
                    for i, a in enumerate(accounts)
                ]
            }
        },
    )
    full = {
        "Id": "p-FullAWSAccess",
        "Arn": "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess",
        "Name": "FullAWSAccess",
        "Description": "Allows access to every operation",
        "Type": "SERVICE_CONTROL_POLICY",
        "AwsManaged": True,
    }
    _write(org_dir / "organizations-ListPolicies.json", {"Policies": [full]})
    _write(
        org_dir / "organizations-DescribePolicy.json",
        {
            "p-FullAWSAccess": {
                "Policy": {
                    "PolicySummary": full,
                    "Content": json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                        }
                    ),
                }
            }
        },
    )
    _write(
        org_dir / "organizations-ListTargetsForPolicy.json",
        {
            "p-FullAWSAccess": {
                "Targets": [{"TargetId": root_id, "Arn": root_arn, "Name": "Root", "Type": "ROOT"}]
                + [
                    {
                        "TargetId": a,
                        "Arn": f"arn:aws:organizations::{mgmt}:account/{ORG}/{a}",
                        "Name": f"synth-{i:03d}",
                        "Type": "ACCOUNT",
                    }
                    for i, a in enumerate(accounts)
                ]
            }
        },
    )


def _buckets(out: Path, world: World, per_account: int) -> int:
    """Each account's buckets: the datasets of the pipelines (readers named in the bucket policy) and the
    log sink, and others nobody was seen using (one reader allowed)."""
    datasets = {p.bucket: p for p in world.pipelines}
    if world.log_sink is not None:
        datasets[world.log_sink.bucket] = world.log_sink
    homed: dict[int, list[int]] = {}
    for s in world.services:
        homed.setdefault(s.home, []).append(s.index)
    total = 0
    for ai, a in enumerate(world.accounts):
        names = [f"synth-{ai:03d}-data-{b:03d}" for b in range(per_account)]
        total += len(names)
        here = homed.get(ai) or [0]
        _write(
            out / "aws" / a / "global" / "s3-ListBuckets.json",
            {
                "Buckets": [{"Name": n, "CreationDate": "2024-01-02T03:04:05Z"} for n in names],
                "Owner": {"DisplayName": f"synth-{ai:03d}", "ID": _h("owner", a, n=64)},
            },
        )
        owner_of = {
            n: datasets[n].owner if n in datasets else here[int(_h("bo", n, n=6), 16) % len(here)]
            for n in names
        }
        _write(
            out / "aws" / a / "global" / "s3-GetBucketTagging.json",
            {n: {"TagSet": [{"Key": "cmdb_ci", "Value": world.services[owner_of[n]].name}]} for n in names},
        )
        policies = {}
        for n in names:
            if n in datasets:
                readers = sorted({world.roles[r].arn for _s, r in datasets[n].readers})
            else:
                readers = [world.roles[int(_h("br", n, n=8), 16) % len(world.roles)].arn]
            policies[n] = {
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "Reader",
                                "Effect": "Allow",
                                "Principal": {"AWS": readers if len(readers) > 1 else readers[0]},
                                "Action": ["s3:GetObject", "s3:ListBucket"],
                                "Resource": [f"arn:aws:s3:::{n}", f"arn:aws:s3:::{n}/*"],
                            }
                        ],
                    }
                )
            }
        _write(out / "aws" / a / "global" / "s3-GetBucketPolicy.json", policies)
    return total


_Eni = tuple[str, str, list[str], int, str]  # (eni, ip, groups, service, app | db)


def _network(
    out: Path, world: World, sc: Scale, rng: np.random.Generator, overlapping_cidrs: bool
) -> tuple[dict[str, list[_Eni]], list[str], int]:
    """VPCs, subnets, ACLs, routes, shared security groups with Zipf fan-in, and the interfaces of the
    services running in each account (a database's interfaces apart)."""
    accounts = world.accounts
    present: dict[int, list[int]] = {}
    for svc in world.services:
        for where in svc.accounts:
            present.setdefault(where, []).append(svc.index)
    enis_of: dict[str, list[_Eni]] = {}  # account -> its interfaces
    group_rules = 0
    open_ssh: list[str] = []
    for ai, a in enumerate(accounts):
        reg = out / "aws" / a / REGION
        vpc = f"vpc-{_h('vpc', a, n=17)}"
        octet = 0 if overlapping_cidrs else ai % 200 + 16
        cidr = f"10.{octet}.0.0/16"
        base = f"10.{octet}"
        subnets = [f"subnet-{_h('subnet', a, s, n=17)}" for s in range(2)]
        groups = [f"sg-{_h('sg', a, g, n=17)}" for g in range(sc.groups_per_account)]
        _write(
            reg / "ec2-DescribeVpcs.json",
            {
                "Vpcs": [
                    {
                        "VpcId": vpc,
                        "OwnerId": a,
                        "CidrBlock": cidr,
                        "CidrBlockAssociationSet": [
                            {"AssociationId": f"vpc-cidr-assoc-{_h('ca', a, n=17)}", "CidrBlock": cidr}
                        ],
                        "IsDefault": False,
                        "State": "available",
                    }
                ]
            },
        )
        _write(
            reg / "ec2-DescribeSubnets.json",
            {
                "Subnets": [
                    {
                        "SubnetId": s,
                        "SubnetArn": f"arn:aws:ec2:{REGION}:{a}:subnet/{s}",
                        "VpcId": vpc,
                        "OwnerId": a,
                        "CidrBlock": f"{base}.{si * 64}.0/18",
                        "AvailabilityZone": f"{REGION}{'ab'[si]}",
                        "State": "available",
                        "MapPublicIpOnLaunch": False,
                    }
                    for si, s in enumerate(subnets)
                ]
            },
        )
        acl = f"acl-{_h('acl', a, n=17)}"
        _write(
            reg / "ec2-DescribeNetworkAcls.json",
            {
                "NetworkAcls": [
                    {
                        "NetworkAclId": acl,
                        "VpcId": vpc,
                        "OwnerId": a,
                        "IsDefault": True,
                        "Entries": [
                            {
                                "RuleNumber": 100,
                                "Protocol": "-1",
                                "RuleAction": "allow",
                                "Egress": e,
                                "CidrBlock": "0.0.0.0/0",
                            }
                            for e in (False, True)
                        ]
                        + [
                            {
                                "RuleNumber": 32767,
                                "Protocol": "-1",
                                "RuleAction": "deny",
                                "Egress": e,
                                "CidrBlock": "0.0.0.0/0",
                            }
                            for e in (False, True)
                        ],
                        "Associations": [
                            {
                                "NetworkAclAssociationId": f"aclassoc-{_h('aa', s, n=17)}",
                                "NetworkAclId": acl,
                                "SubnetId": s,
                            }
                            for s in subnets
                        ],
                    }
                ]
            },
        )
        rtb = f"rtb-{_h('rtb', a, n=17)}"
        _write(
            reg / "ec2-DescribeRouteTables.json",
            {
                "RouteTables": [
                    {
                        "RouteTableId": rtb,
                        "VpcId": vpc,
                        "OwnerId": a,
                        "Routes": [
                            {
                                "DestinationCidrBlock": cidr,
                                "GatewayId": "local",
                                "Origin": "CreateRouteTable",
                                "State": "active",
                            }
                        ],
                        "Associations": [
                            {
                                "Main": True,
                                "RouteTableAssociationId": f"rtbassoc-{_h('ra', a, n=17)}",
                                "RouteTableId": rtb,
                            }
                        ],
                    }
                ]
            },
        )
        # each group admits 443 from a few other groups (hubs referenced most) and from the VPC on 8443;
        # every third is a database (5432) or cache (6379) group for its peers
        sgs = []
        for gi, gid in enumerate(groups):
            peers = sorted({groups[int(x)] for x in _zipf_pick(rng, len(groups), 2)} - {gid})
            perms: list[dict[str, Any]] = [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [],
                    "Ipv6Ranges": [],
                    "PrefixListIds": [],
                    "UserIdGroupPairs": [{"GroupId": p, "UserId": a} for p in peers]
                    or [{"GroupId": gid, "UserId": a}],
                },
                {
                    "IpProtocol": "tcp",
                    "FromPort": 8443,
                    "ToPort": 8443,
                    "IpRanges": [{"CidrIp": cidr, "Description": "vpc"}],
                    "Ipv6Ranges": [],
                    "PrefixListIds": [],
                    "UserIdGroupPairs": [],
                },
            ]
            if gi % 3 == 1:
                perms.append(
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5432 if gi % 2 else 6379,
                        "ToPort": 5432 if gi % 2 else 6379,
                        "IpRanges": [],
                        "Ipv6Ranges": [],
                        "PrefixListIds": [],
                        "UserIdGroupPairs": [{"GroupId": p, "UserId": a} for p in peers]
                        or [{"GroupId": gid, "UserId": a}],
                    }
                )
            if gi % 5 == 4:  # the kind of rule a finding is raised about
                open_ssh.append(gid)
                perms.append(
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                        "Ipv6Ranges": [],
                        "PrefixListIds": [],
                        "UserIdGroupPairs": [],
                    }
                )
            group_rules += len(perms) + 1
            sgs.append(
                {
                    "GroupId": gid,
                    "GroupName": f"synth-{gi:03d}",
                    "Description": "synthetic workload group",
                    "OwnerId": a,
                    "VpcId": vpc,
                    "IpPermissions": perms,
                    "IpPermissionsEgress": [
                        {
                            "IpProtocol": "-1",
                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                            "Ipv6Ranges": [],
                            "PrefixListIds": [],
                            "UserIdGroupPairs": [],
                        }
                    ],
                }
            )
        _write(reg / "ec2-DescribeSecurityGroups.json", {"SecurityGroups": sgs})
        here = present.get(ai) or [0]
        size = 1.0 / np.arange(1, len(here) + 1) ** 0.8
        owner = rng.choice(len(here), size=sc.enis_per_account, p=size / size.sum())
        is_db = rng.random(sc.enis_per_account) < 0.15
        member = _zipf_pick(rng, len(groups), sc.enis_per_account, 1.4)
        n_extra = rng.choice(3, sc.enis_per_account, p=[0.3, 0.4, 0.3])
        extra = _zipf_pick(rng, len(groups), 2 * sc.enis_per_account, 1.4)
        enis = []
        rows: list[_Eni] = []
        for e in range(sc.enis_per_account):
            eni = f"eni-{_h('eni', a, e, n=17)}"
            si = e % 2
            ip = f"{base}.{si * 64 + (e // 2) // 250}.{(e // 2) % 250 + 4}"
            # a workload group, and often a shared one or two more (e.g. a monitoring or a database client
            # group), drawn by the same popularity: about two groups per interface
            gs = [groups[int(member[e])]]
            for x in extra[e * 2 : e * 2 + int(n_extra[e])]:
                if groups[int(x)] not in gs:
                    gs.append(groups[int(x)])
            svc = world.services[here[int(owner[e])]]
            kind = "db" if svc.database and is_db[e] else "app"
            rows.append((eni, ip, gs, svc.index, kind))
            enis.append(
                {
                    "NetworkInterfaceId": eni,
                    "InterfaceType": "interface",
                    "OwnerId": a,
                    "SubnetId": subnets[si],
                    "VpcId": vpc,
                    "AvailabilityZone": f"{REGION}{'ab'[si]}",
                    "PrivateIpAddress": ip,
                    "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": ip}],
                    "Groups": [{"GroupId": g, "GroupName": f"synth-{groups.index(g):03d}"} for g in gs],
                    "Status": "in-use",
                    "TagSet": [{"Key": "cmdb_ci", "Value": svc.name}],
                }
            )
        enis_of[a] = rows
        _write(reg / "ec2-DescribeNetworkInterfaces.json", {"NetworkInterfaces": enis})
        _write(reg / "ec2-DescribeInstances.json", {"Reservations": []})
    return enis_of, open_ssh, group_rules


def _cloudtrail(
    out: Path,
    world: World,
    sc: Scale,
    rng: np.random.Generator,
    dark: set[str],
    observed: set[tuple[int, int]],
) -> int:
    """AssumeRole along the calls (popular providers far more often, every call at least daily), and S3
    data events along the pipelines and the telemetry, each in the trail of the account that owns the role
    or the bucket; adds the service dependencies that left evidence to ``observed``."""
    roles, services = world.roles, world.services
    weights = np.array([c.weight for c in world.calls])
    spare = max(0, sc.assumes_per_day - len(world.calls))
    log_volume = rng.integers(4, 9, len(services))
    events = 0
    for day in range(DAYS):
        d0 = START + timedelta(days=day)
        per_account: dict[str, list[dict[str, Any]]] = {}

        def record(
            account: str, rec: dict[str, Any], into: dict[str, list[dict[str, Any]]] = per_account
        ) -> None:
            into.setdefault(account, []).append(rec)

        extra = rng.multinomial(spare, weights / weights.sum()) if len(weights) else np.zeros(0, np.int64)
        for k, call in enumerate(world.calls):
            consumer, provider = roles[call.consumer_role], roles[call.provider_role]
            if provider.account in dark:
                continue
            observed.add((consumer.service, provider.service))
            n = 1 + int(extra[k])
            for j in range(n):
                t = d0 + timedelta(seconds=int((j + 0.5) * 86400 / n) + k % 600)
                key = f"{day}/{k}/{j}"
                record(
                    provider.account, _assume_event(t, consumer.arn, provider.arn, f"synth-{_h(key)}", key)
                )
        for k, p in enumerate(world.pipelines):
            account = world.accounts[p.account]
            writer, job = roles[p.writer_role], roles[p.job_role]
            for j in range(WRITES_PER_DAY):
                t = d0 + timedelta(hours=j, minutes=k % 50)
                key = f"w/{day}/{k}/{j}"
                if p.writer_role != p.job_role and writer.account not in dark:
                    observed.add((job.service, writer.service))
                    record(writer.account, _assume_event(t, job.arn, writer.arn, f"job-{_h(key)}", key))
                if account not in dark:
                    obj = f"out/{t:%Y/%m/%d/%H}/part-0.parquet"
                    record(account, _s3_event(t, writer.arn, p.bucket, account, obj, "PutObject", key))
            for ri, (svc, role) in enumerate(p.readers):
                if account in dark:
                    break
                observed.add((svc, p.producer))
                if p.owner != p.producer:
                    observed.add((svc, p.owner))
                for j in range(READS_PER_DAY):
                    t = d0 + timedelta(minutes=30 * j + 10 + ri)
                    key = f"r/{day}/{k}/{ri}/{j}"
                    obj = f"out/{t:%Y/%m/%d/%H}/part-0.parquet"
                    record(account, _s3_event(t, roles[role].arn, p.bucket, account, obj, "GetObject", key))
        sink = world.log_sink
        if sink is not None and world.accounts[sink.account] not in dark:
            account = world.accounts[sink.account]
            for s in services:
                if s.job < 0:
                    continue
                for j in range(int(log_volume[s.index])):
                    t = d0 + timedelta(minutes=int(j * 1440 / log_volume[s.index]) + s.index % 90)
                    key = f"l/{day}/{s.index}/{j}"
                    obj = f"logs/{s.name}/{t:%Y/%m/%d/%H%M}.json.gz"
                    record(
                        account, _s3_event(t, roles[s.job].arn, sink.bucket, account, obj, "PutObject", key)
                    )
            svc, role = sink.readers[0]
            observed.add((svc, sink.owner))
            for j in range(READS_PER_DAY):
                t = d0 + timedelta(minutes=30 * j + 5)
                key = f"lr/{day}/{j}"
                record(
                    account,
                    _s3_event(t, roles[role].arn, sink.bucket, account, f"logs/{j}", "GetObject", key),
                )
        for a, recs in per_account.items():
            recs.sort(key=lambda r: (r["eventTime"], r["eventID"]))
            events += len(recs)
            _gz(_trail_file(out, a, d0, day), json.dumps({"Records": recs}, separators=(",", ":")))
    for a in sorted(
        set(world.accounts) - dark
    ):  # an account with a trail but a quiet week still has coverage
        if not (out / "cloudtrail" / "AWSLogs" / a).exists():
            _gz(_trail_file(out, a, START, -1), json.dumps({"Records": []}))
    return events


def _flowlogs(
    out: Path,
    world: World,
    sc: Scale,
    rng: np.random.Generator,
    dark: set[str],
    enis_of: dict[str, list[_Eni]],
    observed: set[tuple[int, int]],
) -> int:
    """Flows where services run side by side: a caller's interfaces to its provider's (443 or 8443, and
    5432 to its database), and within a service (its application to its own database and cache)."""
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    calls = sorted(
        {(world.roles[c.consumer_role].service, world.roles[c.provider_role].service) for c in world.calls}
    )
    flows = 0
    for a in world.accounts:
        if a in dark:
            continue
        rows = enis_of[a]
        by: dict[tuple[int, str], list[int]] = {}
        for i, (_eni, _ip, _gs, svc, kind) in enumerate(rows):
            by.setdefault((svc, kind), []).append(i)
        channels: list[tuple[list[int], list[int], int, tuple[int, int] | None]] = []
        for x, y in calls:
            src, dst, db = by.get((x, "app")), by.get((y, "app")), by.get((y, "db"))
            if src and dst:
                channels.append((src, dst, 443 if (x + y) % 3 else 8443, (x, y)))
            if src and db:
                channels.append((src, db, 5432, (x, y)))
        scrapers = by.get((world.observability, "app"))
        for s in sorted({svc for _e, _i, _g, svc, _k in rows} - {world.observability}):
            if scrapers and by.get((s, "app")):
                channels.append((scrapers, by[(s, "app")], 9100, None))  # telemetry: not a dependency
            app, db = by.get((s, "app")), by.get((s, "db"))
            if app and db:
                channels.append((app, db, 5432, None))
            if app and len(app) > 1:
                channels.append((app, app, 6379, None))
        if not channels:
            continue
        for _src, _dst, _port, pair in channels:
            if pair is not None:
                observed.add(pair)
        per_day = max(len(channels), sc.flows_per_day // sc.accounts)
        for day in range(DAYS):
            picks = np.concatenate(
                [np.arange(len(channels)), rng.integers(0, len(channels), per_day - len(channels))]
            )
            u = rng.random((per_day, 2))
            t0 = int((START + timedelta(days=day)).timestamp())
            step = max(1, 86400 // per_day)
            lines = [header]
            for j, c in enumerate(picks.tolist()):
                src_list, dst_list, port, _pair = channels[c]
                s, d = (
                    rows[src_list[int(u[j, 0] * len(src_list))]],
                    rows[dst_list[int(u[j, 1] * len(dst_list))]],
                )
                if s[0] == d[0]:
                    continue
                ts = t0 + (j * step) % 86400
                tail = f"{s[1]} {d[1]} {49152 + j % 16000} {port} 6 10 4200 {ts} {ts + 60} ACCEPT OK"
                lines.append(f"2 {a} {d[0]} {tail}")  # recorded at both interfaces
                lines.append(f"2 {a} {s[0]} {tail}")
                flows += 1
            d0 = START + timedelta(days=day)
            fl = f"fl-{_h('fl', a, n=17)}"
            _gz(
                out
                / "flowlogs"
                / "AWSLogs"
                / a
                / "vpcflowlogs"
                / REGION
                / f"{d0:%Y/%m/%d}"
                / f"{a}_vpcflowlogs_{REGION}_{fl}_{d0:%Y%m%dT0000Z}_{_h('f', a, day, n=8)}.log.gz",
                "\n".join(lines) + "\n",
            )
    return flows


def _servicenow(out: Path, world: World, rng: np.random.Generator) -> set[tuple[int, int]]:
    """The services and the dependencies someone documented (60-80 % of the real ones); returns those."""
    services = world.services
    sys_id = {s.name: _h("sys", s.name, n=32) for s in services}
    crit = rng.choice(len(CRITICALITY), len(services), p=[0.1, 0.2, 0.4, 0.3])
    ci_rows = [
        {
            "sys_id": sys_id[s.name],
            "name": s.name,
            "sys_class_name": "cmdb_ci_service_business",
            "busines_criticality": CRITICALITY[int(crit[i])],
            "operational_status": "1",
            "install_status": "1",
            "environment": "Production",
            "service_classification": "Business Service",
            "owned_by": _ref("sys_user", _h("owner", s.name, n=32)),
            "support_group": _ref("sys_user_group", _h("group", s.name, n=32)),
            "sys_updated_on": "2026-04-30 22:05:17",
        }
        for i, s in enumerate(services)
    ]
    _write(out / "servicenow" / "cmdb_ci_service.json", {"result": ci_rows})
    _write(out / "servicenow" / "cmdb_ci.json", {"result": ci_rows})
    rel_type = _h("reltype", n=32)
    _write(
        out / "servicenow" / "cmdb_rel_type.json",
        {
            "result": [
                {
                    "sys_id": rel_type,
                    "name": "Depends on::Used by",
                    "parent_descriptor": "Depends on",
                    "child_descriptor": "Used by",
                }
            ]
        },
    )
    pairs = sorted((c, p) for c, ps in world.depends.items() for p in ps)
    keep = rng.random(len(pairs)) < rng.uniform(0.6, 0.8)
    documented = [pair for pair, k in zip(pairs, keep, strict=True) if k]
    _write(
        out / "servicenow" / "cmdb_rel_ci.json",
        {
            "result": [
                {
                    "sys_id": _h("rel", services[c].name, services[p].name, n=32),
                    "parent": _ref("cmdb_ci", sys_id[services[c].name]),
                    "child": _ref("cmdb_ci", sys_id[services[p].name]),
                    "type": _ref("cmdb_rel_type", rel_type),
                    "connection_strength": "Always",
                }
                for c, p in documented
            ]
        },
    )
    return set(documented)


def _allowed(arn: str, principals: set[str]) -> bool:
    return arn in principals or f"arn:aws:iam::{arn.split(':')[4]}:root" in principals


def _proposals(
    out: Path, world: World, trusts: dict[int, set[str]], open_ssh: list[str], n: int
) -> dict[str, dict[str, Any]]:
    """Findings as a CSPM raises them: narrow the trust of a role trusted widely (drop one principal, or
    every principal of another account), external access (ASFF, IAM Access Analyzer), SSH open to the
    world. Returns the truth per finding: the roles that lose an access they use, the services broken."""
    roles = world.roles
    users = _users(world)
    ranked = sorted(trusts, key=lambda i: (-len(trusts[i]), roles[i].arn))
    own: list[dict[str, Any]] = []
    asff: list[dict[str, Any]] = []
    truth: dict[str, dict[str, Any]] = {}
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}

    def cut_by(i: int, after: set[str]) -> list[int]:
        return sorted(u for u in users.get(i, set()) if not _allowed(roles[u].arn, after))

    def note(fid: str, target: str, cut: list[int]) -> None:
        broken = world.breaks(set(cut))
        truth[fid] = {
            "target": target,
            "cut": [roles[u].arn for u in cut],
            "breaks": sorted(world.services[s].name for s in broken),
        }

    for j in range(n):
        i = ranked[(j // 4) % len(ranked)] if ranked else 0
        r = roles[i]
        trusted = sorted(trusts.get(i, set()))
        foreign = sorted({t.split(":")[4] for t in trusted} - {r.account})
        fid = f"SYN-{j:06d}"
        if j % 4 == 3 and open_ssh:
            gid = open_ssh[(j // 4) % len(open_ssh)]
            own.append(
                {
                    "id": fid,
                    "title": f"Close SSH to the world on {gid}",
                    "severity": "high",
                    "proposer": "synth",
                    "change": {"kind": "sg.revoke_rules", "target": gid, "delta": {"ingress": [ssh]}},
                }
            )
            truth[fid] = {"target": gid, "cut": [], "breaks": []}  # nothing in the world uses SSH
            continue
        if j % 4 != 2 or not foreign:
            if j % 2 and foreign:
                ext = foreign[(j // 4) % len(foreign)]
                delta: dict[str, Any] = {"remove_principals_of_account": [ext]}
                after = {t for t in trusted if t.split(":")[4] != ext}
            else:  # the principal the finding says is unused (right or wrong)
                drop = trusted[(j // 4) % len(trusted)] if trusted else ""
                after = set(trusted) - {drop} or {f"arn:aws:iam::{r.account}:root"}
                delta = {
                    "new_document": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": sorted(after)},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                }
            own.append(
                {
                    "id": fid,
                    "title": f"Narrow the trust of {r.arn}",
                    "severity": "medium",
                    "proposer": "synth",
                    "change": {"kind": "iam.update_trust_policy", "target": r.arn, "delta": delta},
                }
            )
            note(fid, r.arn, cut_by(i, after))
            continue
        ext = foreign[j % len(foreign)]
        fid = f"arn:aws:access-analyzer:{REGION}:{r.account}:analyzer/synth/{r.arn}/{ext}/{j}"
        note(fid, r.arn, cut_by(i, {t for t in trusted if t.split(":")[4] != ext}))
        asff.append(
            {
                "SchemaVersion": "2018-10-08",
                "Id": fid,
                "ProductArn": f"arn:aws:securityhub:{REGION}::product/aws/access-analyzer",
                "ProductName": "IAM Access Analyzer",
                "CompanyName": "AWS",
                "Region": REGION,
                "GeneratorId": "aws/access-analyzer",
                "AwsAccountId": r.account,
                "Types": [
                    "Software and Configuration Checks/AWS Security Best Practices/External Access Granted"
                ],
                "CreatedAt": _ts(START + timedelta(days=DAYS)),
                "UpdatedAt": _ts(START + timedelta(days=DAYS)),
                "Severity": {"Label": "HIGH", "Normalized": 70, "Product": 70},
                "Title": f"AwsIamRole/{r.arn}/ allows cross-account access",
                "Description": f"AWS::IAM::Role/{r.arn}/ allows cross-account access from AWS {ext}",
                "ProductFields": {"ResourceOwnerAccount": r.account},
                "Resources": [
                    {
                        "Type": "AwsIamRole",
                        "Id": r.arn,
                        "Partition": "aws",
                        "Region": REGION,
                        "Details": {
                            "Other": {
                                "External Principal Type": "AWS",
                                "Condition": "none",
                                "Action Granted": "sts:AssumeRole",
                                "External Principal": ext,
                            }
                        },
                    }
                ],
                "WorkflowState": "NEW",
                "Workflow": {"Status": "NEW"},
                "RecordState": "ACTIVE",
            }
        )
    _write(out / "findings" / "blastwall-proposals.json", {"blastwall_proposals": 1, "proposals": own})
    if asff:
        _write(out / "findings" / "securityhub-access-analyzer.json", {"Findings": asff})
    return truth
