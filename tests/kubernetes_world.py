"""The sample organization with an EKS cluster added, in the formats the tools write.

* ``aws eks describe-cluster`` output (Amazon EKS API Reference, DescribeCluster: ``cluster.arn``,
  ``cluster.identity.oidc.issuer``);
* ``kubectl get … -A -o json`` output: a ``List`` whose items carry ``apiVersion`` and ``kind`` (Kubernetes
  API reference: apps/v1 Deployment and ReplicaSet, v1 Pod with ``ownerReferences`` and ``status.podIPs``,
  v1 ServiceAccount, v1 Service, networking.k8s.io/v1 NetworkPolicy);
* ``aws eks describe-pod-identity-association`` output (``association.roleArn``);
* CloudTrail ``AssumeRoleWithWebIdentity`` records with ``userIdentity.type`` ``WebIdentityUser`` (IAM User
  Guide, "Logging IAM and AWS STS API calls with AWS CloudTrail": ``identityProvider`` the OIDC provider
  ARN, ``userName`` the token's subject);
* IAM roles in ``get-account-authorization-details`` whose trust is the IRSA trust the EKS User Guide
  shows ("Assign IAM roles to Kubernetes service accounts") and the Pod Identity trust
  (``pods.eks.amazonaws.com``, ``sts:AssumeRole`` and ``sts:TagSession``).

The sample already holds the cluster (its export, its IRSA role, its service accounts' CloudTrail); this
replaces its export with a richer one and adds a Pod Identity role and a CI pipeline's role. The fraud
account runs cluster ``fraud-eks``: ``fraud-scoring`` (the Fraud Scoring Engine, by its
``cmdb_ci`` label) and ``fraud-batch`` (the Fraud Feature Pipeline) read the data lake through one role,
``eks-fraud-datalake``, whose trust admits any service account of namespace ``fraud``; ``fraud-alerts``
gets ``eks-fraud-alerts`` through a Pod Identity association. A GitHub Actions workflow assumes
``ci-deployer`` with its own OIDC token (no cluster says what it runs).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

DATALAKE = "482510973311"
FRAUD = "615294837560"
REGION = "us-east-1"
CLUSTER = "fraud-eks"
CLUSTER_ARN = f"arn:aws:eks:{REGION}:{FRAUD}:cluster/{CLUSTER}"
SAMPLE_CLUSTER = Path(__file__).resolve().parents[1] / "data/samples/acme-fin/kubernetes" / CLUSTER
ISSUER = json.loads((SAMPLE_CLUSTER / "describe-cluster.json").read_text())["cluster"]["identity"]["oidc"][
    "issuer"
].removeprefix("https://")
"""The sample's own cluster issuer: its CloudTrail already holds the service accounts' web identities."""
OIDC_ID = ISSUER.rsplit("/", 1)[-1]
PROVIDER = f"arn:aws:iam::{DATALAKE}:oidc-provider/{ISSUER}"
IRSA_ROLE = f"arn:aws:iam::{DATALAKE}:role/eks-fraud-datalake"
POD_IDENTITY_ROLE = f"arn:aws:iam::{FRAUD}:role/eks-fraud-alerts"
GITHUB = "token.actions.githubusercontent.com"
CI_ROLE = f"arn:aws:iam::{DATALAKE}:role/ci-deployer"
SCORING_CI = "4da3810d6444d8f37622c0802eb78682"  # Fraud Scoring Engine
PIPELINE_CI = "dfb783022a1b300f534d703649e57058"  # Fraud Feature Pipeline


def irsa_trust(subject_pattern: str = "system:serviceaccount:fraud:*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringLike": {f"{ISSUER}:sub": subject_pattern},
                    "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"},
                },
            }
        ],
    }


def _role(
    arn: str, trust: dict[str, Any], policy: dict[str, Any], tags: list[dict[str, str]]
) -> dict[str, Any]:
    name = arn.rsplit("/", 1)[-1]
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROA" + name.upper().replace("-", "")[:17].ljust(17, "X"),
        "Arn": arn,
        "CreateDate": "2025-11-03T10:00:00Z",
        "AssumeRolePolicyDocument": trust,
        "InstanceProfileList": [],
        "RolePolicyList": [{"PolicyName": "access", "PolicyDocument": policy}],
        "AttachedManagedPolicies": [],
        "Tags": tags,
    }


def _meta(name: str, ns: str | None, labels: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": f"uid-{ns}-{name}",
        "creationTimestamp": "2026-04-20T09:00:00Z",
    }
    if ns is not None:
        meta["namespace"] = ns
    if labels:
        meta["labels"] = labels
    meta.update(more)
    return meta


def _deployment(name: str, sa: str, ci: str, replicas: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "cmdb_ci": ci}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, "fraud", labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": sa,
                    "containers": [{"name": name, "image": f"acme/{name}:1.4"}],
                },
            },
        },
        "status": {"replicas": replicas, "readyReplicas": replicas},
    }


def _pods(
    name: str, sa: str, ci: str, replicas: int, first_ip: int, rs_exported: bool
) -> list[dict[str, Any]]:
    digest = "7d9f8c6b5" if rs_exported else "5b8c7d9f6"
    out = []
    for i in range(replicas):
        ip = f"10.30.1.{100 + first_ip + i}"
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": _meta(
                    f"{name}-{digest}-{'abcde'[i]}x{i}q",
                    "fraud",
                    {"app.kubernetes.io/name": name, "cmdb_ci": ci, "pod-template-hash": digest},
                    ownerReferences=[
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": f"{name}-{digest}",
                            "uid": f"uid-rs-{name}",
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                ),
                "spec": {
                    "serviceAccountName": sa,
                    "nodeName": f"ip-10-40-12-{10 + i}.ec2.internal",
                    "containers": [{"name": name, "image": f"acme/{name}:1.4"}],
                },
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
            }
        )
    return out


RBAC = "rbac.authorization.k8s.io/v1"


def _binding(
    kind: str, name: str, ns: str | None, role_kind: str, role: str, subjects: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": _meta(name, ns),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def rbac_objects() -> list[dict[str, Any]]:
    """Roles and bindings as ``kubectl get roles,clusterroles,rolebindings,clusterrolebindings -A -o json``
    lists them (ClusterRoles trimmed to the rules these tests ask about)."""
    return [
        {
            "apiVersion": RBAC,
            "kind": "ClusterRole",
            "metadata": _meta("cluster-admin", None),
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        },
        {
            "apiVersion": RBAC,
            "kind": "ClusterRole",
            "metadata": _meta("view", None),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "pods/log", "services"],
                    "verbs": ["get", "list", "watch"],
                },
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": RBAC,
            "kind": "ClusterRole",
            "metadata": _meta("secret-reader", None),
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        },
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": _meta("pod-debugger", "fraud"),
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
            ],
        },
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": _meta("deployer", "fraud"),
            "rules": [
                {"apiGroups": ["apps"], "resources": ["deployments", "*/scale"], "verbs": ["patch", "update"]}
            ],
        },
        {
            "apiVersion": RBAC,
            "kind": "Role",
            "metadata": _meta("config-editor", "fraud"),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": ["fraud-config"],
                    "verbs": ["update"],
                }
            ],
        },
        _binding(
            "ClusterRoleBinding",
            "cluster-admin",
            None,
            "ClusterRole",
            "cluster-admin",
            [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}],
        ),
        _binding(
            "ClusterRoleBinding",
            "fraud-sa-secrets",
            None,
            "ClusterRole",
            "secret-reader",
            [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Group",
                    "name": "system:serviceaccounts:fraud",
                }
            ],
        ),
        _binding(
            "RoleBinding",
            "scoring-readers",
            "fraud",
            "ClusterRole",
            "view",
            [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "fraud-oncall"}],
        ),
        _binding(
            "RoleBinding",
            "oncall-debug",
            "fraud",
            "Role",
            "pod-debugger",
            [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dana@acme-fin.example"}],
        ),
        _binding(
            "RoleBinding",
            "batch-deployer",
            "fraud",
            "Role",
            "deployer",
            [{"kind": "ServiceAccount", "name": "fraud-batch", "namespace": "fraud"}],
        ),
        _binding(
            "RoleBinding",
            "config-editors",
            "fraud",
            "Role",
            "config-editor",
            [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "priya@acme-fin.example"}],
        ),
    ]


def kubectl_export() -> dict[str, Any]:
    """``kubectl get namespaces,deployments,replicasets,pods,services,serviceaccounts,networkpolicies -A
    -o json`` of the cluster."""
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("fraud", None, {"team": "fraud"})},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("kube-system", None)},
        _deployment("fraud-scoring", "fraud-scoring", SCORING_CI, 2),
        _deployment("fraud-batch", "fraud-batch", PIPELINE_CI, 1),
        _deployment("fraud-alerts", "fraud-alerts", SCORING_CI, 1),
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": _meta(
                "fraud-scoring-7d9f8c6b5",
                "fraud",
                ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "fraud-scoring"}],
            ),
            "spec": {"replicas": 2},
        },
        *_pods("fraud-scoring", "fraud-scoring", SCORING_CI, 2, 21, rs_exported=True),
        *_pods("fraud-batch", "fraud-batch", PIPELINE_CI, 1, 31, rs_exported=False),
        *_pods("fraud-alerts", "fraud-alerts", SCORING_CI, 1, 41, rs_exported=False),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("fraud-scoring", "fraud"),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "172.20.14.9",
                "selector": {"app.kubernetes.io/name": "fraud-scoring"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("fraud-alerts", "fraud"),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "172.20.14.23",
                "selector": {"app.kubernetes.io/name": "fraud-alerts"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("scoring-ingress", "fraud"),
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "fraud-scoring"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "fraud"}}}]}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("quarantine", "fraud"),
            "spec": {
                "podSelector": {"matchLabels": {"quarantine": "true"}},
                "policyTypes": ["Ingress", "Egress"],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(
                "fraud-scoring", "fraud", annotations={"eks.amazonaws.com/role-arn": IRSA_ROLE}
            ),
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta("fraud-batch", "fraud", annotations={"eks.amazonaws.com/role-arn": IRSA_ROLE}),
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("fraud-alerts", "fraud")},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("default", "fraud")},
        *rbac_objects(),
    ]
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def describe_cluster() -> dict[str, Any]:
    return {
        "cluster": {
            "name": CLUSTER,
            "arn": CLUSTER_ARN,
            "createdAt": "2025-10-01T12:00:00+00:00",
            "version": "1.31",
            "endpoint": f"https://{OIDC_ID}.gr7.{REGION}.eks.amazonaws.com",
            "roleArn": f"arn:aws:iam::{FRAUD}:role/eks-cluster-role",
            "identity": {"oidc": {"issuer": f"https://{ISSUER}"}},
            "status": "ACTIVE",
            "platformVersion": "eks.12",
        }
    }


def pod_identity_association() -> dict[str, Any]:
    return {
        "association": {
            "clusterName": CLUSTER,
            "namespace": "fraud",
            "serviceAccount": "fraud-alerts",
            "roleArn": POD_IDENTITY_ROLE,
            "associationArn": f"arn:aws:eks:{REGION}:{FRAUD}:podidentityassociation/{CLUSTER}/a-0f3e1d2c4b5a69788",
            "associationId": "a-0f3e1d2c4b5a69788",
            "tags": {},
            "createdAt": "2026-01-12T08:00:00+00:00",
            "modifiedAt": "2026-01-12T08:00:00+00:00",
        }
    }


def _web_identity_event(when: str, provider: str, subject: str, role: str, n: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "WebIdentityUser",
            "principalId": f"{provider}:sts.amazonaws.com:{subject}",
            "userName": subject,
            "identityProvider": provider,
        },
        "eventTime": when,
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRoleWithWebIdentity",
        "awsRegion": REGION,
        "sourceIPAddress": "52.4.19.77",
        "userAgent": "aws-sdk-go-v2/1.30.3",
        "requestParameters": {"roleArn": role, "roleSessionName": f"session-{n}"},
        "responseElements": {"subjectFromWebIdentityToken": subject, "provider": provider.split("/", 1)[-1]},
        "requestID": f"0000-{n:08d}",
        "eventID": f"web-{role.rsplit('/', 1)[-1]}-{n:08d}",
        "readOnly": True,
        "resources": [{"accountId": DATALAKE, "type": "AWS::IAM::Role", "ARN": role}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": DATALAKE,
        "eventCategory": "Management",
    }


def cloudtrail_records() -> list[dict[str, Any]]:
    """GitHub Actions assumes ci-deployer once a day (the sample itself holds the service accounts'
    hourly AssumeRoleWithWebIdentity of eks-fraud-datalake)."""
    return [
        _web_identity_event(
            f"2026-05-{day:02d}T03:00:00Z",
            f"arn:aws:iam::{DATALAKE}:oidc-provider/{GITHUB}",
            "repo:acme/infra:ref:refs/heads/main",
            CI_ROLE,
            day,
        )
        for day in range(1, 15)
    ]


NODE_ENI = "eni-0c4e8a1f2b3d5e6f7"
NODE_IP = "10.30.1.50"
FLOW_FIELDS = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def node_interface(pod_ips: list[str]) -> dict[str, Any]:
    """The EKS node's interface as ``ec2 describe-network-interfaces`` lists it: the VPC CNI gives its pods
    secondary addresses of it."""
    return {
        "NetworkInterfaceId": NODE_ENI,
        "InterfaceType": "interface",
        "OwnerId": FRAUD,
        "SubnetId": "subnet-1538271e0f2e6c923",
        "VpcId": "vpc-10f55ade62ee72431",
        "AvailabilityZone": "us-east-1a",
        "PrivateIpAddress": NODE_IP,
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": NODE_IP}]
        + [{"Primary": False, "PrivateIpAddress": ip} for ip in pod_ips],
        "Groups": [{"GroupId": "sg-9d52e219abbad9982", "GroupName": "workload"}],
        "Attachment": {
            "AttachmentId": "eni-attach-0a1b2c3d4e5f60718",
            "InstanceId": "i-0e1d2c3b4a5968778",
            "InstanceOwnerId": FRAUD,
            "DeviceIndex": 0,
            "Status": "attached",
        },
        "Status": "in-use",
        "TagSet": [{"Key": "eks:cluster-name", "Value": CLUSTER}],
    }


def pod_flow_log() -> str:
    """A day of the node interface's flow log (version 2 default format): the fraud-scoring pods call the
    fraud-alerts pod on 8080; the fraud-alerts pod calls the workload at 10.30.1.25 on 443."""
    ips = {
        p["metadata"]["name"]: p["status"]["podIP"] for p in kubectl_export()["items"] if p["kind"] == "Pod"
    }
    alerts = next(ip for name, ip in ips.items() if name.startswith("fraud-alerts"))
    scoring = [ip for name, ip in ips.items() if name.startswith("fraud-scoring")]
    lines = [FLOW_FIELDS]
    start = 1778803200  # 2026-05-15T00:00:00Z; the log is of the day before
    for minute in range(0, 24 * 60, 10):
        t = start - 86400 + minute * 60
        for ip in scoring:
            lines.append(f"2 {FRAUD} {NODE_ENI} {ip} {alerts} 41234 8080 6 12 5400 {t} {t + 60} ACCEPT OK")
        lines.append(f"2 {FRAUD} {NODE_ENI} {alerts} 10.30.1.25 51200 443 6 8 2100 {t} {t + 60} ACCEPT OK")
    return "\n".join(lines) + "\n"


def build(sample: Path, out: Path) -> Path:
    """A copy of the sample at ``out`` with the cluster, its roles and their CloudTrail added."""
    shutil.copytree(sample, out)
    s3_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::acme-datalake-curated", "arn:aws:s3:::acme-datalake-curated/*"],
            }
        ],
    }
    github_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{DATALAKE}:oidc-provider/{GITHUB}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{GITHUB}:sub": "repo:acme/*"},
                },
            }
        ],
    }
    pod_identity_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    for account, roles in (
        (
            DATALAKE,
            [
                _role(
                    IRSA_ROLE, irsa_trust(), s3_read, [{"Key": "cmdb_ci", "Value": "Enterprise Data Lake"}]
                ),
                _role(CI_ROLE, github_trust, s3_read, []),
            ],
        ),
        (FRAUD, [_role(POD_IDENTITY_ROLE, pod_identity_trust, s3_read, [])]),
    ):
        path = out / "aws" / account / "global" / "iam-GetAccountAuthorizationDetails.json"
        doc = json.loads(path.read_text())
        ours = {r["Arn"] for r in roles}  # the sample's own eks-fraud-datalake, replaced by ours
        doc["RoleDetailList"] = [r for r in doc["RoleDetailList"] if r["Arn"] not in ours] + roles
        path.write_text(json.dumps(doc, indent=2))
    enis = out / "aws" / FRAUD / REGION / "ec2-DescribeNetworkInterfaces.json"
    listed = json.loads(enis.read_text())
    pod_ips = [p["status"]["podIP"] for p in kubectl_export()["items"] if p["kind"] == "Pod"]
    listed["NetworkInterfaces"].append(node_interface(pod_ips))
    enis.write_text(json.dumps(listed, indent=2))
    flows = out / "flowlogs" / "AWSLogs" / FRAUD / "vpcflowlogs" / REGION / "2026" / "05" / "14"
    flows.mkdir(parents=True, exist_ok=True)
    name_flows = f"{FRAUD}_vpcflowlogs_{REGION}_fl-0a9b8c7d6e5f40312_20260514T0000Z_pods.log.gz"
    (flows / name_flows).write_bytes(gzip.compress(pod_flow_log().encode(), mtime=0))
    cluster = out / "kubernetes" / CLUSTER
    shutil.rmtree(cluster, ignore_errors=True)  # the sample's export of the cluster, replaced by a richer one
    cluster.mkdir(parents=True)
    (cluster / "objects.json").write_text(json.dumps(kubectl_export(), indent=2))
    (cluster / "describe-cluster.json").write_text(json.dumps(describe_cluster(), indent=2))
    (cluster / "pod-identity-fraud-alerts.json").write_text(json.dumps(pod_identity_association(), indent=2))
    trail = out / "cloudtrail" / "AWSLogs" / DATALAKE / "CloudTrail" / REGION / "2026" / "05" / "14"
    trail.mkdir(parents=True, exist_ok=True)
    name = f"{DATALAKE}_CloudTrail_{REGION}_20260514T2355Z_webidentity.json.gz"
    # mtime 0: the same bytes whenever built, so loading it twice counts its records once
    (trail / name).write_bytes(gzip.compress(json.dumps({"Records": cloudtrail_records()}).encode(), mtime=0))
    return out


def _audit_event(
    when: str, user: str, groups: list[str], verb: str, ref: dict[str, Any], reason: str, stage: str, n: int
) -> dict[str, Any]:
    """An audit.k8s.io/v1 Event at level Metadata, as the API server's log backend writes it (Kubernetes
    documentation, "Auditing"), with the RBAC authorizer's reason annotation."""
    path = f"/api/v1/namespaces/{ref.get('namespace')}/{ref['resource']}" + (
        f"/{ref['name']}" if ref.get("name") else ""
    )
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"5f0d8a3e-{n:04d}-4c2b-9e61-0a7b3c{n:06d}",
        "stage": stage,
        "requestURI": path + (f"/{ref['subresource']}" if ref.get("subresource") else ""),
        "verb": verb,
        "user": {"username": user, "groups": groups},
        "sourceIPs": ["10.50.12.41"],
        "userAgent": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": 101 if ref.get("subresource") == "exec" else 200},
        "requestReceivedTimestamp": when,
        "stageTimestamp": when,
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": reason}
        if reason
        else {"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""},
    }


def audit_log() -> str:
    """A week of the cluster's audit log (one Event per line): dana execs into fraud-batch's pod and lists
    pods (allowed by oncall-debug); fraud-batch's service account patches its deployment daily (batch-deployer)
    and reads a secret (fraud-sa-secrets, through its namespace's service-account group); one forbidden
    request."""
    sa = "system:serviceaccount:fraud:fraud-batch"
    sa_groups = ["system:serviceaccounts", "system:serviceaccounts:fraud", "system:authenticated"]
    dana_groups = ["fraud-oncall", "system:authenticated"]
    debug = 'RBAC: allowed by RoleBinding "oncall-debug/fraud" of Role "pod-debugger" to User "dana@acme-fin.example"'
    deploy = 'RBAC: allowed by RoleBinding "batch-deployer/fraud" of Role "deployer" to ServiceAccount "fraud-batch/fraud"'
    secrets = (
        'RBAC: allowed by ClusterRoleBinding "fraud-sa-secrets" of ClusterRole "secret-reader" '
        'to Group "system:serviceaccounts:fraud"'
    )
    pod = {"resource": "pods", "namespace": "fraud", "name": "fraud-batch-5b8c7d9f6-bx0q", "apiVersion": "v1"}
    lines, n = [], 0
    for day in range(8, 15):
        when = f"2026-05-{day:02d}T09:12:0{day % 10}.118301Z"
        for stage in ("RequestReceived", "ResponseStarted", "ResponseComplete"):  # an exec streams
            n += 1
            lines.append(
                _audit_event(
                    when,
                    "dana@acme-fin.example",
                    dana_groups,
                    "create",
                    {**pod, "subresource": "exec"},
                    debug,
                    stage,
                    n,
                )
            )
        for stage in ("RequestReceived", "ResponseComplete"):
            n += 1
            lines.append(
                _audit_event(
                    when,
                    "dana@acme-fin.example",
                    dana_groups,
                    "list",
                    {"resource": "pods", "namespace": "fraud", "apiVersion": "v1"},
                    debug,
                    stage,
                    n,
                )
            )
            n += 1
            ref = {
                "resource": "deployments",
                "namespace": "fraud",
                "name": "fraud-batch",
                "apiGroup": "apps",
                "apiVersion": "v1",
            }
            lines.append(_audit_event(when, sa, sa_groups, "patch", ref, deploy, stage, n))
            n += 1
            lines.append(
                _audit_event(
                    when,
                    sa,
                    sa_groups,
                    "get",
                    {
                        "resource": "secrets",
                        "namespace": "fraud",
                        "name": "feature-store-creds",
                        "apiVersion": "v1",
                    },
                    secrets,
                    stage,
                    n,
                )
            )
    n += 1
    lines.append(
        _audit_event(
            "2026-05-14T10:00:00.000001Z",
            sa,
            sa_groups,
            "delete",
            {"resource": "pods", "namespace": "fraud", "apiVersion": "v1"},
            "",
            "ResponseComplete",
            n,
        )
    )
    return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in lines)
