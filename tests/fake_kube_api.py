"""A local stand-in for a Kubernetes API server, for what cannot run here (no kind or k3s offline).

It serves the list endpoints Blastwall reads, shaped as the Kubernetes API reference documents them:
``GET /api/v1/pods`` and ``GET /apis/<group>/<version>/<plural>`` answer a ``<Kind>List`` (``apiVersion``,
``kind``, ``metadata.resourceVersion`` and ``metadata.continue``, ``items`` without their own ``kind``
and ``apiVersion``, as the server sends them), paginated by ``limit`` and ``continue``; a request without
the bearer token is 401; a resource named in ``forbidden`` is 403 (a ``Status`` body, reason
``Forbidden``); an unknown path is 404.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATHS = {
    "/api/v1/namespaces": ("v1", "Namespace"),
    "/api/v1/pods": ("v1", "Pod"),
    "/api/v1/services": ("v1", "Service"),
    "/api/v1/serviceaccounts": ("v1", "ServiceAccount"),
    "/apis/apps/v1/deployments": ("apps/v1", "Deployment"),
    "/apis/apps/v1/statefulsets": ("apps/v1", "StatefulSet"),
    "/apis/apps/v1/daemonsets": ("apps/v1", "DaemonSet"),
    "/apis/apps/v1/replicasets": ("apps/v1", "ReplicaSet"),
    "/apis/batch/v1/jobs": ("batch/v1", "Job"),
    "/apis/batch/v1/cronjobs": ("batch/v1", "CronJob"),
    "/apis/networking.k8s.io/v1/networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy"),
    "/apis/rbac.authorization.k8s.io/v1/roles": ("rbac.authorization.k8s.io/v1", "Role"),
    "/apis/rbac.authorization.k8s.io/v1/rolebindings": ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    "/apis/rbac.authorization.k8s.io/v1/clusterroles": ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings": (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
    ),
}


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@contextmanager
def serving(
    objects: list[dict[str, Any]], token: str, forbidden: frozenset[str] = frozenset()
) -> Iterator[tuple[str, list[str]]]:
    """Serve ``objects`` (items as kubectl writes them); yields the base URL and the request log."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for o in objects:
        item = {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
        by_kind.setdefault(o["kind"], []).append(item)
    log: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            log.append(self.path)
            if self.headers.get("Authorization") != f"Bearer {token}":
                self._send(401, _status(401, "Unauthorized", "Unauthorized"))
                return
            if url.path not in PATHS:
                self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
                return
            api_version, kind = PATHS[url.path]
            plural = url.path.rsplit("/", 1)[-1]
            if plural in forbidden:
                msg = f'{plural} is forbidden: User "blastwall" cannot list resource "{plural}" at the cluster scope'
                self._send(403, _status(403, "Forbidden", msg))
                return
            q = parse_qs(url.query)
            limit = int(q.get("limit", ["0"])[0]) or 10**9
            start = int(q.get("continue", ["0"])[0] or 0)
            items = by_kind.get(kind, [])
            page = items[start : start + limit]
            meta: dict[str, Any] = {"resourceVersion": "48213"}
            if start + limit < len(items):
                meta["continue"] = str(start + limit)
            self._send(
                200, {"apiVersion": api_version, "kind": f"{kind}List", "metadata": meta, "items": page}
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, server: str, token: str, name: str = "fraud-eks") -> Path:
    """A kubeconfig whose one context reaches ``server`` with a bearer token (as ``aws eks
    update-kubeconfig`` writes one, with a static token instead of its exec plugin)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": "blastwall", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "blastwall"}}],
        "current-context": name,
    }
    path.write_text(json.dumps(doc))
    return path
