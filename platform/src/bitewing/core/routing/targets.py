"""Configuring targets: validation by the connector type, encrypted secrets, tests, data residency."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bitewing.core.accounts.models import Role
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import Actor
from bitewing.core.auth.encryption import decrypt_json, encrypt_json
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import UnitOfWork
from bitewing.core.errors import Conflict, Invalid, NotFound
from bitewing.core.plugins.connectors import CheckResult, Connection, ConnectorType
from bitewing.core.routing.models import ResidencyOverride, Target
from bitewing.core.runtime import Runtime
from bitewing.core.tenancy.models import Tenant
from bitewing.core.tenancy.services import get_location


def connector_type(runtime: Runtime, name: str) -> ConnectorType:
    """The installed connector type called `name`; `Invalid` names the installed ones otherwise."""
    types = runtime.plugins.connector_types()
    if name not in types:
        known = ", ".join(sorted(types)) or "none"
        raise Invalid(f"unknown connector type {name!r}", errors={"connector_type": [f"one of: {known}"]})
    return types[name]


def _validated_config(kind: ConnectorType, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public config, secrets) after the connector type's schema accepted `config`."""
    try:
        loaded = kind.config_schema().load(config)
    except ValidationError as exc:
        raise Invalid(
            "the connection settings are not valid: see errors", errors={"config": exc.messages}
        ) from exc
    dumped = kind.config_schema().dump(loaded)
    public = {k: v for k, v in dumped.items() if k not in kind.secret_fields}
    secrets = {k: loaded[k] for k in kind.secret_fields if loaded.get(k) is not None}
    return public, secrets


def _check_source(uow: UnitOfWork, kind: ConnectorType, data: dict[str, Any]) -> None:
    if data.get("poll_source") and not kind.can_poll:
        raise Invalid(
            f"{kind.title} targets cannot act as a source",
            errors={"poll_source": ["this connector type cannot poll"]},
        )
    if data.get("source_location_id"):
        get_location(uow, data["source_location_id"])


def _save(uow: UnitOfWork, actor: Actor, target: Target, action: str) -> Target:
    try:
        uow.session.flush()
    except IntegrityError as exc:
        uow.rollback()
        raise Conflict(f"a target named {target.name!r} exists", errors={"name": ["already used"]}) from exc
    audit.record(
        uow, actor, action, "target", target.id, details={"name": target.name, "type": target.connector_type}
    )
    uow.commit()
    return target


def create_target(runtime: Runtime, uow: UnitOfWork, actor: Actor, **data: Any) -> Target:
    """Add a target (owners). The configuration is validated by its connector type; secrets are encrypted."""
    actor.require({Role.OWNER})
    kind = connector_type(runtime, data["connector_type"])
    _check_source(uow, kind, data)
    public, secrets = _validated_config(kind, data.pop("config"))
    target = Target(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        config=public,
        secrets=encrypt_json(runtime.settings.secret_key, secrets) if secrets else None,
        **data,
    )
    uow.session.add(target)
    return _save(uow, actor, target, "target.create")


def update_target(
    runtime: Runtime, uow: UnitOfWork, actor: Actor, target_id: uuid.UUID, **data: Any
) -> Target:
    """Change a target (owners); `config` is merged with the stored one, so omitted secrets are kept."""
    actor.require({Role.OWNER})
    target = get_target(uow, target_id)
    _check_source(uow, connector_type(runtime, target.connector_type), data)
    if "config" in data:
        kind = connector_type(runtime, target.connector_type)
        merged = {
            **target.config,
            **decrypt_json(runtime.settings.secret_key, target.secrets),
            **data.pop("config"),
        }
        public, secrets = _validated_config(kind, merged)
        target.config = public
        target.secrets = encrypt_json(runtime.settings.secret_key, secrets) if secrets else None
    for key, value in data.items():
        setattr(target, key, value)
    return _save(uow, actor, target, "target.update")


def get_target(uow: UnitOfWork, target_id: uuid.UUID) -> Target:
    """One target of the tenant; raises `NotFound`."""
    target = uow.session.scalar(select(Target).where(Target.id == target_id))
    if target is None:
        raise NotFound("no such target")
    return target


def list_targets(uow: UnitOfWork, *, page: int = 1, per_page: int = 50) -> Page[Target]:
    """The tenant's targets by name."""
    return paginate(uow, select(Target).order_by(Target.name, Target.id), page, per_page)


def open_connection(runtime: Runtime, target: Target) -> Connection:
    """A connection to `target` with its secrets decrypted."""
    kind = connector_type(runtime, target.connector_type)
    config = {**target.config, **decrypt_json(runtime.settings.secret_key, target.secrets)}
    return kind.open(kind.config_schema().load(config))


def check_target(runtime: Runtime, uow: UnitOfWork, actor: Actor, target_id: uuid.UUID) -> CheckResult:
    """Try the connection and report each step in words a practice owner understands."""
    actor.require({Role.OWNER})
    target = get_target(uow, target_id)
    try:
        with open_connection(runtime, target) as connection:
            result = connection.check()
    except Exception as exc:  # a connector failing in an unexpected way is still a failed test
        result = CheckResult(ok=False, steps=[f"The connection could not be tested: {exc}"])
    audit.record(uow, actor, "target.test", "target", target.id, details={"ok": result.ok})
    uow.commit()
    return result


def overridden_target_ids(uow: UnitOfWork) -> set[uuid.UUID]:
    """Targets the owner allowed outside the tenant's region."""
    return set(uow.session.scalars(select(ResidencyOverride.target_id)))


def residency_refusal(tenant: Tenant, target: Target, overrides: set[uuid.UUID]) -> str | None:
    """Why sending to `target` breaks the tenant's data residency, or None when allowed."""
    if target.region == tenant.region or target.id in overrides:
        return None
    return (
        f"target {target.name!r} stores data in {target.region.value}, outside the practice's region "
        f"{tenant.region.value}; an owner must record a residency override first"
    )


def record_residency_override(uow: UnitOfWork, actor: Actor, target_id: uuid.UUID, reason: str) -> Target:
    """Allow a target outside the tenant's region, with the owner's reason (audited)."""
    actor.require({Role.OWNER})
    target = get_target(uow, target_id)
    if target.id not in overridden_target_ids(uow):
        uow.session.add(
            ResidencyOverride(
                id=uuid.uuid4(),
                tenant_id=actor.tenant_id,
                target_id=target.id,
                reason=reason,
                recorded_by_id=actor.id if actor.kind == "user" else None,
            )
        )
    audit.record(uow, actor, "target.residency_override", "target", target.id, details={"reason": reason})
    uow.commit()
    return target
