"""VPC flow logs -> observed flows between endpoints.

Reads the S3 delivery layout (``.log.gz`` / ``.log``, first line a header naming the fields, so custom
formats work) and plain files in the version 2 default format without a header. Addresses resolve to
ENIs through the snapshot's private IPs; unresolved ones become ``urn:ip:<addr>`` nodes. ACCEPT records
become ``OBSERVED_FLOW``, REJECT records ``OBSERVED_REJECT`` (kept apart). Responses are folded onto
their request's direction (``_is_response``), so a flow edge points from client to server.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from analyzer.collector import paused
from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import EdgeRow
from analyzer.graph.store import GraphStore
from analyzer.inputs import guard
from analyzer.network.transit import TransitRoutes
from analyzer.timeutil import iso
from analyzer.timings import phase
from connectors.aws.addresses import COLLECTION as ADDRESS_HISTORY
from connectors.evidence.attribution import FlowAttribution
from connectors.evidence.flow_totals import FlowAggregate, FlowPart, FlowTotals, part_of
from connectors.evidence.loading import file_digest, ingested_digests, load_evidence
from connectors.evidence.parallel import over_files
from connectors.jsonfile import read_text

SOURCE = "flowlogs"
V2_FIELDS = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
]
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def get_files(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from sorted(
                x for x in p.rglob("*") if x.is_file() and x.name.endswith((".log", ".log.gz", ".txt"))
            )
        elif p.exists():
            yield p
        else:
            raise BadInput("no such file or directory", file=str(p))


def transform_lines(
    lines: list[str],
    file: str,
    eni_by_ip: dict[str, str] | Callable[[str, str | None], str | None] | FlowAttribution,
    region: str,
    agg: FlowAggregate,
) -> None:
    """Fold one file's lines into ``agg``. A line with the wrong field count is skipped and counted."""
    fields = V2_FIELDS
    start = 0
    if lines and not lines[0].split(" ", 1)[0].isdigit():
        fields = lines[0].split()
        start = 1
    idx = {f: i for i, f in enumerate(fields)}
    attribution = eni_by_ip if isinstance(eni_by_ip, FlowAttribution) else None
    resolve: Callable[[str, str | None], str | None]
    if isinstance(eni_by_ip, dict):
        mapping = eni_by_ip
        resolve = lambda ip, _when: mapping.get(ip)  # noqa: E731  (a plain ip -> interface map, in tests)
    elif attribution is None:
        resolve = eni_by_ip  # type: ignore[assignment]
    else:
        resolve = lambda _ip, _when: None  # noqa: E731  (unused: the attribution decides both ends)
    for needed in ("srcaddr", "dstaddr", "dstport", "srcport", "protocol", "action", "start"):
        if needed not in idx:
            raise BadInput(f"flow log header lacks the field {needed!r}", file=file, line=1)
    # the hot loop (at scale L, 17 million records): the same checks and answers, with what repeats
    # across records (an end's node kind, a record's covered day) looked up once
    n_fields = len(fields)
    has_status, has_account, has_flags = "log-status" in idx, "account-id" in idx, "tcp-flags" in idx
    has_pkt_src, has_pkt_dst = "pkt-srcaddr" in idx, "pkt-dstaddr" in idx
    endpoints, edges, days = agg.endpoints, agg.edges, agg.days
    epochs = agg.epochs
    covered: set[str] | None = None
    covered_key: tuple[str, str] | None = None
    for n, line in enumerate(lines[start:], start=start + 1):
        parts = line.split()
        if len(parts) != n_fields:
            if parts:  # a blank line is no record
                agg.skipped.append(f"{file}:{n}: expected {n_fields} fields, found {len(parts)}")
            continue
        rec = dict(zip(fields, parts, strict=False))  # the length is checked above
        if (has_status and rec["log-status"] in ("NODATA", "SKIPDATA")) or rec["srcaddr"] == "-":
            continue
        src = rec["pkt-srcaddr"] if has_pkt_src else rec["srcaddr"]
        dst = rec["pkt-dstaddr"] if has_pkt_dst else rec["dstaddr"]
        sport, dport = rec["srcport"], rec["dstport"]
        when = _when(rec["start"])
        if (  # one line of checks, each a set lookup or a cached answer; the reason only when it fails
            when is None
            or sport not in _PORTS
            or dport not in _PORTS
            or rec["action"] not in _ACTIONS
            or not _is_ip(src)
            or not _is_ip(dst)
        ):
            agg.skipped.append(f"{file}:{n}: {_unusable(rec)}")
            continue
        agg.records += 1
        if _is_response(rec, sport, dport) if has_flags else _answers_client(sport, dport):
            src, dst, sport, dport = dst, src, dport, sport  # fold a response onto its request
        proto = PROTOCOLS.get(rec["protocol"], rec["protocol"])
        account = rec["account-id"] if has_account else "unknown"
        if covered_key is None or covered_key[0] != account:
            covered_key = (account, region)
            covered = days.setdefault(covered_key, set())
        assert covered is not None
        covered.add(when[:10])
        if attribution is not None:
            a, b = attribution.ends(rec, src, dst, when, f"{file}:{n}")
        else:
            a = resolve(src, when) or f"urn:ip:{src}"
            b = resolve(dst, when) or f"urn:ip:{dst}"
        if a not in endpoints:
            endpoints[a] = _end_kind(a)
        if b not in endpoints:
            endpoints[b] = _end_kind(b)
        kind = "OBSERVED_FLOW" if rec["action"] == "ACCEPT" else "OBSERVED_REJECT"
        key = (a, kind, b, proto, dport)
        e = edges.get(key)
        if e is None:
            epochs.setdefault(when, int(rec["start"]))
            edges[key] = EdgeRow(
                a,
                kind,
                b,
                {"protocol": proto, "port": dport},
                account=account,
                count=1,
                first_seen=when,
                last_seen=when,
            )
        else:
            e.count += 1
            if e.first_seen is None or when < e.first_seen:
                epochs.setdefault(when, int(rec["start"]))
                e.first_seen = when
            if e.last_seen is None or when > e.last_seen:
                epochs.setdefault(when, int(rec["start"]))
                e.last_seen = when


def _end_kind(end: str) -> str:
    """The node kind of a flow's end by its id."""
    if end.startswith("urn:ip:"):
        return "Address"
    return "Pod" if end.startswith("k8s://") else "NetworkInterface"


def _read_file(
    f: Path, done: set[str], eni_by_ip: FlowAttribution
) -> tuple[str, FlowPart | None, str | None]:
    """One file read and folded on its own (by a worker): (digest, its flows as columns, or why not; both
    None when it was ingested before)."""
    digest = file_digest(f)
    if digest in done:
        return digest, None, None
    part = FlowAggregate()
    saved = eni_by_ip.fresh_tallies()
    try:
        with guard(str(f)):
            transform_lines(read_text(f).splitlines(), str(f), eni_by_ip, _region_of(f), part)
    except BadInput as exc:
        return digest, None, str(exc)
    finally:  # this file's tallies travel with its aggregate (from a worker, they would be lost)
        part.attribution = eni_by_ip.restore_tallies(saved)
    return digest, part_of(part), None


EPOCH_MAX = 4102444800  # 2100-01-01: a flow record's start beyond it (or not a number) is not a time


@lru_cache(maxsize=1 << 16)
def _is_ip(text: str) -> bool:
    if text == "-":
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_PORTS = frozenset(["-", *map(str, range(65536))])
_ACTIONS = frozenset(["ACCEPT", "REJECT", "-"])


def _unusable(rec: dict[str, str]) -> str:
    """Why a record cannot be evidence (it is then skipped and counted, never stored half-understood)."""
    if _when(rec["start"]) is None:
        return f"start {rec['start'][:40]!r} is not a time (epoch seconds before 2100)"
    if rec["srcport"] not in _PORTS or rec["dstport"] not in _PORTS:
        bad = rec["srcport"] if rec["srcport"] not in _PORTS else rec["dstport"]
        return f"port {bad[:40]!r} is not a port"
    if rec["action"] not in _ACTIONS:
        return f"action {rec['action'][:40]!r} is neither ACCEPT nor REJECT"
    for f in ("srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"):
        v = rec.get(f)
        if v is not None and not _is_ip(v):
            return f"{f} {v[:40]!r} is not an IP address"
    return "unusable record"


@lru_cache(maxsize=1 << 16)
def _when(start: str) -> str | None:
    """A record's ``start`` (epoch seconds) as ISO text, or None if it is not a time; records of one
    capture window share it."""
    if not start.isdigit() or len(start) > 10 or int(start) >= EPOCH_MAX:
        return None
    return iso(datetime.fromtimestamp(int(start), UTC))


def _is_response(rec: dict[str, str], sport: str, dport: str) -> bool:
    """Which side started the connection. With ``tcp-flags`` (v3+): SYN-ACK (18) marks the response.
    Without: the side on an ephemeral port (>= 32768, or any port when the other is below 1024) is the
    client, so a record *from* the lower, service port *to* it is a response."""
    flags = rec.get("tcp-flags", "-")
    if flags.isdigit() and int(flags) & 2:
        return int(flags) & 18 == 18
    return _answers_client(sport, dport)


@lru_cache(maxsize=1 << 16)
def _answers_client(sport: str, dport: str) -> bool:
    """By ports alone: the side on an ephemeral port is the client (see ``_is_response``)."""
    if not (sport.isdigit() and dport.isdigit()):
        return False
    s, d = int(sport), int(dport)
    return s < d and (s < 1024 or d >= 32768)


def _region_of(path: Path) -> str:
    parts = path.parts
    if "vpcflowlogs" in parts:
        i = parts.index("vpcflowlogs")
        if i + 1 < len(parts):
            return parts[i + 1]
    return "unknown"


@dataclass
class IngestReport:
    files: int = 0
    skipped_already_ingested: int = 0
    records: int = 0
    skipped_lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    attribution: dict[str, Any] = field(default_factory=dict)
    """How each end of each record was attributed (``connectors.evidence.attribution``)."""


def get_log_group(uri: str) -> Iterator[tuple[str, list[str]]]:
    """``logs://GROUP``: each log stream's messages through FilterLogEvents (read-only), oldest first."""
    from connectors.aws.session import client

    group = uri.removeprefix("logs://").strip("/")
    logs = client("logs")
    streams: dict[str, list[str]] = {}
    try:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            for ev in page.get("events", []):
                streams.setdefault(ev.get("logStreamName", "?"), []).append(ev["message"])
    except Exception as exc:  # ResourceNotFoundException, AccessDenied, no endpoint: name the group
        raise BadInput(f"cannot read CloudWatch Logs group {group!r}: {exc}", file=uri) from exc
    yield from sorted(streams.items())


def _routes_between_vpcs(store: GraphStore) -> tuple[list[tuple[str, str]], TransitRoutes]:
    """Active VPC peering connections of the snapshot, as (requester VPC, accepter VPC), and where each
    VPC's transit gateway routes its traffic."""
    from analyzer.network.load import NETWORK
    from analyzer.network.transit import transit_routes

    peerings = []
    transit = []
    for text in store.get_document_texts(NETWORK).values():
        if "VpcPeeringConnections" not in text and "TransitGateway" not in text:
            continue
        data = json.loads(text)
        transit.append(data)
        for p in (data.get("ec2-DescribeVpcPeeringConnections") or {}).get("VpcPeeringConnections", []):
            if (p.get("Status") or {}).get("Code") == "active":
                a = (p.get("RequesterVpcInfo") or {}).get("VpcId")
                b = (p.get("AccepterVpcInfo") or {}).get("VpcId")
                if a and b:
                    peerings.append((str(a), str(b)))
    return peerings, transit_routes(transit)


def _logs_region() -> str:
    from connectors.aws.session import client

    return str(client("logs").meta.region_name or "unknown")


def _fold_files(
    files: list[Path],
    results: Iterable[tuple[str, FlowPart | None, str | None]],
    totals: FlowTotals,
    eni_by_ip: FlowAttribution,
    new_files: dict[str, dict[str, Any]],
    report: IngestReport,
) -> None:
    """Add each file's flows to ``totals`` in file order; a file read before (or twice in this run) is
    counted as skipped, a bad one reported."""
    for f, (digest, got, error) in zip(files, results, strict=True):
        if digest in new_files or (got is None and error is None):
            report.skipped_already_ingested += 1
            continue
        if got is None:
            report.errors.append(str(error))
            continue
        eni_by_ip.absorb_tallies(got.attribution)
        totals.add(got)
        report.files += 1
        new_files[digest] = {"source": SOURCE, "path": str(f), "records": got.records}


@writes("ingest flowlogs")
def ingest_flowlogs(
    store: GraphStore, paths: Iterable[Path | str], fields: str | None = None
) -> IngestReport:
    """Files/directories (S3 delivery layout) or ``logs://GROUP`` (CloudWatch Logs, one message per
    record). ``fields`` is the log format's field list for sources without a header line (CloudWatch
    Logs): default the version 2 default format."""
    report = IngestReport()
    with phase("interfaces and address history"), paused():  # a million objects: see analyzer.collector
        peerings, transit = _routes_between_vpcs(store)
        eni_by_ip = FlowAttribution.build(
            store.get_documents(ADDRESS_HISTORY),
            (n for n in store.read_nodes(("NetworkInterface",)) if n.props),
            peerings,
            transit,
            (n for n in store.read_nodes(("Pod",)) if n.props),
        )
    done = ingested_digests(store)
    totals = FlowTotals()
    new_files = {}
    header = [fields] if fields else []
    for p in [p for p in paths if str(p).startswith("logs://")]:
        try:
            for stream, messages in get_log_group(str(p)):
                name = f"{p}/{stream}"
                digest = hashlib.sha256("\n".join([name, *messages]).encode()).hexdigest()
                if digest in done or digest in new_files:
                    report.skipped_already_ingested += 1
                    continue
                part = FlowAggregate()
                with guard(name):
                    transform_lines(header + messages, name, eni_by_ip, _logs_region(), part)
                totals.add(part_of(part))
                report.files += 1
                new_files[digest] = {"source": SOURCE, "path": name, "records": part.records}
        except BadInput as exc:
            report.errors.append(str(exc))
    files = list(get_files([Path(p) for p in paths if not str(p).startswith("logs://")]))
    read = partial(_read_file, done=done, eni_by_ip=eni_by_ip)
    with phase("read and fold the files"):
        _fold_files(files, over_files(files, read), totals, eni_by_ip, new_files, report)
    report.records = totals.records
    report.skipped_lines = totals.skipped
    report.attribution = eni_by_ip.summary()
    del eni_by_ip, read  # the interfaces and addresses are not needed to write: their memory goes back
    if new_files:
        with phase("write the flows"):
            stubs = ((node, kind, None) for node, kind in totals.endpoints())
            load_evidence(store, SOURCE, stubs, (), new_files, totals.days, (totals, len(totals)))
    return report
