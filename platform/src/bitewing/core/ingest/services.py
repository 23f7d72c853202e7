"""The three doors' common entrance: validate, spool durably, commit the ingest record, then acknowledge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bitewing.core.db.base import utcnow
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import UnitOfWork
from bitewing.core.errors import NotFound
from bitewing.core.imaging.validate import InvalidInstance, parse_instance
from bitewing.core.ingest.models import IngestRecord, IngestSource, IngestStatus
from bitewing.core.jobs.runners import enqueue_or_leave_to_sweeper
from bitewing.core.plugins.storage import sha256_hex
from bitewing.core.runtime import Runtime
from bitewing.core.storage.keys import dicom_key

LIVE_STATUSES = (IngestStatus.RECEIVED, IngestStatus.PROCESSED)


@dataclass(frozen=True)
class Origin:
    """Where an instance came from: the door, and the machine, location and peer when known."""

    source: IngestSource
    machine_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    calling_ae: str | None = None
    remote_addr: str | None = None
    filename: str | None = None
    source_target_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Receipt:
    """The answer to a sender: accepted (durable), duplicate (already held) or rejected (with reason)."""

    status: IngestStatus
    ingest_id: uuid.UUID | None
    sop_instance_uid: str | None
    reason: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (IngestStatus.RECEIVED, IngestStatus.DUPLICATE)


def _record(uow: UnitOfWork, tenant_id: uuid.UUID, origin: Origin, **fields: object) -> IngestRecord:
    record = IngestRecord(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        source=origin.source,
        machine_id=origin.machine_id,
        location_id=origin.location_id,
        patient_id=origin.patient_id,
        source_target_id=origin.source_target_id,
        calling_ae=origin.calling_ae,
        remote_addr=origin.remote_addr,
        filename=(origin.filename or "")[-300:] or None,
        received_at=utcnow(),
        **fields,
    )
    uow.session.add(record)
    return record


def receive_instance(runtime: Runtime, tenant_id: uuid.UUID, data: bytes, origin: Origin) -> Receipt:
    """Accept one DICOM instance for `tenant_id`.

    Bad input is rejected with a reason (and listed among the ingest errors) and nothing is stored. A
    re-sent identical instance is a no-op. Otherwise the bytes are written to the object store and the
    ingest record committed *before* this returns, so an acknowledgement always means durable; then a
    processing job is queued (a lost job is re-queued by the sweeper from the record).

    The SHA-256 is computed up front only when the SOP Instance UID is already held (to tell a re-send
    from a new version); otherwise the object store computes it while it writes (`LocalFolderStore.put`
    overlaps the two).
    """
    try:
        sop_instance_uid = str(parse_instance(data).SOPInstanceUID)
    except InvalidInstance as exc:
        with runtime.db.unit_of_work(tenant_id) as uow:
            record = _record(
                uow,
                tenant_id,
                origin,
                status=IngestStatus.REJECTED,
                sha256=sha256_hex(data),
                size=len(data),
                error_reason=exc.reason,
                error_message=str(exc)[:500],
            )
            uow.commit()
        return Receipt(IngestStatus.REJECTED, record.id, None, exc.reason, str(exc))
    with runtime.db.unit_of_work(tenant_id) as uow:
        held = uow.session.execute(
            select(IngestRecord.id, IngestRecord.sha256).where(
                IngestRecord.sop_instance_uid == sop_instance_uid,
                IngestRecord.status.in_(LIVE_STATUSES),
            )
        ).all()
    digest = sha256_hex(data) if held else None
    if (existing := next((row.id for row in held if row.sha256 == digest), None)) is not None:
        return Receipt(IngestStatus.DUPLICATE, existing, sop_instance_uid)
    key = dicom_key(tenant_id)
    stored = runtime.object_store.put(key, data, "application/dicom", sha256=digest)
    try:
        with runtime.db.unit_of_work(tenant_id) as uow:
            record = _record(
                uow,
                tenant_id,
                origin,
                status=IngestStatus.RECEIVED,
                sop_instance_uid=sop_instance_uid,
                sha256=stored.sha256,
                size=len(data),
                spool_key=key,
            )
            uow.commit()
    except Exception:
        runtime.object_store.delete(key)
        raise
    enqueue_processing(runtime, tenant_id, record.id)
    return Receipt(IngestStatus.RECEIVED, record.id, sop_instance_uid)


def enqueue_processing(runtime: Runtime, tenant_id: uuid.UUID, ingest_id: uuid.UUID) -> None:
    """Queue the processing job; a failure to queue is logged, not raised (the record is already durable)."""
    from bitewing.core.ingest.processing import process_ingest

    enqueue_or_leave_to_sweeper(
        runtime.jobs, process_ingest, tenant_id=str(tenant_id), ingest_id=str(ingest_id)
    )


def list_records(
    uow: UnitOfWork,
    *,
    status: IngestStatus | None = None,
    source: IngestSource | None = None,
    since: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[IngestRecord]:
    """Ingest records newest first; ``status=rejected`` is the ingest-errors list."""
    statement = select(IngestRecord).order_by(IngestRecord.received_at.desc(), IngestRecord.id)
    if status:
        statement = statement.where(IngestRecord.status == status)
    if source:
        statement = statement.where(IngestRecord.source == source)
    if since:
        statement = statement.where(IngestRecord.received_at >= since)
    return paginate(uow, statement, page, per_page)


def get_record(uow: UnitOfWork, ingest_id: uuid.UUID) -> IngestRecord:
    """One ingest record of the tenant (what became of one receipt); another tenant's id is `NotFound`."""
    record = uow.session.scalar(select(IngestRecord).where(IngestRecord.id == ingest_id))
    if record is None:
        raise NotFound("no such ingest record")
    return record
