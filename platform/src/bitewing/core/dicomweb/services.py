"""DICOMweb transactions for one actor: store (through the ingest door), search, and locate instances for
retrieval. Every read of patient data is audited; nothing here knows about HTTP."""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydicom
from sqlalchemy import select

from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import STAFF_ROLES, Actor
from bitewing.core.db.session import UnitOfWork
from bitewing.core.dicomweb import query as qido
from bitewing.core.dicomweb.dicomjson import InstanceRef, JsonDataset, metadata, stow_response, to_json
from bitewing.core.dicomweb.multipart import MultipartError, Part, PartTooLarge
from bitewing.core.dicomweb.retrieve import read_dataset
from bitewing.core.errors import DomainError, NotFound
from bitewing.core.images.models import Image, Series, Study
from bitewing.core.images.services import DOWNLOAD_ROLES
from bitewing.core.imaging.validate import is_valid_uid
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, Receipt, receive_instance
from bitewing.core.plugins import ObjectStore, ObjectStoreError
from bitewing.core.runtime import Runtime

log = logging.getLogger(__name__)

RETRIEVE_ACTION = "image.dicomweb_retrieve"
SEARCH_ACTION = "image.dicomweb_search"
STORE_ACTION = "image.dicomweb_store"

PROCESSING_FAILURE = 0x0110
CANNOT_UNDERSTAND = 0xC000
DOES_NOT_MATCH = 0xA900
OUT_OF_RESOURCES = 0xA700
SYNTAX_NOT_SUPPORTED = 0xC122
FAILURE_REASONS = {
    "not_dicom": CANNOT_UNDERSTAND,
    "truncated": CANNOT_UNDERSTAND,
    "nesting_too_deep": CANNOT_UNDERSTAND,
    "missing_uid": CANNOT_UNDERSTAND,
    "bad_uid": CANNOT_UNDERSTAND,
    "no_pixel_data": DOES_NOT_MATCH,
    "bad_pixel_module": DOES_NOT_MATCH,
    "pixel_data_short": DOES_NOT_MATCH,
    "too_large": OUT_OF_RESOURCES,
    "unsupported_transfer_syntax": SYNTAX_NOT_SUPPORTED,
}
"""Ingest rejection reasons (`imaging.validate`) as STOW-RS Failure Reasons (PS3.18 Table 10.5.3-4)."""

_PEEK_TAGS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


# --- STOW-RS ----------------------------------------------------------------------------------------------


@dataclass
class StowOutcome:
    """The HTTP status (200 all stored, 202 some failed, 409 none stored) and the response dataset."""

    status: int
    body: JsonDataset
    stored: list[InstanceRef] = field(default_factory=list)
    failed: list[InstanceRef] = field(default_factory=list)


def _peek(data: bytes) -> dict[str, str | None]:
    """The identifying UIDs of a part when its header can be read at all (best effort, never raises)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                io.BytesIO(data), stop_before_pixels=True, force=True, specific_tags=list(_PEEK_TAGS)
            )
            values = {k: str(ds.get(k) or "").strip() for k in _PEEK_TAGS}
    except Exception:
        return dict.fromkeys(_PEEK_TAGS)
    return {k: v if is_valid_uid(v) else None for k, v in values.items()}


def as_part10(data: bytes) -> bytes:
    """`data` with the 128-byte preamble and ``DICM`` prefix when it starts with the File Meta group without
    them (what ``pydicom.dcmwrite`` produces for a dataset without a preamble, e.g. from dicomweb-client):
    the same file, framed as PS3.10 requires; anything else unchanged."""
    if data[128:132] != b"DICM" and data[:2] == b"\x02\x00" and data[4:6].isalpha() and data[4:6].isupper():
        return bytes(128) + b"DICM" + data
    return data


def _instance_url(base: str, uids: dict[str, str | None]) -> str | None:
    if not all(uids.get(k) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")):
        return None
    return (
        f"{base}/studies/{uids['StudyInstanceUID']}/series/{uids['SeriesInstanceUID']}"
        f"/instances/{uids['SOPInstanceUID']}"
    )


def _receive(runtime: Runtime, actor: Actor, data: bytes) -> Receipt | int:
    """The receipt of one instance, or the Failure Reason when it could not be received (nothing stored):
    Out of Resources when the object store failed, Processing Failure for anything else."""
    origin = Origin(source=IngestSource.STOW, remote_addr=actor.ip)
    try:
        return receive_instance(runtime, actor.tenant_id, data, origin)
    except ObjectStoreError:
        log.exception("STOW-RS: the object store failed for an instance of %d bytes", len(data))
        return OUT_OF_RESOURCES
    except Exception:
        log.exception("STOW-RS: could not store an instance of %d bytes", len(data))
        return PROCESSING_FAILURE


def store_instances(
    runtime: Runtime,
    uow: UnitOfWork,
    actor: Actor,
    parts: Iterable[Part],
    *,
    base: str,
    study_uid: str | None = None,
) -> StowOutcome:
    """Receive each ``application/dicom`` part through the ingest door, as it arrives.

    An instance is stored once its bytes are durable (`receive_instance`); processing follows in a job, so
    its Retrieve URL answers once processed. A part of another study than `study_uid` (``POST
    /studies/{study}``) is refused with 0xA900 without being received; undecodable parts are rejected by
    ingest (and listed among the ingest errors) and reported with the reason mapped to a Failure Reason.
    A body that breaks off after some parts reports those and one failure for the rest.

    :raises multipart.MultipartError: (or `PartTooLarge`) when not even the first part can be read.
    :raises DomainError: when the body holds no part.
    """
    actor.require(STAFF_ROLES)
    stored: list[InstanceRef] = []
    failed: list[InstanceRef] = []
    studies: set[str | None] = set()
    iterator = iter(parts)
    while True:
        try:
            part = next(iterator)
        except StopIteration:
            break
        except MultipartError as exc:
            if not stored and not failed:
                raise
            # the body broke off after some instances: report those, and the rest as one failure
            reason = OUT_OF_RESOURCES if isinstance(exc, PartTooLarge) else CANNOT_UNDERSTAND
            failed.append(InstanceRef(None, None, failure_reason=reason))
            break
        body = as_part10(part.body)
        uids = _peek(body)
        ref = {"sop_class_uid": uids["SOPClassUID"], "sop_instance_uid": uids["SOPInstanceUID"]}
        media = part.content_type
        if media is not None and media.type not in ("application/dicom", "application/octet-stream"):
            failed.append(InstanceRef(**ref, failure_reason=CANNOT_UNDERSTAND))
            continue
        if study_uid and uids["StudyInstanceUID"] and uids["StudyInstanceUID"] != study_uid:
            failed.append(InstanceRef(**ref, failure_reason=DOES_NOT_MATCH))
            continue
        receipt = _receive(runtime, actor, body)
        if isinstance(receipt, int):
            failed.append(InstanceRef(**ref, failure_reason=receipt))
        elif not receipt.ok:
            reason = FAILURE_REASONS.get(receipt.reason or "", PROCESSING_FAILURE)
            failed.append(InstanceRef(**ref, failure_reason=reason))
        else:
            ref["sop_instance_uid"] = receipt.sop_instance_uid or ref["sop_instance_uid"]
            stored.append(InstanceRef(**ref, retrieve_url=_instance_url(base, uids)))
            studies.add(uids["StudyInstanceUID"])
    if not stored and not failed:
        raise DomainError("the request holds no instance")
    if not study_uid and len(studies) == 1 and None not in studies:
        study_uid = studies.pop()
    study_url = f"{base}/studies/{study_uid}" if study_uid else None
    audit.record(
        uow,
        actor,
        STORE_ACTION,
        "image",
        details={
            "stored": [r.sop_instance_uid for r in stored][:200],
            "failed": len(failed),
        },
    )
    uow.commit()
    status = 200 if not failed else 202 if stored else 409
    return StowOutcome(status, stow_response(stored, failed, study_url if stored else None), stored, failed)


# --- QIDO-RS ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchOutcome:
    """The DICOM JSON results of a search and the warnings to send (ignored keys, truncation)."""

    results: list[JsonDataset]
    warnings: list[str]


def search(
    uow: UnitOfWork,
    actor: Actor,
    level: str,
    params: Iterable[tuple[str, str]],
    *,
    base: str,
    study_uid: str | None = None,
    series_uid: str | None = None,
) -> SearchOutcome:
    """Run a QIDO-RS search at `level` (within the study / series of the path) and audit what it returned.

    :raises query.InvalidQuery: for a malformed search.
    :raises NotFound: when the path's study (series) is not held by the tenant.
    """
    actor.require(STAFF_ROLES)
    query = qido.parse_query(params, level)
    if study_uid and not qido.study_exists(uow, study_uid, series_uid):
        raise NotFound("no such series" if series_uid else "no such study")
    if level == qido.STUDY:
        result = qido.search_studies(uow, query, base)
    elif level == qido.SERIES:
        result = qido.search_series(uow, query, base, study_uid)
    else:
        result = qido.search_instances(uow, query, base, study_uid, series_uid)
    keep = qido.fields_for(query, bool(study_uid), bool(series_uid))
    _audit_search(uow, actor, level, query, result)
    notes = []
    if query.ignored:
        notes.append(
            f"the following query keys are not supported and were ignored: {', '.join(query.ignored)}"
        )
    if result.truncated:
        notes.append(
            f"the number of results exceeded the maximum of {qido.MAX_LIMIT}; use offset to read further"
        )
    return SearchOutcome([to_json(m.values, keep) for m in result.matches], notes)


def _audit_search(uow: UnitOfWork, actor: Actor, level: str, query: qido.Query, result: qido.Result) -> None:
    """One event per patient whose data the search returned (unmatched images: one event without a patient)."""
    uid_key = {qido.STUDY: "StudyInstanceUID", qido.SERIES: "SeriesInstanceUID"}.get(level, "SOPInstanceUID")
    by_patient: dict[uuid.UUID | None, list[str]] = {}
    for match in result.matches:
        by_patient.setdefault(match.patient_id, []).append(str(match.values.get(uid_key)))
    for patient_id, uids in by_patient.items():
        audit.record(
            uow,
            actor,
            SEARCH_ACTION,
            "patient" if patient_id else "image",
            patient_id,
            patient_id=patient_id,
            details={"level": level, "filters": query.filters, "returned": uids[:200]},
        )
    uow.commit()


# --- WADO-RS ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """A current image addressed by a retrieval, with the UIDs of its study and series."""

    image: Image
    study_uid: str
    series_uid: str


def locate(
    uow: UnitOfWork, study_uid: str, series_uid: str | None = None, sop_instance_uid: str | None = None
) -> list[Located]:
    """The tenant's current images of a study, series or instance, in series then arrival order.

    :raises NotFound: when there is none (another tenant's UIDs are not found either).
    """
    statement = (
        select(Image, Study.study_instance_uid, Series.series_instance_uid)
        .join(Series, Series.id == Image.series_id)
        .join(Study, Study.id == Image.study_id)
        .where(Image.superseded.is_(False), Study.study_instance_uid == study_uid)
        .order_by(Series.created_at, Series.id, Image.created_at, Image.id)
    )
    if series_uid:
        statement = statement.where(Series.series_instance_uid == series_uid)
    if sop_instance_uid:
        statement = statement.where(Image.sop_instance_uid == sop_instance_uid)
    found = [Located(image, study, series) for image, study, series in uow.session.execute(statement)]
    if not found:
        what = "instance" if sop_instance_uid else "series" if series_uid else "study"
        raise NotFound(f"no such {what}")
    return found


def audit_retrieval(
    uow: UnitOfWork, actor: Actor, located: Sequence[Located], resource: str, **details: Any
) -> None:
    """Record the retrieval of each image (one event per image) and commit."""
    for item in located:
        audit.record(
            uow,
            actor,
            RETRIEVE_ACTION,
            "image",
            item.image.id,
            patient_id=item.image.patient_id,
            details={"resource": resource, "sop_instance_uid": item.image.sop_instance_uid, **details},
        )
    uow.commit()


def for_retrieval(
    uow: UnitOfWork,
    actor: Actor,
    study_uid: str,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> list[Located]:
    """The images whose DICOM files a retrieval sends (clinical roles, like downloading an original)."""
    actor.require(DOWNLOAD_ROLES)
    return locate(uow, study_uid, series_uid, sop_instance_uid)


def for_frames(
    uow: UnitOfWork,
    actor: Actor,
    study_uid: str,
    series_uid: str,
    sop_instance_uid: str,
    frame_numbers: Sequence[int],
) -> Located:
    """The image whose frames (1-based `frame_numbers`) a frame retrieval sends (roles of `for_retrieval`).

    :raises NotFound: when the instance is not held, or a frame number is beyond its frames.
    """
    located = for_retrieval(uow, actor, study_uid, series_uid, sop_instance_uid)[0]
    _check_frames(located, frame_numbers)
    return located


def _check_frames(located: Located, frame_numbers: Sequence[int]) -> None:
    count = located.image.frames
    beyond = sorted({n for n in frame_numbers if n > count})
    if beyond:
        listed = ", ".join(str(n) for n in beyond[:10])
        raise NotFound(f"no frame {listed}: the instance has {count} frame{'s' if count != 1 else ''}")


def retrieve_metadata(
    uow: UnitOfWork,
    actor: Actor,
    store: ObjectStore,
    study_uid: str,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> list[JsonDataset]:
    """The DICOM JSON of each image's archived file, without bulk data (only the headers are read)."""
    actor.require(STAFF_ROLES)
    located = locate(uow, study_uid, series_uid, sop_instance_uid)
    audit_retrieval(uow, actor, located, "metadata")
    out = []
    for item in located:
        with store.open_random(item.image.archive_key) as stream:
            out.append(metadata(read_dataset(stream, header_only=True)))
    return out


def for_rendering(
    uow: UnitOfWork, actor: Actor, study_uid: str, series_uid: str, sop_instance_uid: str
) -> Located:
    """The image whose stored renditions ``rendered`` / ``thumbnail`` serve (every staff role)."""
    actor.require(STAFF_ROLES)
    return locate(uow, study_uid, series_uid, sop_instance_uid)[0]


def for_rendered_frame(
    uow: UnitOfWork, actor: Actor, study_uid: str, series_uid: str, sop_instance_uid: str, frame_number: int
) -> Located:
    """The image whose frame `frame_number` (1-based) is rendered as a picture (every staff role, like the
    stored renditions: a rendered frame is a view, not a download).

    :raises NotFound: when the instance is not held, or it has fewer frames.
    """
    located = for_rendering(uow, actor, study_uid, series_uid, sop_instance_uid)
    _check_frames(located, [frame_number])
    return located
