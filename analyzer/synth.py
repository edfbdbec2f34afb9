"""A synthetic enterprise in the real formats of ``data/samples/`` (``blastwall synth``), deterministic for a
seed.

What is written under ``OUT`` (the sample's layout, so ``blastwall ingest``/``load`` read it unchanged):

- ``aws/<account>/global/`` and ``aws/<account>/us-east-1/``: GetAccountAuthorizationDetails, Organizations,
  S3 (ListBuckets, GetBucketPolicy, GetBucketTagging) and EC2/VPC Describe* responses;
- ``cloudtrail/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz``: AssumeRole management events;
- ``flowlogs/AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/*.log.gz``: flow log version 2 records;
- ``servicenow/<table>.json``: Table API exports (``cmdb_ci_service``, ``cmdb_ci``, ``cmdb_rel_ci``,
  ``cmdb_rel_type``);
- ``findings/``: proposals as Blastwall's own file and as Security Hub ASFF (IAM Access Analyzer);
- ``policy/tier-policy.yaml`` and ``synth.json`` (seed, scale, the evidence window's end, counts).

Shaped like real organizations: provider roles and security groups drawn with Zipf popularity (a few hubs
that many consumers use), cross-account pipelines, 20-40 % of observed service-to-service dependencies
missing from the CMDB, and some accounts that keep no CloudTrail or flow logs (their use cannot be seen:
the scorer says unknown, never safe).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     counts = generate("S", 7, Path(d))
...     (Path(d) / "synth.json").is_file(), counts["accounts"]
(True, 6)
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
FLOW_PORTS = (443, 8443, 5432, 6379)
FLOW_PORT_SHARE = (0.6, 0.2, 0.1, 0.1)


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


@dataclass
class _Role:
    arn: str
    account: str
    service: str


def generate(scale: str, seed: int, out: Path, overlapping_cidrs: bool = False) -> dict[str, int]:
    """Write the synthetic enterprise under ``out`` (which must be empty or absent); return what was written.
    ``overlapping_cidrs``: every account's VPC is 10.0.0.0/16, so the same private addresses exist in every
    account (as in real organizations): only the interface a flow record names tells them apart."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    sc = SCALES[scale]
    rng = np.random.default_rng(seed)
    accounts = [f"{300000000000 + i * 104729:012d}" for i in range(sc.accounts)]
    mgmt = accounts[0]
    # about one account in eight keeps no CloudTrail and no flow logs
    dark = {accounts[i] for i in range(1, sc.accounts) if i % 8 == 3}
    services = [f"svc-{i:04d}" for i in range(sc.services)]
    counts: dict[str, int] = {"accounts": len(accounts), "accounts_without_logs": len(dark)}

    # --- identities: roles owned by services; providers drawn by popularity -------------------------
    roles: list[_Role] = []
    svc_of_slot = _zipf_pick(rng, len(services), sc.accounts * sc.roles_per_account, 1.3)
    for ai, a in enumerate(accounts):
        for slot in range(sc.roles_per_account):
            svc = services[int(svc_of_slot[ai * sc.roles_per_account + slot])]
            roles.append(_Role(f"arn:aws:iam::{a}:role/{svc}-r{slot:03d}", a, svc))
    order = rng.permutation(len(roles))  # popularity rank -> role
    deps: list[tuple[int, int]] = []  # (consumer role, provider role): observed AssumeRole
    trusts: dict[int, set[str]] = {}
    fan = 1 + rng.integers(0, 3, len(roles))
    providers = order[_zipf_pick(rng, len(roles), int(fan.sum()))]
    k = 0
    for ci in range(len(roles)):
        for _ in range(int(fan[ci])):
            pi = int(providers[k])
            k += 1
            if pi == ci or roles[pi].service == roles[ci].service:
                continue
            deps.append((ci, pi))
            consumer = roles[ci]
            by_root = rng.random() < 0.3 and consumer.account != roles[pi].account
            trusts.setdefault(pi, set()).add(
                f"arn:aws:iam::{consumer.account}:root" if by_root else consumer.arn
            )
    deps = sorted(set(deps))
    counts["roles"] = len(roles)
    counts["assume_dependencies"] = len(deps)
    by_account: dict[str, list[int]] = {}
    for i, role in enumerate(roles):
        by_account.setdefault(role.account, []).append(i)

    inline = {
        "PolicyName": "workload",
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AssumeProviders", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                {
                    "Sid": "Data",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": "*",
                },
            ],
        },
    }
    for a in accounts:
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
                    "Tags": [{"Key": "cmdb_ci", "Value": r.service}],
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

    # --- data: buckets read by roles of other services ----------------------------------------------
    buckets = 0
    for ai, a in enumerate(accounts):
        names = [f"synth-{ai:03d}-data-{b:03d}" for b in range(sc.buckets_per_account)]
        buckets += len(names)
        owners = _zipf_pick(rng, len(services), len(names), 1.3)
        readers = rng.integers(0, len(roles), len(names))
        _write(
            out / "aws" / a / "global" / "s3-ListBuckets.json",
            {
                "Buckets": [{"Name": n, "CreationDate": "2024-01-02T03:04:05Z"} for n in names],
                "Owner": {"DisplayName": f"synth-{ai:03d}", "ID": _h("owner", a, n=64)},
            },
        )
        _write(
            out / "aws" / a / "global" / "s3-GetBucketTagging.json",
            {
                n: {"TagSet": [{"Key": "cmdb_ci", "Value": services[int(owners[j])]}]}
                for j, n in enumerate(names)
            },
        )
        policies = {}
        for j, n in enumerate(names):
            reader = roles[int(readers[j])]
            policies[n] = {
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "Reader",
                                "Effect": "Allow",
                                "Principal": {"AWS": reader.arn},
                                "Action": ["s3:GetObject", "s3:ListBucket"],
                                "Resource": [f"arn:aws:s3:::{n}", f"arn:aws:s3:::{n}/*"],
                            }
                        ],
                    }
                )
            }
        _write(out / "aws" / a / "global" / "s3-GetBucketPolicy.json", policies)
    counts["buckets"] = buckets

    # --- network: shared security groups with Zipf fan-in, ENIs, observed flows ------------------------
    enis_of: dict[str, list[tuple[str, str, list[str]]]] = {}  # account -> (eni, ip, groups)
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
        member = _zipf_pick(rng, len(groups), sc.enis_per_account, 1.4)
        n_extra = rng.choice(3, sc.enis_per_account, p=[0.3, 0.4, 0.3])
        extra = _zipf_pick(rng, len(groups), 2 * sc.enis_per_account, 1.4)
        enis = []
        rows = []
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
            rows.append((eni, ip, gs))
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
                    "TagSet": [
                        {
                            "Key": "cmdb_ci",
                            "Value": services[int(svc_of_slot[(ai * 7 + e) % len(svc_of_slot)])],
                        }
                    ],
                }
            )
        enis_of[a] = rows
        _write(reg / "ec2-DescribeNetworkInterfaces.json", {"NetworkInterfaces": enis})
        _write(reg / "ec2-DescribeInstances.json", {"Reservations": []})
    counts["security_groups"] = sc.accounts * sc.groups_per_account
    counts["security_group_rules"] = group_rules
    counts["enis"] = sc.accounts * sc.enis_per_account

    # --- CloudTrail: AssumeRole along the dependencies, hubs far more often ---------------------------
    weight = np.bincount(np.array([p for _c, p in deps], dtype=np.int64), minlength=len(roles)).astype(float)
    w = np.array([weight[p] for _c, p in deps]) if deps else np.zeros(0)
    w = w / w.sum() if len(w) else w
    events = 0
    used = np.zeros(len(deps), dtype=bool)
    for day in range(DAYS):
        d0 = START + timedelta(days=day)
        picks = rng.choice(len(deps), size=sc.assumes_per_day, p=w) if deps else np.zeros(0, dtype=int)
        per_account: dict[str, list[dict[str, Any]]] = {}
        for seq, i in enumerate(picks.tolist()):
            consumer, provider = roles[deps[i][0]], roles[deps[i][1]]
            if provider.account in dark:
                continue
            used[i] = True
            t = d0 + timedelta(seconds=int(seq * 86400 / max(1, sc.assumes_per_day)))
            session = f"synth-{day}-{seq}"
            cname = consumer.arn.rsplit("/", 1)[-1]
            role_id = "AROA" + _h("role", consumer.arn, n=17).upper()
            per_account.setdefault(provider.account, []).append(
                {
                    "eventVersion": "1.08",
                    "userIdentity": {
                        "type": "AssumedRole",
                        "principalId": f"{role_id}:{session}",
                        "arn": f"arn:aws:sts::{consumer.account}:assumed-role/{cname}/{session}",
                        "accountId": consumer.account,
                        "sessionContext": {
                            "sessionIssuer": {
                                "type": "Role",
                                "principalId": role_id,
                                "arn": consumer.arn,
                                "accountId": consumer.account,
                                "userName": cname,
                            },
                            "attributes": {
                                "creationDate": _ts(t - timedelta(minutes=5)),
                                "mfaAuthenticated": "false",
                            },
                        },
                    },
                    "eventTime": _ts(t),
                    "eventSource": "sts.amazonaws.com",
                    "eventName": "AssumeRole",
                    "awsRegion": REGION,
                    "sourceIPAddress": "10.0.0.10",
                    "userAgent": "aws-sdk-java/2.25.0",
                    "requestParameters": {"roleArn": provider.arn, "roleSessionName": session},
                    "responseElements": {
                        "assumedRoleUser": {
                            "assumedRoleId": f"AROA{_h('role', provider.arn, n=17).upper()}:{session}",
                            "arn": f"arn:aws:sts::{provider.account}:assumed-role/{provider.arn.rsplit('/', 1)[-1]}/{session}",
                        }
                    },
                    "requestID": _h("req", day, seq, n=32),
                    "eventID": _h("evt", day, seq, n=32),
                    "readOnly": True,
                    "resources": [
                        {"accountId": provider.account, "type": "AWS::IAM::Role", "ARN": provider.arn}
                    ],
                    "eventType": "AwsApiCall",
                    "managementEvent": True,
                    "recipientAccountId": provider.account,
                    "eventCategory": "Management",
                    "tlsDetails": {"tlsVersion": "TLSv1.3", "clientProvidedHostHeader": "sts.amazonaws.com"},
                }
            )
        for a, recs in per_account.items():
            events += len(recs)
            _gz(_trail_file(out, a, d0, day), json.dumps({"Records": recs}, separators=(",", ":")))
    for a in sorted(set(accounts) - dark):  # an account with a trail but a quiet week still has coverage
        if not (out / "cloudtrail" / "AWSLogs" / a).exists():
            _gz(_trail_file(out, a, START, -1), json.dumps({"Records": []}))
    counts["cloudtrail_events"] = events

    # --- flow logs: ENI to ENI on service ports within each account, towards popular ENIs -------------
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    flows = 0
    for a in accounts:
        if a in dark:
            continue
        rows = enis_of[a]
        for day in range(DAYS):
            per_day = max(1, sc.flows_per_day // sc.accounts)
            src = rng.integers(0, len(rows), per_day).tolist()
            dst = _zipf_pick(rng, len(rows), per_day, 1.3).tolist()
            service = rng.choice(len(FLOW_PORTS), per_day, p=FLOW_PORT_SHARE).tolist()
            t0 = int((START + timedelta(days=day)).timestamp())
            step = max(1, 86400 // per_day)
            lines = [header]
            for j in range(per_day):
                s, d = rows[src[j]], rows[dst[j]]
                if s[0] == d[0]:
                    continue
                ts = t0 + (j * step) % 86400
                tail = f"{s[1]} {d[1]} {49152 + j % 16000} {FLOW_PORTS[service[j]]} 6 10 4200 {ts} {ts + 60} ACCEPT OK"
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
    counts["flows"] = flows

    # --- ServiceNow: services and the relations someone documented ------------------------------------
    sys_id = {s: _h("sys", s, n=32) for s in services}
    crit = rng.choice(len(CRITICALITY), len(services), p=[0.1, 0.2, 0.4, 0.3])
    ci_rows = [
        {
            "sys_id": sys_id[s],
            "name": s,
            "sys_class_name": "cmdb_ci_service_business",
            "busines_criticality": CRITICALITY[int(crit[i])],
            "operational_status": "1",
            "install_status": "1",
            "environment": "Production",
            "service_classification": "Business Service",
            "owned_by": _ref("sys_user", _h("owner", s, n=32)),
            "support_group": _ref("sys_user_group", _h("group", s, n=32)),
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
    observed_pairs = sorted(
        {(roles[c].service, roles[p].service) for (c, p), u in zip(deps, used, strict=True) if u}
    )
    document = rng.random(len(observed_pairs)) < rng.uniform(0.6, 0.8)
    documented = [pair for pair, keep in zip(observed_pairs, document, strict=True) if keep]
    _write(
        out / "servicenow" / "cmdb_rel_ci.json",
        {
            "result": [
                {
                    "sys_id": _h("rel", c, p, n=32),
                    "parent": _ref("cmdb_ci", sys_id[c]),
                    "child": _ref("cmdb_ci", sys_id[p]),
                    "type": _ref("cmdb_rel_type", rel_type),
                    "connection_strength": "Always",
                }
                for c, p in documented
            ]
        },
    )
    counts["observed_service_dependencies"] = len(observed_pairs)
    counts["documented_service_dependencies"] = len(documented)

    # --- proposals: trust narrowing (own file), external access (ASFF), SSH to the world -------------
    ranked = sorted(trusts, key=lambda i: (-len(trusts[i]), roles[i].arn))
    own: list[dict[str, Any]] = []
    asff: list[dict[str, Any]] = []
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    for j in range(sc.proposals):
        i = ranked[(j // 4) % len(ranked)] if ranked else 0
        r = roles[i]
        trusted = sorted(trusts.get(i, set()))
        foreign = sorted({t.split(":")[4] for t in trusted} - {r.account})
        if j % 4 == 3 and open_ssh:
            gid = open_ssh[(j // 4) % len(open_ssh)]
            own.append(
                {
                    "id": f"SYN-{j:06d}",
                    "title": f"Close SSH to the world on {gid}",
                    "severity": "high",
                    "proposer": "synth",
                    "change": {"kind": "sg.revoke_rules", "target": gid, "delta": {"ingress": [ssh]}},
                }
            )
            continue
        if j % 4 != 2 or not foreign:
            if j % 2 and foreign:
                delta: dict[str, Any] = {"remove_principals_of_account": [foreign[j % len(foreign)]]}
            else:
                keep = trusted[: max(1, len(trusted) // 2)] or [f"arn:aws:iam::{r.account}:root"]
                delta = {
                    "new_document": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Principal": {"AWS": keep}, "Action": "sts:AssumeRole"}
                        ],
                    }
                }
            own.append(
                {
                    "id": f"SYN-{j:06d}",
                    "title": f"Narrow the trust of {r.arn}",
                    "severity": "medium",
                    "proposer": "synth",
                    "change": {"kind": "iam.update_trust_policy", "target": r.arn, "delta": delta},
                }
            )
            continue
        ext = foreign[j % len(foreign)]
        fid = f"arn:aws:access-analyzer:{REGION}:{r.account}:analyzer/synth/{r.arn}/{ext}/{j}"
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
    counts["proposals"] = len(own) + len(asff)

    policy = Path(__file__).parent / "governance" / "default-tier-policy.yaml"
    (out / "policy").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(policy, out / "policy" / "tier-policy.yaml")
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
