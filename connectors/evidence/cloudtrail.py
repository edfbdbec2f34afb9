"""CloudTrail -> observed usage.

Reads trail log files ``{"Records": [...]}`` (``.json`` or ``.json.gz``, the
``AWSLogs/<acct>/CloudTrail/<region>/`` layout, digest files skipped), ``lookup-events`` output and
CloudTrail Lake query results, and aggregates to (principal, action, resource) with count, first and
last seen. An assumed-role session's calls belong to its role; AssumeRole links the caller to the role.
Refused calls (AccessDenied, UnauthorizedOperation) are kept apart as denied evidence.

Re-ingesting a file already ingested is a no-op (files are recorded by SHA-256 in the same write).
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import msgspec

from analyzer.errors import BadInput
from analyzer.graph.ids import web_identity_of_provider
from analyzer.graph.lease import writes
from analyzer.graph.schema import EdgeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import TIME_PATTERN, check_time, guard
from connectors.evidence.coverage import day_of
from connectors.evidence.loading import file_digest, ingested_digests, load_evidence
from connectors.evidence.parallel import over_files
from connectors.jsonfile import fast_json, load_records, read_bytes

SOURCE = "cloudtrail"
ASSUME_EVENTS = {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}
DENIED_CODES = {
    "AccessDenied",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "AccessDeniedException",
}


def fetch_s3(uri: str, dest: Path) -> Path:
    """Download the log files under ``s3://bucket/prefix`` into ``dest/<bucket>/<key>`` (read-only calls:
    ListObjectsV2, GetObject); returns the local directory that mirrors the prefix."""
    from connectors.aws.session import client

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise BadInput("expected s3://bucket/prefix", file=uri)
    s3 = client("s3")
    root = dest / bucket
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not key.endswith((".json", ".json.gz")) or "CloudTrail-Digest" in key:
                    continue
                target = root / key
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
    except Exception as exc:  # botocore's ClientError / EndpointConnectionError: name the place, keep going
        raise BadInput(f"cannot read {uri}: {exc}", file=uri) from exc
    return root / prefix if prefix else root


def get_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Log files under the given files/directories, in a stable order; digest files are skipped."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            candidates = sorted(x for x in p.rglob("*") if x.is_file())
        elif p.exists():
            candidates = [p]
        else:
            raise BadInput("no such file or directory", file=str(p))
        for f in candidates:
            if "CloudTrail-Digest" in f.parts or "CloudTrail-Digest" in f.name:
                continue
            if f.name.endswith((".json", ".json.gz")):
                yield f


def principal_of(identity: dict[str, Any]) -> tuple[str, str]:
    """(node id, node kind) of the principal that made a call."""
    itype = identity.get("type")
    account = identity.get("accountId") or ""
    if itype in ("AssumedRole", "FederatedUser"):
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        if issuer.get("arn"):
            kind = "IamRole" if ":role/" in issuer["arn"] else "IamUser"
            return issuer["arn"], kind
    if itype == "IAMUser" and identity.get("arn"):
        return identity["arn"], "IamUser"
    if itype == "Root":
        return f"arn:aws:iam::{account}:root", "Account"
    if itype == "AWSAccount":
        return f"arn:aws:iam::{account or identity.get('principalId', '')}:root", "Account"
    if itype == "AWSService":
        return f"urn:aws:service:{identity.get('invokedBy', 'unknown')}", "ServicePrincipal"
    if itype == "WebIdentityUser" and identity.get("identityProvider") and identity.get("userName"):
        # an OIDC token's subject at its issuer (an EKS service account: system:serviceaccount:<ns>:<sa>)
        return web_identity_of_provider(identity["identityProvider"], identity["userName"]), "WebIdentity"
    if itype == "SAMLUser" and identity.get("identityProvider") and identity.get("userName"):
        return f"urn:aws:saml-user:{identity['identityProvider']}:{identity['userName']}", "Principal"
    if identity.get("arn"):
        return identity["arn"], "Principal"
    return "urn:aws:anonymous", "Principal"


TLS_TRACKED = frozenset({"s3.amazonaws.com", "sqs.amazonaws.com"})
"""Services whose calls without ``tlsDetails`` are kept: a TLS-only bucket policy and an encrypted queue
(HTTPS required) refuse them."""


def _resource_of(rec: dict[str, Any]) -> tuple[str, str] | None:
    best = None
    for r in rec.get("resources") or []:
        arn = r.get("ARN")
        if not arn:
            continue
        rtype = r.get("type", "")
        if rtype == "AWS::S3::Object":
            continue
        kind = {"AWS::S3::Bucket": "S3Bucket", "AWS::IAM::Role": "IamRole"}.get(rtype, "Resource")
        best = (arn, kind)
        break
    if best is None:
        params = rec.get("requestParameters") or {}
        if rec.get("eventSource") == "s3.amazonaws.com" and params.get("bucketName"):
            best = (f"arn:aws:s3:::{params['bucketName']}", "S3Bucket")
    return best


@dataclass
class Aggregate:
    edges: dict[tuple[str, str, str, str], EdgeRow] = field(default_factory=dict)
    kinds: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    days: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    records: int = 0

    def add(self, src: str, kind: str, dst: str, action: str, when: str, account: str | None) -> None:
        key = (src, kind, dst, action)
        e = self.edges.get(key)
        if e is None:
            props: dict[str, object] = {"action": action} if action and kind != "OBSERVED_ASSUME" else {}
            self.edges[key] = EdgeRow(
                src, kind, dst, props, account=account, count=1, first_seen=when, last_seen=when
            )
        else:
            e.count += 1
            if when < (e.first_seen or when):
                e.first_seen = when
            if when > (e.last_seen or when):
                e.last_seen = when


def transform_records(records: list[Any], agg: Aggregate, file: str) -> None:
    """Fold one file's records into ``agg`` (pure apart from mutating the aggregate)."""
    for i, rec in enumerate(records):
        with guard(file, f"$.Records[{i}]"):
            _fold_record(i, rec, agg, file)


def _fold_record(i: int, rec: Any, agg: Aggregate, file: str) -> None:
    """One record of ``transform_records``."""
    if not isinstance(rec, dict):
        raise BadInput("record is not an object", file=file, path=f"$.Records[{i}]")
    when = check_time(rec.get("eventTime"), file, f"$.Records[{i}].eventTime")
    identity = rec.get("userIdentity")
    if not isinstance(identity, dict):
        raise BadInput("missing userIdentity", file=file, path=f"$.Records[{i}].userIdentity")
    agg.records += 1
    recipient = rec.get("recipientAccountId") or identity.get("accountId") or ""
    region = rec.get("awsRegion") or "unknown"
    agg.days.setdefault((recipient, region), set()).add(day_of(when))
    src, src_kind = principal_of(identity)
    agg.kinds.setdefault(src, (src_kind, identity.get("accountId") or _provider_account(src_kind, recipient)))
    service = (rec.get("eventSource") or "unknown").split(".", 1)[0]
    action = f"{service}:{rec.get('eventName')}"
    denied = rec.get("errorCode") in DENIED_CODES
    if rec.get("eventName") in ASSUME_EVENTS:
        role = (rec.get("requestParameters") or {}).get("roleArn")
        if role is not None and not isinstance(role, str):
            raise BadInput(
                "roleArn must be text", file=file, path=f"$.Records[{i}].requestParameters.roleArn"
            )
        if role:
            agg.kinds.setdefault(role, ("IamRole", role.split(":")[4] or None))
            agg.add(src, "OBSERVED_DENIED" if denied else "OBSERVED_ASSUME", role, action, when, recipient)
        return
    if rec.get("eventSource") == "iam.amazonaws.com" and rec.get("eventName") in ROLE_CHANGES:
        name = (rec.get("requestParameters") or {}).get("roleName")
        if isinstance(name, str) and name and recipient:
            _role_change(agg, src, recipient, name, action, when, denied)
        return
    if rec.get("eventSource") == "ec2.amazonaws.com" and rec.get("eventName") in GROUP_CHANGES:
        group = group_of(rec.get("requestParameters"))
        if group and recipient:
            _group_change(agg, src, recipient, region, group, action, when, denied)
        return
    target = _resource_of(rec)
    if target is None:
        return
    agg.kinds.setdefault(target[0], (target[1], None))
    agg.add(src, "OBSERVED_DENIED" if denied else "OBSERVED_CALL", target[0], action, when, recipient)
    if not denied and not rec.get("tlsDetails") and rec.get("eventSource") in TLS_TRACKED:
        agg.add(src, "OBSERVED_WITHOUT_TLS", target[0], action, when, recipient)
    _via_endpoint(
        agg, src, rec.get("vpcEndpointId"), rec.get("vpcEndpointAccountId"), region, recipient, action, when
    )
    _from_address(agg, src, rec.get("sourceIPAddress"), when, recipient)


ROLE_CHANGES = frozenset(
    {
        "UpdateAssumeRolePolicy",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "DeleteRole",
    }
)
"""IAM calls that change what a role trusts or may do. CloudTrail names the role (``roleName``), not its
ARN: the role is taken at the account's root path (a role under a path is a different node id)."""


def _role_change(
    agg: Aggregate, src: str, account: str, name: str, action: str, when: str, denied: bool
) -> None:
    role = f"arn:aws:iam::{account}:role/{name}"
    agg.kinds.setdefault(role, ("IamRole", account))
    agg.add(src, "OBSERVED_DENIED" if denied else "OBSERVED_CHANGE", role, action, when, account)


GROUP_CHANGES = frozenset(
    {
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
        "DeleteSecurityGroup",
    }
)
"""EC2 calls that change what a security group allows, by the group's id (see ``group_of``)."""


def group_of(params: Any) -> str | None:
    """The security group a change names: ``requestParameters.groupId`` (Authorize/Revoke, Delete), or
    ``requestParameters.ModifySecurityGroupRulesRequest.GroupId``, where CloudTrail records the request of
    ``ModifySecurityGroupRules`` (the path EventBridge patterns and detection queries on it use)."""
    if not isinstance(params, dict):
        return None
    nested = params.get("ModifySecurityGroupRulesRequest")
    group = params.get("groupId") or (nested.get("GroupId") if isinstance(nested, dict) else None)
    return group if isinstance(group, str) and group else None


def _group_change(
    agg: Aggregate, src: str, account: str, region: str, group: str, action: str, when: str, denied: bool
) -> None:
    node = f"arn:aws:ec2:{region}:{account}:security-group/{group}"
    agg.kinds.setdefault(node, ("SecurityGroup", account))
    agg.add(src, "OBSERVED_DENIED" if denied else "OBSERVED_CHANGE", node, action, when, account)


def _via_endpoint(
    agg: Aggregate,
    src: str,
    vpce: Any,
    owner: Any,
    region: str | None,
    recipient: str,
    action: str,
    when: str,
) -> None:
    """A call CloudTrail says came through a VPC endpoint (``vpcEndpointId``): the principal is tied to
    that endpoint for the network view (its owner is ``vpcEndpointAccountId`` when CloudTrail gives it,
    else the account that received the call)."""
    if not isinstance(vpce, str) or not vpce.startswith("vpce-"):
        return
    account = owner if isinstance(owner, str) and owner.isdigit() else recipient
    node = f"arn:aws:ec2:{region or 'unknown'}:{account}:vpc-endpoint/{vpce}"
    agg.kinds.setdefault(node, ("VpcEndpoint", account or None))
    agg.add(src, "OBSERVED_VIA_ENDPOINT", node, action, when, recipient)


@lru_cache(maxsize=65536)
def _address_node(text: str) -> str | None:
    """``urn:ip:<addr>`` for an address; None for what CloudTrail writes there when a service made the
    call (``ec2.amazonaws.com``, ``AWS Internal``)."""
    try:
        return f"urn:ip:{ipaddress.ip_address(text)}"
    except ValueError:
        return None


def _from_address(agg: Aggregate, src: str, address: Any, when: str, recipient: str) -> None:
    """The address a principal's call came from (``sourceIPAddress``), kept for the network view: a
    private one is a host in a VPC (through an endpoint), a public one the internet or a NAT gateway."""
    node = _address_node(address) if isinstance(address, str) and address else None
    if node is not None:
        agg.kinds.setdefault(node, ("Address", None))
        agg.add(src, "OBSERVED_FROM_ADDRESS", node, "", when, recipient)


LAKE_COLUMNS = {
    # CloudTrail Lake columns (SELECT them by these names) -> where they go in a CloudTrail record
    "eventtime": ("eventTime",),
    "eventsource": ("eventSource",),
    "eventname": ("eventName",),
    "awsregion": ("awsRegion",),
    "recipientaccountid": ("recipientAccountId",),
    "errorcode": ("errorCode",),
    "sourceipaddress": ("sourceIPAddress",),
    "vpcendpointid": ("vpcEndpointId",),
    "vpcendpointaccountid": ("vpcEndpointAccountId",),
    "useridentity.type": ("userIdentity", "type"),
    "useridentity.arn": ("userIdentity", "arn"),
    "useridentity.accountid": ("userIdentity", "accountId"),
    "useridentity.invokedby": ("userIdentity", "invokedBy"),
    "useridentity.sessioncontext.sessionissuer.arn": (
        "userIdentity",
        "sessionContext",
        "sessionIssuer",
        "arn",
    ),
    "rolearn": ("requestParameters", "roleArn"),
    "bucketname": ("requestParameters", "bucketName"),
}


def _lake_row(row: list[dict[str, str]]) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for cell in row:
        for col, value in cell.items():
            where = LAKE_COLUMNS.get(col.lower())
            if where is None or value in (None, "", "null"):
                continue
            node = rec
            for part in where[:-1]:
                node = node.setdefault(part, {})
            node[where[-1]] = value
    if "eventTime" in rec:  # Lake prints "2026-05-14 23:55:07.000"
        rec["eventTime"] = rec["eventTime"].replace(" ", "T").split(".")[0].rstrip("Z") + "Z"
    rec.setdefault("userIdentity", {})
    return rec


class _Issuer(msgspec.Struct):
    arn: str | None = None


class _SessionContext(msgspec.Struct):
    sessionIssuer: _Issuer | None = None


class _Identity(msgspec.Struct):
    type: str | None = None
    arn: str | None = None
    accountId: str | None = None
    invokedBy: str | None = None
    principalId: str | None = None
    sessionContext: _SessionContext | None = None
    userName: str | None = None
    identityProvider: str | None = None


class _Resource(msgspec.Struct):
    ARN: str | None = None
    type: str | None = None
    accountId: str | None = None


class _Params(msgspec.Struct):
    roleArn: str | None = None
    bucketName: str | None = None
    roleName: Any = None
    groupId: Any = None
    ModifySecurityGroupRulesRequest: Any = None


class _Record(msgspec.Struct):
    """Only the fields attribution reads: decoding skips the rest of each record, which is most of it."""

    eventTime: str
    userIdentity: _Identity
    eventSource: str | None = None
    eventName: str | None = None
    awsRegion: str | None = None
    recipientAccountId: str | None = None
    errorCode: str | None = None
    requestParameters: _Params | None = None
    resources: list[_Resource] | None = None
    tlsDetails: dict[str, Any] | None = None
    vpcEndpointId: str | None = None
    vpcEndpointAccountId: str | None = None
    sourceIPAddress: str | None = None


class _LogFile(msgspec.Struct):
    Records: list[_Record]


_LOG_DECODER = msgspec.json.Decoder(_LogFile)
_RESOURCE_KINDS = {"AWS::S3::Bucket": "S3Bucket", "AWS::IAM::Role": "IamRole"}
_TIME = TIME_PATTERN.fullmatch


def _provider_account(kind: str, recipient: str) -> str | None:
    """A web identity's account: the one its role assumption was made in (whose OIDC provider it used)."""
    return recipient or None if kind == "WebIdentity" else None


def _principal_of_struct(i: _Identity) -> tuple[str, str]:
    """``principal_of`` for the decoded schema (the hot path); a test holds the two to the same answers."""
    if i.type in ("AssumedRole", "FederatedUser") and i.sessionContext and i.sessionContext.sessionIssuer:
        arn = i.sessionContext.sessionIssuer.arn
        if arn:
            return arn, "IamRole" if ":role/" in arn else "IamUser"
    return principal_of(
        {
            "type": i.type,
            "arn": i.arn,
            "accountId": i.accountId,
            "invokedBy": i.invokedBy,
            "principalId": i.principalId,
            "userName": i.userName,
            "identityProvider": i.identityProvider,
        }
    )


def aggregate(records: list[Any], agg: Aggregate, file: str) -> None:
    """Fold one file's records, whichever way they were decoded, into ``agg``. A record whose fields are
    not what CloudTrail writes (a time that is not a time, a number where text belongs) refuses the file,
    naming the record."""
    with guard(file):
        if records and isinstance(records[0], _Record):
            transform_structs(records, agg, file)
        else:
            transform_records(records, agg, file)


def transform_structs(records: list[_Record], agg: Aggregate, file: str = "") -> None:
    """``transform_records`` for trail files decoded with the schema: same aggregate, without building
    a dict per record (CloudTrail's volume makes this the loop that matters)."""
    for i, rec in enumerate(records):
        agg.records += 1
        when = rec.eventTime
        if not _TIME(when):
            check_time(when, file, f"$.Records[{i}].eventTime")
        ident = rec.userIdentity
        recipient = rec.recipientAccountId or ident.accountId or ""
        agg.days.setdefault((recipient, rec.awsRegion or "unknown"), set()).add(when[:10])
        src, src_kind = _principal_of_struct(ident)
        agg.kinds.setdefault(src, (src_kind, ident.accountId or _provider_account(src_kind, recipient)))
        action = f"{(rec.eventSource or 'unknown').split('.', 1)[0]}:{rec.eventName}"
        denied = rec.errorCode in DENIED_CODES
        if rec.eventName in ASSUME_EVENTS:
            role = rec.requestParameters.roleArn if rec.requestParameters else None
            if role:
                agg.kinds.setdefault(role, ("IamRole", role.split(":")[4] or None))
                agg.add(
                    src, "OBSERVED_DENIED" if denied else "OBSERVED_ASSUME", role, action, when, recipient
                )
            continue
        if rec.eventSource == "iam.amazonaws.com" and rec.eventName in ROLE_CHANGES:
            name = rec.requestParameters.roleName if rec.requestParameters else None
            if isinstance(name, str) and name and recipient:
                _role_change(agg, src, recipient, name, action, when, denied)
            continue
        if rec.eventSource == "ec2.amazonaws.com" and rec.eventName in GROUP_CHANGES:
            p = rec.requestParameters
            group = p and group_of(
                {"groupId": p.groupId, "ModifySecurityGroupRulesRequest": p.ModifySecurityGroupRulesRequest}
            )
            if group and recipient:
                _group_change(agg, src, recipient, rec.awsRegion or "unknown", group, action, when, denied)
            continue
        target = None
        for r in rec.resources or ():
            if r.ARN and r.type != "AWS::S3::Object":
                target = (r.ARN, _RESOURCE_KINDS.get(r.type or "", "Resource"))
                break
        if (
            target is None
            and rec.eventSource == "s3.amazonaws.com"
            and rec.requestParameters
            and rec.requestParameters.bucketName
        ):
            target = (f"arn:aws:s3:::{rec.requestParameters.bucketName}", "S3Bucket")
        if target is None:
            continue
        agg.kinds.setdefault(target[0], (target[1], None))
        agg.add(src, "OBSERVED_DENIED" if denied else "OBSERVED_CALL", target[0], action, when, recipient)
        if not denied and not rec.tlsDetails and rec.eventSource in TLS_TRACKED:
            agg.add(src, "OBSERVED_WITHOUT_TLS", target[0], action, when, recipient)
        if rec.vpcEndpointId:
            _via_endpoint(
                agg, src, rec.vpcEndpointId, rec.vpcEndpointAccountId, rec.awsRegion, recipient, action, when
            )
        if rec.sourceIPAddress:
            _from_address(agg, src, rec.sourceIPAddress, when, recipient)


def read_events(path: Path) -> tuple[list[Any], BadInput | None]:
    """Records from a trail's log file, ``aws cloudtrail lookup-events`` output, or CloudTrail Lake
    ``get-query-results`` output (columns named as in ``LAKE_COLUMNS``). A damaged log file yields the
    records before the damage plus the problem."""
    try:
        raw = read_bytes(path)
    except BadInput:
        return load_records(path)  # damaged: keep what precedes the damage, say where it is
    try:
        return _LOG_DECODER.decode(raw).Records, None  # the common case, fast: schema records
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        pass  # another format, or a record without its required fields: the general path says which
    try:
        data = fast_json(raw)
    except ValueError:
        return load_records(path)
    if isinstance(data, dict) and isinstance(data.get("Records"), list):
        return data["Records"], None
    if isinstance(data, dict) and isinstance(data.get("Events"), list):
        out = []
        for i, e in enumerate(data["Events"]):
            try:
                out.append(json.loads(e["CloudTrailEvent"]))
            except (KeyError, TypeError, ValueError, RecursionError) as exc:
                return out, BadInput(
                    f"lookup-events entry without a readable CloudTrailEvent ({exc})",
                    file=str(path),
                    path=f"$.Events[{i}].CloudTrailEvent",
                )
        return out, None
    if isinstance(data, dict) and isinstance(data.get("QueryResultRows"), list):
        return [_lake_row(r) for r in data["QueryResultRows"]], None
    return [], BadInput(
        'not CloudTrail: expected a log file {"Records": [...]}, lookup-events {"Events": [...]} '
        'or Lake results {"QueryResultRows": [...]}',
        file=str(path),
    )


@dataclass
class IngestReport:
    files: int = 0
    skipped_already_ingested: int = 0
    records: int = 0
    edges: int = 0
    errors: list[str] = field(default_factory=list)


@writes("ingest cloudtrail")
def ingest_cloudtrail(store: GraphStore, paths: Iterable[Path | str]) -> IngestReport:
    """Read, aggregate and load in one write; bad files are reported and left out, the rest load.
    ``s3://bucket/prefix`` reads a trail's bucket through boto3."""
    report = IngestReport()
    with tempfile.TemporaryDirectory(prefix="blastwall-ct-") as tmp:
        local: list[Path] = []
        for p in paths:
            if str(p).startswith("s3://"):
                try:
                    local.append(fetch_s3(str(p), Path(tmp)))
                except BadInput as exc:
                    report.errors.append(str(exc))
            else:
                local.append(Path(p))
        return _ingest_files(store, local, report)


@dataclass
class _FileRead:
    """One file, read and folded on its own (by a worker): its digest, and its aggregate or why not."""

    digest: str
    agg: Aggregate | None = None
    errors: list[str] = field(default_factory=list)
    already: bool = False


def _read_file(f: Path, done: set[str]) -> _FileRead:
    digest = file_digest(f)
    if digest in done:
        return _FileRead(digest, already=True)
    file_agg = Aggregate()
    try:
        with guard(str(f)):
            records, problem = read_events(f)
        aggregate(records, file_agg, str(f))
    except BadInput as exc:
        return _FileRead(digest, errors=[str(exc)])
    if problem is not None:  # the records before the damage are kept
        return _FileRead(digest, file_agg if records else None, [str(problem)])
    return _FileRead(digest, file_agg)


def _ingest_files(store: GraphStore, paths: list[Path], report: IngestReport) -> IngestReport:
    done = ingested_digests(store)
    agg = Aggregate()
    new_files: dict[str, dict[str, Any]] = {}
    files = list(get_files(paths))
    for f, read in zip(files, over_files(files, partial(_read_file, done=done)), strict=True):
        if read.already or read.digest in new_files:
            report.skipped_already_ingested += 1
            continue
        report.errors += read.errors
        if read.agg is None:
            continue
        digest, file_agg = read.digest, read.agg
        _fold(agg, file_agg)
        report.files += 1
        report.records += file_agg.records
        new_files[digest] = {"source": SOURCE, "path": str(f), "records": file_agg.records}
    if new_files:
        stubs = ((node, kind, account) for node, (kind, account) in agg.kinds.items())
        report.edges = load_evidence(store, SOURCE, stubs, agg.edges.values(), new_files, agg.days)
    return report


def _fold(into: Aggregate, part: Aggregate) -> None:
    for k, e in part.edges.items():
        cur = into.edges.get(k)
        if cur is None:
            into.edges[k] = e
        else:
            cur.count += e.count
            cur.first_seen = min(filter(None, [cur.first_seen, e.first_seen]))
            cur.last_seen = max(filter(None, [cur.last_seen, e.last_seen]))
    for node, kind in part.kinds.items():
        into.kinds.setdefault(node, kind)
    for key, days in part.days.items():
        into.days.setdefault(key, set()).update(days)
    into.records += part.records
