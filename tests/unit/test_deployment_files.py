"""The Dockerfile and deploy/compose.yaml say only what this checkout has: the files they copy, the
extras they install, commands and options the CLI accepts, environment variables the code reads. (No
container runtime runs here, so the image itself is not built by the tests.)"""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest
import yaml

from analyzer.cli import main
from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def _parses(args: list[str]) -> None:
    """``blastwall ARGS`` is a command whose options all exist (parsed by click, not run)."""
    # under main's own context, as the CLI parses it: a command parsed without it would cache a help
    # option without -h, and every later --help in this process would show that
    parent = main.make_context("blastwall", [], resilient_parsing=True)
    cmd = main.get_command(parent, args[0])
    assert cmd is not None, args
    with cmd.make_context(args[0], list(args[1:]), parent=parent) as sub:
        assert sub.command is cmd


def test_the_dockerfile_copies_what_exists_and_installs_extras_that_exist() -> None:
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    (wanted,) = re.findall(r'"\.\[([a-z0-9,]+)\]"', DOCKERFILE)
    assert set(wanted.split(",")) <= extras
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    assert cmd is not None and 'ENTRYPOINT ["blastwall"]' in DOCKERFILE
    _parses(yaml.safe_load(cmd.group(1)))


@pytest.mark.parametrize("service", ["serve", "app"])
def test_compose_runs_commands_the_cli_accepts(service: str) -> None:
    command = [re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", c) for c in COMPOSE["services"][service]["command"]]
    _parses(command)


def test_compose_sets_only_variables_the_code_reads() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "analyzer").rglob("*.py"))
    code += "\n".join(p.read_text() for p in (ROOT / "connectors").rglob("*.py"))
    for name in ("serve", "app"):
        for var in COMPOSE["services"][name]["environment"]:
            assert f'"{var}"' in code, f"{var} is read by nothing"
    for var in re.findall(r"^ENV (.*?)$|^\s+(BLASTWALL_[A-Z_]+)=", DOCKERFILE, re.M):
        for v in var:
            for word in shlex.split(v.replace("\\", "")):
                key = word.split("=", 1)[0]
                if key:
                    assert f'"{key}"' in code, key


def test_the_containers_listen_where_compose_publishes() -> None:
    for name, port in (("serve", "8080"), ("app", "8050")):
        svc = COMPOSE["services"][name]
        assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert "--host" in svc["command"] and "0.0.0.0" in svc["command"] and port in svc["command"]
