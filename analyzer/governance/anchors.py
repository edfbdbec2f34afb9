"""Witnesses outside the store: copies of the ledger's signed head, so a rollback or a cut tail is caught.

A witness is a directory (``--anchor DIR``) or an S3 prefix (``--anchor s3://BUCKET/PREFIX``). Each anchor
is one file or object named by the ledger's genesis hash, the sequence number and the head's hash, written
once and never overwritten; in a bucket with S3 Object Lock enabled each object is put with a retention
(the bucket's default mode and period, else COMPLIANCE for ``$BLASTWALL_ANCHOR_RETENTION_DAYS``, 400 days by
default), so nobody — not even the account's root user, in compliance mode — can delete it before then.

This is the one place Blastwall writes to a cloud account, and only to the bucket the operator names.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from analyzer.errors import BadInput, BlastwallError
from analyzer.timeutil import iso, now

ENV = "BLASTWALL_ANCHOR"
HEAD_FIELDS = ("ledger", "seq", "hash", "actor", "signature")


def anchor_name(head: dict[str, Any]) -> str:
    return f"{head['ledger'][:16]}/{int(head['seq']):012d}-{head['hash'][:16]}.json"


class Witness(Protocol):
    @property
    def location(self) -> str: ...

    def write(self, anchor: dict[str, Any]) -> str: ...

    def read(self, ledger: str) -> list[tuple[str, dict[str, Any] | None]]:
        """Every anchor of the ledger whose genesis hash is ``ledger``: (where, document or None if
        unreadable)."""
        ...


@dataclass
class DirectoryWitness:
    root: Path

    @property
    def location(self) -> str:
        return str(self.root)

    def write(self, anchor: dict[str, Any]) -> str:
        path = self.root / anchor_name(anchor)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps(anchor, sort_keys=True, indent=1).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if path.read_bytes() == data:
                return str(path)
            raise BlastwallError(
                f"{path} exists with other content: an anchor is never overwritten"
            ) from None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return str(path)

    def read(self, ledger: str) -> list[tuple[str, dict[str, Any] | None]]:
        out: list[tuple[str, dict[str, Any] | None]] = []
        for path in sorted((self.root / ledger[:16]).glob("*.json")):
            try:
                doc = json.loads(path.read_bytes())
            except (OSError, ValueError):
                doc = None
            out.append((str(path), doc if isinstance(doc, dict) else None))
        return out


@dataclass
class S3Witness:
    bucket: str
    prefix: str
    client: Any = None

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _s3(self) -> Any:
        if self.client is None:
            try:
                import boto3
            except ImportError as exc:
                raise BlastwallError("an S3 anchor needs the [aws] extra (boto3)") from exc
            self.client = boto3.client("s3")
        return self.client

    def _key(self, name: str) -> str:
        return f"{self.prefix.strip('/')}/{name}" if self.prefix.strip("/") else name

    def _retention(self) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            conf = self._s3().get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
                return {}
            raise
        if conf.get("ObjectLockEnabled") != "Enabled":
            return {}
        rule = (conf.get("Rule") or {}).get("DefaultRetention") or {}
        days = rule.get("Days") or 365 * int(rule.get("Years") or 0)
        days = days or int(os.environ.get("BLASTWALL_ANCHOR_RETENTION_DAYS", "400"))
        return {
            "ObjectLockMode": rule.get("Mode", "COMPLIANCE"),
            "ObjectLockRetainUntilDate": now() + timedelta(days=int(days)),
        }

    def write(self, anchor: dict[str, Any]) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(anchor_name(anchor))
        try:
            self._s3().put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(anchor, sort_keys=True, indent=1).encode(),
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
                **self._retention(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise BlastwallError(f"could not write the anchor to s3://{self.bucket}/{key}: {exc}") from exc
        return f"s3://{self.bucket}/{key}"

    def read(self, ledger: str) -> list[tuple[str, dict[str, Any] | None]]:
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = self._s3()
        out: list[tuple[str, dict[str, Any] | None]] = []
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(ledger[:16] + "/")
            ):
                for obj in page.get("Contents", []):
                    body = s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = None
                    out.append((f"s3://{self.bucket}/{obj['Key']}", doc if isinstance(doc, dict) else None))
        except (ClientError, BotoCoreError) as exc:
            raise BlastwallError(f"could not read the anchors at {self.location}: {exc}") from exc
        return out


def witness(location: str) -> Witness:
    """``s3://BUCKET/PREFIX`` or a directory."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        if not bucket:
            raise BadInput(f"{location}: no bucket", path="--anchor")
        return S3Witness(bucket, prefix)
    if "://" in location:
        raise BadInput(f"{location}: an anchor is a directory or s3://BUCKET/PREFIX", path="--anchor")
    return DirectoryWitness(Path(location))


def configured(explicit: tuple[str, ...] | list[str] | None = None) -> list[Witness]:
    """The witnesses named on the command line, else in ``$BLASTWALL_ANCHOR`` (comma-separated)."""
    locations = list(explicit or []) or [s.strip() for s in os.environ.get(ENV, "").split(",") if s.strip()]
    return [witness(loc) for loc in locations]


def anchor_document(head: dict[str, Any], root_fingerprint: str | None) -> dict[str, Any]:
    return {k: head[k] for k in HEAD_FIELDS} | {"root": root_fingerprint, "anchored_at": iso(now())}
