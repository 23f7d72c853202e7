"""Recording processed instances and serving image metadata with short-lived URLs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.orm import selectinload

from bitewing.core.accounts.models import Role
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import STAFF_ROLES, Actor, system_actor
from bitewing.core.db.base import utcnow
from bitewing.core.db.paging import Page, paginate_rows
from bitewing.core.db.session import UnitOfWork
from bitewing.core.db.upsert import insert_or_get_id
from bitewing.core.errors import NotFound
from bitewing.core.images.matching import Match, match_patient
from bitewing.core.images.models import Image, MatchStatus, Rendition, Series, Study
from bitewing.core.images.types import ImageType
from bitewing.core.imaging.pipeline import RenderedInstance
from bitewing.core.ingest.models import IngestRecord
from bitewing.core.patients.models import Patient
from bitewing.core.plugins import ObjectStore, StoredObject
from bitewing.core.tenancy.models import Location

DOWNLOAD_ROLES = frozenset({Role.OWNER, Role.DENTIST, Role.HYGIENIST})


def _study_id(
    uow: UnitOfWork, record: IngestRecord, processed: RenderedInstance, patient_id: uuid.UUID | None
) -> uuid.UUID:
    """The study row's id, the row created once even when several of its instances are processed at once."""
    facts = processed.facts
    acquired = facts.acquisition_datetime
    return insert_or_get_id(
        uow.session,
        Study,
        {
            "id": uuid.uuid4(),
            "tenant_id": record.tenant_id,
            "study_instance_uid": facts.study_instance_uid,
            "patient_id": patient_id,
            "study_date": acquired.date() if acquired else None,
            "description": facts.study_description[:200] or None,
            "accession_number": facts.accession_number[:32] or None,
            "dicom_study_id": facts.study_id[:16] or None,
            "study_time": facts.study_time[:32] or None,
            "referring_physician": facts.referring_physician[:200] or None,
            "created_at": utcnow(),
        },
        ["tenant_id", "study_instance_uid"],
    )


def _series_id(
    uow: UnitOfWork, record: IngestRecord, study_id: uuid.UUID, processed: RenderedInstance
) -> uuid.UUID:
    """The series row's id, the row created once even under concurrent processing."""
    facts = processed.facts
    return insert_or_get_id(
        uow.session,
        Series,
        {
            "id": uuid.uuid4(),
            "tenant_id": record.tenant_id,
            "study_id": study_id,
            "series_instance_uid": facts.series_instance_uid,
            "modality": facts.modality or "OT",
            "description": facts.series_description[:200] or None,
            "series_number": facts.series_number,
            "created_at": utcnow(),
        },
        ["tenant_id", "series_instance_uid"],
    )


def _aware_acquisition(uow: UnitOfWork, record: IngestRecord, moment: datetime | None) -> datetime | None:
    """DICOM times are local to the machine: read them in the location's time zone (UTC when unknown)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    location = uow.session.get(Location, record.location_id) if record.location_id else None
    return moment.replace(tzinfo=ZoneInfo(location.time_zone) if location else UTC)


def record_image(
    uow: UnitOfWork,
    record: IngestRecord,
    processed: RenderedInstance,
    renditions: dict[str, StoredObject],
    attributes: dict[str, str],
) -> uuid.UUID | None:
    """Add the image rows for a rendered instance and return the image's id; None when the same content is
    already held.

    The record's spool object (the instance as received) becomes the image's stored DICOM until the
    archive job replaces it with the verified lossless copy (`archived_at` is then set).

    The same SOP Instance UID with different content becomes a new version; earlier versions are marked
    superseded and the change is audited.

    The image and its renditions are written with two Core INSERTs on the session's connection (the
    ORM's unit of work cost the processing job several milliseconds more per image); the image id is
    returned, not an entity.
    """
    facts = processed.facts
    versions = uow.session.scalars(
        select(Image).where(Image.sop_instance_uid == facts.sop_instance_uid).order_by(Image.version)
    ).all()
    if any(v.original_sha256 == record.sha256 for v in versions):
        return None
    match = (
        Match(record.patient_id, MatchStatus.MANUAL, "chosen by staff at upload")
        if record.patient_id is not None
        else match_patient(uow, facts)
    )
    study_id = _study_id(uow, record, processed, match.patient_id)
    image_id = uuid.uuid4()
    version = (versions[-1].version + 1) if versions else 1
    connection = uow.session.connection()
    connection.execute(
        insert(Image),
        dict(
            id=image_id,
            tenant_id=record.tenant_id,
            study_id=study_id,
            series_id=_series_id(uow, record, study_id, processed),
            patient_id=match.patient_id,
            match_status=match.status,
            match_note=match.note,
            sop_instance_uid=facts.sop_instance_uid,
            sop_class_uid=facts.sop_class_uid,
            version=version,
            modality=facts.modality or "OT",
            image_type=ImageType(facts.image_type),
            teeth=list(facts.teeth),
            laterality=facts.laterality or None,
            acquired_at=_aware_acquisition(uow, record, facts.acquisition_datetime),
            machine_id=record.machine_id,
            location_id=record.location_id,
            dicom_patient_id=facts.patient_id[:64] or None,
            dicom_patient_name=facts.patient_name[:200] or None,
            dicom_birth_date=facts.patient_birth_date,
            dicom_patient_sex=facts.patient_sex[:16] or None,
            instance_number=facts.instance_number,
            rows=facts.rows,
            columns=facts.columns,
            frames=facts.frames,
            bits_stored=facts.bits_stored,
            photometric=facts.photometric[:16],
            original_transfer_syntax=facts.transfer_syntax_uid,
            original_bytes=record.size,
            original_sha256=record.sha256,
            pixel_bytes=processed.original_pixel_bytes,
            archive_key=record.spool_key,
            archive_bytes=record.size,
            archive_sha256=record.sha256,
            archive_transfer_syntax=facts.transfer_syntax_uid,
            ingest_id=record.id,
            attributes=attributes,
        ),
    )
    connection.execute(
        insert(Rendition),
        [
            {
                "id": uuid.uuid4(),
                "tenant_id": record.tenant_id,
                "image_id": image_id,
                "name": rendition.name,
                "key": renditions[rendition.name].key,
                "content_type": rendition.content_type,
                "format": rendition.format,
                "quality": rendition.quality,
                "width": rendition.width,
                "height": rendition.height,
                "bytes": renditions[rendition.name].size,
            }
            for rendition in processed.renditions
        ],
    )
    for previous in versions:
        previous.superseded = True
    if versions:
        audit.record(
            uow,
            system_actor(record.tenant_id, "ingest"),
            "image.new_version",
            "image",
            image_id,
            patient_id=match.patient_id,
            details={"version": version, "previous": str(versions[-1].id)},
        )
    return image_id


@dataclass(frozen=True)
class RenditionLink:
    """A rendition with a URL that expires."""

    name: str
    url: str
    width: int
    height: int
    bytes: int
    content_type: str


@dataclass(frozen=True)
class ImageView:
    """An image's metadata with freshly issued URLs and its study's and series' UIDs; `may_download` when
    the actor may fetch the DICOM (the HTTP layer sets `download_url` to its download endpoint then)."""

    image: Image
    study_instance_uid: str
    series_instance_uid: str
    renditions: list[RenditionLink]
    may_download: bool = False
    download_url: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.image, name)


@dataclass(frozen=True)
class ImageSummary:
    """An image as the lists show it, with its thumbnail link; read as plain columns, not ORM objects."""

    id: uuid.UUID
    sop_instance_uid: str
    patient_id: uuid.UUID | None
    match_status: MatchStatus
    match_note: str | None
    image_type: ImageType
    modality: str
    teeth: list[Any]
    laterality: str | None
    acquired_at: datetime | None
    created_at: datetime
    rows: int
    columns: int
    frames: int
    version: int
    dicom_patient_id: str | None
    dicom_patient_name: str | None
    dicom_birth_date: date | None
    volume_slices: int | None
    renditions: list[RenditionLink]


_SUMMARY_COLUMNS = tuple(getattr(Image, f.name) for f in fields(ImageSummary) if f.name != "renditions")
_THUMBNAIL_COLUMNS = (
    Rendition.key,
    Rendition.width,
    Rendition.height,
    Rendition.bytes,
    Rendition.content_type,
)


def _summary_page(
    uow: UnitOfWork,
    store: ObjectStore,
    criteria: list[ColumnElement[bool]],
    order_by: tuple[ColumnElement[Any], ...],
    page: int,
    per_page: int,
    expires_in: int,
) -> Page[ImageSummary]:
    """One page of current images matching `criteria`, each joined to its thumbnail, in one query (the
    ORM's objects for 100 images and their thumbnails were a third of a list request)."""
    statement = (
        select(*_SUMMARY_COLUMNS, *_THUMBNAIL_COLUMNS)
        .outerjoin(Rendition, (Rendition.image_id == Image.id) & (Rendition.name == "thumbnail"))
        .where(Image.superseded.is_(False), *criteria)
        .order_by(*order_by)
    )
    result = paginate_rows(uow, statement, page, per_page)
    width = len(_SUMMARY_COLUMNS)
    summaries = []
    for row in result.items:
        key, *thumbnail = row[width:]
        links = (
            [] if key is None else [RenditionLink("thumbnail", store.presign(key, expires_in), *thumbnail)]
        )
        summaries.append(ImageSummary(*row[:width], renditions=links))
    return Page(items=summaries, total=result.total)


def _links(store: ObjectStore, image: Image, names: set[str], expires_in: int) -> list[RenditionLink]:
    return [
        RenditionLink(r.name, store.presign(r.key, expires_in), r.width, r.height, r.bytes, r.content_type)
        for r in image.renditions
        if r.name in names
    ]


def list_patient_images(
    uow: UnitOfWork,
    actor: Actor,
    store: ObjectStore,
    patient_id: uuid.UUID,
    *,
    image_type: ImageType | None = None,
    acquired_from: date | None = None,
    acquired_to: date | None = None,
    page: int = 1,
    per_page: int = 50,
    expires_in: int = 300,
) -> Page[ImageSummary]:
    """A patient's current images, newest first, each with its thumbnail URL (one query per page); a CBCT
    sent slice by slice once it is drawn as one volume (`ingest.volumes`) is listed once.

    `acquired_from` / `acquired_to` are days (both included) in the time zone of the patient's primary
    location, UTC when the patient has none.
    """
    actor.require(STAFF_ROLES)
    found = uow.session.execute(
        select(Patient.id, Location.time_zone)
        .outerjoin(Location, Location.id == Patient.primary_location_id)
        .where(Patient.id == patient_id)
    ).first()
    if found is None:
        raise NotFound("no such patient")
    zone = ZoneInfo(found.time_zone) if found.time_zone else UTC
    criteria: list[ColumnElement[bool]] = [Image.patient_id == patient_id, Image.volume_image_id.is_(None)]
    if image_type:
        criteria.append(Image.image_type == image_type)
    if acquired_from:
        criteria.append(Image.acquired_at >= datetime.combine(acquired_from, datetime.min.time(), zone))
    if acquired_to:
        next_day = acquired_to + timedelta(days=1)
        criteria.append(Image.acquired_at < datetime.combine(next_day, datetime.min.time(), zone))
    newest_first = (Image.acquired_at.desc().nulls_last(), Image.created_at.desc(), Image.id)
    result = _summary_page(uow, store, criteria, newest_first, page, per_page, expires_in)
    audit.record(
        uow,
        actor,
        "image.list",
        "patient",
        patient_id,
        patient_id=patient_id,
        details={"returned": [str(i.id) for i in result.items]},
    )
    uow.commit()
    return result


def get_image(
    uow: UnitOfWork, actor: Actor, store: ObjectStore, image_id: uuid.UUID, *, expires_in: int = 300
) -> ImageView:
    """One image with thumbnail, preview and full URLs, and whether the actor may download its DICOM."""
    actor.require(STAFF_ROLES)
    found = uow.session.execute(
        select(Image, Study.study_instance_uid, Series.series_instance_uid)
        .join(Study, Study.id == Image.study_id)
        .join(Series, Series.id == Image.series_id)
        .where(Image.id == image_id)
        .options(selectinload(Image.renditions))
    ).one_or_none()
    if found is None:
        raise NotFound("no such image")
    image, study_uid, series_uid = found
    audit.record(uow, actor, "image.read", "image", image.id, patient_id=image.patient_id)
    uow.commit()
    links = _links(store, image, {"thumbnail", "preview", "full"}, expires_in)
    may_download = actor.role in DOWNLOAD_ROLES or actor.kind == "system"
    return ImageView(image, study_uid, series_uid, links, may_download)


def download_original(
    uow: UnitOfWork, actor: Actor, store: ObjectStore, image_id: uuid.UUID, *, expires_in: int = 300
) -> str:
    """A short-lived URL of the stored DICOM (clinical roles); each call is audited as a download.

    The browser saves it as ``image-<image id>.dcm`` (never a patient's name: the id is opaque).
    """
    actor.require(DOWNLOAD_ROLES)
    image = _get(uow, image_id)
    audit.record(uow, actor, "image.download", "image", image.id, patient_id=image.patient_id)
    uow.commit()
    return store.presign(image.archive_key, expires_in, filename=f"image-{image.id}.dcm")


def _get(uow: UnitOfWork, image_id: uuid.UUID) -> Image:
    image = uow.session.scalar(select(Image).where(Image.id == image_id))
    if image is None:
        raise NotFound("no such image")
    return image


def list_unmatched(
    uow: UnitOfWork,
    actor: Actor,
    store: ObjectStore,
    *,
    page: int = 1,
    per_page: int = 50,
    expires_in: int = 300,
) -> Page[ImageSummary]:
    """The inbox: images waiting for staff to choose their patient, oldest first."""
    actor.require(STAFF_ROLES)
    oldest_first = (Image.created_at, Image.id)
    result = _summary_page(uow, store, [Image.patient_id.is_(None)], oldest_first, page, per_page, expires_in)
    audit.record(uow, actor, "image.inbox", "image", details={"returned": [str(i.id) for i in result.items]})
    uow.commit()
    return result


def assign_patient(uow: UnitOfWork, actor: Actor, image_id: uuid.UUID, patient_id: uuid.UUID) -> Image:
    """Resolve an inbox image (or correct a match): tie it, and its study, to a patient of the tenant."""
    actor.require(STAFF_ROLES)
    image = _get(uow, image_id)
    if uow.session.scalar(select(Patient.id).where(Patient.id == patient_id)) is None:
        raise NotFound("no such patient")
    previous = image.patient_id
    image.patient_id = patient_id
    image.match_status = MatchStatus.MANUAL
    image.match_note = f"assigned by {actor.name or actor.kind}"
    study = uow.session.get(Study, image.study_id)
    if study is not None and study.patient_id is None:
        study.patient_id = patient_id
    audit.record(
        uow,
        actor,
        "image.assign",
        "image",
        image.id,
        patient_id=patient_id,
        details={"previous_patient": str(previous) if previous else None},
    )
    uow.commit()
    return image
