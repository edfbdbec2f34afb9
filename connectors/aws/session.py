"""boto3 clients for reading only. Endpoint, region and credentials come from the usual AWS settings
(profiles, SSO, environment, ``AWS_ENDPOINT_URL``); botocore's adaptive retry mode absorbs throttling."""

from __future__ import annotations

from typing import Any

from analyzer.errors import BlastwallError


def client(service: str, region: str | None = None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise BlastwallError("reading from AWS needs the [aws] extra: pip install 'blastwall[aws]'") from exc
    config = Config(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="blastwall")
    return boto3.session.Session().client(service, region_name=region, config=config)
