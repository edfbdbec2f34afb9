"""Azure Activity Log and storage resource logs -> who did what, through which role assignment.

Both are read as Azure Monitor writes them when a diagnostic setting archives them to a storage account
(one JSON record per line in ``PT1H.json`` blobs, containers ``insights-activity-logs`` and
``insights-logs-storageread`` / ``-storagewrite`` / ``-storagedelete``), or as a JSON array (``az monitor
activity-log list``). Plain or gzipped.

* **Activity Log** (control plane). The caller is the ``objectidentifier`` claim (else
  ``identity.authorization.evidence.principalId``); the action is ``identity.authorization.action`` (the
  CLI's ``authorization.action``), on ``resourceId``; ``identity.authorization.evidence.roleAssignmentId``
  names the role assignment that allowed it ("Azure Activity Log event schema"). Failed operations are
  counted, not kept.
* **Storage resource logs** (data plane). An OAuth request's caller is ``identity.requester.objectId``; each
  entry of ``identity.authorization`` with ``result`` Granted names the data action and the role
  assignment. A request signed with the account key or a SAS has no principal: it is kept as the account's
  shared-key (or SAS) use, keyed by the operation ("StorageBlobLogs" schema).

An edge per principal, resource and (action, role assignment): ``OBSERVED_AZURE_ACCESS``. Coverage per
subscription and day, source ``azure-logs`` (``activity`` or ``storage`` where AWS coverage has a region).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import EdgeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import check_time
from analyzer.timeutil import iso, parse_time
from connectors.evidence.coverage import day_of
from connectors.evidence.loading import (
    IngestReport,
    evidence_files,
    file_digest,
    fold_edge,
    ingested_digests,
    load_aggregate,
    merge_part,
)
from connectors.jsonfile import parse_json_text, read_text

SOURCE = "azure-logs"
ACTIVITY, STORAGE = "activity", "storage"
"""The coverage slot (where AWS has a region) says which log covered the day."""
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
PRINCIPAL_PREFIX = "urn:azure:principal:"
MAX_ADDRESSES = 16
"""Addresses kept per edge (a storage firewall change is decided on each; past this many, the edge says so
with ``addresses_capped``)."""
STORAGE_CATEGORIES = {"storageread", "storagewrite", "storagedelete"}


def arm(id_: str) -> str:
    return id_.strip().rstrip("/").lower()


def guid(text: str) -> str:
    """A role assignment as the logs name it (an ARM id, a GUID, or the Activity Log's GUID without
    dashes) -> 32 lower-case hex digits, so all three meet."""
    return text.rsplit("/", 1)[-1].replace("-", "").lower()


def _address(caller: str) -> str:
    """``callerIpAddress`` (``10.0.0.4:53210``, ``[2001:db8::1]:443``) -> the address, or ""."""
    import ipaddress

    text = caller.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def _subscription(resource: str) -> str:
    parts = resource.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""


def _account_of_storage(resource: str) -> str:
    """A storage log's ``resourceId`` (``.../storageAccounts/NAME/blobServices/default``) -> the account."""
    r = arm(resource)
    at = r.find("/providers/microsoft.storage/storageaccounts/")
    if at < 0:
        return r
    rest = r[at + len("/providers/microsoft.storage/storageaccounts/") :].split("/", 1)[0]
    return r[: at + len("/providers/microsoft.storage/storageaccounts/")] + rest


@dataclass
class Aggregate:
    edges: dict[tuple[str, str, str, str], EdgeRow] = field(default_factory=dict)
    stubs: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    days: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    counted: Counter[str] = field(default_factory=Counter)
    nics: dict[tuple[str, str], str] = field(default_factory=dict)
    """(subscription, private address) -> the network interface holding it, from the loaded tenant: a
    caller at that address (a storage request over a service or private endpoint) is that interface."""

    def add(
        self,
        source: str,
        who: str,
        kind: str,
        resource: str,
        action: str,
        assignment: str,
        when: str,
        auth: str = "oauth",
        address: str = "",
    ) -> None:
        """One request: ``source`` is ``activity`` (control plane) or ``storage`` (data plane); ``auth`` how
        it was authorized (``oauth``, ``accountkey``, ``sas``, ``anonymous``)."""
        sub = _subscription(resource)
        plane = "data" if source == STORAGE else "control"
        row: dict[str, object] = {"action": action, "assignment": assignment, "plane": plane, "auth": auth}
        edge = EdgeRow(who, "OBSERVED_AZURE_ACCESS", resource, row, sub or None, 1, when, when)
        e = fold_edge(self.edges, (who, resource, action.lower(), assignment + "|" + auth), edge)
        if address:  # where the requests came from (a storage firewall decides by it): a few kept
            seen = list(e.props.get("addresses") or [])  # type: ignore[call-overload]
            if address not in seen:
                if len(seen) < MAX_ADDRESSES:
                    e.props["addresses"] = sorted([*seen, address])
                else:
                    e.props["addresses_capped"] = True
        self.stubs.setdefault(who, (kind, None))
        self.stubs.setdefault(resource, ("AzureScope", sub or None))
        if sub:  # the slot AWS coverage gives a region: which log, and for storage logs which account
            where = f"{STORAGE}:{resource.rsplit('/', 1)[-1]}" if source == STORAGE else source
            self.days.setdefault((sub, where), set()).add(day_of(when))


def get_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) of a file: JSON lines, or one JSON array or ``{"records"|"value": [...]}``."""
    text = read_text(path)
    head = text.lstrip()[:1]
    if (
        head == "["
        or (head == "{" and '"records"' in text[:2048])
        or (head == "{" and '"value"' in text[:2048])
    ):
        try:
            doc = parse_json_text(text, str(path))
        except BadInput:
            doc = None
        if isinstance(doc, list | dict):
            items = doc if isinstance(doc, list) else doc.get("records") or doc.get("value")
            if isinstance(items, list):
                for i, rec in enumerate(items):
                    yield f"{path}#[{i}]", rec
                return
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"{path}:{n}", parse_json_text(line, f"{path}:{n}")


def _activity(rec: dict[str, Any], where: str, agg: Aggregate) -> None:
    identity: dict[str, Any] = rec["identity"] if isinstance(rec.get("identity"), dict) else {}
    authz = identity.get("authorization") or rec.get("authorization") or {}
    claims = identity.get("claims") or rec.get("claims") or {}
    evidence = authz.get("evidence") or {}
    status = rec.get("resultType")
    if status is None and isinstance(rec.get("status"), dict):
        status = rec["status"].get("value")  # az monitor activity-log list
    if str(status or "").lower() not in ("success", "succeeded", "start", "started", "accepted"):
        agg.counted["activity_not_succeeded"] += 1
        return
    if str(status).lower() in ("start", "started", "accepted"):
        agg.counted["activity_start_events"] += 1  # the operation's Start; its Success is the one counted
        return
    oid = claims.get(OID_CLAIM) or evidence.get("principalId")
    operation = rec.get("operationName")
    action = authz.get("action") or (operation.get("value") if isinstance(operation, dict) else operation)
    resource = rec.get("resourceId")
    when = rec.get("time") or rec.get("eventTimestamp")
    if not (
        isinstance(oid, str)
        and isinstance(action, str)
        and isinstance(resource, str)
        and isinstance(when, str)
    ):
        agg.counted["activity_without_principal"] += 1
        return
    when = iso(parse_time(check_time(when, where, "$.time")))
    assignment = guid(str(evidence.get("roleAssignmentId") or ""))
    agg.add(
        ACTIVITY, PRINCIPAL_PREFIX + oid.lower(), "AzurePrincipal", arm(resource), action, assignment, when
    )
    agg.counted["activity_records"] += 1


def _storage(rec: dict[str, Any], where: str, agg: Aggregate) -> None:
    when, resource = rec.get("time"), rec.get("resourceId")
    if not (isinstance(when, str) and isinstance(resource, str)):
        raise BadInput("a storage log record needs time and resourceId", file=where)
    when = iso(parse_time(check_time(when, where, "$.time")))
    if int(rec.get("statusCode") or 0) >= 400:
        agg.counted["storage_refused"] += 1
        return
    account = _account_of_storage(resource)
    identity: dict[str, Any] = rec["identity"] if isinstance(rec.get("identity"), dict) else {}
    kind = str(identity.get("type") or "").lower()
    if kind in ("accountkey", "sas", "anonymous"):
        # no principal: the caller is its address (the account key or a SAS could be anyone's)
        ip = _address(str(rec.get("callerIpAddress") or ""))
        nic = agg.nics.get((_subscription(account), ip)) if ip else None
        if nic is not None:
            who, node_kind = nic, "AzureNic"
        elif ip:
            who, node_kind = f"urn:ip:{ip}", "Address"
        else:
            who, node_kind = f"urn:azure:{kind}:{account.rsplit('/', 1)[-1]}", "Principal"
        agg.add(STORAGE, who, node_kind, account, str(rec.get("operationName") or ""), "", when, kind, ip)
        agg.counted[f"storage_{kind}"] += 1
        return
    oid = (identity.get("requester") or {}).get("objectId")
    granted = [
        a for a in identity.get("authorization") or [] if str(a.get("result") or "").lower() == "granted"
    ]
    if not isinstance(oid, str) or not granted:
        agg.counted["storage_without_principal"] += 1
        return
    ip = _address(str(rec.get("callerIpAddress") or ""))
    for a in granted:
        assignment = guid(str(a.get("roleAssignmentId") or ""))
        agg.add(
            STORAGE,
            PRINCIPAL_PREFIX + oid.lower(),
            "AzurePrincipal",
            account,
            str(a.get("action") or ""),
            assignment,
            when,
            address=ip,
        )
    agg.counted["storage_records"] += 1


def nic_addresses(nodes: Iterable[Any]) -> dict[tuple[str, str], str]:
    """(subscription, private address) -> interface, for the addresses exactly one interface holds."""
    seen: dict[tuple[str, str], set[str]] = {}
    for n in nodes:
        for ip in (n.props or {}).get("private_ips") or []:
            seen.setdefault((_subscription(n.id), str(ip)), set()).add(n.id)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def transform_records(records: Iterable[tuple[str, Any]], agg: Aggregate) -> None:
    """Fold one file's records into ``agg`` (pure)."""
    for where, rec in records:
        if not isinstance(rec, dict):
            raise BadInput(f"expected a JSON object, found {type(rec).__name__}", file=where)
        category = str(rec.get("category") or "").lower()
        if category in STORAGE_CATEGORIES:
            _storage(rec, where, agg)
        elif category == "administrative" or "eventTimestamp" in rec or "operationName" in rec:
            _activity(rec, where, agg)
        else:
            raise BadInput(
                f"neither an Activity Log nor a storage log record (category {rec.get('category')!r})",
                file=where,
            )


@writes("ingest azure-logs")
def ingest_azure_logs(store: GraphStore, paths: Iterable[Path]) -> IngestReport:
    """Log files (or directories of them); a file that cannot be read is reported and the rest load."""
    report = IngestReport()
    done = ingested_digests(store)
    nics = nic_addresses(store.read_nodes(("AzureNic",)))
    agg = Aggregate(nics=nics)
    new_files: dict[str, dict[str, Any]] = {}
    files = evidence_files(paths, lambda x: x.suffix in (".json", ".gz"))
    for f in files:
        digest = file_digest(f)
        if digest in done or digest in new_files:
            report.skipped_already_ingested += 1
            continue
        part = Aggregate(nics=nics)
        try:
            transform_records(get_records(f), part)
        except BadInput as exc:
            report.errors.append(str(exc))
            continue
        for k, e in part.edges.items():
            mine = fold_edge(agg.edges, k, e)
            if mine is not e:  # where the requests came from: both files' addresses, a few kept
                both = sorted({*(mine.props.get("addresses") or []), *(e.props.get("addresses") or [])})  # type: ignore[misc]
                if both:
                    mine.props["addresses"] = both[:MAX_ADDRESSES]
                    if len(both) > MAX_ADDRESSES or e.props.get("addresses_capped"):
                        mine.props["addresses_capped"] = True
        merge_part(agg, part)
        new_files[digest] = {"source": SOURCE, "path": str(f), "records": sum(part.counted.values())}
        report.files += 1
    return load_aggregate(store, SOURCE, agg, new_files, report)
