"""The archive job: an image's DICOM as received → its verified lossless archive copy, then routing.

It runs on the `archive` queue, which workers take only when no processing job waits, so archiving never
delays a thumbnail. Until it has run, the image's stored DICOM is the spool object (durable since the
instance was acknowledged); the swap to the archive copy is a compare-and-set on the image row, and the
received bytes are deleted by the sweeper a grace period after the new key is committed.

On the embedded default (in-process jobs) the same order holds: its thread pool takes queued jobs by queue
priority too (`jobs.runners.InProcessRunner`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from bitewing.core.db.base import utcnow
from bitewing.core.images.models import Image
from bitewing.core.imaging.pipeline import archive_instance
from bitewing.core.jobs import job
from bitewing.core.jobs.runners import enqueue_or_leave_to_sweeper
from bitewing.core.jobs.sweep import requeue_selected
from bitewing.core.plugins.storage import ObjectCorrupt, StoredObject
from bitewing.core.runtime import Runtime
from bitewing.core.storage.integrity import get_verified
from bitewing.core.storage.keys import dicom_key
from bitewing.core.tenancy.services import all_tenant_ids

log = logging.getLogger(__name__)


@job("archive", timeout=900)
def archive_image(runtime: Runtime, tenant_id: str, image_id: str) -> str | None:
    """Replace an image's as-received DICOM with its verified lossless copy, then queue its routing.

    Safe to run twice: an image already archived is left alone (the sweeper routes archived images whose
    routing was lost). Lossy or already compressed originals are kept as received. A copy that cannot be made
    or fails verification is discarded and the original kept, logged as an error: a codec bug or an instance
    no codec here can hold must not cost the image, nor be retried for ever. Stored bytes that no longer match
    the SHA-256 recorded at receipt are not archived either (logged as an error; deliveries refuse them).

    :return: the transfer syntax the image is now stored in; None when the image is gone, already archived
        or another run archived it meanwhile.
    """
    tenant = uuid.UUID(tenant_id)
    with runtime.db.unit_of_work(tenant) as uow:
        image = uow.session.get(Image, uuid.UUID(image_id))
        if image is None or image.archived_at is not None:
            return None
        source_key, source_syntax = image.archive_key, image.archive_transfer_syntax
        source_sha256 = image.archive_sha256
    try:
        data: bytes | None = get_verified(runtime.object_store, source_key, source_sha256)
    except ObjectCorrupt as exc:
        log.error("image %s is not archived: %s (its deliveries will refuse it)", image_id, exc)
        data = None
    try:
        archived = archive_instance(data) if data is not None else None
    except Exception:
        log.exception("archive copy of image %s failed; keeping the instance as received", image_id)
        archived = None
    stored: StoredObject | None = None
    syntax = source_syntax
    if archived is not None and archived.data is not data:
        stored = runtime.object_store.put(dicom_key(tenant), archived.data, "application/dicom")
        syntax = archived.transfer_syntax
    if not _adopt(runtime, tenant, image_id, source_key, stored, syntax):
        if stored is not None:
            runtime.object_store.delete(stored.key)
        return None
    from bitewing.core.deliveries.services import route_image

    enqueue_or_leave_to_sweeper(runtime.jobs, route_image, tenant_id=tenant_id, image_id=image_id)
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
    `source_key` and is not archived yet; True when this run did it. One conditional UPDATE, so of two runs
    exactly one wins on PostgreSQL and SQLite alike. The replaced bytes are kept as `replaced_key` until
    `delete_replaced_objects` removes them after a grace period."""
    now = utcnow()
    values: dict[str, object] = {"archived_at": now}
    if stored is not None:
        values |= {
            "archive_key": stored.key,
            "archive_bytes": stored.size,
            "archive_sha256": stored.sha256,
            "archive_transfer_syntax": syntax,
            "replaced_key": source_key,
            "replaced_at": now,
        }
    with runtime.db.unit_of_work(tenant) as uow:
        swapped = uow.session.execute(
            update(Image)
            .where(
                Image.id == uuid.UUID(image_id),
                Image.archive_key == source_key,
                Image.archived_at.is_(None),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
        return swapped.rowcount == 1


def queue_archiving(runtime: Runtime, tenant_id: uuid.UUID, image_id: uuid.UUID) -> None:
    """Queue the archive job; a failure to queue is logged, not raised (the sweeper queues it later)."""
    enqueue_or_leave_to_sweeper(runtime.jobs, archive_image, tenant_id=str(tenant_id), image_id=str(image_id))


def requeue_unarchived_images(
    runtime: Runtime,
    older_than: timedelta = timedelta(minutes=5),
    *,
    tenant_ids: list[uuid.UUID] | None = None,
) -> int:
    """Queue the archive job again for every image still unarchived after `older_than`; returns how many."""
    waiting = select(Image.id).where(Image.archived_at.is_(None), Image.created_at < utcnow() - older_than)
    return requeue_selected(runtime, waiting, queue_archiving, tenant_ids)


def delete_replaced_objects(
    runtime: Runtime,
    *,
    grace: timedelta | None = None,
    tenant_ids: list[uuid.UUID] | None = None,
) -> int:
    """Delete the received bytes archive copies replaced more than `grace` ago (default: the longest-lived
    URL plus ten minutes, so a download or retrieval begun before the swap still finds them); returns how
    many."""
    grace = (
        timedelta(seconds=runtime.settings.url_expiry_seconds) + timedelta(minutes=10)
        if grace is None
        else grace
    )
    cutoff = utcnow() - grace
    tenant_ids = all_tenant_ids(runtime.db) if tenant_ids is None else tenant_ids
    deleted = 0
    for tenant_id in tenant_ids:
        with runtime.db.unit_of_work(tenant_id) as uow:
            due = uow.session.execute(
                select(Image.id, Image.replaced_key).where(
                    Image.replaced_key.is_not(None), Image.replaced_at < cutoff
                )
            ).all()
        if not due:
            continue
        for _, key in due:
            runtime.object_store.delete(key)
        with runtime.db.unit_of_work(tenant_id) as uow:
            uow.session.execute(
                update(Image)
                .where(Image.id.in_([image_id for image_id, _ in due]))
                .values(replaced_key=None, replaced_at=None)
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        deleted += len(due)
    return deleted
