"""`S3ObjectStore`: the object-store interface over any S3-compatible service.

An object's SHA-256 is recorded as user metadata (``x-amz-meta-sha256``) at `put`, so `head` returns it without
reading the object and `get` can verify it. Immutable objects get a year-long private ``Cache-Control``, which
browsers honour on presigned URLs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from bitewing.connectors.s3.client import S3Settings, make_client
from bitewing.connectors.s3.errors import s3_errors
from bitewing.connectors.s3.ranged import RangedReader
from bitewing.core.plugins import ObjectCorrupt, ObjectStore, ObjectStoreError, StoredObject
from bitewing.core.plugins.storage import attachment_disposition, sha256_hex

IMMUTABLE_CACHE_CONTROL = "private, max-age=31536000, immutable"
SHA256_METADATA = "sha256"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the SigV4 limit
CHECK_KEY = ".bitewing-check"


def _check_key(key: str) -> str:
    """The key if it is a safe relative path (the same rule as the local-folder store), else raise."""
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in key.split("/")):
        raise ObjectStoreError(f"invalid object key {key!r}")
    return key


def parse_url(url: str) -> tuple[str, str]:
    """Bucket and key prefix (without slashes at the ends) of ``s3://bucket/optional/prefix``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ObjectStoreError(f"S3 storage URL must look like s3://bucket/optional/prefix, got {url!r}")
    return parts.netloc, parts.path.strip("/")


class S3ObjectStore(ObjectStore):
    """Objects in `bucket`, each key below `prefix` (``prefix/key``; no prefix when empty)."""

    def __init__(self, client: BaseClient, bucket: str, prefix: str = "", *, settings: S3Settings) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings
        self._sse = settings.sse_arguments()

    def _key(self, key: str) -> str:
        key = _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _errors(self, action: str, key: str) -> AbstractContextManager[None]:
        return s3_errors(bucket=self.bucket, endpoint=self.settings.endpoint_label, action=action, key=key)

    def put(
        self, key: str, data: bytes, content_type: str, *, immutable: bool = True, sha256: str | None = None
    ) -> StoredObject:
        stored = StoredObject(
            key=key, size=len(data), sha256=sha256 or sha256_hex(data), content_type=content_type
        )
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        extra: dict[str, Any] = {"CacheControl": IMMUTABLE_CACHE_CONTROL} if immutable else {}
        with self._errors("put", key):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type,
                ContentMD5=md5,
                Metadata={SHA256_METADATA: stored.sha256},
                **extra,
                **self._sse,
            )
        return stored

    def get(self, key: str, *, verify: bool = False) -> bytes:
        """The bytes under `key`; with `verify`, raise `ObjectStoreError` unless they match the recorded SHA-256."""
        with self._errors("get", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            with response["Body"] as body:
                data: bytes = body.read()
        if verify:
            recorded = response["Metadata"].get(SHA256_METADATA)
            if recorded is None:
                raise ObjectStoreError(f"no SHA-256 recorded for {key}: cannot verify it")
            if sha256_hex(data) != recorded:
                raise ObjectCorrupt(f"object {key} is corrupt: its SHA-256 does not match the recorded one")
        return data

    def open(self, key: str) -> BinaryIO:
        """A stream of the object (botocore's ``StreamingBody``); close it when done."""
        with self._errors("get", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        return cast(BinaryIO, response["Body"])

    def open_random(self, key: str) -> BinaryIO:
        """A seekable `RangedReader` of the object: only the ranges read are fetched (ranged GETs)."""

        def fetch(start: int, end: int) -> tuple[bytes, int]:
            with self._errors("get", key):
                try:
                    response = self.client.get_object(
                        Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{end}"
                    )
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                        raise
                    return b"", self.head(key).size  # at or past the end (an empty object)
                with response["Body"] as body:
                    data: bytes = body.read()
            return data, int(response["ContentRange"].rsplit("/", 1)[1])

        return cast(BinaryIO, RangedReader(fetch))

    def head(self, key: str) -> StoredObject:
        """Size, content type and recorded SHA-256 (``""`` if the object was written without one)."""
        with self._errors("head", key):
            response = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return StoredObject(
            key=key,
            size=int(response["ContentLength"]),
            sha256=response["Metadata"].get(SHA256_METADATA, ""),
            content_type=response.get("ContentType", "application/octet-stream"),
        )

    def delete(self, key: str) -> None:
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def presign(self, key: str, expires_in: int, *, filename: str | None = None) -> str:
        """A SigV4 presigned GET URL, valid `expires_in` seconds (1 s to 7 days).

        A `filename` is signed into the URL as ``response-content-disposition``, which S3 answers as the
        response's ``Content-Disposition`` header.
        """
        if not 0 < expires_in <= MAX_PRESIGN_SECONDS:
            raise ObjectStoreError(
                f"presigned URLs last 1 to {MAX_PRESIGN_SECONDS} seconds, not {expires_in}"
            )
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = attachment_disposition(filename)
        with self._errors("presign", key):
            url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url

    def check(self) -> None:
        """Write, read back and delete a small probe object: exactly the permissions (and encryption) in use.

        HeadBucket is not used: it needs ``s3:ListBucket``, which a least-privilege policy may rightly omit.
        """
        self.put(CHECK_KEY, b"bitewing storage check", "text/plain", immutable=False)
        self.head(CHECK_KEY)
        self.delete(CHECK_KEY)


def create_store(url: str, options: Mapping[str, Any]) -> S3ObjectStore:
    """The ``s3`` object-store factory: ``s3://bucket/optional/prefix`` and `Settings.storage_options`."""
    bucket, prefix = parse_url(url)
    settings = S3Settings.from_options(options)
    return S3ObjectStore(make_client(settings), bucket, prefix, settings=settings)
