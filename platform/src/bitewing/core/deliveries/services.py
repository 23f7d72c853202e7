"""The outbox: routing an image into delivery rows, sending them, retries, dead letters, manual actions."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bitewing.core.accounts.models import Role
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import STAFF_ROLES, Actor, system_actor
from bitewing.core.db.base import utcnow
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import UnitOfWork
from bitewing.core.deliveries.backoff import retry_delay
from bitewing.core.deliveries.encoding import encode_for_target
from bitewing.core.deliveries.models import OPEN_STATES, Delivery, DeliveryRole, DeliveryState
from bitewing.core.errors import Conflict, NotFound
from bitewing.core.images.models import Image, Series, Study
from bitewing.core.ingest.models import IngestRecord
from bitewing.core.jobs import job
from bitewing.core.jobs.runners import enqueue_or_leave_to_sweeper
from bitewing.core.plugins.connectors import ConnectorError, InstanceRef
from bitewing.core.plugins.storage import ObjectCorrupt, sha256_hex
from bitewing.core.routing.models import Target
from bitewing.core.routing.rules import decide
from bitewing.core.routing.targets import open_connection
from bitewing.core.runtime import Runtime
from bitewing.core.storage.integrity import get_verified
from bitewing.core.tenancy.services import all_tenant_ids

log = logging.getLogger(__name__)


def enqueue_delivery(runtime: Runtime, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    """Queue a delivery job; a failure to queue is left to the sweeper (the row is the source of truth)."""
    enqueue_or_leave_to_sweeper(runtime.jobs, deliver, tenant_id=str(tenant_id), delivery_id=str(delivery_id))


@job("deliveries", timeout=300)
def route_image(runtime: Runtime, tenant_id: str, image_id: str) -> list[str]:
    """Create one delivery row per target the tenant's rules choose for the image, then queue them.

    Safe to run twice: an (image, target) pair gets one row. Refused routes (inactive target, data
    residency) create no delivery and are audited.
    """
    tenant = uuid.UUID(tenant_id)
    created: list[uuid.UUID] = []
    with runtime.db.unit_of_work(tenant) as uow:
        image = uow.session.get(Image, uuid.UUID(image_id))
        if image is None:
            return []
        existing = set(uow.session.scalars(select(Delivery.target_id).where(Delivery.image_id == image.id)))
        record = uow.session.get(IngestRecord, image.ingest_id) if image.ingest_id else None
        if record is not None and record.source_target_id is not None:
            existing.add(record.source_target_id)  # the source already holds the image
        for decision in decide(uow, image):
            if decision.refused or decision.route.target_id in existing:
                if decision.refused:
                    audit.record(
                        uow,
                        system_actor(tenant, "routing"),
                        "delivery.refused",
                        "image",
                        image.id,
                        patient_id=image.patient_id,
                        details={"target_id": str(decision.route.target_id), "reason": decision.refused},
                    )
                continue
            delivery = Delivery(
                id=uuid.uuid4(),
                tenant_id=tenant,
                image_id=image.id,
                target_id=decision.route.target_id,
                rule_id=decision.route.rule_id,
                role=DeliveryRole(decision.route.role),
                state=DeliveryState.PENDING,
            )
            uow.session.add(delivery)
            created.append(delivery.id)
        image.routed_at = utcnow()
        try:
            uow.commit()
        except IntegrityError:
            uow.rollback()
            return []
    for delivery_id in created:
        enqueue_delivery(runtime, tenant, delivery_id)
    return [str(d) for d in created]


def _claim(uow: UnitOfWork, delivery_id: uuid.UUID) -> datetime | None:
    """Take the delivery for this worker: only one worker sends it at a time. Returns the claim's time,
    which identifies this claim when the attempt is settled; None when the delivery is not this worker's
    to send."""
    now = utcnow()
    result = uow.session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.state.in_((DeliveryState.PENDING, DeliveryState.RETRYING)),
            (Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at <= now),
        )
        .values(state=DeliveryState.SENDING, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    uow.commit()
    return now if result.rowcount == 1 else None


def instance_ref(
    image: Image, study: Study | None, series: Series | None, data: bytes, transfer_syntax: str
) -> InstanceRef:
    """What a connector is told about the instance it sends: UIDs, the syntax and digest of `data` (the
    bytes as encoded for the target) and an opaque object name."""
    return InstanceRef(
        sop_instance_uid=image.sop_instance_uid,
        sop_class_uid=image.sop_class_uid,
        study_instance_uid=study.study_instance_uid if study else "",
        series_instance_uid=series.series_instance_uid if series else "",
        transfer_syntax_uid=transfer_syntax,
        sha256=sha256_hex(data),
        size=len(data),
        object_name=f"{image.tenant_id}/{image.id}.dcm",
    )


def _settle(
    runtime: Runtime,
    tenant: uuid.UUID,
    delivery_id: uuid.UUID,
    claimed_at: datetime,
    *,
    error: ConnectorError | None,
    remote_id: str | None = None,
) -> DeliveryState:
    """Record the outcome of the attempt claimed at `claimed_at`. An attempt whose claim the sweeper took
    back (its lease ran out) and another worker re-claimed changes nothing: that worker settles."""
    settings = runtime.settings
    with runtime.db.unit_of_work(tenant) as uow:
        delivery = uow.session.get(Delivery, delivery_id)
        if delivery is None:
            return DeliveryState.CANCELLED
        if delivery.state != DeliveryState.SENDING or delivery.claimed_at != claimed_at:
            return delivery.state
        delivery.attempts += 1
        delivery.claimed_at = None
        if error is None:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = utcnow()
            delivery.remote_id = remote_id
            delivery.last_error = None
            delivery.next_attempt_at = None
        elif not error.retryable or delivery.attempts >= settings.delivery_max_attempts:
            delivery.state = DeliveryState.DEAD
            delivery.last_error = error.message[:500]
            delivery.next_attempt_at = None
        else:
            delivery.state = DeliveryState.RETRYING
            delivery.last_error = error.message[:500]
            delivery.next_attempt_at = utcnow() + retry_delay(
                delivery.attempts,
                base_seconds=settings.delivery_backoff_seconds,
                cap_seconds=settings.delivery_backoff_cap_seconds,
            )
        uow.commit()
        return delivery.state


@job("deliveries", timeout=900)
def deliver(runtime: Runtime, tenant_id: str, delivery_id: str) -> str:
    """Send one image to one target, then verify the target holds it.

    "Delivered" is recorded only after the target confirmed (success, then verification). A retryable
    failure schedules the next attempt with backoff (the sweeper queues it when due); a permanent one,
    or too many attempts, makes it a dead letter.
    """
    tenant, delivery_uuid = uuid.UUID(tenant_id), uuid.UUID(delivery_id)
    with runtime.db.unit_of_work(tenant) as uow:
        claimed_at = _claim(uow, delivery_uuid)
        if claimed_at is None:
            delivery = uow.session.get(Delivery, delivery_uuid)
            return delivery.state.value if delivery else "missing"
        delivery = uow.session.get(Delivery, delivery_uuid)
        image = uow.session.get(Image, delivery.image_id)
        target = uow.session.get(Target, delivery.target_id)
        study = uow.session.get(Study, image.study_id)
        series = uow.session.get(Series, image.series_id)
        uow.session.expunge_all()
    try:
        if target is None or not target.active:
            raise ConnectorError("the target was removed or deactivated", retryable=False)
        archive = get_verified(runtime.object_store, image.archive_key, image.archive_sha256)
        data, syntax = encode_for_target(
            archive, image.archive_transfer_syntax, image.original_transfer_syntax, target.transfer_syntax
        )
        ref = instance_ref(image, study, series, data, syntax)
        with open_connection(runtime, target) as connection:
            result = connection.store_instance(data, ref)
            if not connection.verify_instance(ref):
                raise ConnectorError("the target answered success but does not hold the instance")
    except ConnectorError as exc:
        return _settle(runtime, tenant, delivery_uuid, claimed_at, error=exc).value
    except ObjectCorrupt as exc:
        corrupt = ConnectorError(f"not sent: {exc}", retryable=False)
        return _settle(runtime, tenant, delivery_uuid, claimed_at, error=corrupt).value
    except Exception as exc:
        log.exception("delivery %s failed unexpectedly", delivery_id)
        unexpected = ConnectorError(f"unexpected error: {exc}")
        return _settle(runtime, tenant, delivery_uuid, claimed_at, error=unexpected).value
    return _settle(runtime, tenant, delivery_uuid, claimed_at, error=None, remote_id=result.remote_id).value


def _get(uow: UnitOfWork, delivery_id: uuid.UUID) -> Delivery:
    delivery = uow.session.scalar(select(Delivery).where(Delivery.id == delivery_id))
    if delivery is None:
        raise NotFound("no such delivery")
    return delivery


def retry_delivery(runtime: Runtime, uow: UnitOfWork, actor: Actor, delivery_id: uuid.UUID) -> Delivery:
    """Send a dead, cancelled or waiting delivery again now (owners, dentists)."""
    actor.require({Role.OWNER, Role.DENTIST})
    delivery = _get(uow, delivery_id)
    if delivery.state in (DeliveryState.DELIVERED, DeliveryState.SENDING):
        raise Conflict(f"the delivery is {delivery.state.value}; nothing to retry")
    delivery.state = DeliveryState.RETRYING
    delivery.next_attempt_at = None
    audit.record(uow, actor, "delivery.retry", "delivery", delivery.id)
    uow.commit()
    enqueue_delivery(runtime, actor.tenant_id, delivery.id)
    return delivery


def cancel_delivery(uow: UnitOfWork, actor: Actor, delivery_id: uuid.UUID) -> Delivery:
    """Stop trying to deliver (owners)."""
    actor.require({Role.OWNER})
    delivery = _get(uow, delivery_id)
    if delivery.state == DeliveryState.DELIVERED:
        raise Conflict("the delivery already arrived; it cannot be cancelled")
    delivery.state = DeliveryState.CANCELLED
    delivery.next_attempt_at = None
    audit.record(uow, actor, "delivery.cancel", "delivery", delivery.id)
    uow.commit()
    return delivery


def list_deliveries(
    uow: UnitOfWork,
    actor: Actor,
    *,
    state: DeliveryState | None = None,
    target_id: uuid.UUID | None = None,
    image_id: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Delivery]:
    """Deliveries newest first, filtered by state, target or image."""
    actor.require(STAFF_ROLES)
    statement = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id)
    if state:
        statement = statement.where(Delivery.state == state)
    if target_id:
        statement = statement.where(Delivery.target_id == target_id)
    if image_id:
        statement = statement.where(Delivery.image_id == image_id)
    return paginate(uow, statement, page, per_page)


def target_backlog(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    """Per target: deliveries by state and the oldest open one."""
    actor.require(STAFF_ROLES)
    rows = uow.session.execute(
        select(Delivery.target_id, Delivery.state, func.count(), func.min(Delivery.created_at)).group_by(
            Delivery.target_id, Delivery.state
        )
    ).all()
    targets = {t.id: t for t in uow.session.scalars(select(Target))}
    summary: dict[uuid.UUID, dict[str, Any]] = {
        t.id: {"target_id": t.id, "target_name": t.name, "counts": {}, "oldest_open_at": None}
        for t in targets.values()
    }
    for target_id, state, count, oldest in rows:
        entry = summary.setdefault(
            target_id, {"target_id": target_id, "target_name": None, "counts": {}, "oldest_open_at": None}
        )
        entry["counts"][state.value] = count
        if state in OPEN_STATES and (entry["oldest_open_at"] is None or oldest < entry["oldest_open_at"]):
            entry["oldest_open_at"] = oldest
    return sorted(summary.values(), key=lambda e: e["target_name"] or "")


def requeue_due_deliveries(
    runtime: Runtime,
    *,
    stale_pending: timedelta = timedelta(minutes=2),
    tenant_ids: list[uuid.UUID] | None = None,
) -> int:
    """The sweeper's delivery pass for every tenant: route images whose routing job was lost, queue retries
    that are due and pending rows whose job was lost, and take back deliveries whose worker died mid-send
    (claimed longer than the lease)."""
    now = utcnow()
    lease = timedelta(seconds=runtime.settings.delivery_lease_seconds)
    tenant_ids = all_tenant_ids(runtime.db) if tenant_ids is None else tenant_ids
    queued = 0
    for tenant_id in tenant_ids:
        with runtime.db.unit_of_work(tenant_id) as uow:
            stale = (Delivery.state == DeliveryState.SENDING) & (Delivery.claimed_at < now - lease)
            max_attempts = runtime.settings.delivery_max_attempts
            for where, state, error in (
                (
                    stale & (Delivery.attempts + 1 >= max_attempts),
                    DeliveryState.DEAD,
                    f"the worker sending it stopped ({max_attempts} attempts); not sending again",
                ),
                (stale, DeliveryState.RETRYING, "the worker sending it stopped; sending again"),
            ):
                uow.session.execute(
                    update(Delivery)
                    .where(where)
                    .values(
                        state=state,
                        attempts=Delivery.attempts + 1,
                        claimed_at=None,
                        next_attempt_at=None,
                        last_error=error,
                    )
                    .execution_options(synchronize_session=False)
                )
            uow.commit()
            unrouted = uow.session.scalars(
                select(Image.id).where(
                    Image.routed_at.is_(None),
                    Image.archived_at.is_not(None),
                    Image.archived_at < now - stale_pending,
                )
            ).all()
            due = uow.session.scalars(
                select(Delivery.id).where(
                    (
                        (Delivery.state == DeliveryState.RETRYING)
                        & ((Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at <= now))
                    )
                    | (
                        (Delivery.state == DeliveryState.PENDING)
                        & (Delivery.created_at < now - stale_pending)
                    )
                )
            ).all()
        for image_id in unrouted:
            runtime.jobs.enqueue(route_image, tenant_id=str(tenant_id), image_id=str(image_id))
        for delivery_id in due:
            enqueue_delivery(runtime, tenant_id, delivery_id)
        queued += len(due) + len(unrouted)
    return queued
