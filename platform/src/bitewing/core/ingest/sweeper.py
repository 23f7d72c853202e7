"""Re-queue work whose job was lost (worker killed, Redis restarted): the database is the source of truth."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from bitewing.core.db.base import utcnow
from bitewing.core.ingest.models import IngestRecord, IngestStatus
from bitewing.core.ingest.services import enqueue_processing
from bitewing.core.runtime import Runtime
from bitewing.core.tenancy.services import all_tenant_ids


def requeue_stale_ingests(
    runtime: Runtime,
    older_than: timedelta = timedelta(minutes=5),
    *,
    tenant_ids: list[uuid.UUID] | None = None,
) -> int:
    """Queue processing again for every record still `received` after `older_than`; returns how many.

    Processing is idempotent, so a record whose job is merely slow is harmless to queue twice.
    """
    cutoff = utcnow() - older_than
    tenant_ids = all_tenant_ids(runtime.db) if tenant_ids is None else tenant_ids
    requeued = 0
    for tenant_id in tenant_ids:
        with runtime.db.unit_of_work(tenant_id) as uow:
            stale = uow.session.scalars(
                select(IngestRecord.id).where(
                    IngestRecord.status == IngestStatus.RECEIVED, IngestRecord.received_at < cutoff
                )
            ).all()
        for ingest_id in stale:
            enqueue_processing(runtime, tenant_id, ingest_id)
        requeued += len(stale)
    return requeued
