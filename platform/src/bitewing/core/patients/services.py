"""Registering, changing and finding patients."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bitewing.core.accounts.models import User
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import STAFF_ROLES, Actor
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import UnitOfWork
from bitewing.core.errors import Conflict, Invalid, NotFound
from bitewing.core.patients.models import Patient
from bitewing.core.tenancy.services import get_location


def name_key(name: str) -> str:
    """A search key for a name: accents removed, case folded (``"Zoë"`` → ``"zoe"``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


def _check_references(uow: UnitOfWork, fields: dict[str, Any]) -> None:
    if fields.get("primary_location_id"):
        get_location(uow, fields["primary_location_id"])
    if fields.get("dentist_id"):
        dentist = uow.session.scalar(select(User).where(User.id == fields["dentist_id"]))
        if dentist is None:
            raise NotFound("no such dentist", errors={"dentist_id": ["no such user in this practice"]})
    if fields.get("birth_date") and fields["birth_date"] > date.today():
        raise Invalid("birth date is in the future", errors={"birth_date": ["must not be in the future"]})


def _apply(patient: Patient, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        setattr(patient, key, value)
    patient.given_name_key = name_key(patient.given_name)
    patient.family_name_key = name_key(patient.family_name)


def _save(uow: UnitOfWork, actor: Actor, patient: Patient, action: str, changed: list[str]) -> Patient:
    try:
        uow.session.flush()
    except IntegrityError as exc:
        uow.rollback()
        raise Conflict(
            f"chart number {patient.chart_number!r} is already used",
            errors={"chart_number": ["already used"]},
        ) from exc
    audit.record(
        uow, actor, action, "patient", patient.id, patient_id=patient.id, details={"fields": changed}
    )
    uow.commit()
    return patient


def create_patient(uow: UnitOfWork, actor: Actor, **fields: Any) -> Patient:
    """Register a patient in the actor's tenant."""
    actor.require(STAFF_ROLES)
    _check_references(uow, fields)
    patient = Patient(id=uuid.uuid4(), tenant_id=actor.tenant_id)
    _apply(patient, fields)
    uow.session.add(patient)
    return _save(uow, actor, patient, "patient.create", sorted(fields))


def update_patient(uow: UnitOfWork, actor: Actor, patient_id: uuid.UUID, **fields: Any) -> Patient:
    """Change a patient's details."""
    actor.require(STAFF_ROLES)
    patient = _get(uow, patient_id)
    _check_references(uow, fields)
    _apply(patient, fields)
    return _save(uow, actor, patient, "patient.update", sorted(fields))


def _get(uow: UnitOfWork, patient_id: uuid.UUID) -> Patient:
    patient = uow.session.scalar(select(Patient).where(Patient.id == patient_id))
    if patient is None:
        raise NotFound("no such patient")
    return patient


def require_patient(uow: UnitOfWork, patient_id: uuid.UUID) -> uuid.UUID:
    """`patient_id` if it names a patient of the tenant (a reference check, not a read of the record).

    :raises NotFound: for any other id, another tenant's included.
    """
    return _get(uow, patient_id).id


def get_patient(uow: UnitOfWork, actor: Actor, patient_id: uuid.UUID) -> Patient:
    """One patient of the tenant (audited as a read)."""
    actor.require(STAFF_ROLES)
    patient = _get(uow, patient_id)
    audit.record(uow, actor, "patient.read", "patient", patient.id, patient_id=patient.id)
    uow.commit()
    return patient


def search_patients(
    uow: UnitOfWork,
    actor: Actor,
    *,
    q: str | None = None,
    chart_number: str | None = None,
    birth_date: date | None = None,
    primary_location_id: uuid.UUID | None = None,
    dentist_id: uuid.UUID | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Patient]:
    """Patients by family then given name, filtered by a name fragment, chart number, birth date, location or
    dentist. The search is audited with the ids it returned."""
    actor.require(STAFF_ROLES)
    statement = select(Patient).order_by(Patient.family_name_key, Patient.given_name_key, Patient.id)
    if q:
        for word in name_key(q).split():
            pattern = f"%{word}%"
            statement = statement.where(
                Patient.family_name_key.like(pattern)
                | Patient.given_name_key.like(pattern)
                | Patient.chart_number.ilike(pattern)
            )
    if chart_number:
        statement = statement.where(Patient.chart_number == chart_number)
    if birth_date:
        statement = statement.where(Patient.birth_date == birth_date)
    if primary_location_id:
        statement = statement.where(Patient.primary_location_id == primary_location_id)
    if dentist_id:
        statement = statement.where(Patient.dentist_id == dentist_id)
    result = paginate(uow, statement, page, per_page)
    audit.record(
        uow,
        actor,
        "patient.search",
        "patient",
        details={"returned": [str(p.id) for p in result.items], "q": q, "chart_number": chart_number},
    )
    uow.commit()
    return result
