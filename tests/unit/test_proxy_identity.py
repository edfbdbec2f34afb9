"""Header mode believes only what the proxy signed.

The ALB token is built the way the AWS documentation describes it (Elastic Load Balancing user guide,
"Authenticate users using an Application Load Balancer", section *User claims encoding and signature
verification*): ``x-amzn-oidc-data`` is a JWT signed with ES256 whose header carries ``alg``, ``kid``,
``signer`` (the load balancer's ARN), ``iss``, ``client`` and ``exp``, base64url-encoded *with* padding;
the public key for ``kid`` is a PEM file published per region.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from analyzer.app.proxy_identity import ProxyConfig, user_from_headers
from analyzer.errors import BlastwallError

ARN = "arn:aws:elasticloadbalancing:us-east-1:482510973311:loadbalancer/app/blastwall/50dc6c495c0c9188"
KID = "a5e8f1d2-3b7c-4e9a-9c1d-2f6b8e0a7d31"


def _b64(obj: dict) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(obj).encode())  # with padding, as the ALB sends it


def alb_token(
    key: ec.EllipticCurvePrivateKey,
    *,
    signer: str = ARN,
    exp: float | None = None,
    kid: str = KID,
    email: str = "priya@acme.example",
) -> str:
    header = {
        "alg": "ES256",
        "kid": kid,
        "signer": signer,
        "iss": "https://idp.acme.example",
        "client": "bw",
        "exp": int(exp or time.time() + 120),
    }
    payload = {
        "sub": "8a1f",
        "email": email,
        "exp": int(time.time() + 120),
        "iss": "https://idp.acme.example",
    }
    signing_input = _b64(header) + b"." + _b64(payload)
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    sig = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return (signing_input + b"." + sig).decode()


@pytest.fixture
def alb(tmp_path: Path) -> tuple[ProxyConfig, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    keys = tmp_path / "alb-keys"
    keys.mkdir()
    (keys / KID).write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ProxyConfig("alb", alb_arn=ARN, alb_keys=keys).check(), key


def test_a_token_the_alb_signed_names_the_user(alb: tuple) -> None:
    cfg, key = alb
    assert user_from_headers(cfg, {"x-amzn-oidc-data": alb_token(key)}) == "priya@acme.example"


def test_forged_expired_or_foreign_tokens_name_nobody(alb: tuple) -> None:
    cfg, key = alb
    other = ec.generate_private_key(ec.SECP256R1())
    for token in (
        alb_token(other),  # signed by someone else
        alb_token(key, signer=ARN.replace("blastwall", "other-lb")),  # another load balancer
        alb_token(key, exp=time.time() - 5),  # expired
        alb_token(key, kid="../../etc/passwd"),  # a key id that is a path
        alb_token(key, kid="unknown-kid"),
    ):
        assert user_from_headers(cfg, {"x-amzn-oidc-data": token}) is None
    good = alb_token(key)
    h, _p, s = good.split(".")
    tampered = h + "." + _b64({"email": "dana@acme.example"}).decode() + "." + s
    assert user_from_headers(cfg, {"x-amzn-oidc-data": tampered}) is None
    assert user_from_headers(cfg, {"X-Forwarded-User": "dana"}) is None  # a plain header means nothing here


def test_oidc_bearer_tokens_are_checked_against_the_jwks(tmp_path: Path) -> None:
    import jwt

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(
        json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]})
    )
    cfg = ProxyConfig(
        "oidc", jwks_file=tmp_path / "jwks.json", issuer="https://idp.acme.example", audience="blastwall"
    ).check()
    claims = {
        "email": "priya@acme.example",
        "iss": "https://idp.acme.example",
        "aud": "blastwall",
        "exp": int(time.time() + 60),
    }
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert user_from_headers(cfg, {"Authorization": f"Bearer {good}"}) == "priya@acme.example"
    wrong_aud = jwt.encode(claims | {"aud": "other-app"}, key, algorithm="RS256", headers={"kid": "k1"})
    hmac_forgery = jwt.encode(
        claims, "a shared secret that is long enough!", algorithm="HS256", headers={"kid": "k1"}
    )
    for token in (wrong_aud, hmac_forgery, "not.a.token"):
        assert user_from_headers(cfg, {"Authorization": f"Bearer {token}"}) is None


def test_header_mode_needs_a_verifier_or_an_explicit_plain_header(tmp_path: Path) -> None:
    from analyzer.app import create_app

    with pytest.raises(BlastwallError, match="signed identity"):
        create_app(str(tmp_path / "s"), "header")
    app = create_app(str(tmp_path / "s"), "header", proxy=ProxyConfig("plain"))
    from analyzer.app.auth import current_user

    with app.server.test_request_context(
        "/", headers={"X-Forwarded-User": "ana", "X-Forwarded-Groups": "CISO"}
    ):
        u = current_user()
        assert u is not None and (u.name, u.authenticated_by) == ("ana", "proxy-plain")
    with app.server.test_request_context("/"):
        assert current_user() is None


def test_binding_to_every_interface_needs_allowed_hosts() -> None:
    from analyzer.app.auth import default_allowed_hosts

    with pytest.raises(BlastwallError, match="--allowed-hosts"):
        default_allowed_hosts("0.0.0.0")
    assert default_allowed_hosts("10.0.3.7") == ["10.0.3.7"]
    assert "localhost" in default_allowed_hosts("127.0.0.1")
