"""Offline AWS snapshot: ``DIR/<account_id>/<region or global>/<service>-<Operation>.json``.

get_* reads files, transform_* turns API responses into schema rows (pure), load_snapshot loads one
batch per account and cleans up what that account's previous snapshot had and this one does not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from analyzer.collector import paused
from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import Batch, EdgeRow, NodeRow, owner_of
from analyzer.graph.store import GraphStore
from analyzer.iam.policy import parse_lenient
from analyzer.inputs import guard
from analyzer.network.model import EC2_OPS
from connectors.aws.addresses import COLLECTION as ADDRESS_HISTORY
from connectors.aws.addresses import merge_history
from connectors.evidence.parallel import ahead
from connectors.jsonfile import load_json, require

SOURCE = "aws"
NETWORK = "network"
"""Store documents ``<account>/<region>`` -> the raw EC2 Describe* responses of that region."""
_ACCOUNT_DIR = re.compile(r"^\d{12}$")


@dataclass
class AccountSnapshot:
    account: str
    files: dict[tuple[str, str], Path] = field(default_factory=dict)  # (region, "svc-Op") -> path

    def get(self, region: str, op: str) -> tuple[Any, str] | None:
        path = self.files.get((region, op))
        return (load_json(path), str(path)) if path else None

    def regions(self) -> list[str]:
        return sorted({r for r, _ in self.files if r != "global"})


def get_snapshot(root: Path) -> Iterator[AccountSnapshot]:
    """Every account directory under ``root`` (the snapshot's top, or one account directory)."""
    root = Path(root)
    if not root.is_dir():
        raise BadInput("not a directory", file=str(root))
    dirs = (
        [root]
        if _ACCOUNT_DIR.match(root.name)
        else sorted(d for d in root.iterdir() if _ACCOUNT_DIR.match(d.name))
    )
    if not dirs:
        raise BadInput(
            "no <12-digit account id>/ directories found (expected DIR/<account>/<region>/<svc>-<Op>.json)",
            file=str(root),
        )
    for d in dirs:
        snap = AccountSnapshot(d.name)
        for region_dir in sorted(p for p in d.iterdir() if p.is_dir()):
            for f in sorted(region_dir.glob("*.json")):
                snap.files[(region_dir.name, f.stem)] = f
        yield snap


# -- transforms (pure) --------------------------------------------------------------------------------
def _tags(tag_list: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """AWS tags (a list of {Key, Value}, or a map) as a map of text; a key or value that is not text is
    refused (the account is skipped with the reason), never turned into the string "None"."""
    pairs = (
        tag_list.items()
        if isinstance(tag_list, dict)
        else ((t.get(key), t.get(value)) for t in tag_list or [] if isinstance(t, dict))
    )
    out = {}
    for k, v in pairs:
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"a tag's {key} and {value} must be text, found {k!r:.40}: {v!r:.40}")
        out[k] = v
    return out


def _checked_doc(doc: Any, file: str, path: str, warnings: list[str]) -> Any:
    """Check a policy document now so what cannot be read is reported with its file, place and statement
    index; keep it raw either way (analysis skips the unreadable statements and says "conditional" for
    the decisions they could change)."""
    if doc is None:
        return None
    for u in parse_lenient(doc, where=path).unreadable:
        warnings.append(
            f"{file}: {u.where}: {u.message} (statement skipped; decisions it could change are conditional)"
        )
    return doc


def transform_iam(account: str, gaad: dict[str, Any], file: str, seen: str) -> Batch:
    """GetAccountAuthorizationDetails -> principals, managed policies, instance profiles."""
    b = Batch(SOURCE)
    policies: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(gaad.get("Policies", [])):
        where = f"$.Policies[{i}]"
        arn = require(p, "Arn", file=file, path=where, types=str)
        name = p.get("PolicyName") or arn.rsplit("/", 1)[-1]  # moto omits PolicyName
        versions = p.get("PolicyVersionList") or []
        default = next((v for v in versions if v.get("IsDefaultVersion")), None)
        document = None
        if default is not None:
            j = versions.index(default)
            document = _checked_doc(
                default.get("Document"), file, f"{where}.PolicyVersionList[{j}].Document", b.warnings
            )
        policies[arn] = {"name": name, "document": document}
        b.nodes.append(  # an AWS managed policy belongs to AWS, whichever account attaches it
            NodeRow(
                arn,
                "ManagedPolicy",
                {"name": name, "document": document},
                owner_of(arn) or account,
                seen,
                seen,
            )
        )

    def principal_props(obj: dict[str, Any], where: str, inline_key: str) -> dict[str, Any]:
        inline = []
        for j, ip in enumerate(obj.get(inline_key) or []):
            doc = _checked_doc(
                ip.get("PolicyDocument"), file, f"{where}.{inline_key}[{j}].PolicyDocument", b.warnings
            )
            inline.append({"name": ip.get("PolicyName"), "document": doc})
        boundary = (obj.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return {
            "path": obj.get("Path"),
            "inline_policies": inline,
            "managed_policies": [a["PolicyArn"] for a in obj.get("AttachedManagedPolicies") or []],
            "permissions_boundary": boundary,
            "tags": _tags(obj.get("Tags")),
        }

    for i, r in enumerate(gaad.get("RoleDetailList", [])):
        where = f"$.RoleDetailList[{i}]"
        arn = require(r, "Arn", file=file, path=where, types=str)
        props = principal_props(r, where, "RolePolicyList")
        props["name"] = require(r, "RoleName", file=file, path=where, types=str)
        props["role_id"] = r.get("RoleId")
        trust = require(r, "AssumeRolePolicyDocument", file=file, path=where)
        props["trust_policy"] = _checked_doc(trust, file, f"{where}.AssumeRolePolicyDocument", b.warnings)
        props["last_used"] = (r.get("RoleLastUsed") or {}).get("LastUsedDate")
        props["instance_profiles"] = [p["Arn"] for p in r.get("InstanceProfileList") or []]
        b.nodes.append(NodeRow(arn, "IamRole", props, account, seen, seen))
        for pa in props["managed_policies"]:
            if pa not in policies:
                b.stub(pa, "ManagedPolicy", None if ":aws:policy/" in pa else account)
            b.edges.append(EdgeRow(pa, "ATTACHED", arn, account=account))
        for prof in r.get("InstanceProfileList") or []:
            b.nodes.append(
                NodeRow(
                    prof["Arn"],
                    "InstanceProfile",
                    {"name": prof.get("InstanceProfileName"), "roles": [arn]},
                    account,
                    seen,
                    seen,
                )
            )
    for i, u in enumerate(gaad.get("UserDetailList", [])):
        where = f"$.UserDetailList[{i}]"
        arn = require(u, "Arn", file=file, path=where, types=str)
        props = principal_props(u, where, "UserPolicyList")
        props["name"] = u.get("UserName")
        props["groups"] = list(u.get("GroupList") or [])
        b.nodes.append(NodeRow(arn, "IamUser", props, account, seen, seen))
        for pa in props["managed_policies"]:
            if pa not in policies:
                b.stub(pa, "ManagedPolicy", None if ":aws:policy/" in pa else account)
            b.edges.append(EdgeRow(pa, "ATTACHED", arn, account=account))
    for i, g in enumerate(gaad.get("GroupDetailList", [])):
        where = f"$.GroupDetailList[{i}]"
        arn = require(g, "Arn", file=file, path=where, types=str)
        props = principal_props(g, where, "GroupPolicyList")
        props["name"] = g.get("GroupName")
        b.nodes.append(NodeRow(arn, "IamGroup", props, account, seen, seen))
    # users -> groups by name (GAAD gives group names, not ARNs)
    group_arn = {n.props["name"]: n.id for n in b.nodes if n.kind == "IamGroup"}
    for n in [n for n in b.nodes if n.kind == "IamUser"]:
        groups = n.props.get("groups")
        for gname in groups if isinstance(groups, list) else []:
            if gname in group_arn:
                b.edges.append(EdgeRow(n.id, "MEMBER_OF", group_arn[gname], account=account))
    return b


def _collected(per_resource: dict[str, Any] | None, key: str) -> bool:
    """Whether a per-resource call was made for ``key``: the file exists and does not hold ``null`` for
    it (the collector writes ``null`` when the call was refused)."""
    return per_resource is not None and not (key in per_resource and per_resource[key] is None)


PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def s3_account_settings_id(account: str) -> str:
    """The node holding an account's S3 settings (kept apart from the account's node, which the
    organization's own data describes)."""
    return f"urn:aws:s3-account-settings:{account}"


def public_access_flags(response: Any) -> dict[str, bool]:
    """The four Block Public Access flags of a ``GetPublicAccessBlock`` response (S3 or S3 Control); a
    flag not set, or no configuration at all (``{}``), is off."""
    conf = (response or {}).get("PublicAccessBlockConfiguration") or {} if isinstance(response, dict) else {}
    return {k: bool(conf.get(k)) for k in PUBLIC_ACCESS_FLAGS}


def transform_s3(
    account: str,
    buckets: dict[str, Any],
    policies: dict[str, Any] | None,
    tagging: dict[str, Any],
    file: str,
    seen: str,
    blocks: dict[str, Any] | None = None,
) -> Batch:
    """ListBuckets with each bucket's policy, tags and Block Public Access settings. ``policies`` None:
    GetBucketPolicy was not collected, so a bucket's policy is unknown (not "none"); the same for
    ``blocks`` (``{}`` for a bucket: none configured, ``null``: the call was refused)."""
    b = Batch(SOURCE)
    for i, bk in enumerate(buckets.get("Buckets", [])):
        name = require(bk, "Name", file=file, path=f"$.Buckets[{i}]", types=str)
        policy = ((policies or {}).get(name) or {}).get("Policy")
        _checked_doc(policy, file, f"s3-GetBucketPolicy[{name}].Policy", b.warnings)
        props = {
            "name": name,
            "policy": policy,
            "policy_collected": _collected(policies, name),
            "tags": _tags((tagging.get(name) or {}).get("TagSet")),
            "created": bk.get("CreationDate"),
        }
        if blocks is not None and blocks.get(name) is not None:
            props["public_access_block"] = public_access_flags(blocks[name])
        b.nodes.append(NodeRow(f"arn:aws:s3:::{name}", "S3Bucket", props, account, seen, seen))
    return b


def transform_ec2(account: str, region: str, data: dict[str, Any], seen: str) -> Batch:
    """VPC networking: VPCs, subnets, security groups, ENIs, instances, VPC endpoints (with their
    policies) and how they connect."""
    b = Batch(SOURCE)

    def arn(kind: str, rid: str) -> str:
        return f"arn:aws:ec2:{region}:{account}:{kind}/{rid}"

    for v in (data.get("ec2-DescribeVpcs") or {}).get("Vpcs", []):
        cidrs = [c["CidrBlock"] for c in v.get("CidrBlockAssociationSet") or []] or [v.get("CidrBlock")]
        b.nodes.append(
            NodeRow(
                arn("vpc", v["VpcId"]),
                "Vpc",
                {"vpc_id": v["VpcId"], "cidrs": cidrs, "tags": _tags(v.get("Tags"))},
                account,
                seen,
                seen,
            )
        )
    for s in (data.get("ec2-DescribeSubnets") or {}).get("Subnets", []):
        sid = arn("subnet", s["SubnetId"])
        b.nodes.append(
            NodeRow(
                sid,
                "Subnet",
                {
                    "subnet_id": s["SubnetId"],
                    "cidr": s.get("CidrBlock"),
                    "az": s.get("AvailabilityZone"),
                    "tags": _tags(s.get("Tags")),
                },
                account,
                seen,
                seen,
            )
        )
        b.stub(arn("vpc", s["VpcId"]), "Vpc", account)
        b.edges.append(EdgeRow(sid, "IN_VPC", arn("vpc", s["VpcId"]), account=account))
    for g in (data.get("ec2-DescribeSecurityGroups") or {}).get("SecurityGroups", []):
        gid = arn("security-group", g["GroupId"])
        b.nodes.append(
            NodeRow(
                gid,
                "SecurityGroup",
                {
                    "group_id": g["GroupId"],
                    "name": g.get("GroupName"),
                    "ingress": g.get("IpPermissions", []),
                    "egress": g.get("IpPermissionsEgress", []),
                    "tags": _tags(g.get("Tags")),
                },
                account,
                seen,
                seen,
            )
        )
        if g.get("VpcId"):
            b.stub(arn("vpc", g["VpcId"]), "Vpc", account)
            b.edges.append(EdgeRow(gid, "IN_VPC", arn("vpc", g["VpcId"]), account=account))
    for e in (data.get("ec2-DescribeNetworkInterfaces") or {}).get("NetworkInterfaces", []):
        eid = arn("network-interface", e["NetworkInterfaceId"])
        ips = [p["PrivateIpAddress"] for p in e.get("PrivateIpAddresses") or [] if p.get("PrivateIpAddress")]
        public = (e.get("Association") or {}).get("PublicIp")
        b.nodes.append(
            NodeRow(
                eid,
                "NetworkInterface",
                {
                    "eni_id": e["NetworkInterfaceId"],
                    "vpc_id": e.get("VpcId"),
                    "private_ips": ips,
                    "public_ip": public,
                    "interface_type": e.get("InterfaceType"),
                    "tags": _tags(e.get("TagSet")),
                },
                account,
                seen,
                seen,
            )
        )
        if e.get("SubnetId"):
            b.stub(arn("subnet", e["SubnetId"]), "Subnet", account)
            b.edges.append(EdgeRow(eid, "IN_SUBNET", arn("subnet", e["SubnetId"]), account=account))
        for grp in e.get("Groups") or []:
            b.stub(arn("security-group", grp["GroupId"]), "SecurityGroup", account)
            b.edges.append(
                EdgeRow(eid, "HAS_SECURITY_GROUP", arn("security-group", grp["GroupId"]), account=account)
            )
        inst = (e.get("Attachment") or {}).get("InstanceId")
        if inst:
            b.stub(arn("instance", inst), "Ec2Instance", account)
            b.edges.append(EdgeRow(eid, "ATTACHED_TO", arn("instance", inst), account=account))
    no_token = data.get("cloudwatch-GetMetricData-MetadataNoToken")  # keyed by instance id
    for i, e in enumerate((data.get("ec2-DescribeVpcEndpoints") or {}).get("VpcEndpoints", [])):
        where = f"$.VpcEndpoints[{i}]"
        vpce = require(e, "VpcEndpointId", file="ec2-DescribeVpcEndpoints.json", path=where, types=str)
        eid = arn("vpc-endpoint", vpce)
        doc = e.get("PolicyDocument")
        if doc is not None:
            doc = _checked_doc(doc, "ec2-DescribeVpcEndpoints.json", f"{where}.PolicyDocument", b.warnings)
        b.nodes.append(
            NodeRow(
                eid,
                "VpcEndpoint",
                {
                    "vpce_id": vpce,
                    "vpc_id": e.get("VpcId"),
                    "service_name": e.get("ServiceName"),
                    "endpoint_type": e.get("VpcEndpointType"),
                    "state": e.get("State"),
                    "policy": doc,  # None: the service takes no endpoint policy (full access)
                    "tags": _tags(e.get("Tags")),
                },
                account,
                seen,
                seen,
            )
        )
        if e.get("VpcId"):
            b.stub(arn("vpc", e["VpcId"]), "Vpc", account)
            b.edges.append(EdgeRow(eid, "IN_VPC", arn("vpc", e["VpcId"]), account=account))
    for res in (data.get("ec2-DescribeInstances") or {}).get("Reservations", []):
        for ins in res.get("Instances", []):
            iid = arn("instance", ins["InstanceId"])
            profile = (ins.get("IamInstanceProfile") or {}).get("Arn")
            imdsv1 = None  # not collected
            if isinstance(no_token, dict) and ins["InstanceId"] in no_token:
                results = (no_token[ins["InstanceId"]] or {}).get("MetricDataResults") or []
                values = [v for r in results for v in r.get("Values") or []]
                imdsv1 = int(sum(values)) if values else None  # no datapoints is not "no IMDSv1 use"
            b.nodes.append(
                NodeRow(
                    iid,
                    "Ec2Instance",
                    {
                        "instance_id": ins["InstanceId"],
                        "state": (ins.get("State") or {}).get("Name"),
                        "private_ip": ins.get("PrivateIpAddress"),
                        "instance_profile": profile,
                        "metadata_options": ins.get("MetadataOptions"),
                        "imdsv1_requests": imdsv1,
                        "tags": _tags(ins.get("Tags")),
                    },
                    account,
                    seen,
                    seen,
                )
            )
            if ins.get("SubnetId"):
                b.stub(arn("subnet", ins["SubnetId"]), "Subnet", account)
                b.edges.append(EdgeRow(iid, "IN_SUBNET", arn("subnet", ins["SubnetId"]), account=account))
    return b


def transform_organizations(mgmt: str, data: dict[str, Any], seen: str) -> Batch:
    """Organization, roots (with the policy types enabled), OUs, accounts, SCPs and RCPs with their
    targets (from the management account)."""
    b = Batch(SOURCE)
    org = (data.get("organizations-DescribeOrganization") or {}).get("Organization") or {}
    org_id = org.get("Id")
    if org_id:
        b.nodes.append(
            NodeRow(
                f"urn:aws:organization:{org_id}",
                "Organization",
                {"org_id": org_id, "management_account": org.get("MasterAccountId")},
                mgmt,
                seen,
                seen,
            )
        )
    accounts = (data.get("organizations-ListAccounts") or {}).get("Accounts", [])
    for a in accounts:
        b.nodes.append(
            NodeRow(
                f"arn:aws:iam::{a['Id']}:root",
                "Account",
                {
                    "account_id": a["Id"],
                    "name": a.get("Name"),
                    "status": a.get("Status"),
                    "org_id": org_id,
                    "in_organization": True,
                },
                mgmt,
                seen,
                seen,
            )
        )
    ou_id = {}
    for r in (data.get("organizations-ListRoots") or {}).get("Roots", []):
        ou_id[r["Id"]] = f"urn:aws:ou:{r['Id']}"
        enabled = [t.get("Type") for t in r.get("PolicyTypes") or [] if t.get("Status") == "ENABLED"]
        b.nodes.append(
            NodeRow(
                ou_id[r["Id"]],
                "OrgUnit",
                {
                    "ou_id": r["Id"],
                    "name": r.get("Name"),
                    "root": True,
                    "org_id": org_id,
                    "policy_types": enabled,
                },
                mgmt,
                seen,
                seen,
            )
        )
    for parent, resp in (data.get("organizations-ListOrganizationalUnitsForParent") or {}).items():
        for ou in resp.get("OrganizationalUnits", []):
            ou_id[ou["Id"]] = f"urn:aws:ou:{ou['Id']}"
            b.nodes.append(
                NodeRow(
                    ou_id[ou["Id"]],
                    "OrgUnit",
                    {"ou_id": ou["Id"], "name": ou.get("Name"), "root": False, "org_id": org_id},
                    mgmt,
                    seen,
                    seen,
                )
            )
            b.stub(f"urn:aws:ou:{parent}", "OrgUnit", mgmt)
            b.edges.append(EdgeRow(ou_id[ou["Id"]], "MEMBER_OF", f"urn:aws:ou:{parent}", account=mgmt))
    for parent, resp in (data.get("organizations-ListAccountsForParent") or {}).items():
        for a in resp.get("Accounts", []):
            acct = f"arn:aws:iam::{a['Id']}:root"
            b.stub(acct, "Account", mgmt)
            b.stub(f"urn:aws:ou:{parent}", "OrgUnit", mgmt)
            b.edges.append(EdgeRow(acct, "MEMBER_OF", f"urn:aws:ou:{parent}", account=mgmt))
    described = data.get("organizations-DescribePolicy") or {}
    targets = data.get("organizations-ListTargetsForPolicy") or {}
    for p in (data.get("organizations-ListPolicies") or {}).get("Policies", []):
        content = ((described.get(p["Id"]) or {}).get("Policy") or {}).get("Content")
        _checked_doc(content, "organizations-DescribePolicy.json", f"$[{p['Id']}].Policy.Content", b.warnings)
        rcp = p.get("Type") == "RESOURCE_CONTROL_POLICY"
        pid = p.get("Arn") or f"urn:aws:{'rcp' if rcp else 'scp'}:{p['Id']}"
        b.nodes.append(
            NodeRow(
                pid,
                "ResourceControlPolicy" if rcp else "ServiceControlPolicy",
                {"policy_id": p["Id"], "name": p.get("Name"), "document": content},
                mgmt,
                seen,
                seen,
            )
        )
        for t in (targets.get(p["Id"]) or {}).get("Targets", []):
            tid = t["TargetId"]
            target = f"arn:aws:iam::{tid}:root" if tid.isdigit() else f"urn:aws:ou:{tid}"
            b.stub(target, "Account" if tid.isdigit() else "OrgUnit", mgmt)
            b.edges.append(EdgeRow(pid, "ATTACHED", target, account=mgmt))
    return b


RESOURCE_POLICY_OPS = (
    "kms-ListKeys",
    "kms-DescribeKey",
    "kms-GetKeyPolicy",
    "kms-ListResourceTags",
    "lambda-ListFunctions",
    "lambda-GetPolicy",
    "sqs-ListQueues",
    "sqs-GetQueueAttributes",
    "sqs-ListQueueTags",
    "sns-ListTopics",
    "sns-GetTopicAttributes",
    "sns-ListTagsForResource",
)


def transform_resource_policies(account: str, region: str, data: dict[str, Any], seen: str) -> Batch:
    """KMS keys, Lambda functions, SQS queues and SNS topics with their resource policies.

    Per-resource responses are keyed by the resource (key id, function name, queue URL, topic ARN). A
    resource missing from a per-resource file that exists has no policy; when the file itself is missing
    the policy was not collected and stays unknown (``policy_collected`` false).
    """
    b = Batch(SOURCE)

    def node(
        arn: str, kind: str, name: str, policy: Any, collected: bool, tags: dict[str, str], **extra: Any
    ) -> None:
        _checked_doc(policy, f"{region}/{kind}", f"{arn} policy", b.warnings)
        props = {
            "name": name,
            "region": region,
            "policy": policy,
            "policy_collected": collected,
            "tags": tags,
        }
        props.update(extra)
        b.nodes.append(NodeRow(arn, kind, props, account, seen, seen))

    described = data.get("kms-DescribeKey") or {}
    key_policies = data.get("kms-GetKeyPolicy")
    key_tags = data.get("kms-ListResourceTags") or {}
    for k in (data.get("kms-ListKeys") or {}).get("Keys", []):
        kid = k["KeyId"]
        arn = k.get("KeyArn") or f"arn:aws:kms:{region}:{account}:key/{kid}"
        meta = (described.get(kid) or {}).get("KeyMetadata") or {}
        tags = _tags((key_tags.get(kid) or {}).get("Tags", []), "TagKey", "TagValue")
        node(
            arn,
            "KmsKey",
            kid,
            ((key_policies or {}).get(kid) or {}).get("Policy"),
            _collected(key_policies, kid),
            tags,
            manager=meta.get("KeyManager"),
            state=meta.get("KeyState"),
        )
    fn_policies = data.get("lambda-GetPolicy")
    for f in (data.get("lambda-ListFunctions") or {}).get("Functions", []):
        name = f["FunctionName"]
        arn = f.get("FunctionArn") or f"arn:aws:lambda:{region}:{account}:function:{name}"
        node(
            arn,
            "LambdaFunction",
            name,
            ((fn_policies or {}).get(name) or {}).get("Policy"),
            _collected(fn_policies, name),
            {},
        )
        if f.get("Role"):
            b.stub(f["Role"], "IamRole", account_of_arn(f["Role"]) or account)
            b.edges.append(EdgeRow(arn, "RUNS_AS", f["Role"], account=account))
    attrs = data.get("sqs-GetQueueAttributes")
    qtags = data.get("sqs-ListQueueTags") or {}
    for url in (data.get("sqs-ListQueues") or {}).get("QueueUrls", []):
        a = ((attrs or {}).get(url) or {}).get("Attributes") or {}
        name = url.rstrip("/").rsplit("/", 1)[-1]
        arn = a.get("QueueArn") or f"arn:aws:sqs:{region}:{account}:{name}"
        node(
            arn,
            "SqsQueue",
            name,
            a.get("Policy"),
            _collected(attrs, url),
            dict((qtags.get(url) or {}).get("Tags") or {}),
            url=url,
            **({"encryption": _sqs_encryption(a)} if _collected(attrs, url) else {}),
        )
    tattrs = data.get("sns-GetTopicAttributes")
    ttags = data.get("sns-ListTagsForResource") or {}
    for t in (data.get("sns-ListTopics") or {}).get("Topics", []):
        arn = t["TopicArn"]
        a = ((tattrs or {}).get(arn) or {}).get("Attributes") or {}
        node(
            arn,
            "SnsTopic",
            arn.rsplit(":", 1)[-1],
            a.get("Policy"),
            _collected(tattrs, arn),
            _tags((ttags.get(arn) or {}).get("Tags")),
        )
    return b


def _sqs_encryption(attrs: dict[str, Any]) -> dict[str, Any]:
    """A queue's server-side encryption as ``GetQueueAttributes`` reports it: a KMS key, the SQS-owned key
    (``SqsManagedSseEnabled``), or none."""
    if attrs.get("KmsMasterKeyId"):
        return {"sse": "kms", "kms_key": attrs["KmsMasterKeyId"]}
    if str(attrs.get("SqsManagedSseEnabled", "")).lower() == "true":
        return {"sse": "sqs"}
    return {"sse": None}


def account_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def transform_last_accessed(account: str, data: dict[str, Any], file: str, seen: str) -> Batch:
    """``GetServiceLastAccessedDetails`` per principal (``{"<principal arn>": <response>}``): an edge to
    each service namespace the principal last authenticated to, with when. A service it never used gets
    no edge (the job reports it without ``LastAuthenticated``)."""
    b = Batch(SOURCE)
    for principal, resp in data.items():
        if not isinstance(resp, dict) or resp.get("JobStatus") not in (None, "COMPLETED"):
            continue
        kind = "IamRole" if ":role/" in principal else "IamUser" if ":user/" in principal else "IamGroup"
        b.stub(principal, kind, account)
        for i, svc in enumerate(resp.get("ServicesLastAccessed") or []):
            ns = require(
                svc,
                "ServiceNamespace",
                file=file,
                path=f"$[{principal!r}].ServicesLastAccessed[{i}]",
                types=str,
            )
            when = svc.get("LastAuthenticated")
            if not when:
                continue
            target = f"urn:aws:service-namespace:{ns}"
            b.stub(target, "AwsService")
            b.edges.append(
                EdgeRow(
                    principal,
                    "LAST_ACCESSED",
                    target,
                    {
                        "namespace": ns,
                        "service": svc.get("ServiceName"),
                        "entity": svc.get("LastAuthenticatedEntity"),
                        "region": svc.get("LastAuthenticatedRegion"),
                        "reported_at": seen,
                    },
                    account=account,
                    last_seen=str(when).replace("+00:00", "Z"),
                )
            )
    return b


def transform_account(account: AccountSnapshot, seen: str) -> Batch:
    """Everything one account directory holds, as one batch."""
    out = Batch(SOURCE)
    out.nodes.append(
        NodeRow(
            f"arn:aws:iam::{account.account}:root",
            "Account",
            {"account_id": account.account},
            account.account,
            seen,
            seen,
            stub=True,
        )
    )
    account_block = account.get("global", "s3control-GetPublicAccessBlock")
    if account_block:  # S3 Block Public Access of the whole account (S3 Control), when collected
        out.nodes.append(
            NodeRow(
                s3_account_settings_id(account.account),
                "S3AccountSettings",
                {"public_access_block": public_access_flags(account_block[0])},
                account.account,
                seen,
                seen,
            )
        )
    got = account.get("global", "iam-GetAccountAuthorizationDetails")
    if got:
        data, file = got
        try:
            part = transform_iam(account.account, data, file, seen)
        except BadInput as exc:
            exc.file = exc.file or file
            raise
        _extend(out, part)
    got = account.get("global", "s3-ListBuckets")
    if got:
        buckets, file = got
        pol = account.get("global", "s3-GetBucketPolicy")
        tag = account.get("global", "s3-GetBucketTagging")
        blocks = account.get("global", "s3-GetPublicAccessBlock")
        try:
            part = transform_s3(
                account.account,
                buckets,
                pol[0] if pol else None,
                tag[0] if tag else {},
                file,
                seen,
                blocks[0] if blocks else None,
            )
        except BadInput as exc:
            exc.file = exc.file or (pol[1] if pol else file)
            raise
        _extend(out, part)
    network: dict[str, dict[str, Any]] = {}
    for region in account.regions():
        data = {}
        for op in (
            *EC2_OPS,
            "ec2-DescribeInstances",
            "ec2-DescribeVpcEndpoints",
            "cloudwatch-GetMetricData-MetadataNoToken",
        ):
            got = account.get(region, op)
            if got:
                data[op] = got[0]
        _extend(out, transform_ec2(account.account, region, data, seen))
        # the raw VPC configuration, for flow decisions (analyzer.network builds its model from it)
        net = {op: data[op] for op in EC2_OPS if op in data}
        if net:
            try:
                _check_network(account.account, net, out.warnings)
            except (KeyError, TypeError, AttributeError) as exc:
                raise BadInput(
                    f"unexpected EC2 response shape ({type(exc).__name__}: {exc})", file=str(region)
                ) from exc
            network[f"{account.account}/{region}"] = net
        rp = {op: got[0] for op in RESOURCE_POLICY_OPS if (got := account.get(region, op))}
        if rp:
            _extend(out, transform_resource_policies(account.account, region, rp, seen))
    if network:
        out.documents[NETWORK] = network
    _extend(out, transform_eks(account, seen))
    got = account.get("global", "iam-GetServiceLastAccessedDetails")
    if got:
        _extend(out, transform_last_accessed(account.account, got[0], got[1], seen))
    org_ops = [op for (r, op) in account.files if r == "global" and op.startswith("organizations-")]
    if org_ops:
        got_org = {op: account.get("global", op) for op in org_ops}
        _extend(
            out, transform_organizations(account.account, {k: v[0] for k, v in got_org.items() if v}, seen)
        )
    return out


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def transform_eks(account: AccountSnapshot, seen: str) -> Batch:
    """The account's EKS clusters (``eks-DescribeCluster``, keyed by name: the ARN, version, VPC and the
    OIDC issuer its service accounts' tokens are signed by) and its IAM OIDC providers
    (``iam-GetOpenIDConnectProvider``, keyed by ARN: the issuer and the audiences it accepts)."""
    out = Batch(SOURCE)
    for region in account.regions():
        got = account.get(region, "eks-DescribeCluster")
        for name, described in _object(got[0] if got else None).items():
            cluster = _object(_object(described).get("cluster"))
            if not isinstance(cluster.get("arn"), str):
                continue  # refused (null): the cluster is listed, its description unknown
            identity = _object(cluster.get("identity"))
            oidc = _object(identity.get("oidc"))
            vpc = _object(cluster.get("resourcesVpcConfig"))
            out.nodes.append(
                NodeRow(
                    cluster["arn"],
                    "EksCluster",
                    {
                        "name": name,
                        "region": region,
                        "oidc_issuer": oidc.get("issuer"),
                        "version": cluster.get("version"),
                        "vpc_id": vpc.get("vpcId"),
                        "role_arn": cluster.get("roleArn"),
                        "tags": cluster.get("tags") or {},
                    },
                    account.account,
                    seen,
                    seen,
                )
            )
        _extend(out, transform_pod_identity(account, region, seen))
    got = account.get("global", "iam-GetOpenIDConnectProvider")
    for arn, provider in _object(got[0] if got else None).items():
        if not isinstance(provider, dict):
            continue
        out.nodes.append(
            NodeRow(
                arn,
                "OidcProvider",
                {
                    "url": provider.get("Url"),
                    "client_ids": provider.get("ClientIDList") or [],
                    "tags": _tags(provider.get("Tags")),
                },
                account.account,
                seen,
                seen,
            )
        )
    return out


def transform_pod_identity(account: AccountSnapshot, region: str, seen: str) -> Batch:
    """EKS Pod Identity associations (``eks-DescribePodIdentityAssociation``, keyed ``cluster/id``): the
    service account -[RUNS_AS {method: pod-identity}]-> the role EKS assumes for its pods, with whether
    the session is tagged (``disableSessionTags``) and the role it chains to (``targetRoleArn``). The
    service account's id is the one the cluster's Kubernetes export gives it, so both meet on one node."""
    from analyzer.graph.ids import Cluster

    out = Batch(SOURCE)
    got = account.get(region, "eks-DescribePodIdentityAssociation")
    for key, described in sorted(_object(got[0] if got else None).items()):
        a = _object(_object(described).get("association"))
        name, ns, sa, role = (a.get(k) for k in ("clusterName", "namespace", "serviceAccount", "roleArn"))
        if not all(isinstance(v, str) and v for v in (name, ns, sa, role)):
            if described is not None:
                out.warnings.append(
                    f"account {account.account}, {region}, eks-DescribePodIdentityAssociation[{key}]: "
                    "no clusterName, namespace, serviceAccount and roleArn (association skipped)"
                )
            continue
        cluster = Cluster(f"arn:aws:eks:{region}:{account.account}:cluster/{name}")
        sa_id = cluster.object_id(str(ns), "serviceaccounts", str(sa))
        out.stub(sa_id, "ServiceAccount", account.account)
        out.stub(str(role), "IamRole")
        props: dict[str, object] = {"method": "pod-identity", "session_tags": not a.get("disableSessionTags")}
        if isinstance(a.get("targetRoleArn"), str):
            props["target_role"] = a["targetRoleArn"]
        out.edges.append(EdgeRow(sa_id, "RUNS_AS", str(role), props, account.account, 0, seen, seen))
    return out


def _check_network(account: str, data: dict[str, Any], warnings: list[str]) -> None:
    """Report what the network model cannot read (invalid CIDRs or port ranges, an ENI in a subnet that
    is not in the snapshot, a security group referenced but missing), with the resource id."""
    from analyzer.network.model import from_api

    warnings.extend(f"{p} (decisions it touches are unknown)" for p in from_api([(account, data)]).problems)


def _extend(into: Batch, part: Batch) -> None:
    into.nodes.extend(part.nodes)
    into.edges.extend(part.edges)
    into.warnings.extend(part.warnings)


# -- load ---------------------------------------------------------------------------------------------
@dataclass
class IngestReport:
    loaded: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@writes("ingest aws-snapshot")
def load_snapshot(store: GraphStore, root: Path, *, seen: str, update_tag: int | None = None) -> IngestReport:
    """Load each account atomically; a bad account is reported and skipped, the others proceed. The next
    accounts are read and transformed by a worker process while this one writes (``parallel.ahead``)."""
    root = Path(root)
    tag = update_tag or time.time_ns() // 1000
    report = IngestReport()
    history = store.get_documents(ADDRESS_HISTORY)  # kept current as accounts load
    accounts = list(get_snapshot(root))
    # an account's responses are a few hundred thousand objects, none cyclic: the collector is paused
    # throughout, as the worker's batches are unpickled here when taken (``ahead``)
    with paused():
        transformed = ahead(accounts, partial(_transformed, root=root, seen=seen))
        for account, got in zip(accounts, transformed, strict=True):
            _load_account(store, account, got, seen, tag, report, history)
            del got
    # only once every account is loaded: a node one account mentions and another owns is then current
    # whatever the order, so the same files always give the same graph
    for acct in report.loaded:
        store.cleanup(source=SOURCE, account=acct, update_tag=tag)
    return report


def _transformed(account: AccountSnapshot, root: Path, seen: str) -> Batch | str:
    """One account's batch, or why it cannot be loaded (by a worker: pure, reads only its files)."""
    try:
        # a response not shaped like AWS's: the account is skipped
        with paused(), guard(str(root / account.account), what="API response shape"):
            batch = transform_account(account, seen)
            batch.validate()
    except BadInput as exc:
        return str(exc)
    return batch


def _load_account(
    store: GraphStore,
    account: AccountSnapshot,
    batch: Batch | str,
    seen: str,
    tag: int,
    report: IngestReport,
    history: dict[str, dict[str, Any]],
) -> None:
    if isinstance(batch, str):
        report.errors.append(f"{batch}; account {account.account} skipped (its previous data is kept)")
        return
    report.warnings.extend(f"account {account.account}: {w}" for w in batch.warnings)
    batch.documents[ADDRESS_HISTORY] = merge_history(
        history, (n for n in batch.nodes if n.kind == "NetworkInterface" and not n.stub), seen
    )
    store.load(batch, update_tag=tag, account=account.account)
    history.update(batch.documents[ADDRESS_HISTORY])
    report.loaded[account.account] = len(batch.nodes)
