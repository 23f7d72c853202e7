"""Re-queue work whose job was lost (worker killed, Redis restarted): the database is the source of truth."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bitewing.core.db.base import utcnow
from bitewing.core.ingest.models import IngestRecord, IngestStatus
from bitewing.core.ingest.services import enqueue_processing
from bitewing.core.runtime import Runtime
from bitewing.core.tenancy.models import Tenant


def requeue_stale_ingests(runtime: Runtime, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Queue processing again for every record still `received` after `older_than`; returns how many.

    Processing is idempotent, so a record whose job is merely slow is harmless to queue twice.
    """
    cutoff = utcnow() - older_than
    with runtime.db.unit_of_work() as uow:
        tenant_ids = list(uow.session.scalars(select(Tenant.id)))
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
