"""Kubernetes RBAC as facts: who may exec into, delete or patch what, decided as the RBAC authorizer
decides (Kubernetes documentation, "Using RBAC Authorization": a RoleBinding that references a
ClusterRole grants it only in the binding's namespace; subresources such as ``pods/exec`` are granted
by name; ``resourceNames`` restrict a rule to those objects; ``system:serviceaccounts:<ns>`` is every
service account of that namespace), on the test cluster's roles and bindings (tests/kubernetes_world.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from analyzer import api
from analyzer.errors import BadInput
from analyzer.graph.store import GraphStore, open_store
from connectors.kubernetes.exports import ingest_kubernetes
from tests import kubernetes_world as w
from tests.conftest import blastwall_cmd

pytestmark = pytest.mark.integration
BASE = f"k8s://{w.FRAUD}/{w.REGION}/{w.CLUSTER}"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GraphStore:
    root = tmp_path_factory.mktemp("rbac")
    (root / "export").mkdir()
    (root / "export" / "objects.json").write_text(json.dumps(w.kubectl_export()))
    (root / "export" / "cluster.json").write_text(json.dumps(w.describe_cluster()))
    s = open_store(str(root / "store"))
    ingest_kubernetes(s, root / "export", seen="2026-05-15T00:00:00Z")
    return s


def _who(
    store: GraphStore, verb: str, resource: str, ns: str | None = None, name: str | None = None
) -> set[str]:
    grants = api.kubernetes_who_can(store, w.CLUSTER_ARN, verb, resource, namespace=ns, name=name)
    return {g.subject.removeprefix(BASE + "/") for g in grants}


def test_exec_is_granted_by_naming_the_subresource(store: GraphStore) -> None:
    # pod-debugger names pods/exec; view grants pods (and pods/log), which does not reach exec
    assert _who(store, "create", "pods/exec", "fraud") == {
        "users/dana@acme-fin.example",
        "groups/system:masters",
    }
    assert "groups/fraud-oncall" in _who(store, "get", "pods/log", "fraud")


def test_a_rolebinding_grants_a_clusterrole_only_in_its_namespace(store: GraphStore) -> None:
    assert _who(store, "get", "pods", "fraud") == {
        "groups/fraud-oncall",
        "users/dana@acme-fin.example",
        "groups/system:masters",
    }
    assert _who(store, "get", "pods", "kube-system") == {"groups/system:masters"}
    assert _who(store, "list", "pods") == {"groups/system:masters"}  # cluster-wide: no RoleBinding holds


def test_api_groups_and_wildcard_subresources(store: GraphStore) -> None:
    assert _who(store, "patch", "deployments.apps", "fraud") == {
        "namespaces/fraud/serviceaccounts/fraud-batch",
        "groups/system:masters",
    }
    assert "namespaces/fraud/serviceaccounts/fraud-batch" in _who(
        store, "update", "deployments.apps/scale", "fraud"
    )
    assert _who(store, "patch", "deployments", "fraud") == {
        "groups/system:masters"
    }  # the core group has none


def test_resource_names_restrict_a_rule_to_those_objects(store: GraphStore) -> None:
    assert "users/priya@acme-fin.example" in _who(store, "update", "configmaps", "fraud", "fraud-config")
    assert "users/priya@acme-fin.example" not in _who(store, "update", "configmaps", "fraud", "other")
    assert "users/priya@acme-fin.example" not in _who(store, "update", "configmaps", "fraud")


def test_a_namespaces_service_account_group_is_said_to_be_its_members(store: GraphStore) -> None:
    grants = api.kubernetes_who_can(store, w.CLUSTER_ARN, "get", "secrets", namespace="fraud")
    by = {g.subject.removeprefix(BASE + "/"): g for g in grants}
    assert by["groups/system:serviceaccounts:fraud"].members == "every service account of namespace fraud"
    assert by["groups/system:masters"].members.startswith("as the cluster's authenticator maps them")


def test_the_cli_answers_and_refuses_an_unknown_cluster(store: GraphStore, tmp_path: Path) -> None:
    out = subprocess.run(
        [
            *blastwall_cmd(),
            "--store",
            str(store.dir),
            "k8s",
            "who-can",
            "create",
            "pods/exec",
            "-n",
            "fraud",  # type: ignore[attr-defined]
            "--cluster",
            w.CLUSTER_ARN,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(out.stdout)
    assert {s["subject_kind"] for s in got["subjects"]} == {"User", "Group"} and len(got["subjects"]) == 2
    with pytest.raises(BadInput, match="not a loaded cluster"):
        api.kubernetes_who_can(store, "arn:aws:eks:us-east-1:615294837560:cluster/other", "get", "pods")
