"""Proposed remediations from the tools teams already run. Formats are a registry: one module each.

``detect`` picks the format from a file's content; an unknown format is refused with the list of the
formats understood.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from analyzer.errors import BadInput
from analyzer.graph.lease import writes
from analyzer.graph.store import GraphStore
from analyzer.inputs import check_depth, decode_utf8, guard, load_yaml
from analyzer.timeutil import iso, now
from connectors.jsonfile import load_json, parse_json_text

COLLECTION = "proposals"


@dataclass(frozen=True)
class Skipped:
    """A finding a parser read and did not make a proposal of, and why: ``passed`` (the check passes),
    ``archived``, ``suppressed``, ``resolved``, ``muted``, ``not_available`` (the check could not run)."""

    reason: str
    finding_id: str


@dataclass(frozen=True)
class ProposalFormat:
    name: str
    description: str
    detect: Callable[[Any], bool]
    parse: Callable[[Any, str], list[Any]]
    """Proposals (dicts) and ``Skipped`` records."""


FORMATS: dict[str, ProposalFormat] = {}


def register(fmt: ProposalFormat) -> ProposalFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def proposal_id(fmt: str, finding_id: str) -> str:
    """Stable id: importing the same finding twice yields the same proposal."""
    return "bw-" + hashlib.sha256(f"{fmt}\x1f{finding_id}".encode()).hexdigest()[:12]


def securityhub_proposal_id(finding_id: str) -> str:
    """A Security Hub finding is one proposal whether it arrives as ASFF (its ``Id``) or as OCSF (its
    ``finding_info.uid``, the same finding identifier): the identity is that id."""
    return proposal_id("asff", finding_id)


def prowler_proposal_id(check: str, account: str, region: str | None, resource: str) -> str:
    """One Prowler finding is one proposal whichever output it came from: its CSV and OCSF uid name the
    resource, its ASFF Id a hash of it, so the identity is the check, account, region and resource."""
    return proposal_id("prowler", "\x1f".join((check, account, region or "", resource)))


def detect(data: Any, file: str) -> ProposalFormat:
    for fmt in FORMATS.values():
        if fmt.detect(data):
            return fmt
    known = ", ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
    raise BadInput(f"unknown proposal format; formats understood: {known}", file=file)


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Findings read and not proposed, by reason (passed, suppressed, … and ``duplicate``: the same
    finding from another file or format of this import)."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _split(report: ImportReport, items: list[Any], file: str) -> list[dict[str, Any]]:
    """The proposals of a parser's output, checked; its ``Skipped`` records counted. A proposal that fails
    its check is reported (file, proposal, field) and left out; the file's others are kept (two oversized
    deltas once cost a file its other 7,502 proposals)."""
    out = []
    for item in items:
        if isinstance(item, Skipped):
            report.skip(item.reason)
            continue
        try:
            out.append(check_proposal(item, file))
        except BadInput as exc:
            report.errors.append(str(exc))
    return out


def _read(f: Path) -> Any:
    if f.suffix in (".yaml", ".yml"):
        return check_depth(load_yaml(f.read_bytes(), str(f)), str(f))
    if f.suffix == ".csv":
        return _csv_rows(decode_utf8(f.read_bytes(), str(f)))
    if f.suffix in (".jsonl", ".ndjson"):  # one JSON document per line (Falco's file output)
        text = decode_utf8(f.read_bytes(), str(f))
        return [
            parse_json_text(line, f"{f}:{n}")
            for n, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    return load_json(f)


MAX_TITLE = 4096
MAX_CHANGE_BYTES = 256 * 1024


def check_proposal(prop: Any, file: str) -> dict[str, Any]:
    """What every format's parser produced, held to one shape before it is stored: a change of a known
    kind on a target named by a string, a delta its kind's schema accepts, bounded sizes."""
    from analyzer.changes import get_kind, validate_delta
    from analyzer.governance.signing import canonical

    where = f"proposal {prop.get('proposal_id') if isinstance(prop, dict) else '?'}"
    if not isinstance(prop, dict) or not isinstance(prop.get("proposal_id"), str):
        raise BadInput(f"{where}: not a proposal", file=file)
    source, change = prop.get("source"), prop.get("change")
    finding = source.get("finding_id") if isinstance(source, dict) else None
    if isinstance(finding, str) and finding:  # the name the file gives it, to find it there
        where += f" (finding {finding[:200]})"
    if not isinstance(source, dict) or not isinstance(change, dict):
        raise BadInput(f"{where}: no source or no change", file=file)
    for key in ("title", "severity", "product", "finding_id"):
        v = source.get(key)
        if v is not None and not isinstance(v, str):
            raise BadInput(
                f"{where}: {key} must be text, found {type(v).__name__}", file=file, path=f"$.source.{key}"
            )
        if isinstance(v, str) and len(v) > MAX_TITLE:
            raise BadInput(
                f"{where}: {key} is longer than {MAX_TITLE} characters", file=file, path=f"$.source.{key}"
            )
    target = change.get("target")
    if not isinstance(target, str) or not target.strip() or len(target) > 2048:
        raise BadInput(
            f"{where}: the change's target must be a resource id, found {str(target)[:60]!r}",
            file=file,
            path="$.change.target",
        )
    if not isinstance(change.get("kind"), str):
        raise BadInput(f"{where}: the change has no kind", file=file, path="$.change.kind")
    kind = get_kind(change["kind"])
    delta = change.get("delta")
    if delta is not None:
        if not isinstance(delta, dict):
            raise BadInput(f"{where}: the delta must be an object", file=file, path="$.change.delta")
        if len(canonical(delta)) > MAX_CHANGE_BYTES:
            raise BadInput(
                f"{where}: the delta is larger than {MAX_CHANGE_BYTES // 1024} KiB",
                file=file,
                path="$.change.delta",
            )
        validate_delta(kind, delta)
    for key in ("account", "region"):
        v = change.get(key)
        if v is not None and not isinstance(v, str):
            raise BadInput(f"{where}: {key} must be text", file=file, path=f"$.change.{key}")
    return prop


@writes("propose")
def import_proposals(store: GraphStore, paths: list[Path], requester: str | None = None) -> ImportReport:
    """Parse every file and Custodian output directory; a file that cannot be read is reported and
    contributes nothing, a proposal that fails its check is reported and left out; the good ones are
    stored at once. Custodian policy files given in the same call describe the runs."""
    from connectors.proposals import custodian

    files: list[Path] = []
    unit_dirs: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = custodian.units(path)
            unit_dirs += found
            inside = {x for u in found for x in u.iterdir()}
            files += sorted(
                x
                for x in path.rglob("*")
                if x.is_file()
                and x not in inside
                and x.suffix in (".json", ".jsonl", ".ndjson", ".yaml", ".yml")
            )
        else:
            files.append(path)
    return _import(store, [(str(f), partial(_read, f)) for f in files], unit_dirs, requester)


@writes("propose")
def import_documents(
    store: GraphStore, documents: list[tuple[str, Any]], requester: str | None = None
) -> ImportReport:
    """``import_proposals`` of documents already parsed (an API request's body), each given with the
    name its errors cite."""
    return _import(store, [(where, partial(lambda d: d, doc)) for where, doc in documents], [], requester)


def parse_body(raw: bytes, content_type: str, where: str) -> Any:
    """A request body as ``propose`` would read the file: YAML or CSV (Prowler's, semicolon-separated)
    when the content type says so, else JSON; errors name the line, column and JSON path."""
    kind = content_type.lower()
    if "yaml" in kind:
        return check_depth(load_yaml(raw, where), where)
    if "csv" in kind:
        return _csv_rows(decode_utf8(raw, where))
    return parse_json_text(decode_utf8(raw, where), where)


def _csv_rows(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def _import(
    store: GraphStore,
    sources: list[tuple[str, Callable[[], Any]]],
    unit_dirs: list[Path],
    requester: str | None,
) -> ImportReport:
    from connectors.proposals import aws_config, custodian

    _ensure_registered()
    report = ImportReport()
    new: dict[str, dict[str, Any]] = {}
    policies: dict[str, dict[str, Any]] = {}
    remediations: dict[str, dict[str, Any]] = {}
    evaluations: list[tuple[str, Any]] = []
    batches: list[tuple[str, Any]] = []
    for where, read in sources:
        try:
            with guard(where):
                data = read()
                if custodian.is_policy_file(data):
                    policies.update(custodian.policy_index(data))
                    continue
                if aws_config.is_remediation_configs(data):
                    remediations.update(aws_config.configs_by_rule(data, where))
                    continue
                if aws_config.is_evaluations(data):
                    evaluations.append((where, data))
                    continue
                fmt = detect(data, where)
                batches.append((where, _split(report, fmt.parse(data, where), where)))
        except BadInput as exc:
            report.errors.append(str(exc))
        except FileNotFoundError:
            report.errors.append(f"{where}: no such file")
    for u in unit_dirs:
        try:
            with guard(str(u)):
                batches.append((str(u), _split(report, custodian.parse_unit(u, policies), str(u))))
        except BadInput as exc:
            report.errors.append(str(exc))
    for where, data in evaluations:
        try:
            with guard(where):
                flagged = [
                    check_proposal(p, where) for p in aws_config.parse_evaluations(data, where, remediations)
                ]
        except BadInput as exc:
            report.errors.append(str(exc))
            continue
        aws_config.resolve_targets(flagged, store.read_nodes(aws_config.TARGET_KINDS))
        batches.append((where, flagged))
    named = [
        p
        for _w, ps in batches
        for p in ps
        if str(p["change"].get("target") or "").startswith(("role:", "user:"))
    ]
    if named:
        _resolve_names(named, store.read_nodes(("IamRole", "IamUser")))
    spaces = [
        p for _w, ps in batches for p in ps if str(p["change"].get("target") or "").startswith("namespace:")
    ]
    if spaces:
        from connectors.proposals.policy_report import resolve_namespaces

        resolve_namespaces(spaces, store.read_nodes(("KubernetesNamespace",)))
    pods = [p for _w, ps in batches for p in ps if str(p["change"].get("target") or "").startswith("pod:")]
    if pods:
        from connectors.proposals.falco import resolve_pods

        resolve_pods(pods, store.read_nodes(("Pod",)))
    derive_from_snapshot(store, [p for _w, ps in batches for p in ps])
    count = sum(len(ps) for _w, ps in batches)
    # what is stored already: read whole for a batch, one by one for an API call's few (not 10,000 read
    # to import one)
    stored = store.get_documents(COLLECTION) if count > 50 else None
    seen: set[str] = set()
    for _where, proposals in batches:
        for prop in proposals:
            pid = prop["proposal_id"]
            if pid in seen:  # the same finding from another file or format of this import
                report.skip("duplicate")
                continue
            seen.add(pid)
            old = stored.get(pid) if stored is not None else store.get_document(COLLECTION, pid)
            if old is not None and old.get("change") == prop["change"]:
                ran = (prop.get("source") or {}).get("executed")
                if ran and not (old.get("source") or {}).get("executed"):
                    # the same change, now reported executed (a real run after the dry run it was
                    # proposed from): the execution is news, the proposal is not
                    new[pid] = old | {
                        "source": (old.get("source") or {}) | {"executed": ran, "dryrun": False}
                    }
                report.unchanged.append(pid)
                continue
            prop["imported_at"] = iso(now())
            if requester:
                prop["requester"] = requester
            prop.setdefault("status", "open")
            new[pid] = prop
            report.imported.append(pid)
    if new:
        store.put_documents(COLLECTION, new)
    return report


def _check_ids(prop: dict[str, Any]) -> list[str]:
    """Every id a finding names its check by: Prowler's check id, the Security Hub control id."""
    src, change = prop.get("source") or {}, prop.get("change") or {}
    out = []
    for v in (src.get("generator"), (change.get("delta") or {}).get("runbook"), change.get("lookup")):
        if isinstance(v, str) and v:
            v = v.removeprefix("check:").removeprefix("prowler-")
            out += [v, v.rsplit("/", 1)[-1]]  # security-control/EC2.13 -> EC2.13
    return list(dict.fromkeys(out))


def derive_from_snapshot(store: GraphStore, proposals: list[dict[str, Any]]) -> None:
    """For a finding whose check Blastwall can evaluate (``analyzer.checks``) on a resource the snapshot
    holds, the fix is computed from the resource as it is — exactly the rules that fail the check, or an
    empty delta (``already_applied``) when it passes — instead of the check table's static delta."""
    from analyzer.checks import find
    from analyzer.network.documents import NetworkDocuments
    from analyzer.network.load import NETWORK

    docs: NetworkDocuments | None = None
    for prop in proposals:
        change = prop["change"]
        if change.get("fidelity") == "exact":
            continue  # the tool's own output names the change (Custodian annotations, Terraform)
        found = find(*_check_ids(prop))
        if found is None:
            continue
        check_id, check = found
        target = str(change.get("target") or "")
        item: dict[str, Any] | None = None
        if check.resource == "finding":
            item = {"id": target}  # the check answers from the finding alone
        elif check.resource == "node":
            node = store.get_node(target)  # one lookup, not the whole graph
            if node is not None and node.props:
                resource_name = (prop.get("source") or {}).get("resource_name")
                item = {**node.props, "id": node.id, "finding_resource": resource_name}
                if check.evidence:
                    item["observed_calls"] = _observed_calls(store, node)
        else:
            if docs is None:
                docs = NetworkDocuments(store.get_document_texts(NETWORK))
            where = docs.locate(check.resource, target.rsplit("/", 1)[-1])
            item = docs.item(check.resource, where) if where is not None else None
        if item is None:
            change["derivation"] = (
                f"{check_id}: {target} is not in the snapshot; the fix is not derived from it"
            )
            continue
        derived = check.fix(item)
        if not derived.determined:
            change["derivation"] = f"{check_id} on the snapshot: {derived.why} ({check.cite})"
            continue
        change.update(
            kind=derived.kind or check.kind,
            delta=derived.delta,
            fidelity="inferred",
            lookup=f"check:{check_id}",
            derivation=f"{check_id} on the snapshot: {derived.why} ({check.cite})",
        )


def _observed_calls(store: GraphStore, node: Any) -> list[dict[str, str]]:
    """What CloudTrail saw the principal do, or every principal a managed policy is attached to."""
    if node.kind in ("IamRole", "IamUser"):
        principals = [node.id]
    else:
        principals = [e.dst for e in store.edges_from(node.id, ("ATTACHED",))]
    return [
        {"principal": p, "action": str(e.props.get("action") or e.key), "resource": e.dst}
        for p in principals
        for e in store.edges_from(p, ("OBSERVED_CALL",))
    ]


def _resolve_names(proposals: list[dict[str, Any]], nodes: list[Any]) -> None:
    """``role:NAME`` / ``user:NAME`` targets (Terraform names a role, not its ARN) to the snapshot's ARN."""
    kinds = {"role": "IamRole", "user": "IamUser"}
    by_name = {(n.kind, str((n.props or {}).get("name"))): n.id for n in nodes if n.kind in kinds.values()}
    for p in proposals:
        prefix, _, name = str(p["change"]["target"]).partition(":")
        arn = by_name.get((kinds[prefix], name))
        if arn:
            p["change"]["target"] = arn


def _ensure_registered() -> None:
    from connectors.proposals import (  # noqa: F401  (they register themselves)
        access_analyzer,
        asff,
        blastwall_yaml,
        defender,
        falco,
        gatekeeper,
        ocsf,
        policy_remediation,
        policy_report,
        prowler_csv,
        ssm_automation,
        terraform,
    )
