"""The processing job: spool → facts and renditions in the object store → image rows.

The image is listed as soon as its renditions are stored; its DICOM is then the spool object (the instance
as received, already durable). The archive job (`ingest.archiving`), queued behind every waiting
processing job, replaces it with the verified lossless copy and then routes the image.
"""

from __future__ import annotations

import enum
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, update

from bitewing.core.db.base import utcnow
from bitewing.core.db.session import UnitOfWork
from bitewing.core.devices.models import XrayMachine
from bitewing.core.images import services as images
from bitewing.core.images.attributes import routing_attributes
from bitewing.core.imaging.pipeline import RenderedInstance, render_instance
from bitewing.core.imaging.render import Rendition
from bitewing.core.imaging.validate import InvalidInstance
from bitewing.core.ingest.archiving import queue_archiving
from bitewing.core.ingest.models import IngestRecord, IngestStatus
from bitewing.core.jobs import job
from bitewing.core.plugins.storage import StoredObject
from bitewing.core.runtime import Runtime
from bitewing.core.storage.keys import rendition_key
from bitewing.core.tenancy.models import Tenant
from bitewing.core.tenancy.renditions import rendition_specs

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def store_renditions(
    runtime: Runtime, tenant_id: uuid.UUID, renditions: list[Rendition], stored: dict[str, StoredObject]
) -> None:
    """Put every rendition at once (their syncs and round trips overlap: a set took 7.2 -> 5.7 ms in the local
    store, 26.6 -> 20.5 ms in SeaweedFS on this host), adding each to `stored` when written, so a failure
    still knows what to delete; once every put has finished, the first failure is raised."""
    group = uuid.uuid4().hex

    def put(r: Rendition) -> StoredObject:
        key = rendition_key(tenant_id, group, r.name, r.format)
        return runtime.object_store.put(key, r.data, r.content_type)

    workers = max(1, len(renditions))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rendition-put") as pool:
        puts = {r.name: pool.submit(put, r) for r in renditions}
    failures = []
    for name, written in puts.items():
        if (error := written.exception()) is None:
            stored[name] = written.result()
        else:
            failures.append(error)
    if failures:
        raise failures[0]


class Outcome(enum.Enum):
    """What `_record` did with a rendered instance."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    ALREADY_HANDLED = "already_handled"


@job("ingest", timeout=900)
def process_ingest(runtime: Runtime, tenant_id: str, ingest_id: str) -> str | None:
    """Process one received instance. Safe to run twice: a record that is no longer `received` is left alone.

    :return: the image id, or None when the instance was a duplicate or was rejected.
    """
    tenant = uuid.UUID(tenant_id)
    with runtime.db.unit_of_work(tenant) as uow:
        found = uow.session.execute(
            select(
                IngestRecord.status,
                IngestRecord.spool_key,
                XrayMachine.default_image_type,
                Tenant.rendition_settings,
            )
            .outerjoin(Tenant, Tenant.id == IngestRecord.tenant_id)
            .outerjoin(XrayMachine, XrayMachine.id == IngestRecord.machine_id)
            .where(IngestRecord.id == uuid.UUID(ingest_id))
        ).one_or_none()
    if found is None or found.status != IngestStatus.RECEIVED or found.spool_key is None:
        return None
    spool, default_type, specs = (
        found.spool_key,
        found.default_image_type,
        rendition_specs(found.rendition_settings or {}),
    )
    data = runtime.object_store.get(spool)
    try:
        rendered = render_instance(data, default_image_type=default_type, rendition_specs=specs)
    except InvalidInstance as exc:
        if _finish(runtime, tenant, ingest_id, IngestStatus.REJECTED, reason=exc.reason, message=str(exc)):
            runtime.object_store.delete(spool)
        return None
    except Exception as exc:
        _note_failure(runtime, tenant, ingest_id, exc)
        raise
    renditions: dict[str, StoredObject] = {}
    try:
        attributes = routing_attributes(rendered.dataset)
        store_renditions(runtime, tenant, rendered.renditions, renditions)
        outcome, image_id = _record(runtime, tenant, ingest_id, rendered, renditions, attributes)
    except Exception as exc:
        _delete(runtime, [obj.key for obj in renditions.values()])
        _note_failure(runtime, tenant, ingest_id, exc)
        raise
    if outcome is not Outcome.RECORDED:
        _delete(runtime, [obj.key for obj in renditions.values()])
        if outcome is Outcome.DUPLICATE:
            runtime.object_store.delete(spool)
        return None
    queue_archiving(runtime, tenant, image_id)
    return str(image_id)


def _record(
    runtime: Runtime,
    tenant: uuid.UUID,
    ingest_id: str,
    rendered: RenderedInstance,
    renditions: dict[str, StoredObject],
    attributes: dict[str, str],
) -> tuple[Outcome, uuid.UUID | None]:
    """Commit the image rows and close the ingest record.

    The record is claimed first (`_claim`): of two runs of one record, the second finds it handled and
    leaves it alone (its spool may now be the first run's image's DICOM).
    """
    with runtime.db.unit_of_work(tenant) as uow:
        record = _claim(uow, ingest_id)
        if record is None:
            return Outcome.ALREADY_HANDLED, None
        image_id = images.record_image(uow, record, rendered, renditions, attributes)
        if image_id is None:
            record.status = IngestStatus.DUPLICATE
        else:
            record.status = IngestStatus.PROCESSED
            record.image_id = image_id
        record.processed_at = utcnow()
        record.spool_key = None
        uow.commit()
        return (Outcome.DUPLICATE, None) if image_id is None else (Outcome.RECORDED, image_id)


def _claim(uow: UnitOfWork, ingest_id: str) -> IngestRecord | None:
    """The record, if it is still `received`, locked for this transaction; None when another run has
    handled it. The conditional UPDATE is the lock (PostgreSQL re-checks its condition after a concurrent
    commit, SQLite takes its write lock with it) and returns the record in the same statement."""
    return uow.session.scalars(
        update(IngestRecord)
        .where(IngestRecord.id == uuid.UUID(ingest_id), IngestRecord.status == IngestStatus.RECEIVED)
        .values(processed_at=utcnow())
        .returning(IngestRecord)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()


def _delete(runtime: Runtime, keys: list[str]) -> None:
    for key in keys:
        runtime.object_store.delete(key)


def _finish(
    runtime: Runtime, tenant: uuid.UUID, ingest_id: str, status: IngestStatus, *, reason: str, message: str
) -> bool:
    """Close a still-received record with `status` and the reason; False when another run handled it."""
    with runtime.db.unit_of_work(tenant) as uow:
        record = _claim(uow, ingest_id)
        if record is None:
            return False
        record.status = status
        record.error_reason = reason
        record.error_message = message[:500]
        record.processed_at = utcnow()
        record.spool_key = None
        uow.commit()
        return True


def _note_failure(runtime: Runtime, tenant: uuid.UUID, ingest_id: str, exc: Exception) -> None:
    """Count the attempt; after `MAX_ATTEMPTS` the record is marked failed (and listed with its error)."""
    log.exception("processing ingest %s failed", ingest_id)
    with runtime.db.unit_of_work(tenant) as uow:
        record = uow.session.get(IngestRecord, uuid.UUID(ingest_id))
        if record is None:
            return
        record.attempts += 1
        record.error_message = f"{type(exc).__name__}: {exc}"[:500]
        if record.attempts >= MAX_ATTEMPTS:
            record.status = IngestStatus.FAILED
            record.error_reason = "processing_failed"
        uow.commit()
