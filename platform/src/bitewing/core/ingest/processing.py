"""The processing job: spool → facts, renditions and archive in the object store → image rows."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from bitewing.core.db.base import utcnow
from bitewing.core.devices.models import XrayMachine
from bitewing.core.images import services as images
from bitewing.core.images.attributes import routing_attributes
from bitewing.core.images.models import Image
from bitewing.core.imaging.pipeline import ProcessedInstance, process_instance
from bitewing.core.imaging.validate import InvalidInstance
from bitewing.core.ingest.models import IngestRecord, IngestStatus
from bitewing.core.jobs import job
from bitewing.core.plugins.storage import StoredObject
from bitewing.core.runtime import Runtime
from bitewing.core.storage.keys import archive_key, rendition_key
from bitewing.core.tenancy.renditions import tenant_rendition_specs

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class StoredResult:
    """The objects written for one processed instance."""

    archive: StoredObject
    renditions: dict[str, StoredObject]

    def keys(self) -> list[str]:
        return [self.archive.key, *(obj.key for obj in self.renditions.values())]


def _store_outputs(runtime: Runtime, tenant_id: uuid.UUID, processed: ProcessedInstance) -> StoredResult:
    store = runtime.object_store
    group = uuid.uuid4().hex
    renditions = {
        r.name: store.put(rendition_key(tenant_id, group, r.name, r.format), r.data, r.content_type)
        for r in processed.renditions
    }
    archive = store.put(archive_key(tenant_id), processed.archive, "application/dicom")
    return StoredResult(archive=archive, renditions=renditions)


@job("ingest", timeout=900)
def process_ingest(runtime: Runtime, tenant_id: str, ingest_id: str) -> str | None:
    """Process one received instance. Safe to run twice: a record that is no longer `received` is left alone.

    :return: the image id, or None when the instance was a duplicate or was rejected.
    """
    tenant = uuid.UUID(tenant_id)
    with runtime.db.unit_of_work(tenant) as uow:
        record = uow.session.get(IngestRecord, uuid.UUID(ingest_id))
        if record is None or record.status != IngestStatus.RECEIVED or record.spool_key is None:
            return None
        machine = uow.session.get(XrayMachine, record.machine_id) if record.machine_id else None
        default_type = machine.default_image_type if machine else None
        specs = tenant_rendition_specs(uow, tenant)
        spool = record.spool_key
    data = runtime.object_store.get(spool)
    try:
        processed = process_instance(data, default_image_type=default_type, rendition_specs=specs)
    except InvalidInstance as exc:
        _finish(runtime, tenant, ingest_id, IngestStatus.REJECTED, reason=exc.reason, message=str(exc))
        runtime.object_store.delete(spool)
        return None
    except Exception as exc:
        _note_failure(runtime, tenant, ingest_id, exc)
        raise
    stored: StoredResult | None = None
    try:
        attributes = routing_attributes(data)
        stored = _store_outputs(runtime, tenant, processed)
        image_id = _record(runtime, tenant, ingest_id, processed, stored, attributes)
    except Exception as exc:
        if stored is not None:
            _delete(runtime, stored.keys())
        _note_failure(runtime, tenant, ingest_id, exc)
        raise
    runtime.object_store.delete(spool)
    if image_id is None:
        return None
    _queue_routing(runtime, tenant, image_id)
    return str(image_id)


def _record(
    runtime: Runtime,
    tenant: uuid.UUID,
    ingest_id: str,
    processed: ProcessedInstance,
    stored: StoredResult,
    attributes: dict[str, str],
) -> uuid.UUID | None:
    """Commit the image rows and close the ingest record; None when it was a duplicate or already handled."""
    with runtime.db.unit_of_work(tenant) as uow:
        record = uow.session.get(IngestRecord, uuid.UUID(ingest_id))
        if record is None or record.status != IngestStatus.RECEIVED:
            _delete(runtime, stored.keys())
            return None
        image = images.record_image(uow, record, processed, stored.archive, stored.renditions, attributes)
        if image is None:
            record.status = IngestStatus.DUPLICATE
            _delete(runtime, stored.keys())
        else:
            record.status = IngestStatus.PROCESSED
            record.image_id = image.id
        record.processed_at = utcnow()
        record.spool_key = None
        uow.commit()
        return image.id if isinstance(image, Image) else None


def _queue_routing(runtime: Runtime, tenant: uuid.UUID, image_id: uuid.UUID) -> None:
    from bitewing.core.deliveries.services import route_image

    try:
        runtime.jobs.enqueue(route_image, tenant_id=str(tenant), image_id=str(image_id))
    except Exception:
        log.exception("could not queue routing of image %s", image_id)


def _delete(runtime: Runtime, keys: list[str]) -> None:
    for key in keys:
        runtime.object_store.delete(key)


def _finish(
    runtime: Runtime, tenant: uuid.UUID, ingest_id: str, status: IngestStatus, *, reason: str, message: str
) -> None:
    with runtime.db.unit_of_work(tenant) as uow:
        record = uow.session.get(IngestRecord, uuid.UUID(ingest_id))
        if record is not None:
            record.status = status
            record.error_reason = reason
            record.error_message = message[:500]
            record.processed_at = utcnow()
            record.spool_key = None
            uow.commit()


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
