"""The one place where S3 clients are made: endpoint, region, credentials, encryption, timeouts and retries.

Works with AWS S3 and S3-compatible stores (MinIO, SeaweedFS, Ceph RGW, ...): path-style addressing, SigV4
(also for presigned URLs), and checksums only when an operation requires them, which such stores handle.
Without an access key the standard AWS credential chain applies (environment, IRSA on Kubernetes, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from bitewing.core.plugins import ObjectStoreError

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"


@dataclass(frozen=True)
class S3Settings:
    """How to reach the store. `sse` is ``None``, ``"AES256"``, ``"aws:kms"`` or ``"aws:kms:<key id or ARN>"``."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    sse: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_attempts: int = 3

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> S3Settings:
        """Read the keys of `Settings.storage_options` (endpoint_url, region, access_key_id, ...); others ignored."""
        names = ("endpoint_url", "region", "access_key_id", "secret_access_key", "sse")
        return cls(**{name: options.get(name) or None for name in names})

    @property
    def endpoint_label(self) -> str:
        """The endpoint as a person would name it in a message."""
        return self.endpoint_url or f"AWS S3 ({self.region or 'default region'})"

    def sse_arguments(self) -> dict[str, str]:
        """Server-side encryption arguments for ``put_object``; raises `ObjectStoreError` on an unknown value."""
        if not self.sse:
            return {}
        if self.sse.upper() == SSE_S3:
            return {"ServerSideEncryption": SSE_S3}
        if self.sse == SSE_KMS:
            return {"ServerSideEncryption": SSE_KMS}
        if self.sse.startswith(SSE_KMS + ":"):
            return {"ServerSideEncryption": SSE_KMS, "SSEKMSKeyId": self.sse.removeprefix(SSE_KMS + ":")}
        raise ObjectStoreError(
            f"unknown S3 server-side encryption {self.sse!r}: use AES256, aws:kms or aws:kms:<key id>"
        )


def make_client(settings: S3Settings) -> BaseClient:
    """A boto3 S3 client for `settings` (thread-safe; share it)."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=config,
    )
