"""Matching a received image to a patient of the same tenant (never across tenants, never guessed)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from bitewing.core.db.session import UnitOfWork
from bitewing.core.images.models import MatchStatus
from bitewing.core.imaging.facts import InstanceFacts
from bitewing.core.patients.models import Patient
from bitewing.core.patients.services import name_key


@dataclass(frozen=True)
class Match:
    """The outcome: a patient (or none) and why."""

    patient_id: uuid.UUID | None
    status: MatchStatus
    note: str


def dicom_name_keys(patient_name: str) -> tuple[str, str]:
    """(family, given) search keys of a DICOM Person Name (``Family^Given^Middle^Prefix^Suffix``)."""
    parts = [*patient_name.split("=")[0].split("^"), "", ""][:2]
    return name_key(parts[0]), name_key(parts[1])


def match_patient(uow: UnitOfWork, facts: InstanceFacts) -> Match:
    """By Patient ID (chart number) first, confirmed by birth date and family name when both sides have
    them; otherwise by exact family name, given name and birth date. Anything ambiguous waits for staff."""
    family, given = dicom_name_keys(facts.patient_name)
    if facts.patient_id:
        patient = uow.session.scalar(select(Patient).where(Patient.chart_number == facts.patient_id))
        if patient is not None:
            if (
                facts.patient_birth_date
                and patient.birth_date
                and facts.patient_birth_date != patient.birth_date
            ):
                return Match(None, MatchStatus.CONFLICT, "chart number matches but the birth date differs")
            if family and family != patient.family_name_key:
                return Match(None, MatchStatus.CONFLICT, "chart number matches but the family name differs")
            return Match(patient.id, MatchStatus.MATCHED, "matched by chart number")
    if family and given and facts.patient_birth_date:
        candidates = uow.session.scalars(
            select(Patient.id).where(
                Patient.family_name_key == family,
                Patient.given_name_key == given,
                Patient.birth_date == facts.patient_birth_date,
            )
        ).all()
        if len(candidates) == 1:
            return Match(candidates[0], MatchStatus.MATCHED, "matched by name and birth date")
        if len(candidates) > 1:
            return Match(
                None, MatchStatus.CONFLICT, f"{len(candidates)} patients share this name and birth date"
            )
    return Match(None, MatchStatus.UNMATCHED, "no patient with this chart number, or name and birth date")
