"""EKS Pod Identity associations collected by `ingest aws`, stubbed because moto lacks the API: botocore's
Stubber answers ListPodIdentityAssociations and DescribePodIdentityAssociation with the shapes the EKS API
reference documents (API_ListPodIdentityAssociations, API_PodIdentityAssociation: ``disableSessionTags``,
``targetRoleArn``); the cluster itself comes from the moto server. The association becomes the service
account's RUNS_AS edge, and an association without session tags is decided without them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer import api
from analyzer.graph.store import open_store
from analyzer.iam.evaluate import PolicySet
from analyzer.iam.policy import parse_document
from analyzer.scoring.service_trust import service_trust_change
from tests import kubernetes_world as w

pytestmark = pytest.mark.integration


def _association(account: str, sa: str, assoc_id: str, role: str, **more: Any) -> dict[str, Any]:
    return {
        "clusterName": w.CLUSTER,
        "namespace": "fraud",
        "serviceAccount": sa,
        "roleArn": role,
        "associationArn": f"arn:aws:eks:{w.REGION}:{account}:podidentityassociation/{w.CLUSTER}/{assoc_id}",
        "associationId": assoc_id,
        "tags": {},
        "ownerArn": f"arn:aws:iam::{account}:role/eks-admin",
        **more,
    }


def test_pod_identity_associations_stubbed_because_moto_lacks_them(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.stub import Stubber

    from connectors.aws import collect as collect_mod
    from connectors.aws import session as session_mod

    account = boto3.client("sts").get_caller_identity()["Account"]
    boto3.client("eks", region_name=w.REGION).create_cluster(
        name=w.CLUSTER,
        roleArn=f"arn:aws:iam::{account}:role/eks-cluster-role",
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
    )
    role = f"arn:aws:iam::{account}:role/eks-fraud-alerts"
    boto3.client("iam").create_role(
        RoleName="eks-fraud-alerts",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "pods.eks.amazonaws.com"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            }
        ),
    )
    tagged = _association(account, "fraud-alerts", "a-0f1e2d3c4b5a69788", role, disableSessionTags=False)
    untagged = _association(account, "fraud-batch", "a-1a2b3c4d5e6f70819", role, disableSessionTags=True)
    real = session_mod.client_for
    stubbers: list[Stubber] = []

    def client_for(session: Any, service: str, region: str | None = None, host_prefix: bool = True) -> Any:
        c = real(session, service, region, host_prefix)
        if service != "eks":
            return c
        # the cluster is listed and described by moto; only the Pod Identity calls are answered here
        stub = Stubber(c)
        listed = {k: v for k, v in tagged.items() if k in ("clusterName", "namespace", "serviceAccount")}
        stub.add_response(
            "list_pod_identity_associations",
            {
                "associations": [
                    {**listed, **{k: a[k] for k in ("associationArn", "associationId", "ownerArn")}}
                    | {"serviceAccount": a["serviceAccount"]}
                    for a in (tagged, untagged)
                ]
            },
            {"clusterName": w.CLUSTER},
        )
        for a in (tagged, untagged):
            stub.add_response(
                "describe_pod_identity_association",
                {"association": a},
                {"clusterName": w.CLUSTER, "associationId": a["associationId"]},
            )
        real_call = c._make_api_call

        def call(operation: str, params: dict[str, Any]) -> Any:
            if "PodIdentity" in operation:
                return real_call(operation, params)
            stub.deactivate()  # moto answers everything else
            try:
                return real_call(operation, params)
            finally:
                stub.activate()

        monkeypatch.setattr(c, "_make_api_call", call)
        stub.activate()
        stubbers.append(stub)
        return c

    monkeypatch.setattr(session_mod, "client_for", client_for)
    store = open_store(str(tmp_path / "store"))
    report = collect_mod.ingest_aws(store, save_raw=tmp_path / "raw", regions=[w.REGION])
    assert report.warnings == []
    for stub in stubbers:
        stub.assert_no_pending_responses()
    saved = json.loads(
        (tmp_path / "raw" / account / w.REGION / "eks-DescribePodIdentityAssociation.json").read_text()
    )
    assert sorted(saved) == [f"{w.CLUSTER}/a-0f1e2d3c4b5a69788", f"{w.CLUSTER}/a-1a2b3c4d5e6f70819"]

    ctx = api.analysis_context(store)
    prefix = f"k8s://{account}/{w.REGION}/{w.CLUSTER}/namespaces/fraud/serviceaccounts/"
    runs = {
        (e.src.removeprefix(prefix), e.props["method"], e.props["session_tags"])
        for e in ctx.snap.edges_into("RUNS_AS", role)
    }
    assert runs == {("fraud-alerts", "pod-identity", True), ("fraud-batch", "pod-identity", False)}

    # a trust that now requires the namespace's session tag: the tagged association keeps the role; the
    # one that disables session tags carries no tag, so it loses it (AWS: a missing key does not match)
    def trust(statement: dict[str, Any]) -> PolicySet:
        return PolicySet.of("trust", parse_document({"Version": "2012-10-17", "Statement": [statement]}))

    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    narrowed = {**allow, "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "fraud"}}}
    got = service_trust_change(
        ctx, role, [trust(allow), trust(narrowed)], "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"
    )
    assert [s["consumer"] for s in got.severed] == [prefix + "fraud-batch"]
    # and without sts:TagSession in the trust, only the untagged association can still be assumed
    plain = {**allow, "Action": "sts:AssumeRole"}
    got = service_trust_change(
        ctx, role, [trust(allow), trust(plain)], "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"
    )
    assert [s["consumer"] for s in got.severed] == [prefix + "fraud-alerts"]
