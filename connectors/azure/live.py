"""An Azure tenant read live from Azure Resource Manager (read-only ``GET`` list calls), into the same
``Export`` the ``az`` exports make (``connectors.azure.exports``).

Through the Azure SDK's core (``azure-mgmt-core``'s ARM pipeline: bearer token, ARM's retry and
throttling policies) and ``azure-identity`` for the credential (``DefaultAzureCredential`` unless one is
given): the REST list operations the ``az`` commands call, at the API versions below, every page
(``nextLink``). ARM nests a resource's settings under ``properties``; the CLI flattens them, and so does
this reader, so both feed one transform. A list the credential may not read (401/403) or the endpoint
does not offer is named in ``unread`` and its kind is left out: never taken as empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from analyzer.graph.lease import writes
from analyzer.graph.store import GraphStore
from connectors.azure.exports import Export, IngestReport, kind_of, load_export

ARM = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"
PER_SUBSCRIPTION = {
    "role_definition": ("Microsoft.Authorization/roleDefinitions", "2022-04-01"),
    "role_assignment": ("Microsoft.Authorization/roleAssignments", "2022-04-01"),
    "deny_assignment": ("Microsoft.Authorization/denyAssignments", "2022-04-01"),
    "vnet": ("Microsoft.Network/virtualNetworks", "2023-09-01"),
    "nsg": ("Microsoft.Network/networkSecurityGroups", "2023-09-01"),
    "nic": ("Microsoft.Network/networkInterfaces", "2023-09-01"),
    "storage_account": ("Microsoft.Storage/storageAccounts", "2023-01-01"),
    "vm": ("Microsoft.Compute/virtualMachines", "2024-03-01"),
    "identity": ("Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31"),
}
ENVELOPE = {
    "id",
    "name",
    "type",
    "location",
    "tags",
    "sku",
    "kind",
    "etag",
    "identity",
    "zones",
    "extendedLocation",
}


def flatten(value: Any) -> Any:
    """ARM's shape -> the CLI's: every ``properties`` object merged into its owner, all the way down.

    >>> flatten({"id": "x", "properties": {"subnets": [{"id": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})
    {'id': 'x', 'subnets': [{'id': 's', 'addressPrefix': '10.0.0.0/24'}]}
    """
    if isinstance(value, list):
        return [flatten(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: flatten(v) for k, v in value.items() if k != "properties"}
    inner = value.get("properties")
    if isinstance(inner, dict):
        for k, v in flatten(inner).items():
            out.setdefault(k, v)
    return out


@dataclass
class LiveRead:
    export: Export = field(default_factory=Export)
    unread: list[str] = field(default_factory=list)
    calls: int = 0


class _Arm:
    """GETs through the SDK's ARM pipeline, following ``nextLink``."""

    def __init__(self, credential: Any, endpoint: str) -> None:
        from azure.core.configuration import Configuration
        from azure.core.pipeline import policies
        from azure.mgmt.core import ARMPipelineClient
        from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

        self.endpoint = endpoint.rstrip("/")
        config = Configuration()  # type: ignore[var-annotated]
        config.headers_policy = policies.HeadersPolicy()
        config.user_agent_policy = policies.UserAgentPolicy(sdk_moniker="blastwall")
        config.retry_policy = policies.RetryPolicy()
        config.authentication_policy = ARMChallengeAuthenticationPolicy(credential, SCOPE)
        config.logging_policy = policies.NetworkTraceLoggingPolicy()
        config.http_logging_policy = ARMHttpLoggingPolicy()
        config.redirect_policy = policies.RedirectPolicy()
        config.proxy_policy = policies.ProxyPolicy()
        self.client: Any = ARMPipelineClient(base_url=self.endpoint, config=config)
        self.calls = 0

    def pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        from azure.core.rest import HttpRequest

        url: str | None = self.endpoint + path
        query: dict[str, str] | None = params
        while url:
            response = self.client.send_request(HttpRequest("GET", url, params=query))
            self.calls += 1
            if response.status_code >= 400:
                raise _Refused(response.status_code, _message(response))
            doc = response.json()
            yield doc
            url, query = doc.get("nextLink"), None  # the link carries its own query


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def _message(response: Any) -> str:
    try:
        err = response.json().get("error") or {}
        return f"{err.get('code', '')} {err.get('message', '')}".strip()[:200]
    except Exception:
        return ""


def _list(arm: _Arm, path: str, api: str, extra: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in arm.pages(path, {"api-version": api, **(extra or {})}):
        out += [flatten(x) for x in doc.get("value") or []]
    return out


def get_tenant_live(
    credential: Any = None, *, endpoint: str = ARM, subscriptions: list[str] | None = None
) -> LiveRead:
    """Read the tenant's subscriptions (or those given), the management group tree above them, and per
    subscription its role definitions and assignments, deny assignments, networks and storage accounts
    (get: only reading)."""
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    arm = _Arm(credential, endpoint)
    read = LiveRead()

    def keep(kind: str, objs: list[dict[str, Any]], where: str) -> None:
        for i, obj in enumerate(objs):
            read.export.objects.setdefault(kind, []).append((obj, f"{where}#[{i}]"))

    try:
        subs = _list(arm, "/subscriptions", "2022-12-01")
    except _Refused as exc:
        read.unread.append(f"subscriptions: {exc}")
        subs = []
    chosen = {s.lower() for s in subscriptions or []}
    subs = [s for s in subs if not chosen or str(s.get("subscriptionId", "")).lower() in chosen]
    cli_subs = [
        {
            "id": s.get("subscriptionId"),
            "name": s.get("displayName"),
            "tenantId": s.get("tenantId"),
            "state": s.get("state"),
        }
        for s in subs
    ]
    keep("subscription", cli_subs, "GET /subscriptions")
    for tenant in sorted({str(s.get("tenantId")) for s in subs if s.get("tenantId")}):
        path = f"/providers/Microsoft.Management/managementGroups/{tenant}"
        try:
            doc = next(
                arm.pages(path, {"api-version": "2021-04-01", "$expand": "children", "$recurse": "true"})
            )
            keep("management_group", [flatten(doc)], f"GET {path}")
        except _Refused as exc:
            read.unread.append(f"management group tree of tenant {tenant}: {exc}")
    for s in subs:
        sub = str(s.get("subscriptionId"))
        for kind, (provider, api) in PER_SUBSCRIPTION.items():
            path = f"/subscriptions/{sub}/providers/{provider}"
            try:
                objs = _list(arm, path, api)
            except _Refused as exc:
                read.unread.append(f"{provider} of subscription {sub}: {exc}")
                continue
            # what ARM lists under a type is of that type; an object it returns without one keeps it
            for obj in objs:
                obj.setdefault("type", provider)
                if kind_of(obj) != kind:
                    read.unread.append(
                        f"{provider} of subscription {sub}: an object of type {obj.get('type')!r}"
                    )
            keep(kind, [o for o in objs if kind_of(o) == kind], f"GET {path}")
    read.calls = arm.calls
    return read


@writes("ingest azure")
def ingest_azure_live(
    store: GraphStore,
    *,
    seen: str,
    credential: Any = None,
    endpoint: str = ARM,
    subscriptions: list[str] | None = None,
) -> IngestReport:
    """Read the tenant from Azure Resource Manager and load it (the lists not read are the report's
    warnings)."""
    read = get_tenant_live(credential, endpoint=endpoint, subscriptions=subscriptions)
    return load_export(store, read.export, seen=seen, where=endpoint, unread=read.unread)
