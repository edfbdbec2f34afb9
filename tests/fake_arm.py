"""A local stand-in for Azure Resource Manager's read-only list endpoints, built from their documented
shapes: ``GET /subscriptions``, the management group with ``$expand=children&$recurse=true``, and per
subscription ``/providers/<namespace>/<type>`` lists answering ``{"value": [...], "nextLink": ...}`` with
each resource's settings under ``properties`` (ARM's REST shape, which the ``az`` CLI flattens). Served over
HTTPS with a certificate made for the test (the SDK sends bearer tokens over TLS only); a request without
the expected bearer token is answered 401; a list can be made to answer 403.

The data comes from a tenant in CLI shape (tests/data/azure/acme-tenant): ``rest_shape`` nests back under
``properties`` what the CLI flattened."""

from __future__ import annotations

import datetime
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ENVELOPE = {"id", "name", "type", "location", "tags", "sku", "kind", "etag", "identity"}
NESTED = {"subnets", "ipConfigurations", "securityRules", "virtualNetworkPeerings"}


def _no_resource_group(value: Any) -> Any:
    """The CLI adds ``resourceGroup`` to every object and reference; ARM's REST shape has none."""
    if isinstance(value, list):
        return [_no_resource_group(v) for v in value]
    if isinstance(value, dict):
        return {k: _no_resource_group(v) for k, v in value.items() if k != "resourceGroup"}
    return value


def rest_shape(obj: dict[str, Any]) -> dict[str, Any]:
    """The CLI's flattened object -> ARM's: everything but the envelope under ``properties``."""
    obj = _no_resource_group(obj)
    props = {}
    for k, v in obj.items():
        if k in ENVELOPE or k == "resourceGroup":
            continue
        props[k] = (
            [rest_shape(x) if isinstance(x, dict) else x for x in v]
            if k in NESTED and isinstance(v, list)
            else v
        )
    out = {k: v for k, v in obj.items() if k in ENVELOPE}
    out["properties"] = props
    return out


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "arm.pem", directory / "arm.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@contextmanager
def serving(
    tenant_dir: Path, token: str, workdir: Path, refuse: frozenset[str] = frozenset(), page: int = 1
) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, the certificate to trust, the paths requested). ``refuse``: list types answered 403;
    ``page``: items per page of every list (so ``nextLink`` is followed)."""
    docs = {p.stem: json.loads(p.read_text()) for p in tenant_dir.glob("*.json")}
    subs = docs["account-list"]
    tenant = subs[0]["tenantId"]
    mg = docs["management-group-show"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for name in (
        "role-definition-list",
        "role-assignment-list",
        "vnet-list",
        "nsg-list",
        "nic-list",
        "storage-account-list",
        "vm-list",
        "identity-list",
    ):
        for obj in docs.get(name, []):
            by_type.setdefault(obj["type"].lower(), []).append(rest_shape(obj))
    for obj in docs.get("deny-assignments", {}).get("value", []):
        by_type.setdefault("microsoft.authorization/denyassignments", []).append(obj)
    seen: list[str] = []

    def answer(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        if handler.headers.get("Authorization") != f"Bearer {token}":
            return 401, {"error": {"code": "AuthenticationFailed", "message": "no valid bearer token"}}
        url = urlsplit(handler.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/").lower()
        seen.append(url.path)
        if "api-version" not in q:
            return 400, {
                "error": {"code": "MissingApiVersionParameter", "message": "api-version is required"}
            }
        if path == "/subscriptions":
            return 200, {
                "value": [
                    {
                        "id": f"/subscriptions/{s['id']}",
                        "subscriptionId": s["id"],
                        "tenantId": s["tenantId"],
                        "displayName": s["name"],
                        "state": s["state"],
                    }
                    for s in subs
                ]
            }
        if path == f"/providers/microsoft.management/managementgroups/{tenant}".lower():
            if q.get("$expand") != "children" or q.get("$recurse") != "true":
                return 200, {k: v for k, v in mg.items() if k != "children"}
            return 200, mg
        parts = path.split("/")
        if len(parts) == 6 and parts[1] == "subscriptions" and parts[3] == "providers":
            kind = f"{parts[4]}/{parts[5]}"
            if kind in refuse:
                return 403, {"error": {"code": "AuthorizationFailed", "message": f"no read on {kind}"}}
            items = [
                o for o in by_type.get(kind, []) if o["id"].lower().startswith(f"/subscriptions/{parts[2]}")
            ]
            start = int(q.get("$skiptoken") or 0)
            body: dict[str, Any] = {"value": items[start : start + page]}
            if start + page < len(items):
                host = f"https://127.0.0.1:{handler.server.server_address[1]}"  # type: ignore[index]
                body["nextLink"] = (
                    f"{host}{url.path}?api-version={q['api-version']}&$skiptoken={start + page}"
                )
            return 200, body
        return 404, {"error": {"code": "NotFound", "message": url.path}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer(self)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    cert, key = certificate(workdir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert, seen
    finally:
        server.shutdown()
        server.server_close()
