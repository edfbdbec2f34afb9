"""The one declarative schema of node and edge kinds. Both stores are driven by it.

Three layers are kept apart: ``configuration`` (what the config allows), ``evidence`` (what was used)
and ``documentation`` (what the CMDB says). Each edge kind declares how repeated loads of the same edge
merge (evidence counts add up, first/last seen widen; configuration facts are replaced).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

SCHEMA_VERSION = 1
"""Bumped whenever stored data changes shape. A store written by a newer version is refused."""


class Layer(StrEnum):
    CONFIGURATION = "configuration"
    EVIDENCE = "evidence"
    DOCUMENTATION = "documentation"


Merge = Literal["replace", "sum"]


@dataclass(frozen=True)
class NodeKind:
    name: str
    layer: Layer
    description: str


@dataclass(frozen=True)
class EdgeKind:
    name: str
    layer: Layer
    description: str
    count_merge: Merge = "replace"
    dependency: bool = False
    """True when the edge means ``src`` (consumer) depends on ``dst`` (provider) for propagation."""
    key_fields: tuple[str, ...] = field(default_factory=tuple)
    """Properties that make two edges between the same nodes distinct (e.g. ``action``, ``port``)."""


NODE_KINDS: dict[str, NodeKind] = {
    k.name: k
    for k in [
        NodeKind("Organization", Layer.CONFIGURATION, "An AWS Organization (id o-…)."),
        NodeKind("OrgUnit", Layer.CONFIGURATION, "An organizational unit or the organization root."),
        NodeKind("Account", Layer.CONFIGURATION, "An AWS account, inside or outside the organization."),
        NodeKind(
            "S3AccountSettings",
            Layer.CONFIGURATION,
            "An account's S3 settings: Block Public Access at the account level (S3 Control).",
        ),
        NodeKind("ServiceControlPolicy", Layer.CONFIGURATION, "An Organizations SCP."),
        NodeKind("ResourceControlPolicy", Layer.CONFIGURATION, "An Organizations RCP."),
        NodeKind("IamRole", Layer.CONFIGURATION, "An IAM role, its trust policy and identity policies."),
        NodeKind("IamUser", Layer.CONFIGURATION, "An IAM user."),
        NodeKind("IamGroup", Layer.CONFIGURATION, "An IAM group."),
        NodeKind("ManagedPolicy", Layer.CONFIGURATION, "A customer or AWS managed IAM policy."),
        NodeKind("InstanceProfile", Layer.CONFIGURATION, "An EC2 instance profile."),
        NodeKind("ServicePrincipal", Layer.CONFIGURATION, "An AWS service principal (urn:aws:service:…)."),
        NodeKind("S3Bucket", Layer.CONFIGURATION, "An S3 bucket, its policy and tags."),
        NodeKind("KmsKey", Layer.CONFIGURATION, "A KMS key and its key policy."),
        NodeKind("LambdaFunction", Layer.CONFIGURATION, "A Lambda function and its resource policy."),
        NodeKind("SqsQueue", Layer.CONFIGURATION, "An SQS queue and its queue policy."),
        NodeKind("SnsTopic", Layer.CONFIGURATION, "An SNS topic and its topic policy."),
        NodeKind("Vpc", Layer.CONFIGURATION, "A VPC."),
        NodeKind("VpcEndpoint", Layer.CONFIGURATION, "A VPC endpoint, with its endpoint policy."),
        NodeKind("Subnet", Layer.CONFIGURATION, "A subnet."),
        NodeKind("SecurityGroup", Layer.CONFIGURATION, "A security group and its rules."),
        NodeKind("NetworkInterface", Layer.CONFIGURATION, "An ENI with its addresses."),
        NodeKind("Ec2Instance", Layer.CONFIGURATION, "An EC2 instance."),
        NodeKind(
            "EksCluster", Layer.CONFIGURATION, "An EKS (or other Kubernetes) cluster and its OIDC issuer."
        ),
        NodeKind("KubernetesNamespace", Layer.CONFIGURATION, "A namespace of a cluster."),
        NodeKind(
            "OidcProvider",
            Layer.CONFIGURATION,
            "An IAM OIDC identity provider (its issuer URL and audiences): what a Federated principal names.",
        ),
        NodeKind(
            "KubernetesWorkload",
            Layer.CONFIGURATION,
            "A Deployment, StatefulSet, DaemonSet, Job or CronJob (its pod template's labels and account).",
        ),
        NodeKind("Pod", Layer.CONFIGURATION, "A pod: its labels, service account, node and IP addresses."),
        NodeKind("KubernetesService", Layer.CONFIGURATION, "A Service and the pods its selector selects."),
        NodeKind(
            "ServiceAccount",
            Layer.CONFIGURATION,
            "A Kubernetes service account (its IRSA role annotation, its Pod Identity associations).",
        ),
        NodeKind("NetworkPolicy", Layer.CONFIGURATION, "A Kubernetes NetworkPolicy (its spec)."),
        NodeKind(
            "KubernetesRole",
            Layer.CONFIGURATION,
            "A Kubernetes RBAC Role or ClusterRole (its rules, aggregated rules included as exported).",
        ),
        NodeKind("KubernetesSubject", Layer.CONFIGURATION, "A Kubernetes RBAC user or group (by name)."),
        NodeKind(
            "WebIdentity",
            Layer.EVIDENCE,
            "A web identity (an OIDC issuer and subject, e.g. a service account's token) seen assuming roles.",
        ),
        NodeKind(
            "AzureManagementGroup",
            Layer.CONFIGURATION,
            "An Azure management group (the tenant root group too).",
        ),
        NodeKind("AzureSubscription", Layer.CONFIGURATION, "An Azure subscription (/subscriptions/<guid>)."),
        NodeKind(
            "AzureScope",
            Layer.CONFIGURATION,
            "An Azure scope a role assignment names that is no other node (a resource group, a resource not "
            "collected, the root /).",
        ),
        NodeKind("AzureRoleDefinition", Layer.CONFIGURATION, "An Azure role definition and its permissions."),
        NodeKind(
            "AzurePrincipal",
            Layer.CONFIGURATION,
            "A Microsoft Entra principal by object id: a user, group, service principal or managed identity.",
        ),
        NodeKind(
            "AzureDenyAssignment",
            Layer.CONFIGURATION,
            "An Azure deny assignment: its scope, denied permissions, principals and exclusions.",
        ),
        NodeKind(
            "AzureVnet", Layer.CONFIGURATION, "An Azure virtual network, its address space and peerings."
        ),
        NodeKind("AzureSubnet", Layer.CONFIGURATION, "A subnet of an Azure virtual network."),
        NodeKind("AzureNsg", Layer.CONFIGURATION, "An Azure network security group and its rules."),
        NodeKind(
            "AzureNic",
            Layer.CONFIGURATION,
            "An Azure network interface: its addresses and application security groups.",
        ),
        NodeKind(
            "AzureStorageAccount",
            Layer.CONFIGURATION,
            "An Azure storage account: public blob access, shared key access and its network rules.",
        ),
        NodeKind("Address", Layer.EVIDENCE, "An IP address seen in evidence and not resolved to an ENI."),
        NodeKind("AwsService", Layer.EVIDENCE, "An AWS service namespace (urn:aws:service-namespace:s3)."),
        NodeKind("Principal", Layer.EVIDENCE, "A principal seen only in evidence (not in any snapshot)."),
        NodeKind("Resource", Layer.EVIDENCE, "A resource seen only in evidence (not in any snapshot)."),
        NodeKind("BusinessService", Layer.DOCUMENTATION, "A CMDB business service (cmdb_ci_service …)."),
        NodeKind("ConfigurationItem", Layer.DOCUMENTATION, "A CMDB configuration item or catalog entity."),
    ]
}

EDGE_KINDS: dict[str, EdgeKind] = {
    k.name: k
    for k in [
        # configuration
        EdgeKind(
            "MEMBER_OF",
            Layer.CONFIGURATION,
            "Account -> OU/root, OU -> parent, user -> group; Azure subscription -> management group, "
            "management group -> parent.",
        ),
        EdgeKind(
            "ASSIGNED",
            Layer.CONFIGURATION,
            "Azure principal -> the scope a role assignment gives it a role at (props ``role``, "
            "``condition``), keyed by the assignment.",
            key_fields=("assignment",),
        ),
        EdgeKind(
            "ATTACHED",
            Layer.CONFIGURATION,
            "Managed policy, SCP or RCP -> the principal/target it is attached to.",
        ),
        EdgeKind(
            "RUNS_AS",
            Layer.CONFIGURATION,
            "Instance -> role it runs as (through its instance profile); service account -> the role its "
            "pods get (IRSA annotation or EKS Pod Identity association, prop ``method``).",
        ),
        EdgeKind("IN_CLUSTER", Layer.CONFIGURATION, "Namespace -> its cluster."),
        EdgeKind(
            "IN_NAMESPACE",
            Layer.CONFIGURATION,
            "Workload, pod, service, service account or policy -> namespace.",
        ),
        EdgeKind(
            "PART_OF", Layer.CONFIGURATION, "Pod -> the workload that owns it (through its ReplicaSet)."
        ),
        EdgeKind(
            "USES_SERVICE_ACCOUNT", Layer.CONFIGURATION, "Pod or workload -> the service account it runs as."
        ),
        EdgeKind("SELECTS", Layer.CONFIGURATION, "Service or NetworkPolicy -> a pod its selector selects."),
        EdgeKind(
            "BOUND_TO",
            Layer.CONFIGURATION,
            "Subject (service account, user, group) -> the Role or ClusterRole a binding grants it, keyed by "
            "binding (prop ``namespace``: where it holds; none for a ClusterRoleBinding).",
            key_fields=("binding",),
        ),
        EdgeKind(
            "AUTHENTICATES_AS",
            Layer.CONFIGURATION,
            "Service account -> the web identity its projected token is (issuer and ``sub``).",
        ),
        EdgeKind(
            "IN_VPC",
            Layer.CONFIGURATION,
            "Subnet, security group, ENI or VPC endpoint -> its VPC; an Azure subnet -> its virtual network.",
        ),
        EdgeKind("IN_SUBNET", Layer.CONFIGURATION, "ENI, instance or Azure network interface -> its subnet."),
        EdgeKind(
            "HAS_SECURITY_GROUP",
            Layer.CONFIGURATION,
            "ENI -> security group; an Azure subnet or network interface -> the NSG associated with it.",
        ),
        EdgeKind("ATTACHED_TO", Layer.CONFIGURATION, "ENI -> what it is attached to (instance …)."),
        # evidence
        EdgeKind(
            "OBSERVED_ASSUME",
            Layer.EVIDENCE,
            "Caller -> role it assumed (CloudTrail AssumeRole*).",
            count_merge="sum",
            dependency=True,
        ),
        EdgeKind(
            "OBSERVED_CALL",
            Layer.EVIDENCE,
            "Principal -> resource it called, keyed by action.",
            count_merge="sum",
            dependency=True,
            key_fields=("action",),
        ),
        EdgeKind(
            "OBSERVED_FLOW",
            Layer.EVIDENCE,
            "Source endpoint -> destination endpoint, keyed by protocol/port (VPC flow logs).",
            count_merge="sum",
            dependency=True,
            key_fields=("protocol", "port"),
        ),
        EdgeKind(
            "OBSERVED_VIA_ENDPOINT",
            Layer.EVIDENCE,
            "Principal -> VPC endpoint its calls came through (CloudTrail vpcEndpointId), keyed by action.",
            count_merge="sum",
            key_fields=("action",),
        ),
        EdgeKind(
            "OBSERVED_FROM_ADDRESS",
            Layer.EVIDENCE,
            "Principal -> the address its calls came from (CloudTrail sourceIPAddress; a service's name is "
            "not an address and is not kept).",
            count_merge="sum",
        ),
        EdgeKind(
            "OBSERVED_WITHOUT_TLS",
            Layer.EVIDENCE,
            "Principal -> resource, calls CloudTrail recorded without tlsDetails (not over TLS), keyed by action.",
            count_merge="sum",
            key_fields=("action",),
        ),
        EdgeKind(
            "OBSERVED_REJECT",
            Layer.EVIDENCE,
            "Source endpoint -> destination endpoint, flows the network refused (REJECT).",
            count_merge="sum",
            key_fields=("protocol", "port"),
        ),
        EdgeKind(
            "OBSERVED_K8S_ACCESS",
            Layer.EVIDENCE,
            "Kubernetes user or service account -> the RBAC role a request of it was allowed by (audit log "
            "``authorization.k8s.io/reason``), keyed by binding, verb, resource and namespace.",
            count_merge="sum",
            dependency=True,
            key_fields=("binding", "verb", "resource", "namespace"),
        ),
        EdgeKind(
            "LAST_ACCESSED",
            Layer.EVIDENCE,
            "Principal -> AWS service it last authenticated to (IAM last-accessed data), keyed by namespace.",
            key_fields=("namespace",),
        ),
        EdgeKind(
            "OBSERVED_AZURE_ACCESS",
            Layer.EVIDENCE,
            "Azure principal (or, for a request with a storage account's key, a SAS or none, its address) -> the "
            "resource it acted on (Activity "
            "Log, storage resource logs), keyed by action, the role assignment the log says allowed it and how "
            "the request was authorized (oauth, accountkey, sas, anonymous).",
            count_merge="sum",
            dependency=True,
            key_fields=("action", "assignment", "auth"),
        ),
        EdgeKind(
            "OBSERVED_CHANGE",
            Layer.EVIDENCE,
            "Principal -> IAM role or security group whose configuration it changed (CloudTrail "
            "``UpdateAssumeRolePolicy``, ``PutRolePolicy``, ``AttachRolePolicy``, "
            "``AuthorizeSecurityGroupIngress``, ``RevokeSecurityGroupEgress`` …), keyed by action: who changed "
            "what, and when (first and last seen). Not a dependency: changing a resource is not using it.",
            count_merge="sum",
            key_fields=("action",),
        ),
        EdgeKind(
            "OBSERVED_DENIED",
            Layer.EVIDENCE,
            "Principal -> resource, a call that was refused (AccessDenied), keyed by action.",
            count_merge="sum",
            key_fields=("action",),
        ),
        # documentation
        EdgeKind(
            "DEPENDS_ON",
            Layer.DOCUMENTATION,
            "CI -> CI it depends on, as the CMDB documents it.",
            dependency=True,
            key_fields=("rel_type",),
        ),
        EdgeKind(
            "BELONGS_TO",
            Layer.DOCUMENTATION,
            "Cloud resource -> the CI that owns it, keyed by how the mapping was made.",
            key_fields=("method",),
        ),
    ]
}


def node_kind(name: str) -> NodeKind:
    try:
        return NODE_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown node kind {name!r}; known: {', '.join(sorted(NODE_KINDS))}") from None


def edge_kind(name: str) -> EdgeKind:
    try:
        return EDGE_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown edge kind {name!r}; known: {', '.join(sorted(EDGE_KINDS))}") from None


@dataclass
class NodeRow:
    """One node to load. ``stub`` rows only create the node if nothing is known about it yet."""

    id: str
    kind: str
    props: dict[str, object] = field(default_factory=dict)
    account: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    stub: bool = False


@dataclass
class EdgeRow:
    """One edge to load: ``src`` -[kind {key}]-> ``dst``."""

    src: str
    kind: str
    dst: str
    props: dict[str, object] = field(default_factory=dict)
    account: str | None = None
    count: int = 0
    first_seen: str | None = None
    last_seen: str | None = None

    @property
    def key(self) -> str:
        fields = edge_kind(self.kind).key_fields
        return "|".join(str(self.props.get(f, "")) for f in fields)


def owner_of(node_id: str) -> str | None:
    """The account a node belongs to by its id alone: an ARN's account field (``aws`` for what AWS
    itself owns, such as its managed policies), ``aws`` for AWS service namespaces; None when the id
    does not say (an S3 bucket's ARN, a URN of our own).

    >>> [owner_of(i) for i in ("arn:aws:iam::482510973311:role/r", "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ...                        "arn:aws:s3:::bucket", "urn:aws:service-namespace:s3", "urn:cidr:0.0.0.0/0")]
    ['482510973311', 'aws', None, 'aws', None]
    """
    if node_id.startswith("arn:"):
        parts = node_id.split(":", 5)
        acct = parts[4] if len(parts) > 4 else ""
        return acct if acct == "aws" or (len(acct) == 12 and acct.isdigit()) else None
    if node_id.startswith("urn:aws:service-namespace:"):
        return "aws"
    return None


class EdgeStream(Protocol):
    """Edges a source makes as they are written (``Batch.edge_stream``)."""

    def kinds(self) -> Iterable[str]:
        """Every edge kind ``rows`` makes."""
        ...

    def ends(self) -> Iterable[str]:
        """Every node id an edge ``rows`` makes may start or end at."""
        ...

    def rows(self) -> Iterator[EdgeRow]:
        """The edges, made anew on each call."""
        ...


@dataclass
class Batch:
    """What one connector run loads: rows plus the scope (source, account) its cleanup covers."""

    source: str
    nodes: list[NodeRow] = field(default_factory=list)
    edges: list[EdgeRow] = field(default_factory=list)
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Documents (collection -> id -> body) written in the same atomic unit as the rows."""
    edge_stream: EdgeStream | None = None
    """More edges, made as the store writes them: a source of millions of edges (flow logs) never holds
    them all as objects. Checked by what it declares (its kinds, its ends), not row by row."""
    edge_stream_rows: int | None = None
    """How many edges ``edge_stream`` makes, when known (the store's journal sizes itself by it)."""
    warnings: list[str] = field(default_factory=list)
    """Problems found while transforming (e.g. an unreadable policy statement) that did not stop the
    load; reported to the user, never stored."""

    def validate(self) -> None:
        """Check kinds and that every edge endpoint is a node of this batch (a stub if need be).

        Both stores then agree: an edge never points at a node that does not exist.
        """
        ids = set()
        for n in self.nodes:
            node_kind(n.kind)
            if not n.id or not isinstance(n.id, str):
                raise ValueError(f"{self.source}: node of kind {n.kind} has no id (found {n.id!r:.60})")
            ids.add(n.id)
        for e in self.edges:
            edge_kind(e.kind)
            for end in (e.src, e.dst):
                if end not in ids:
                    raise ValueError(
                        f"{self.source}: edge {e.src} -{e.kind}-> {e.dst}: {end!r} is not a node"
                    )
        if self.edge_stream is not None:
            for kind in self.edge_stream.kinds():
                edge_kind(kind)
            for end in self.edge_stream.ends():
                if end not in ids:
                    raise ValueError(f"{self.source}: an end of its streamed edges, {end!r}, is not a node")

    def all_edges(self) -> Iterator[EdgeRow]:
        """``edges``, then what ``edge_stream`` makes."""
        yield from self.edges
        if self.edge_stream is not None:
            yield from self.edge_stream.rows()

    def stub(self, node_id: str, kind: str, account: str | None = None) -> None:
        """Add a stub node (created only if the store knows nothing of ``node_id`` yet). Its owner is the
        account its id names, when it names one (so whoever mentions it, the same account owns it)."""
        self.nodes.append(NodeRow(node_id, kind, account=owner_of(node_id) or account, stub=True))
