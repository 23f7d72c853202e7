"""Re-queue work whose job was lost (worker killed, Redis restarted): the database is the source of truth."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from bitewing.core.db.base import utcnow
from bitewing.core.ingest.models import IngestRecord, IngestStatus
from bitewing.core.ingest.services import enqueue_processing
from bitewing.core.jobs.sweep import requeue_selected
from bitewing.core.runtime import Runtime


def requeue_stale_ingests(
    runtime: Runtime,
    older_than: timedelta = timedelta(minutes=5),
    *,
    tenant_ids: list[uuid.UUID] | None = None,
) -> int:
    """Queue processing again for every record still `received` after `older_than`; returns how many.

    Processing is idempotent, so a record whose job is merely slow is harmless to queue twice.
    """
    stale = select(IngestRecord.id).where(
        IngestRecord.status == IngestStatus.RECEIVED, IngestRecord.received_at < utcnow() - older_than
    )
    return requeue_selected(runtime, stale, enqueue_processing, tenant_ids)
