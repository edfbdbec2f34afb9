"""An HTTP client for ticket systems that waits out what they say to wait out: ``429 Too Many Requests``
(its ``Retry-After``), ``5xx`` and dropped connections (backing off), a bounded number of times. Errors
name the system, the method and the path, never the credentials."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from analyzer.errors import BlastwallError

RETRIED = frozenset({429, 500, 502, 503, 504})


class TicketError(BlastwallError):
    """A ticket system refused or failed a request (after the retries)."""


class Client:
    def __init__(
        self,
        system: str,
        base_url: str,
        auth: httpx.Auth | tuple[str, str] | None,
        headers: dict[str, str] | None = None,
        *,
        attempts: int = 5,
        longest_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.longest_wait = longest_wait
        self.sleep = sleep
        self.waited: list[float] = []  # what this client waited, in order (for the report and the tests)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            headers={"Accept": "application/json", **(headers or {})},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kw: Any) -> Any:
        """The decoded JSON answer of a 2xx; retried on 429, 5xx and transport errors."""
        for attempt in range(1, self.attempts + 1):
            try:
                r = self._http.request(method, path, **kw)
            except httpx.TransportError as exc:
                if attempt == self.attempts:
                    raise TicketError(f"{self.system}: {method} {path}: {type(exc).__name__}: {exc}") from exc
                self._wait(min(self.longest_wait, 2.0 ** (attempt - 1)))
                continue
            if r.status_code in RETRIED and attempt < self.attempts:
                self._wait(self._delay(r, attempt))
                continue
            if r.status_code >= 400:
                raise TicketError(f"{self.system}: {method} {path} answered {r.status_code}: {_why(r)}")
            return r.json() if r.content else None
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _delay(self, r: httpx.Response, attempt: int) -> float:
        after = r.headers.get("Retry-After")
        if after is not None and after.strip().isdigit():
            return min(self.longest_wait, float(after))
        return min(self.longest_wait, 2.0 ** (attempt - 1))

    def _wait(self, seconds: float) -> None:
        self.waited.append(seconds)
        self.sleep(seconds)


def _why(r: httpx.Response) -> str:
    """The system's own message (ServiceNow: error.message / detail; Jira: errorMessages / errors)."""
    try:
        doc = r.json()
    except ValueError:
        return r.text[:300]
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            return "; ".join(str(err[k]) for k in ("message", "detail") if err.get(k))
        parts = [str(m) for m in doc.get("errorMessages") or []]
        parts += [f"{k}: {v}" for k, v in (doc.get("errors") or {}).items()]
        if parts:
            return "; ".join(parts)
    return str(doc)[:300]
