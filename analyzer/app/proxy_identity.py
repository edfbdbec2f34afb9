"""Who the reverse proxy says the user is — believed only when the proxy signed it.

* ``alb``: an AWS Application Load Balancer with authentication sets ``x-amzn-oidc-data``, a JWT signed
  with ES256 whose *header* carries ``kid``, ``signer`` (the load balancer's ARN) and ``exp``. The public
  key for ``kid`` is published by AWS per region (``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``);
  Blastwall reads it from ``--alb-keys DIR`` (one PEM file per kid) and never fetches anything at run time.
  The signer must be the configured load balancer, the token unexpired.
* ``oidc``: a bearer JWT (``Authorization: Bearer …`` or another header) verified against a JWKS file,
  with the configured issuer and audience, asymmetric algorithms only.
* ``plain``: a plain header (``X-Forwarded-User``), only with ``--trust-plain-header``: anyone who can reach
  the app directly can set it.

Roles never come from the proxy: they come from the ledger.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.errors import BlastwallError

ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
_KID = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclass(frozen=True)
class ProxyConfig:
    kind: str  # alb | oidc | plain
    alb_arn: str | None = None
    alb_keys: Path | None = None
    jwks_file: Path | None = None
    issuer: str | None = None
    audience: str | None = None
    header: str | None = None
    user_claim: str = "email"

    def check(self) -> ProxyConfig:
        if self.kind == "alb" and not (self.alb_arn and self.alb_keys and Path(self.alb_keys).is_dir()):
            raise BlastwallError(
                "--auth header with an ALB needs --alb-arn and --alb-keys DIR (the ALB's public keys)"
            )
        if self.kind == "oidc" and not (self.jwks_file and self.issuer and self.audience):
            raise BlastwallError(
                "--auth header with OIDC needs --oidc-jwks FILE, --oidc-issuer and --oidc-audience"
            )
        if self.kind not in ("alb", "oidc", "plain"):
            raise BlastwallError(f"unknown proxy identity {self.kind!r}")
        return self


def user_from_headers(cfg: ProxyConfig, headers: Any) -> str | None:
    """The user name the proxy vouches for, or None (no header, or a token that does not verify)."""
    if cfg.kind == "plain":
        name = headers.get(cfg.header or "X-Forwarded-User")
        if not isinstance(name, str):
            return None
        return name.strip() or None
    import jwt

    try:
        if cfg.kind == "alb":
            return _alb(cfg, headers.get(cfg.header or "x-amzn-oidc-data"), jwt)
        return _oidc(cfg, headers.get(cfg.header or "Authorization"), jwt)
    except (jwt.PyJWTError, ValueError, OSError, KeyError, TypeError):
        return None


def _alb(cfg: ProxyConfig, token: str | None, jwt: Any) -> str | None:
    if not token:
        return None
    header = jwt.get_unverified_header(token)
    kid, signer, exp = header.get("kid"), header.get("signer"), header.get("exp")
    if header.get("alg") != "ES256" or not isinstance(kid, str) or not _KID.fullmatch(kid):
        return None
    if signer != cfg.alb_arn or not isinstance(exp, int | float) or exp < time.time():
        return None
    assert cfg.alb_keys is not None
    key_path = next((p for p in (cfg.alb_keys / kid, cfg.alb_keys / f"{kid}.pem") if p.is_file()), None)
    if key_path is None:
        return None
    claims = jwt.decode(
        token, key_path.read_bytes(), algorithms=["ES256"], options={"verify_aud": False, "verify_iss": False}
    )
    name = claims.get(cfg.user_claim) or claims.get("sub")
    return name if isinstance(name, str) and name else None


def _oidc(cfg: ProxyConfig, value: str | None, jwt: Any) -> str | None:
    if not value:
        return None
    token = value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value
    assert cfg.jwks_file is not None
    keys = jwt.PyJWKSet.from_json(Path(cfg.jwks_file).read_text())
    kid = jwt.get_unverified_header(token).get("kid")
    key = next((k for k in keys.keys if k.key_id == kid), None)
    if key is None:
        return None
    claims = jwt.decode(
        token,
        key.key,
        algorithms=ASYMMETRIC,
        audience=cfg.audience,
        issuer=cfg.issuer,
        options={"require": ["exp", "iss", "aud"]},
    )
    name = claims.get(cfg.user_claim)
    return name if isinstance(name, str) and name else None
