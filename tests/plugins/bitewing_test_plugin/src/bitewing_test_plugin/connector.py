"""A connector type that keeps instances in memory: proves a third-party connector is found and used."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

from bitewing.core.plugins.connectors import (
    CheckResult,
    Connection,
    ConnectorError,
    ConnectorType,
    InstanceRef,
    StoreResult,
)


class MemoryVnaConfig(Schema):
    """Configuration of a memory VNA: its name, and failures to simulate."""

    vna = fields.String(required=True, validate=validate.Length(min=1, max=64))
    fail_times = fields.Integer(load_default=0, metadata={"description": "refuse this many stores first"})
    permanent_failure = fields.Boolean(load_default=False)
    api_key = fields.String(load_default=None, allow_none=True)


class MemoryVnaConnection(Connection):
    """Stores into the shared in-memory registry of its VNA name."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def check(self) -> CheckResult:
        return CheckResult(ok=True, steps=[f"memory VNA {self.config['vna']!r} is there"])

    def store_instance(self, data: bytes, ref: InstanceRef) -> StoreResult:
        vna = self.config["vna"]
        with MemoryVna.lock:
            if self.config["permanent_failure"]:
                raise ConnectorError("this VNA refuses everything", retryable=False)
            if MemoryVna.failures.get(vna, 0) < self.config["fail_times"]:
                MemoryVna.failures[vna] = MemoryVna.failures.get(vna, 0) + 1
                raise ConnectorError("memory VNA is down")
            MemoryVna.stored.setdefault(vna, {})[ref.sop_instance_uid] = (data, ref)
            MemoryVna.store_calls[vna] = MemoryVna.store_calls.get(vna, 0) + 1
        return StoreResult(remote_id=ref.sop_instance_uid)

    def verify_instance(self, ref: InstanceRef) -> bool:
        return ref.sop_instance_uid in MemoryVna.stored.get(self.config["vna"], {})


class MemoryVna(ConnectorType):
    """Instances kept in a process-wide dict keyed by VNA name."""

    name = "memory"
    title = "In-memory VNA (tests)"
    config_schema = MemoryVnaConfig
    secret_fields = frozenset({"api_key"})
    stored: ClassVar[dict[str, dict[str, tuple[bytes, InstanceRef]]]] = {}
    failures: ClassVar[dict[str, int]] = {}
    store_calls: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def open(self, config: Mapping[str, Any]) -> Connection:
        return MemoryVnaConnection(config)
