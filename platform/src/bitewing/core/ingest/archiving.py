"""The archive job: an image's DICOM as received → its verified lossless archive copy, then routing.

It runs on the `archive` queue, which workers take only when no processing job waits, so archiving never
delays a thumbnail. Until it has run, the image's stored DICOM is the spool object (durable since the
instance was acknowledged); the swap to the archive copy is a compare-and-set on the image row, and the
received bytes are deleted only after the new key is committed.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select

from bitewing.core.db.base import utcnow
from bitewing.core.images.models import Image
from bitewing.core.imaging.pipeline import archive_instance
from bitewing.core.imaging.transcode import ArchiveMismatch
from bitewing.core.imaging.validate import InvalidInstance
from bitewing.core.jobs import job
from bitewing.core.plugins.storage import StoredObject
from bitewing.core.runtime import Runtime
from bitewing.core.storage.keys import archive_key
from bitewing.core.tenancy.services import all_tenant_ids

log = logging.getLogger(__name__)


@job("archive", timeout=900)
def archive_image(runtime: Runtime, tenant_id: str, image_id: str) -> str | None:
    """Replace an image's as-received DICOM with its verified lossless copy, then queue its routing.

    Safe to run twice: an image already archived is only routed. Lossy or already compressed originals
    are kept as received. A copy that fails verification is discarded and the original kept (logged as an
    error: a codec bug must not cost the image).

    :return: the transfer syntax the image is now stored in, or None when the image is gone.
    """
    tenant = uuid.UUID(tenant_id)
    with runtime.db.unit_of_work(tenant) as uow:
        image = uow.session.get(Image, uuid.UUID(image_id))
        if image is None:
            return None
        if image.archived_at is not None:
            _queue_routing(runtime, tenant, image.id)
            return image.archive_transfer_syntax
        source_key, source_syntax = image.archive_key, image.archive_transfer_syntax
    data = runtime.object_store.get(source_key)
    try:
        archived = archive_instance(data)
    except (ArchiveMismatch, InvalidInstance):
        log.exception("archive copy of image %s failed; keeping the instance as received", image_id)
        archived = None
    stored: StoredObject | None = None
    if archived is not None and archived.data is not data:
        stored = runtime.object_store.put(archive_key(tenant), archived.data, "application/dicom")
    syntax = archived.transfer_syntax if stored is not None and archived is not None else source_syntax
    if not _adopt(runtime, tenant, image_id, source_key, stored, syntax):
        if stored is not None:
            runtime.object_store.delete(stored.key)
        return None
    if stored is not None:
        runtime.object_store.delete(source_key)
    _queue_routing(runtime, tenant, uuid.UUID(image_id))
    return syntax


def _adopt(
    runtime: Runtime,
    tenant: uuid.UUID,
    image_id: str,
    source_key: str,
    stored: StoredObject | None,
    syntax: str,
) -> bool:
    """Point the image at `stored` (None: keep `source_key`) and mark it archived, if it still holds
    `source_key` and is not archived yet (another run may have won); True when this run did it."""
    with runtime.db.unit_of_work(tenant) as uow:
        image = uow.session.get(Image, uuid.UUID(image_id), with_for_update=True)
        if image is None or image.archived_at is not None or image.archive_key != source_key:
            return False
        if stored is not None:
            image.archive_key = stored.key
            image.archive_bytes = stored.size
            image.archive_sha256 = stored.sha256
            image.archive_transfer_syntax = syntax
        image.archived_at = utcnow()
        uow.commit()
        return True


def queue_archiving(runtime: Runtime, tenant_id: uuid.UUID, image_id: uuid.UUID) -> None:
    """Queue the archive job; a failure to queue is logged, not raised (the sweeper queues it later)."""
    try:
        runtime.jobs.enqueue(archive_image, tenant_id=str(tenant_id), image_id=str(image_id))
    except Exception:
        log.exception("could not queue archiving of image %s; the sweeper will retry", image_id)


def _queue_routing(runtime: Runtime, tenant: uuid.UUID, image_id: uuid.UUID) -> None:
    from bitewing.core.deliveries.services import route_image

    try:
        runtime.jobs.enqueue(route_image, tenant_id=str(tenant), image_id=str(image_id))
    except Exception:
        log.exception("could not queue routing of image %s", image_id)


def requeue_unarchived_images(
    runtime: Runtime,
    older_than: timedelta = timedelta(minutes=5),
    *,
    tenant_ids: list[uuid.UUID] | None = None,
) -> int:
    """Queue the archive job again for every image still unarchived after `older_than`; returns how many."""
    cutoff = utcnow() - older_than
    tenant_ids = all_tenant_ids(runtime.db) if tenant_ids is None else tenant_ids
    queued = 0
    for tenant_id in tenant_ids:
        with runtime.db.unit_of_work(tenant_id) as uow:
            waiting = uow.session.scalars(
                select(Image.id).where(Image.archived_at.is_(None), Image.created_at < cutoff)
            ).all()
        for image_id in waiting:
            queue_archiving(runtime, tenant_id, image_id)
        queued += len(waiting)
    return queued
