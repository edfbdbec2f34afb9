"""boto3 sessions and clients for reading only. Endpoint, region and credentials come from the usual AWS
settings (profiles, SSO, environment, ``AWS_ENDPOINT_URL``); botocore's adaptive retry mode absorbs
throttling."""

from __future__ import annotations

from typing import Any

from analyzer.errors import BlastwallError


def _boto() -> tuple[Any, Any]:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise BlastwallError("reading from AWS needs the [aws] extra: pip install 'blastwall[aws]'") from exc
    return boto3, Config


def base_session(profile: str | None = None) -> Any:
    boto3, _ = _boto()
    try:
        return boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    except Exception as exc:  # ProfileNotFound and friends
        raise BlastwallError(f"AWS profile {profile!r}: {exc}") from exc


def client_for(session: Any, service: str, region: str | None = None, host_prefix: bool = True) -> Any:
    """A read client. ``host_prefix`` False for APIs that put a parameter in the host name (S3 Control's
    ``{AccountId}.s3-control``) when an endpoint override is set (``AWS_ENDPOINT_URL``, e.g. a local
    emulator): the request then goes to the endpoint as given. Against AWS itself the prefix stays."""
    import os

    _, config_cls = _boto()
    config = config_cls(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="blastwall")
    c = session.client(service, region_name=region or session.region_name or "us-east-1", config=config)
    override = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    if not host_prefix and override:
        c.meta.events.register_first("before-sign", _to_endpoint(override))
    return c


def _to_endpoint(endpoint: str) -> Any:
    """A ``before-sign`` hook sending the request to ``endpoint``'s host (botocore's endpoint rules put
    S3 Control's account id in front of it, which a custom endpoint does not resolve)."""
    from urllib.parse import urlsplit, urlunsplit

    want = urlsplit(endpoint)

    def hook(request: Any, **_: Any) -> None:
        url = urlsplit(request.url)
        if url.netloc != want.netloc and url.netloc.endswith("." + want.netloc):
            request.url = urlunsplit((url.scheme, want.netloc, url.path, url.query, url.fragment))

    return hook


def client(service: str, region: str | None = None) -> Any:
    return client_for(base_session(), service, region)


def assume(session: Any, role_arn: str, session_name: str = "blastwall-collector") -> Any:
    """A session acting as ``role_arn`` (read-only collection role in a member account)."""
    boto3, _ = _boto()
    creds = client_for(session, "sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
        "Credentials"
    ]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=session.region_name,
    )
