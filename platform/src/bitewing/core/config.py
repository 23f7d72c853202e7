"""Settings: `BITEWING_*` environment variables (and a `.env` file) layered over embedded defaults.

The embedded default needs no server: SQLite and a local object folder under the instance folder, jobs run
in-process. Production sets PostgreSQL, Redis and S3 URLs.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

ENV_PREFIX = "BITEWING_"


class ConfigError(Exception):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Every setting Bitewing reads; field names are the environment variable names without the prefix."""

    instance_path: Path
    database_url: str
    storage_url: str
    secret_key: str
    redis_url: str | None = None
    dicom_port: int = 11112
    dicom_ae_title: str = "BITEWING"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_sse: str | None = None
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_rate_limit: str = "10 per minute"
    max_upload_mb: int = 512
    max_json_kb: int = 256
    url_expiry_seconds: int = 300
    delivery_max_attempts: int = 8
    delivery_backoff_seconds: int = 10
    delivery_backoff_cap_seconds: int = 3600
    delivery_lease_seconds: int = 600
    public_url: str = "http://127.0.0.1:5000"
    trusted_proxies: int = 0
    log_json: bool = False
    testing: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def jobs_in_process(self) -> bool:
        """Jobs run synchronously in the web/listener process when no Redis is configured."""
        return not self.redis_url

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some fields replaced (tests, CLI options)."""
        return replace(self, **overrides)

    def storage_options(self) -> dict[str, Any]:
        """Options handed to the object-store factory chosen by `storage_url`."""
        return {
            "endpoint_url": self.s3_endpoint_url,
            "region": self.s3_region,
            "access_key_id": self.s3_access_key_id,
            "secret_access_key": self.s3_secret_access_key,
            "sse": self.s3_sse,
            "secret_key": self.secret_key,
            "served_url_prefix": "/files",
        }


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, raw: str, annotation: str) -> Any:
    if annotation.startswith("int"):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a whole number, got {raw!r}") from exc
    if annotation.startswith("bool"):
        word = raw.strip().lower()
        if word not in _BOOL_TRUE | _BOOL_FALSE:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be true or false, got {raw!r}")
        return word in _BOOL_TRUE
    return raw


def _instance_secret(instance_path: Path) -> str:
    """The secret key generated once into the instance folder (embedded default only)."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from `environ` (default: `.env` then the process environment) plus explicit overrides."""
    if environ is None:
        environ = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
    values: dict[str, Any] = {}
    for f in fields(Settings):
        key = ENV_PREFIX + f.name.upper()
        if key in environ and environ[key] != "" and f.name != "extra":
            values[f.name] = _coerce(f.name, environ[key], str(f.type))
    values.update({k: v for k, v in overrides.items() if v is not None})
    instance_path = Path(values.pop("instance_path", None) or Path.cwd() / "instance").resolve()
    values.setdefault("database_url", f"sqlite:///{instance_path / 'bitewing.db'}")
    values.setdefault("storage_url", f"file://{instance_path / 'objects'}")
    if "secret_key" not in values:
        values["secret_key"] = _instance_secret(instance_path)
    return Settings(instance_path=instance_path, **values)
