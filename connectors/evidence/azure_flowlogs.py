"""Azure NSG flow logs (version 2) and VNet flow logs -> who talks to whom, on which port.

Network Watcher writes them to a storage account (container ``insights-logs-networksecuritygroupflowevent``,
``PT1H.json`` blobs, one JSON document ``{"records": [...]}``); each record is one NSG's flows for a minute:
``properties.flows[].rule`` and ``.flows[].flowTuples``, each tuple
``timestamp,source IP,destination IP,source port,destination port,protocol (T/U),direction (I/O),decision
(A/D),state (B/C/E),packets and bytes each way`` ("Flow logging for network security groups", log format).

A flow counts once, at its Begin tuple (state ``B``), allowed (``A``); refused ones are counted, not kept.
Each end is the network interface of the NSG's subscription holding that private address (from the loaded
tenant), else the address. An edge per source, destination, protocol and destination port:
``OBSERVED_FLOW`` (the same kind VPC flow logs make). Coverage per subscription and day (source
``azure-logs``, slot ``flow:<nsg>``, or ``flow:<virtual network>`` for VNet flow logs, their successor:
``insights-logs-flowlogflowevent``, records with ``flowRecords``, tuples timed in milliseconds and a ``D``
state for what was denied).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.schema import EdgeRow
from analyzer.graph.store import GraphStore
from analyzer.timeutil import iso
from connectors.evidence.azure_logs import SOURCE, nic_addresses
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

PROTOCOLS = {"T": "tcp", "U": "udp"}


@dataclass
class FlowAggregate:
    nics: dict[tuple[str, str], str]
    edges: dict[tuple[str, str, str, str], EdgeRow] = field(default_factory=dict)
    stubs: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    days: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    counted: Counter[str] = field(default_factory=Counter)

    def end(self, sub: str, ip: str) -> str:
        nic = self.nics.get((sub, ip))
        if nic is not None:
            self.stubs.setdefault(nic, ("AzureNic", sub))
            return nic
        self.stubs.setdefault(f"urn:ip:{ip}", ("Address", None))
        return f"urn:ip:{ip}"


def _subscription(resource: str) -> str:
    parts = resource.lower().split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""


def transform_flows(doc: Any, file: str, agg: FlowAggregate) -> None:
    """Fold one file's records into ``agg`` (pure)."""
    records = doc.get("records") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise BadInput('an NSG flow log is {"records": [...]}', file=file)
    for i, rec in enumerate(records):
        where = f"{file}#records[{i}]"
        if isinstance(rec, dict) and isinstance(rec.get("flowRecords"), dict):
            _vnet_record(rec, where, agg)
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("resourceId"), str):
            raise BadInput("a flow log record needs its resourceId", file=where)
        props = rec.get("properties") or {}
        if props.get("Version") not in (2, "2"):
            raise BadInput(f"flow log version {props.get('Version')!r}: version 2 is read", file=where)
        nsg = rec["resourceId"].lower().rstrip("/")
        sub = _subscription(nsg)
        for group in props.get("flows") or []:
            for by_mac in group.get("flows") or []:
                for k, text in enumerate(by_mac.get("flowTuples") or []):
                    t = str(text).split(",")
                    if len(t) < 9 or not t[0].isdigit():
                        raise BadInput(
                            f"not a version 2 flow tuple: {text!r}", file=f"{where}.flowTuples[{k}]"
                        )
                    if t[8] != "B":
                        continue  # a flow's continuation or end: counted at its begin
                    if t[7] != "A":
                        agg.counted["flows_denied"] += 1
                        continue
                    proto = PROTOCOLS.get(t[5])
                    if proto is None or not t[4].isdigit():
                        agg.counted["flows_other_protocol"] += 1
                        continue
                    when = iso(datetime.fromtimestamp(int(t[0]), UTC))
                    _count(
                        agg,
                        sub,
                        t[1],
                        t[2],
                        proto,
                        t[4],
                        when,
                        group.get("rule"),
                        f"flow:{nsg.rsplit('/', 1)[-1]}",
                    )


def _count(
    agg: FlowAggregate,
    sub: str,
    src_ip: str,
    dst_ip: str,
    proto: str,
    port: str,
    when: str,
    rule: Any,
    slot: str,
) -> None:
    src, dst = agg.end(sub, src_ip), agg.end(sub, dst_ip)
    row = {"protocol": proto, "port": port, "nsg_rule": rule}
    edge = EdgeRow(src, "OBSERVED_FLOW", dst, row, sub or None, 1, when, when)
    fold_edge(agg.edges, (src, dst, proto, port), edge)
    agg.days.setdefault((sub, slot), set()).add(day_of(when))
    agg.counted["flows"] += 1


def _vnet_record(rec: dict[str, Any], where: str, agg: FlowAggregate) -> None:
    """A VNet flow log record (``flowLogVersion`` 4, category ``FlowLogFlowEvent``): tuples
    ``timestamp (ms),source,destination,source port,destination port,protocol number,direction,state
    (B/C/E, or D: denied),encryption,packets and bytes each way`` ("Virtual network flow logs", log format)."""
    target = str(rec.get("targetResourceID") or "").lower().rstrip("/")
    if not target:
        raise BadInput("a VNet flow log record needs its targetResourceID", file=where)
    sub = _subscription(target)
    slot = f"flow:{target.rsplit('/', 1)[-1]}"
    for flow in rec["flowRecords"].get("flows") or []:
        for group in flow.get("flowGroups") or []:
            for k, text in enumerate(group.get("flowTuples") or []):
                t = str(text).split(",")
                if len(t) < 8 or not t[0].isdigit():
                    raise BadInput(f"not a VNet flow log tuple: {text!r}", file=f"{where}.flowTuples[{k}]")
                if t[7] == "D":
                    agg.counted["flows_denied"] += 1
                    continue
                if t[7] != "B":
                    continue
                proto = {"6": "tcp", "17": "udp"}.get(t[5])
                if proto is None or not t[4].isdigit():
                    agg.counted["flows_other_protocol"] += 1
                    continue
                when = iso(datetime.fromtimestamp(int(t[0]) / 1000, UTC))
                _count(agg, sub, t[1], t[2], proto, t[4], when, group.get("rule"), slot)


@writes("ingest azure-flowlogs")
def ingest_azure_flowlogs(store: GraphStore, paths: Iterable[Path]) -> IngestReport:
    """NSG flow log files (or directories of them); a bad file is reported and the rest load."""
    report = IngestReport()
    done = ingested_digests(store)
    agg = FlowAggregate(nic_addresses(store.read_nodes(("AzureNic",))))
    new_files: dict[str, dict[str, Any]] = {}
    files = evidence_files(paths, lambda x: x.suffix == ".json")
    for f in files:
        digest = file_digest(f)
        if digest in done or digest in new_files:
            report.skipped_already_ingested += 1
            continue
        part = FlowAggregate(agg.nics)
        try:
            transform_flows(parse_json_text(read_text(f), str(f)), str(f), part)
        except BadInput as exc:
            report.errors.append(str(exc))
            continue
        for k, e in part.edges.items():
            fold_edge(agg.edges, k, e)
        merge_part(agg, part)
        new_files[digest] = {"source": SOURCE, "path": str(f), "records": sum(part.counted.values())}
        report.files += 1
    return load_aggregate(store, SOURCE, agg, new_files, report)
