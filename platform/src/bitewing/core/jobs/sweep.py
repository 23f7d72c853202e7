"""The sweeper: finds work the database says is due but no queue holds (lost jobs, due retries)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select

from bitewing.core.runtime import Runtime

log = logging.getLogger(__name__)


def requeue_selected(
    runtime: Runtime,
    statement: Select[tuple[uuid.UUID]],
    queue: Callable[[Runtime, uuid.UUID, uuid.UUID], None],
    tenant_ids: list[uuid.UUID] | None = None,
) -> int:
    """Call `queue(runtime, tenant_id, row_id)` for every id `statement` selects, tenant by tenant (row-level
    security scopes the statement to each; default: every tenant); returns how many were queued."""
    from bitewing.core.tenancy.services import all_tenant_ids

    tenant_ids = all_tenant_ids(runtime.db) if tenant_ids is None else tenant_ids
    queued = 0
    for tenant_id in tenant_ids:
        with runtime.db.unit_of_work(tenant_id) as uow:
            selected = uow.session.scalars(statement).all()
        for row_id in selected:
            queue(runtime, tenant_id, row_id)
        queued += len(selected)
    return queued


@dataclass(frozen=True)
class SweepResult:
    """What one pass queued."""

    ingests: int
    archives: int
    replaced_deleted: int
    deliveries: int
    polls: int
    volumes: int


def sweep_once(runtime: Runtime, *, ingest_older_than: timedelta = timedelta(minutes=5)) -> SweepResult:
    """One pass over every tenant: stale received instances, images whose archive job was lost, received bytes
    an archive copy replaced (after their grace period), due or lost deliveries, polls of sources, series of
    CBCT slices gone quiet that are not yet drawn as one volume."""
    from bitewing.core.deliveries.services import requeue_due_deliveries
    from bitewing.core.ingest.archiving import delete_replaced_objects, requeue_unarchived_images
    from bitewing.core.ingest.sources import queue_polls
    from bitewing.core.ingest.sweeper import requeue_stale_ingests
    from bitewing.core.ingest.volumes import requeue_volumes
    from bitewing.core.tenancy.services import all_tenant_ids

    tenant_ids = all_tenant_ids(runtime.db)
    return SweepResult(
        ingests=requeue_stale_ingests(runtime, ingest_older_than, tenant_ids=tenant_ids),
        archives=requeue_unarchived_images(runtime, ingest_older_than, tenant_ids=tenant_ids),
        replaced_deleted=delete_replaced_objects(runtime, tenant_ids=tenant_ids),
        deliveries=requeue_due_deliveries(runtime, tenant_ids=tenant_ids),
        polls=sum(queue_polls(runtime, tenant_id) for tenant_id in tenant_ids),
        volumes=requeue_volumes(runtime, tenant_ids=tenant_ids),
    )


def start_periodic_sweeper(
    runtime: Runtime, interval_seconds: float, stop: threading.Event
) -> threading.Thread:
    """Run `sweep_once` every `interval_seconds` on a daemon thread until `stop` is set."""

    def loop() -> None:
        while not stop.wait(interval_seconds):
            try:
                result = sweep_once(runtime)
                if result.ingests or result.archives or result.deliveries or result.volumes:
                    log.info(
                        "sweeper queued %s ingests, %s archive copies, %s volumes, %s deliveries",
                        result.ingests,
                        result.archives,
                        result.volumes,
                        result.deliveries,
                    )
            except Exception:
                log.exception("sweeper pass failed; trying again in %s s", interval_seconds)

    thread = threading.Thread(target=loop, name="bitewing-sweeper", daemon=True)
    thread.start()
    return thread
