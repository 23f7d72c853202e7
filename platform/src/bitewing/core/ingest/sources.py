"""Pulling new instances from targets that also act as sources (an Orthanc's ``/changes`` feed)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from bitewing.core.db.base import utcnow
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.jobs import job
from bitewing.core.plugins.connectors import ConnectorError
from bitewing.core.routing.models import Target
from bitewing.core.routing.targets import open_connection
from bitewing.core.runtime import Runtime

log = logging.getLogger(__name__)

MIN_POLL_INTERVAL = timedelta(seconds=5)


def _claim(runtime: Runtime, tenant: uuid.UUID, target_id: uuid.UUID) -> bool:
    """One poll of a source at a time, at most every `MIN_POLL_INTERVAL`."""
    now = utcnow()
    with runtime.db.unit_of_work(tenant) as uow:
        result = uow.session.execute(
            update(Target)
            .where(
                Target.id == target_id,
                Target.poll_source.is_(True),
                Target.active.is_(True),
                (Target.last_polled_at.is_(None)) | (Target.last_polled_at < now - MIN_POLL_INTERVAL),
            )
            .values(last_polled_at=now)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
        return result.rowcount == 1


@job("ingest", timeout=1800)
def poll_source(runtime: Runtime, tenant_id: str, target_id: str) -> int:
    """Receive every instance the source offers since its saved cursor; the cursor advances only after all
    of them were received durably. Re-offered instances are duplicates, so a crash mid-poll loses nothing.

    :return: how many instances were received (duplicates included).
    """
    tenant, target_uuid = uuid.UUID(tenant_id), uuid.UUID(target_id)
    if not _claim(runtime, tenant, target_uuid):
        return 0
    with runtime.db.unit_of_work(tenant) as uow:
        target = uow.session.get(Target, target_uuid)
        uow.session.expunge(target)
    received = 0
    try:
        with open_connection(runtime, target) as connection:
            instances, cursor = connection.poll_new_instances(target.poll_cursor)
            for instance in instances:
                origin = Origin(
                    source=IngestSource.ORTHANC,
                    location_id=target.source_location_id,
                    source_target_id=target.id,
                    filename=f"{target.name}:{instance.remote_id}",
                )
                receive_instance(runtime, tenant, instance.data, origin)
                received += 1
        _save(runtime, tenant, target_uuid, cursor=cursor, error=None)
    except ConnectorError as exc:
        log.warning("polling %s failed: %s", target.name, exc.message)
        _save(runtime, tenant, target_uuid, cursor=target.poll_cursor, error=exc.message)
    return received


def _save(
    runtime: Runtime, tenant: uuid.UUID, target_id: uuid.UUID, *, cursor: str | None, error: str | None
) -> None:
    with runtime.db.unit_of_work(tenant) as uow:
        target = uow.session.get(Target, target_id)
        if target is not None:
            target.poll_cursor = cursor
            target.last_poll_error = error[:500] if error else None
            uow.commit()


def queue_polls(runtime: Runtime, tenant_id: uuid.UUID) -> int:
    """Queue a poll of every active source of the tenant; returns how many."""
    with runtime.db.unit_of_work(tenant_id) as uow:
        sources = uow.session.scalars(
            select(Target.id).where(Target.poll_source.is_(True), Target.active.is_(True))
        ).all()
    for target_id in sources:
        runtime.jobs.enqueue(poll_source, tenant_id=str(tenant_id), target_id=str(target_id))
    return len(sources)
