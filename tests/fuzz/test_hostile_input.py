"""Hostile input is a clean refusal, in bounded time and memory (issue #17).

Every reader is fed the project's real-format samples with one field at a time replaced by each of
7 / None / "x" / [] / {} / a 100,000-character string / bytes that are not UTF-8 (for line formats: one
token at a time). A reader may load the file, or refuse it with a BadInput naming where; anything else
(a TypeError, a RecursionError, a crash) is a failure, and so is taking more than a few seconds. Then the
classic attacks: nesting 200,000 deep, a YAML alias bomb, a non-UTF-8 file.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from analyzer.errors import BadInput
from analyzer.graph.store import open_store

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "samples" / "acme-fin"
MARK = "\u2063FUZZ\u2063"
VALUES: list[Any] = [7, None, "x", [], {}, "A" * 100_000, MARK]  # MARK becomes bytes that are not UTF-8
SLOW = 5.0  # seconds: no single mutated input may take longer


def paths_of(obj: Any, limit: int) -> list[tuple[Any, ...]]:
    """Every path into ``obj`` (breadth first), thinned evenly to at most ``limit``."""
    out: list[tuple[Any, ...]] = []
    queue: list[tuple[tuple[Any, ...], Any]] = [((), obj)]
    while queue:
        path, node = queue.pop(0)
        if path:
            out.append(path)
        if isinstance(node, dict):
            queue.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            queue.extend(((*path, i), v) for i, v in enumerate(node[:3]))
    if len(out) > limit:
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


def set_at(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(obj)
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


def as_json(doc: Any) -> bytes:
    return (
        json.dumps(doc, ensure_ascii=False).encode().replace(json.dumps(MARK)[1:-1].encode(), b"\xff\xfe\xfa")
    )


def as_yaml(doc: Any) -> bytes:
    return (
        yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        .encode()
        .replace(MARK.encode(), b"\xff\xfe\xfa")
    )


def json_mutations(original: bytes, limit: int) -> Iterator[tuple[str, bytes]]:
    doc = json.loads(original)
    for path in paths_of(doc, limit):
        for v in VALUES:
            yield f"{'.'.join(map(str, path))}={str(v)[:12]!r}", as_json(set_at(doc, path, v))


def yaml_mutations(original: bytes, limit: int, all_documents: bool = False) -> Iterator[tuple[str, bytes]]:
    docs = list(yaml.safe_load_all(original)) if all_documents else [yaml.safe_load(original)]
    for path in paths_of(docs, limit):
        for v in VALUES:
            mutated = set_at(docs, path, v)
            text = b"---\n".join(as_yaml(d) for d in mutated) if all_documents else as_yaml(mutated[0])
            yield f"{'.'.join(map(str, path))}={str(v)[:12]!r}", text


TOKENS = ["x", "", "-", "7", "99999999999999999999", "-1", "A" * 100_000, MARK]


def line_mutations(original: bytes, lines: int, sep: str = " ") -> Iterator[tuple[str, bytes]]:
    rows = original.decode().splitlines()
    for n in range(min(lines, len(rows))):
        parts = rows[n].split(sep)
        for j in range(len(parts)):
            for tok in TOKENS:
                new = [*parts[:j], tok, *parts[j + 1 :]]
                text = "\n".join([*rows[:n], sep.join(new), *rows[n + 1 :]]) + "\n"
                yield (
                    f"line {n + 1} field {j}={tok[:12]!r}",
                    text.encode().replace(MARK.encode(), b"\xff\xfe\xfa"),
                )


class Failures:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.runs = 0

    def run(self, label: str, fn: Callable[[], Any]) -> None:
        self.runs += 1
        t = time.monotonic()
        try:
            fn()
        except BadInput:
            pass
        except Exception as exc:  # the point of the test: nothing but BadInput may escape
            self.items.append(f"{label}: {type(exc).__name__}: {str(exc)[:160]}")
        spent = time.monotonic() - t
        if spent > SLOW:
            self.items.append(f"{label}: took {spent:.1f} s")

    def check(self) -> None:
        assert not self.items, f"{len(self.items)} of {self.runs} mutations escaped:\n" + "\n".join(
            self.items[:25]
        )


# -- proposals (every format the registry reads) ------------------------------------------------------------
PROPOSAL_FILES = [
    *sorted(
        p for p in (ROOT / "tests" / "data" / "proposals").iterdir() if p.is_file() and p.suffix != ".md"
    ),
    SAMPLE / "findings" / "securityhub-access-analyzer.json",
]


@pytest.mark.parametrize("sample", PROPOSAL_FILES, ids=lambda p: p.name)
def test_proposal_formats(tmp_path: Path, sample: Path) -> None:
    from connectors.proposals import import_proposals

    store = open_store(tmp_path / "store")
    f = Failures()
    target = tmp_path / sample.name
    raw = sample.read_bytes()
    if sample.suffix == ".csv":
        muts: Iterator[tuple[str, bytes]] = line_mutations(raw, 3, sep=";")
    elif sample.suffix == ".jsonl":  # one document per line: each mutation of the first, the rest as they are
        first, _, rest = raw.partition(b"\n")
        muts = ((label, line.rstrip(b"\n") + b"\n" + rest) for label, line in json_mutations(first, 45))
    else:
        muts = json_mutations(raw, 45)
    for label, data in muts:
        target.write_bytes(data)
        f.run(f"{sample.name} {label}", lambda: import_proposals(store, [target]))
    f.check()
    store.close()


def test_blastwall_yaml_and_custodian_output(tmp_path: Path) -> None:
    from connectors.proposals import import_proposals

    store = open_store(tmp_path / "store")
    f = Failures()
    own = {
        "blastwall_proposals": 1,
        "proposals": [
            {
                "id": "p1",
                "title": "Remove the external trust",
                "severity": "HIGH",
                "change": {
                    "kind": "iam.update_trust_policy",
                    "target": "arn:aws:iam::482510973311:role/datalake-reader",
                    "delta": {"remove_principals": ["arn:aws:iam::739406228105:root"]},
                },
            }
        ],
    }
    target = tmp_path / "p.yaml"
    for label, data in yaml_mutations(yaml.safe_dump(own).encode(), 30):
        target.write_bytes(data)
        f.run(f"blastwall yaml {label}", lambda: import_proposals(store, [target]))
    unit = tmp_path / "out" / "sg-open-ssh"
    unit.mkdir(parents=True)
    meta = {
        "policy": {
            "name": "sg-open-ssh",
            "resource": "aws.security-group",
            "actions": [{"type": "remove-permissions", "ingress": "matched"}],
        },
        "config": {"region": "us-east-1", "account_id": "739406228105"},
        "execution": {"id": "e1", "start": 1778803200.0},
    }
    resources = [
        {
            "GroupId": "sg-0a1b2c3d4e5f60718",
            "OwnerId": "739406228105",
            "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
            "MatchedIpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        }
    ]
    for name, doc in (("metadata.json", meta), ("resources.json", resources)):
        other = "resources.json" if name == "metadata.json" else "metadata.json"
        (unit / other).write_text(json.dumps(meta if other == "metadata.json" else resources))
        for label, data in json_mutations(json.dumps(doc).encode(), 30):
            (unit / name).write_bytes(data)
            f.run(f"custodian {name} {label}", lambda: import_proposals(store, [tmp_path / "out"]))
        (unit / name).write_text(json.dumps(doc))
    f.check()
    store.close()


# -- the AWS snapshot -----------------------------------------------------------------------------------------
SNAPSHOT_FILES = sorted(p.relative_to(SAMPLE / "aws") for p in (SAMPLE / "aws").rglob("*.json"))


@pytest.mark.parametrize("rel", SNAPSHOT_FILES, ids=str)
def test_snapshot_files(tmp_path: Path, rel: Path) -> None:
    from connectors.aws.snapshot import load_snapshot

    account = rel.parts[0]
    root = tmp_path / "aws"
    shutil.copytree(SAMPLE / "aws" / account, root / account)
    store = open_store(tmp_path / "store")
    f = Failures()
    for label, data in json_mutations((SAMPLE / "aws" / rel).read_bytes(), 12):
        (root / rel).write_bytes(data)
        f.run(f"{rel} {label}", lambda: load_snapshot(store, root, seen="2026-05-15T06:00:00Z"))
    f.check()
    store.close()


# -- evidence ---------------------------------------------------------------------------------------------------
def test_cloudtrail(tmp_path: Path) -> None:
    import gzip

    from connectors.evidence.cloudtrail import ingest_cloudtrail

    sample = next((SAMPLE / "cloudtrail").rglob("*.json.gz"))
    doc = json.loads(gzip.decompress(sample.read_bytes()))
    doc["Records"] = doc["Records"][:3]
    store = open_store(tmp_path / "store")
    f = Failures()
    target = tmp_path / "AWSLogs" / "482510973311" / "CloudTrail" / "us-east-1" / "x.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    for label, data in json_mutations(json.dumps(doc).encode(), 70):
        target.write_bytes(data)
        f.run(f"cloudtrail {label}", lambda: ingest_cloudtrail(store, [target]))
    f.check()
    store.close()


def test_flow_logs(tmp_path: Path) -> None:
    import gzip

    from connectors.evidence.flowlogs import ingest_flowlogs

    sample = next((SAMPLE / "flowlogs").rglob("*.log.gz"))
    lines = gzip.decompress(sample.read_bytes()).decode().splitlines()[:4]
    store = open_store(tmp_path / "store")
    f = Failures()
    target = tmp_path / "AWSLogs" / "739406228105" / "vpcflowlogs" / "us-east-1" / "x.log"
    target.parent.mkdir(parents=True)
    for label, data in line_mutations(("\n".join(lines) + "\n").encode(), 3):
        target.write_bytes(data)
        f.run(f"flow log {label}", lambda: ingest_flowlogs(store, [target]))
    f.check()
    store.close()


# -- the CMDB --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", sorted(p.name for p in (SAMPLE / "servicenow").glob("*.json")))
def test_servicenow_exports(tmp_path: Path, table: str) -> None:
    from connectors.cmdb.servicenow import ingest_servicenow

    d = tmp_path / "sn"
    shutil.copytree(SAMPLE / "servicenow", d)
    store = open_store(tmp_path / "store")
    f = Failures()
    for label, data in json_mutations((SAMPLE / "servicenow" / table).read_bytes(), 40):
        (d / table).write_bytes(data)
        f.run(f"{table} {label}", lambda: ingest_servicenow(store, str(d), seen="2026-05-15T06:00:00Z"))
    f.check()
    store.close()


BACKSTAGE = """apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: payments, annotations: {servicenow.com/criticality: high}}
spec: {owner: team-payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {aws.amazon.com/arns: "arn:aws:iam::482510973311:role/datalake-reader"}
spec: {type: service, lifecycle: production, owner: team-payments, system: payments, dependsOn: ["resource:default/ledger-db"]}
"""


def test_backstage_catalog(tmp_path: Path) -> None:
    from connectors.cmdb.backstage import ingest_backstage

    store = open_store(tmp_path / "store")
    f = Failures()
    target = tmp_path / "catalog-info.yaml"
    for label, data in yaml_mutations(BACKSTAGE.encode(), 40, all_documents=True):
        target.write_bytes(data)
        f.run(f"backstage {label}", lambda: ingest_backstage(store, [target], seen="2026-05-15T06:00:00Z"))
    f.check()
    store.close()


def test_cmdb_csv_and_mapping(tmp_path: Path) -> None:
    from connectors.cmdb.csvfile import ingest_cmdb_csv, ingest_mapping

    store = open_store(tmp_path / "store")
    f = Failures()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["ci_id", "name", "class", "criticality", "owner", "depends_on", "aws_arns"])
    w.writerow(
        [
            "ci-1",
            "Fraud Detection",
            "business_service",
            "critical",
            "risk-eng",
            "ci-2",
            "arn:aws:iam::615294837560:role/fraud-scoring-engine",
        ]
    )
    w.writerow(
        [
            "ci-2",
            "Legacy ETL",
            "application",
            "medium",
            "data-eng",
            "",
            "arn:aws:iam::739406228105:role/legacy-etl-role",
        ]
    )
    target = tmp_path / "cmdb.csv"
    for label, data in line_mutations(buf.getvalue().replace("\r\n", "\n").encode(), 3, sep=","):
        target.write_bytes(data)
        f.run(f"cmdb csv {label}", lambda: ingest_cmdb_csv(store, target, seen="2026-05-15T06:00:00Z"))
    mapping = "resource,ci\narn:aws:iam::615294837560:role/fraud-scoring-engine,ci-1\n"
    for label, data in line_mutations(mapping.encode(), 2, sep=","):
        target.write_bytes(data)
        f.run(f"mapping {label}", lambda: ingest_mapping(store, target))
    f.check()
    store.close()


# -- governance inputs --------------------------------------------------------------------------------------------
def test_tier_policy(tmp_path: Path) -> None:
    from analyzer.governance.tier_policy import parse_policy

    f = Failures()
    for label, data in yaml_mutations((SAMPLE / "policy" / "tier-policy.yaml").read_bytes(), 60):
        f.run(f"tier policy {label}", lambda text=data: parse_policy(text, "tier-policy.yaml"))
    f.check()


def test_users_and_key_files(tmp_path: Path) -> None:
    from analyzer.app.auth import add_user, check_password, user_stamp
    from analyzer.errors import BlastwallError
    from analyzer.governance import signing

    users = tmp_path / "users.json"
    add_user(users, "priya", "correct horse battery staple")
    f = Failures()
    for label, data in json_mutations(users.read_bytes(), 20):
        users.write_bytes(data)
        f.run(
            f"users file {label}",
            lambda: (
                check_password(users, "priya", "correct horse battery staple"),
                user_stamp(users, "priya"),
            ),
        )
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for label, data in (
        ("empty", b""),
        ("not pem", b"hello"),
        ("not utf-8", b"\xff\xfe"),
        ("rsa", b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"),
    ):
        p = keys / "priya.ed25519.pem"
        p.write_bytes(data)
        p.chmod(0o600)

        def load() -> None:
            try:
                signing.load_private_key("priya", keys)
            except BlastwallError as exc:  # a clear error, not a crash
                raise BadInput(str(exc)) from exc

        f.run(f"key file {label}", load)
    f.check()


# -- the classic attacks, each refused quickly ---------------------------------------------------------------------
def test_deep_nesting_is_refused_everywhere(tmp_path: Path) -> None:
    from analyzer.governance.tier_policy import parse_policy
    from connectors.evidence.cloudtrail import ingest_cloudtrail
    from connectors.proposals import import_proposals

    deep = b'{"Records": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    store = open_store(tmp_path / "store")
    f = Failures()
    (tmp_path / "deep.json").write_bytes(deep)
    good = tmp_path / "good.json"
    shutil.copy(SAMPLE / "findings" / "securityhub-access-analyzer.json", good)
    report: list[Any] = []
    f.run("proposal nesting", lambda: report.append(import_proposals(store, [tmp_path / "deep.json", good])))
    assert report and report[0].imported, "the good companion file still loads"
    assert "nested" in report[0].errors[0]
    f.run("cloudtrail nesting", lambda: ingest_cloudtrail(store, [tmp_path / "deep.json"]))
    f.run("policy nesting", lambda: parse_policy("a: " + "[" * 100_000, "p.yaml"))
    f.check()


def test_a_yaml_alias_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    from analyzer.governance.tier_policy import parse_policy
    from connectors.proposals import import_proposals

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
    )
    assert len(bomb) < 1600
    for name, fn in (
        ("policy", lambda: parse_policy(bomb, "p.yaml")),
        ("proposal", lambda: _write_and_import(tmp_path, bomb, import_proposals)),
    ):
        t = time.monotonic()
        with pytest.raises(BadInput, match="alias"):
            fn()
        assert time.monotonic() - t < 0.5, name


def _write_and_import(tmp_path: Path, text: str, import_proposals: Callable[..., Any]) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(text)
    report = import_proposals(open_store(tmp_path / "s2"), [p])
    raise BadInput(report.errors[0])


def test_kubernetes_exports_and_audit_logs(tmp_path: Path) -> None:
    """A cluster's export, its describe-cluster and a Pod Identity association, and an audit log line,
    each field replaced in turn: a clear error or a load, never another exception."""
    from connectors.evidence.k8s_audit import ingest_k8s_audit
    from connectors.kubernetes.exports import ingest_kubernetes
    from tests import kubernetes_world as w

    store = open_store(tmp_path / "store")
    f = Failures()
    export = tmp_path / "export"
    export.mkdir()
    small = {
        "apiVersion": "v1",
        "kind": "List",
        "items": w.kubectl_export()["items"][:3] + w.kubectl_export()["items"][-4:],
    }
    parts = {
        "objects.json": small,
        "cluster.json": w.describe_cluster(),
        "pod-identity.json": w.pod_identity_association(),
    }
    for name, doc in parts.items():
        for other, body in parts.items():
            (export / other).write_text(json.dumps(body))
        for label, data in json_mutations(json.dumps(doc).encode(), 40):
            (export / name).write_bytes(data)
            f.run(f"{name} {label}", lambda: ingest_kubernetes(store, export, seen="2026-05-15T00:00:00Z"))
    log = tmp_path / "audit.log"
    first = w.audit_log().splitlines()[3]  # an exec allowed by a RoleBinding
    for label, line in json_mutations(first.encode(), 40):
        log.write_bytes(line + b"\n")
        f.run(f"audit {label}", lambda: ingest_k8s_audit(store, [log], cluster_arn=w.CLUSTER_ARN))
    f.check()
    store.close()
