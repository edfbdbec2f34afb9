"""Live AWS collection: read-only API calls that write the offline snapshot layout, then the same
loader as ``ingest aws-snapshot`` (so a live run and a replay of its ``--save-raw`` give the same graph).

Accounts: the caller's own, a list, or the whole organization (``ListAccounts`` from the management
account) through a read-only role assumed in each (``--org-role``). Pagination is merged; botocore's
adaptive retries absorb throttling; calls run with bounded concurrency. A call refused (AccessDenied, a
region not enabled) is a warning naming the account, region and call, collection goes on, and the
account's collection record lists what is missing, so analysis can say "partial" instead of "safe".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BlastwallError
from analyzer.graph.lease import writes
from analyzer.timeutil import iso, now

COLLECTION = "collection"
REFUSED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "OptInRequired",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AWSOrganizationsNotInUseException",
}
NOT_OFFERED = {"404", "UnknownOperationException", "InvalidAction", "NotImplemented"}
"""The endpoint does not offer the call (a partition or emulator without the API): not collected, said so
like a refusal, never taken as "none"."""
ABSENT = {
    "NoSuchBucketPolicy",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "NoSuchPublicAccessBlockConfiguration",
}
REGIONAL = {
    "ec2-DescribeVpcs": ("ec2", "describe_vpcs"),
    "ec2-DescribeSubnets": ("ec2", "describe_subnets"),
    "ec2-DescribeSecurityGroups": ("ec2", "describe_security_groups"),
    "ec2-DescribeNetworkInterfaces": ("ec2", "describe_network_interfaces"),
    "ec2-DescribeInstances": ("ec2", "describe_instances"),
    "ec2-DescribeNetworkAcls": ("ec2", "describe_network_acls"),
    "ec2-DescribeRouteTables": ("ec2", "describe_route_tables"),
    "ec2-DescribeVpcPeeringConnections": ("ec2", "describe_vpc_peering_connections"),
    "ec2-DescribeNatGateways": ("ec2", "describe_nat_gateways"),
    "ec2-DescribeManagedPrefixLists": ("ec2", "describe_managed_prefix_lists"),
    "ec2-DescribeVpcEndpoints": ("ec2", "describe_vpc_endpoints"),
    "ec2-DescribeTransitGatewayAttachments": ("ec2", "describe_transit_gateway_attachments"),
    "ec2-DescribeTransitGatewayRouteTables": ("ec2", "describe_transit_gateway_route_tables"),
}


@dataclass
class CollectReport:
    accounts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refused(self, account: str, region: str, call: str, exc: Exception) -> None:
        with self._lock:
            self.warnings.append(f"account {account}, {region}, {call}: {exc}")
            self.missing.setdefault(account, []).append(f"{region}/{call}")


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _merged(client: Any, method: str, **kwargs: Any) -> dict[str, Any]:
    """All pages of a call, list fields concatenated (what the snapshot layout stores)."""
    if client.can_paginate(method):
        out: dict[str, Any] = {}
        for page in client.get_paginator(method).paginate(**kwargs):
            for k, v in page.items():
                if k == "ResponseMetadata" or k in ("NextToken", "Marker", "IsTruncated"):
                    continue
                if isinstance(v, list):
                    out.setdefault(k, []).extend(v)
                else:
                    out.setdefault(k, v)
        if (
            "IsTruncated"
            in client.meta.service_model.operation_model(
                client.meta.method_to_api_mapping[method]
            ).output_shape.members
        ):
            out["IsTruncated"] = False
        return out
    resp = getattr(client, method)(**kwargs)
    resp.pop("ResponseMetadata", None)
    return dict(resp)


def last_accessed(
    iam: Any,
    arns: list[str],
    *,
    poll_s: float = 0.5,
    timeout_s: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """GetServiceLastAccessedDetails for each principal: start a job, wait for it, merge its pages."""
    out: dict[str, Any] = {}
    for arn in arns:
        job = iam.generate_service_last_accessed_details(Arn=arn)["JobId"]
        waited = 0.0
        while True:
            resp = iam.get_service_last_accessed_details(JobId=job)
            if resp["JobStatus"] != "IN_PROGRESS" or waited >= timeout_s:
                break
            sleep(poll_s)
            waited += poll_s
        merged = {k: v for k, v in resp.items() if k not in ("ResponseMetadata", "Marker", "IsTruncated")}
        while resp.get("IsTruncated"):
            resp = iam.get_service_last_accessed_details(JobId=job, Marker=resp["Marker"])
            merged["ServicesLastAccessed"] = merged.get("ServicesLastAccessed", []) + resp.get(
                "ServicesLastAccessed", []
            )
        merged["IsTruncated"] = False
        out[arn] = merged
    return out


class Collector:
    def __init__(
        self, out: Path, report: CollectReport, regions: list[str], with_last_accessed: bool = False
    ) -> None:
        self.out = out
        self.report = report
        self.regions = regions
        self.with_last_accessed = with_last_accessed

    def _write(self, account: str, region: str, op: str, data: Any) -> None:
        path = self.out / account / region / f"{op}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, default=str, sort_keys=True))
        with self.report._lock:
            self.report.files += 1

    def _try(
        self, account: str, region: str, op: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[Any, bool]:
        """(response or None, refused). None without refusal: the thing does not exist (no policy)."""
        try:
            return fn(*args, **kwargs), False
        except Exception as exc:
            if _code(exc) in ABSENT:
                return None, False
            if _code(exc) in REFUSED or "AccessDenied" in str(exc):
                self.report.refused(account, region, op, exc)
                return None, True
            if _code(exc) in NOT_OFFERED:
                self.report.refused(
                    account, region, op, RuntimeError(f"the endpoint does not offer this call ({_code(exc)})")
                )
                return None, True
            raise

    def _call(
        self, account: str, region: str, op: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        return self._try(account, region, op, fn, *args, **kwargs)[0]

    def _per_resource(
        self,
        account: str,
        region: str,
        op: str,
        client: Any,
        method: str,
        keys: list[str],
        arg: Callable[[str], dict[str, Any]],
        absent: frozenset[str] = frozenset(),
    ) -> None:
        """One call per resource, written as ``{key: response}``. A resource without the thing (no
        policy) is left out; a refused call is kept as ``null`` so analysis knows it was not collected."""
        out: dict[str, Any] = {}
        for key in keys:
            try:
                resp, refused = self._try(
                    account, region, f"{op}[{key}]", _merged, client, method, **arg(key)
                )
            except Exception as exc:
                if _code(exc) not in absent:
                    raise
                continue
            if resp is not None or refused:
                out[key] = resp
        self._write(account, region, op, out)

    def imds_metrics(self, session: Any, account: str, region: str, days: int = 14) -> None:
        """CloudWatch ``MetadataNoToken`` per instance (IMDSv1 requests): the evidence ``imdsv2_required``
        needs. Written as ``cloudwatch-GetMetricData-MetadataNoToken`` keyed by instance id."""
        import datetime as _dt

        from connectors.aws.session import client_for

        path = self.out / account / region / "ec2-DescribeInstances.json"
        if not path.exists():
            return
        ids = [
            i["InstanceId"]
            for r in json.loads(path.read_text()).get("Reservations", [])
            for i in r.get("Instances", [])
        ]
        if not ids:
            return
        cw = client_for(session, "cloudwatch", region)
        end = _dt.datetime.now(_dt.UTC)
        out: dict[str, Any] = {}
        for iid in ids:
            query = [
                {
                    "Id": "notoken",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EC2",
                            "MetricName": "MetadataNoToken",
                            "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                        },
                        "Period": 86400,
                        "Stat": "Sum",
                    },
                }
            ]
            resp, refused = self._try(
                account,
                region,
                f"cloudwatch-GetMetricData[{iid}]",
                _merged,
                cw,
                "get_metric_data",
                MetricDataQueries=query,
                StartTime=end - _dt.timedelta(days=days),
                EndTime=end,
            )
            if resp is not None or refused:
                out[iid] = resp
        self._write(account, region, "cloudwatch-GetMetricData-MetadataNoToken", out)

    def resource_policies(self, session: Any, account: str, region: str) -> None:
        """KMS keys, Lambda functions, SQS queues, SNS topics and their resource policies."""
        from connectors.aws.session import client_for

        not_found = frozenset({"ResourceNotFoundException", "NotFoundException", "NotFound"})
        kms = client_for(session, "kms", region)
        keys = self._call(account, region, "kms-ListKeys", _merged, kms, "list_keys")
        if keys is not None:
            self._write(account, region, "kms-ListKeys", keys)
            ids = [k["KeyId"] for k in keys.get("Keys", [])]
            self._per_resource(
                account, region, "kms-DescribeKey", kms, "describe_key", ids, lambda k: {"KeyId": k}
            )
            self._per_resource(
                account,
                region,
                "kms-GetKeyPolicy",
                kms,
                "get_key_policy",
                ids,
                lambda k: {"KeyId": k, "PolicyName": "default"},
            )
            self._per_resource(
                account,
                region,
                "kms-ListResourceTags",
                kms,
                "list_resource_tags",
                ids,
                lambda k: {"KeyId": k},
            )
        lam = client_for(session, "lambda", region)
        fns = self._call(account, region, "lambda-ListFunctions", _merged, lam, "list_functions")
        if fns is not None:
            self._write(account, region, "lambda-ListFunctions", fns)
            names = [f["FunctionName"] for f in fns.get("Functions", [])]
            self._per_resource(
                account,
                region,
                "lambda-GetPolicy",
                lam,
                "get_policy",
                names,
                lambda n: {"FunctionName": n},
                not_found,
            )
        sqs = client_for(session, "sqs", region)
        queues = self._call(account, region, "sqs-ListQueues", _merged, sqs, "list_queues")
        if queues is not None:
            queues.setdefault("QueueUrls", [])
            self._write(account, region, "sqs-ListQueues", queues)
            urls = list(queues["QueueUrls"])
            self._per_resource(
                account,
                region,
                "sqs-GetQueueAttributes",
                sqs,
                "get_queue_attributes",
                urls,
                lambda u: {"QueueUrl": u, "AttributeNames": ["All"]},
            )
            self._per_resource(
                account, region, "sqs-ListQueueTags", sqs, "list_queue_tags", urls, lambda u: {"QueueUrl": u}
            )
        sns = client_for(session, "sns", region)
        topics = self._call(account, region, "sns-ListTopics", _merged, sns, "list_topics")
        if topics is not None:
            self._write(account, region, "sns-ListTopics", topics)
            arns = [t["TopicArn"] for t in topics.get("Topics", [])]
            self._per_resource(
                account,
                region,
                "sns-GetTopicAttributes",
                sns,
                "get_topic_attributes",
                arns,
                lambda a: {"TopicArn": a},
            )
            self._per_resource(
                account,
                region,
                "sns-ListTagsForResource",
                sns,
                "list_tags_for_resource",
                arns,
                lambda a: {"ResourceArn": a},
            )

    def account(self, session: Any, account: str, management: bool) -> None:
        from connectors.aws.session import client_for

        iam = client_for(session, "iam")
        gaad = self._call(
            account,
            "global",
            "iam-GetAccountAuthorizationDetails",
            _merged,
            iam,
            "get_account_authorization_details",
        )
        if gaad is not None:
            self._write(account, "global", "iam-GetAccountAuthorizationDetails", gaad)
            if self.with_last_accessed:
                arns = [r["Arn"] for r in gaad.get("RoleDetailList", [])] + [
                    u["Arn"] for u in gaad.get("UserDetailList", [])
                ]
                data = self._call(
                    account, "global", "iam-GetServiceLastAccessedDetails", last_accessed, iam, arns
                )
                if data is not None:
                    self._write(account, "global", "iam-GetServiceLastAccessedDetails", data)
        s3 = client_for(session, "s3")
        buckets = self._call(account, "global", "s3-ListBuckets", _merged, s3, "list_buckets")
        if buckets is not None:
            self._write(account, "global", "s3-ListBuckets", buckets)
            policies, tags, blocks = {}, {}, {}
            for b in buckets.get("Buckets", []):
                name = b["Name"]
                pol, refused = self._try(
                    account,
                    "global",
                    f"s3-GetBucketPolicy[{name}]",
                    _merged,
                    s3,
                    "get_bucket_policy",
                    Bucket=name,
                )
                if pol is not None or refused:
                    policies[name] = pol  # null: refused, so this bucket's policy is unknown
                tag = self._call(
                    account,
                    "global",
                    f"s3-GetBucketTagging[{name}]",
                    _merged,
                    s3,
                    "get_bucket_tagging",
                    Bucket=name,
                )
                if tag is not None:
                    tags[name] = tag
                block, refused = self._try(
                    account,
                    "global",
                    f"s3-GetPublicAccessBlock[{name}]",
                    _merged,
                    s3,
                    "get_public_access_block",
                    Bucket=name,
                )
                blocks[name] = None if refused else block or {}  # {}: none configured
            self._write(account, "global", "s3-GetBucketPolicy", policies)
            self._write(account, "global", "s3-GetBucketTagging", tags)
            self._write(account, "global", "s3-GetPublicAccessBlock", blocks)
        s3control = client_for(session, "s3control", host_prefix=False)
        block, refused = self._try(
            account,
            "global",
            "s3control-GetPublicAccessBlock",
            _merged,
            s3control,
            "get_public_access_block",
            AccountId=account,
        )
        if not refused:
            self._write(account, "global", "s3control-GetPublicAccessBlock", block or {})
        providers = self._call(
            account,
            "global",
            "iam-ListOpenIDConnectProviders",
            _merged,
            iam,
            "list_open_id_connect_providers",
        )
        if providers is not None:
            self._write(account, "global", "iam-ListOpenIDConnectProviders", providers)
            arns = [p["Arn"] for p in providers.get("OpenIDConnectProviderList", [])]
            self._per_resource(
                account,
                "global",
                "iam-GetOpenIDConnectProvider",
                iam,
                "get_open_id_connect_provider",
                arns,
                lambda a: {"OpenIDConnectProviderArn": a},
            )
        if management:
            self.organization(session, account)
        for region in self.regions:
            self.eks(session, account, region)
            for op, (svc, method) in REGIONAL.items():
                c = client_for(session, svc, region)
                data = self._call(account, region, op, _merged, c, method)
                if data is not None:
                    self._write(account, region, op, data)
                if op == "ec2-DescribeManagedPrefixLists" and data is not None:
                    ids = [p["PrefixListId"] for p in data.get("PrefixLists", [])]
                    self._per_resource(
                        account,
                        region,
                        "ec2-GetManagedPrefixListEntries",
                        c,
                        "get_managed_prefix_list_entries",
                        ids,
                        lambda i: {"PrefixListId": i},
                    )
                if op == "ec2-DescribeTransitGatewayRouteTables" and data is not None:
                    self.transit_routes(c, account, region, data)
            self.resource_policies(session, account, region)
            self.imds_metrics(session, account, region)

    def eks(self, session: Any, account: str, region: str) -> None:
        """The region's EKS clusters (their OIDC issuer names their service accounts' tokens)."""
        from connectors.aws.session import client_for

        eks = client_for(session, "eks", region)
        listed = self._call(account, region, "eks-ListClusters", _merged, eks, "list_clusters")
        if listed is None:
            return
        self._write(account, region, "eks-ListClusters", listed)
        clusters = list(listed.get("clusters") or [])
        self._per_resource(
            account,
            region,
            "eks-DescribeCluster",
            eks,
            "describe_cluster",
            clusters,
            lambda name: {"name": name},
        )
        # which service accounts EKS Pod Identity gives which role: the list names them, the description
        # holds the role (and whether the session is tagged, and a role it chains to)
        associations: dict[str, Any] = {}
        for name in clusters:
            got, refused = self._try(
                account,
                region,
                f"eks-ListPodIdentityAssociations[{name}]",
                _merged,
                eks,
                "list_pod_identity_associations",
                clusterName=name,
            )
            if got is not None or refused:
                associations[name] = got
        self._write(account, region, "eks-ListPodIdentityAssociations", associations)
        keys = [
            f"{name}/{a['associationId']}"
            for name, got in associations.items()
            for a in (got or {}).get("associations") or []
        ]
        self._per_resource(
            account,
            region,
            "eks-DescribePodIdentityAssociation",
            eks,
            "describe_pod_identity_association",
            keys,
            lambda key: {"clusterName": key.split("/", 1)[0], "associationId": key.split("/", 1)[1]},
        )

    def transit_routes(self, ec2: Any, account: str, region: str, tables: dict[str, Any]) -> None:
        """Per transit gateway route table (its owner's account holds them): the routes to attachments,
        the attachments that propagate into it and those associated with it — where each attached VPC's
        traffic can go."""
        ids = [t["TransitGatewayRouteTableId"] for t in tables.get("TransitGatewayRouteTables", [])]
        self._per_resource(
            account,
            region,
            "ec2-SearchTransitGatewayRoutes",
            ec2,
            "search_transit_gateway_routes",
            ids,
            lambda i: {
                "TransitGatewayRouteTableId": i,
                "Filters": [{"Name": "state", "Values": ["active", "blackhole"]}],
            },
        )
        for op, method in (
            ("ec2-GetTransitGatewayRouteTablePropagations", "get_transit_gateway_route_table_propagations"),
            ("ec2-GetTransitGatewayRouteTableAssociations", "get_transit_gateway_route_table_associations"),
        ):
            self._per_resource(
                account, region, op, ec2, method, ids, lambda i: {"TransitGatewayRouteTableId": i}
            )

    def organization(self, session: Any, account: str) -> None:
        from connectors.aws.session import client_for

        org = client_for(session, "organizations")
        call = self._call

        def write(op: str, data: Any) -> None:
            if data is not None:
                self._write(account, "global", op, data)

        write(
            "organizations-DescribeOrganization",
            call(
                account,
                "global",
                "organizations-DescribeOrganization",
                _merged,
                org,
                "describe_organization",
            ),
        )
        write(
            "organizations-ListAccounts",
            call(account, "global", "organizations-ListAccounts", _merged, org, "list_accounts"),
        )
        roots = call(account, "global", "organizations-ListRoots", _merged, org, "list_roots")
        write("organizations-ListRoots", roots)
        ous: dict[str, Any] = {}
        accts: dict[str, Any] = {}
        todo = [r["Id"] for r in (roots or {}).get("Roots", [])]
        while todo:
            parent = todo.pop()
            children = call(
                account,
                "global",
                "organizations-ListOrganizationalUnitsForParent",
                _merged,
                org,
                "list_organizational_units_for_parent",
                ParentId=parent,
            )
            if children is None:
                break
            ous[parent] = children
            todo += [o["Id"] for o in children.get("OrganizationalUnits", [])]
            accts[parent] = (
                call(
                    account,
                    "global",
                    "organizations-ListAccountsForParent",
                    _merged,
                    org,
                    "list_accounts_for_parent",
                    ParentId=parent,
                )
                or {}
            )
        write("organizations-ListOrganizationalUnitsForParent", ous)
        write("organizations-ListAccountsForParent", accts)
        # SCPs and RCPs in one file: every PolicySummary carries its Type
        listed = [
            call(
                account,
                "global",
                f"organizations-ListPolicies[{kind}]",
                _merged,
                org,
                "list_policies",
                Filter=kind,
            )
            for kind in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY")
        ]
        policies = (
            {"Policies": [p for resp in listed if resp for p in resp.get("Policies", [])]}
            if listed[0] is not None
            else None
        )
        write("organizations-ListPolicies", policies)
        described, targets = {}, {}
        for p in (policies or {}).get("Policies", []):
            described[p["Id"]] = call(
                account,
                "global",
                "organizations-DescribePolicy",
                _merged,
                org,
                "describe_policy",
                PolicyId=p["Id"],
            )
            targets[p["Id"]] = call(
                account,
                "global",
                "organizations-ListTargetsForPolicy",
                _merged,
                org,
                "list_targets_for_policy",
                PolicyId=p["Id"],
            )
        write("organizations-DescribePolicy", {k: v for k, v in described.items() if v is not None})
        write("organizations-ListTargetsForPolicy", {k: v for k, v in targets.items() if v is not None})


def collect(
    out: Path,
    *,
    profile: str | None = None,
    org_role: str | None = None,
    accounts: list[str] | None = None,
    regions: list[str] | None = None,
    workers: int = 4,
    with_last_accessed: bool = False,
) -> CollectReport:
    """Write a snapshot of the chosen accounts into ``out`` (DESIGN's layout)."""
    from connectors.aws.session import assume, base_session, client_for

    base = base_session(profile)
    try:
        me = client_for(base, "sts").get_caller_identity()["Account"]
    except Exception as exc:
        raise BlastwallError(
            f"cannot call AWS with these credentials ({type(exc).__name__}: {exc}); check the "
            "profile, SSO login or environment, and that they have not expired"
        ) from exc
    report = CollectReport()
    management = None
    if org_role and accounts is None:
        org = client_for(base, "organizations")
        try:
            management = org.describe_organization()["Organization"]["MasterAccountId"]
            accounts = [
                a["Id"] for a in _merged(org, "list_accounts")["Accounts"] if a.get("Status") == "ACTIVE"
            ]
        except Exception as exc:
            raise BlastwallError(f"cannot list the organization's accounts from {me}: {exc}") from exc
    accounts = accounts or [me]
    if management is None:
        try:
            management = client_for(base, "organizations").describe_organization()["Organization"][
                "MasterAccountId"
            ]
        except Exception:
            management = None
    regions = regions or [base.region_name or "us-east-1"]
    collector = Collector(out, report, regions, with_last_accessed)

    def one(account: str) -> None:
        if account == me:
            session = base
        elif org_role is None:
            report.refused(
                account, "global", "sts-AssumeRole", BlastwallError("no --org-role to reach this account")
            )
            return
        else:
            try:
                session = assume(base, f"arn:aws:iam::{account}:role/{org_role}")
            except Exception as exc:
                report.refused(account, "global", f"sts-AssumeRole({org_role})", exc)
                return
        collector.account(session, account, management == account)
        with report._lock:
            report.accounts.append(account)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, accounts))
    report.accounts.sort()
    return report


def collection_docs(report: CollectReport) -> dict[str, dict[str, Any]]:
    stamp = iso(now())
    return {
        a: {
            "account": a,
            "collected_at": stamp,
            "missing_calls": sorted(report.missing.get(a, [])),
            "partial": bool(report.missing.get(a)),
        }
        for a in sorted(set(report.accounts) | set(report.missing))
    }


@writes("ingest aws")
def ingest_aws(store: Any, *, save_raw: Path | None = None, **kwargs: Any) -> CollectReport:
    """Collect (into ``save_raw`` or a temporary directory) and load with the offline loader."""
    import tempfile

    from connectors.aws.snapshot import load_snapshot

    with tempfile.TemporaryDirectory(prefix="blastwall-aws-") as tmp:
        out = Path(save_raw) if save_raw else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        report = collect(out, **kwargs)
        if report.accounts:
            loaded = load_snapshot(store, out, seen=iso(now()))
            report.warnings += loaded.errors
        store.put_documents(COLLECTION, collection_docs(report))
    return report
