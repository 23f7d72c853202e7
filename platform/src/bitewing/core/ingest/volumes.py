"""CBCT volumes sent as one CT instance per slice, listed as one image.

Each slice is received, processed and archived as an image of its own. Once a series of at least
`MIN_VOLUME_SLICES` such slices has been quiet for `VOLUME_QUIET` (no machine says how many slices are
coming), the sweeper queues `assemble_volume`. The job draws the volume's middle axial, coronal and sagittal
planes as the thumbnail and preview of one of its slices (the middle one; the same image when more slices
arrive later) and points the other slices at it. A patient's image list then shows the volume once; its full
rendition is the middle slice, and every slice stays retrievable (DICOMweb, downloads, routing).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import ColumnElement, Select, case, func, select, update

from bitewing.core.db.base import utcnow
from bitewing.core.images.models import Image, Rendition
from bitewing.core.images.types import ImageType
from bitewing.core.imaging import render
from bitewing.core.imaging.validate import read_accepted
from bitewing.core.imaging.volume import (
    MIN_VOLUME_SLICES,
    VolumeMismatch,
    VolumeSlice,
    volume_renditions,
    volume_slice,
)
from bitewing.core.ingest.processing import store_renditions
from bitewing.core.jobs import job
from bitewing.core.jobs.runners import enqueue_or_leave_to_sweeper
from bitewing.core.jobs.sweep import requeue_selected
from bitewing.core.plugins.storage import StoredObject
from bitewing.core.runtime import Runtime
from bitewing.core.storage.integrity import get_verified
from bitewing.core.tenancy.models import Tenant
from bitewing.core.tenancy.renditions import rendition_specs

log = logging.getLogger(__name__)

VOLUME_QUIET = timedelta(seconds=30)
"""How long a series of slices must have received nothing before it is drawn as a volume."""


def _is_slice() -> list[ColumnElement[bool]]:
    return [Image.image_type == ImageType.CBCT, Image.frames == 1, Image.superseded.is_(False)]


def series_awaiting_volume(quiet: timedelta = VOLUME_QUIET) -> Select[tuple[uuid.UUID]]:
    """Series with enough single-frame CBCT slices, quiet for `quiet`, with a slice not yet in their volume."""
    loose = func.count(case((Image.volume_image_id.is_(None) & Image.volume_slices.is_(None), 1)))
    return (
        select(Image.series_id)
        .where(*_is_slice())
        .group_by(Image.series_id)
        .having(
            func.count() >= MIN_VOLUME_SLICES,
            func.max(Image.created_at) < utcnow() - quiet,
            loose > 0,
        )
    )


def queue_volume(runtime: Runtime, tenant_id: uuid.UUID, series_id: uuid.UUID) -> None:
    """Queue `assemble_volume` for one series; a failure to queue is logged (the sweeper queues it again)."""
    enqueue_or_leave_to_sweeper(
        runtime.jobs, assemble_volume, tenant_id=str(tenant_id), series_id=str(series_id)
    )


def requeue_volumes(
    runtime: Runtime, quiet: timedelta = VOLUME_QUIET, *, tenant_ids: list[uuid.UUID] | None = None
) -> int:
    """Queue `assemble_volume` for every series `series_awaiting_volume` finds; returns how many."""
    return requeue_selected(runtime, series_awaiting_volume(quiet), queue_volume, tenant_ids)


def _read_slices(runtime: Runtime, rows: list[tuple[uuid.UUID, str, str]]) -> dict[uuid.UUID, VolumeSlice]:
    """Every slice's stored DICOM, checked against its recorded SHA-256 and decoded."""
    return {
        image_id: volume_slice(read_accepted(get_verified(runtime.object_store, key, sha256)))
        for image_id, key, sha256 in rows
    }


@job("default", timeout=1800)
def assemble_volume(runtime: Runtime, tenant_id: str, series_id: str) -> int | None:
    """Draw a series of CBCT slices as one volume and list it as one image; returns how many slices it shows.

    None when the series has too few slices or they do not make one volume (different sizes or rescale:
    logged, the slices stay listed one by one with `volume_slices` 0, and only a new slice makes the sweeper
    try again). Safe to run again: the image standing for the volume keeps its role, its thumbnail and preview
    are redrawn from every current slice.
    """
    tenant, series = uuid.UUID(tenant_id), uuid.UUID(series_id)
    with runtime.db.unit_of_work(tenant) as uow:
        rows = uow.session.execute(
            select(Image.id, Image.archive_key, Image.archive_sha256, Image.volume_slices).where(
                Image.series_id == series, *_is_slice()
            )
        ).all()
        settings = uow.session.scalar(select(Tenant.rendition_settings).where(Tenant.id == tenant))
    if len(rows) < MIN_VOLUME_SLICES:
        return None
    try:
        slices = _read_slices(runtime, [(r.id, r.archive_key, r.archive_sha256) for r in rows])
        renditions = volume_renditions(list(slices.values()), rendition_specs(settings or {}))
    except VolumeMismatch as exc:
        log.error("series %s is not drawn as one volume: %s", series_id, exc)
        _mark_not_a_volume(runtime, tenant, [r.id for r in rows])
        return None
    ordered = sorted(slices, key=lambda image_id: slices[image_id].order)
    standing = next((r.id for r in rows if r.volume_slices), ordered[len(ordered) // 2])
    stored: dict[str, StoredObject] = {}
    try:
        store_renditions(runtime, tenant, renditions, stored)
        replaced = _stand_for_volume(runtime, tenant, standing, list(slices), renditions, stored)
    except Exception:
        for written in stored.values():
            runtime.object_store.delete(written.key)
        raise
    for key in replaced:
        runtime.object_store.delete(key)
    return len(slices)


def _mark_not_a_volume(runtime: Runtime, tenant: uuid.UUID, members: list[uuid.UUID]) -> None:
    """Record that these slices make no volume (`volume_slices` 0), so the sweeper does not queue them again."""
    with runtime.db.unit_of_work(tenant) as uow:
        uow.session.execute(
            update(Image).where(Image.id.in_(members)).values(volume_slices=0, volume_image_id=None)
        )
        uow.commit()


def _stand_for_volume(
    runtime: Runtime,
    tenant: uuid.UUID,
    standing: uuid.UUID,
    members: list[uuid.UUID],
    renditions: list[render.Rendition],
    stored: dict[str, StoredObject],
) -> list[str]:
    """Give `standing` the volume's renditions and slice count and point the other `members` at it, in one
    transaction; returns the keys of the renditions it replaced."""
    with runtime.db.unit_of_work(tenant) as uow:
        current = {
            r.name: r
            for r in uow.session.scalars(select(Rendition).where(Rendition.image_id == standing)).all()
        }
        replaced = []
        for rendition in renditions:
            row, written = current.get(rendition.name), stored[rendition.name]
            if row is None:  # an image without that rendition keeps none: the new object is not needed
                replaced.append(written.key)
                continue
            replaced.append(row.key)
            row.key, row.bytes = written.key, written.size
            row.width, row.height = rendition.width, rendition.height
            row.content_type, row.format, row.quality = (
                rendition.content_type,
                rendition.format,
                rendition.quality,
            )
        uow.session.execute(
            update(Image).where(Image.id == standing).values(volume_slices=len(members), volume_image_id=None)
        )
        others = [m for m in members if m != standing]
        uow.session.execute(update(Image).where(Image.id.in_(others)).values(volume_image_id=standing))
        uow.commit()
    return replaced
