"""Turning botocore exceptions into `ObjectNotFound` / `ObjectStoreError` with messages a practice owner reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from bitewing.core.plugins import ObjectNotFound, ObjectStoreError

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_ACCESS = {
    "AccessDenied": "access denied to S3 bucket {bucket}: check the bucket's permissions for this access key",
    "403": "access denied to S3 bucket {bucket}: check the access key, secret key and the bucket's permissions",
    "InvalidAccessKeyId": "the S3 access key id is not known at {endpoint}",
    "SignatureDoesNotMatch": "the S3 secret access key does not match the access key id",
}
_REGION = {"PermanentRedirect", "301", "AuthorizationHeaderMalformed"}


def translate(exc: Exception, *, bucket: str, endpoint: str, action: str, key: str) -> ObjectStoreError:
    """The store error for a boto exception raised by `action` (``"put"``, ``"get"``, ...) on `key`."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _NOT_FOUND:
            return ObjectNotFound(key)
        if code == "NoSuchBucket":
            return ObjectStoreError(f"S3 bucket {bucket} does not exist at {endpoint}")
        if code in _ACCESS:
            return ObjectStoreError(_ACCESS[code].format(bucket=bucket, endpoint=endpoint))
        if code in _REGION:
            return ObjectStoreError(f"S3 bucket {bucket} is in another region than the one configured")
        return ObjectStoreError(f"S3 {action} {key} failed: {code} {error.get('Message', '')}".rstrip())
    if isinstance(exc, NoCredentialsError):
        return ObjectStoreError("no S3 credentials: set the access key id and secret access key")
    if isinstance(exc, BotoConnectionError):
        return ObjectStoreError(
            f"cannot reach S3 endpoint {endpoint}: check the address and that it is running"
        )
    if isinstance(exc, ReadTimeoutError):
        return ObjectStoreError(f"S3 endpoint {endpoint} did not answer in time ({action} {key})")
    return ObjectStoreError(f"S3 {action} {key} failed: {exc}")


@contextmanager
def s3_errors(*, bucket: str, endpoint: str, action: str, key: str) -> Iterator[None]:
    """Re-raise boto exceptions raised inside the block as `translate` says."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, bucket=bucket, endpoint=endpoint, action=action, key=key) from exc
