"""Writing and reading the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bitewing.core.audit.models import AuditEvent
from bitewing.core.auth.actor import Actor
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import UnitOfWork


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None = None,
    *,
    patient_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the unit of work; it commits with the change it describes."""
    uow.session.add(
        AuditEvent(
            tenant_id=actor.tenant_id,
            actor_type=actor.kind,
            actor_id=actor.id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            patient_id=patient_id,
            ip=actor.ip,
            details=details or {},
        )
    )


def list_events(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditEvent]:
    """Audit events of the tenant, newest first."""
    statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
    if patient_id:
        statement = statement.where(AuditEvent.patient_id == patient_id)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if since:
        statement = statement.where(AuditEvent.at >= since)
    return paginate(uow, statement, page, per_page)
