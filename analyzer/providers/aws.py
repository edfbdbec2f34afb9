"""AWS behind the provider boundary (``analyzer.providers``).

Its connectors are ``connectors/aws`` (the collector and the snapshot), ``connectors/evidence`` (CloudTrail,
VPC flow logs) and the finding formats in ``connectors/proposals``; its semantics are the IAM engine
(``analyzer/iam``) and the VPC network model (``analyzer/network``); its change kinds and scorers are
listed below.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.providers import DirectoryPart, Provider, register

if TYPE_CHECKING:
    from analyzer.graph.store import GraphStore


def arn_account(node_id: str) -> str:
    """The account an ARN (``arn:PARTITION:SERVICE:REGION:ACCOUNT:...``) or a ``urn:aws:`` id names."""
    if node_id.startswith("urn:aws:"):
        return ""
    parts = node_id.split(":")
    return parts[4] if len(parts) > 4 else ""


PROVIDER = register(
    Provider(
        name="aws",
        id_prefixes=("arn:aws:", "arn:aws-cn:", "arn:aws-us-gov:", "urn:aws:"),
        account_of=arn_account,
        change_kinds=(
            "analyzer.changes.trust_policy",
            "analyzer.changes.iam_policies",
            "analyzer.changes.managed_policy",
            "analyzer.changes.resource_policy",
            "analyzer.changes.credentials",
            "analyzer.changes.public_access",
            "analyzer.changes.removal",
            "analyzer.changes.settings",
            "analyzer.changes.security_groups",
            "analyzer.changes.interfaces",
        ),
        scorers={
            "IamRole": "analyzer.scoring.trust_change:trust_change",
            "SecurityGroup": "analyzer.scoring.network_change:network_change",
            "NetworkInterface": "analyzer.scoring.network_change:network_change",
            "IamPrincipal": "analyzer.scoring.identity_change:identity_change",
            "ManagedPolicy": "analyzer.scoring.identity_change:managed_policy_change",
            "ResourcePolicy": "analyzer.scoring.policy_change:resource_policy_change",
            "Credentials": "analyzer.scoring.credentials_change:credentials_change",
            "PublicAccess": "analyzer.scoring.public_access_change:public_access_change",
            "Removal": "analyzer.scoring.removal_change:removal_change",
            "Setting": "analyzer.scoring.setting_change:setting_change",
        },
        alternatives={
            "iam.update_trust_policy": "analyzer.scoring.alternatives:trust_alternative",
            "sg.revoke_rules": "analyzer.scoring.alternatives:network_alternative",
            "public_access.block": "analyzer.scoring.alternatives:public_access_alternative",
        },
        evidence={"cloudtrail": "CloudTrail", "flowlogs": "VPC flow log"},
        default_evidence=("cloudtrail",),
        directory=(
            DirectoryPart("aws", "ingest the AWS snapshot", "analyzer.providers.aws:load_snapshot_part", 10),
            DirectoryPart(
                "cloudtrail", "ingest CloudTrail", "analyzer.providers.aws:load_cloudtrail_part", 30
            ),
            DirectoryPart(
                "flowlogs", "ingest VPC flow logs", "analyzer.providers.aws:load_flowlogs_part", 40
            ),
        ),
    )
)


def load_snapshot_part(store: GraphStore, path: Path, seen: str) -> list[str]:
    from connectors.aws.snapshot import load_snapshot

    return list(load_snapshot(store, path, seen=seen).errors)


def load_cloudtrail_part(store: GraphStore, path: Path, seen: str) -> list[str]:
    from connectors.evidence.cloudtrail import ingest_cloudtrail

    return list(ingest_cloudtrail(store, [path]).errors)


def load_flowlogs_part(store: GraphStore, path: Path, seen: str) -> list[str]:
    from connectors.evidence.flowlogs import ingest_flowlogs

    return list(ingest_flowlogs(store, [path]).errors)
