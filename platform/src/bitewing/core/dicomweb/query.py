"""QIDO-RS: parse a search (PS3.18 §8.3.4), turn it into SQL on the study / series / image tables, and
return each match as plain attribute values (keyword → Python value) for `dicomjson.to_json`.

Only current (non-superseded) images count; the unit of work scopes every statement to its tenant.

Matching supported: UID lists (``,`` or ``\\`` separated), single values with ``*`` / ``?`` wildcards
(person names case-insensitively; with ``fuzzymatching=true`` a name matches at the start of any of its
components), and date ranges (``YYYYMMDD``, ``A-B``, ``A-``, ``-B``). Other DICOM attributes are ignored and
reported back (`Query.ignored`, sent as a ``Warning`` header); a parameter that is neither a DICOM attribute
nor a QIDO-RS parameter is an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, distinct, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, lazyload

from bitewing.core.db.session import UnitOfWork
from bitewing.core.dicomweb.dicomjson import keyword_of
from bitewing.core.images.models import Image, Series, Study

STUDY, SERIES, INSTANCE = "study", "series", "instance"
LEVELS = (STUDY, SERIES, INSTANCE)
MAX_LIMIT = 1000
"""Most results one search returns; a larger match is truncated with a warning (PS3.18 §8.3.4.4)."""

CONTROL_PARAMETERS = frozenset({"limit", "offset", "fuzzymatching", "includefield", "charset", "accept"})


class InvalidQuery(ValueError):
    """The search cannot be run as given (answered 400)."""


@dataclass(frozen=True)
class _Key:
    kind: str  # uid, text, itext, pn, date
    column: InstrumentedAttribute[Any]
    level: str


MATCHING_KEYS: dict[str, _Key] = {
    "StudyInstanceUID": _Key("uid", Study.study_instance_uid, STUDY),
    "StudyDate": _Key("date", Study.study_date, STUDY),
    "AccessionNumber": _Key("text", Study.accession_number, STUDY),
    "StudyDescription": _Key("itext", Study.description, STUDY),
    "PatientID": _Key("text", Image.dicom_patient_id, STUDY),
    "PatientName": _Key("pn", Image.dicom_patient_name, STUDY),
    "PatientBirthDate": _Key("date", Image.dicom_birth_date, STUDY),
    "ModalitiesInStudy": _Key("text", Series.modality, STUDY),
    "SeriesInstanceUID": _Key("uid", Series.series_instance_uid, SERIES),
    "Modality": _Key("text", Series.modality, SERIES),
    "SeriesDescription": _Key("itext", Series.description, SERIES),
    "SOPInstanceUID": _Key("uid", Image.sop_instance_uid, INSTANCE),
    "SOPClassUID": _Key("uid", Image.sop_class_uid, INSTANCE),
}
"""The attributes a search can match on, with the level each belongs to."""

STUDY_FIELDS = (
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "InstanceAvailability",
    "ModalitiesInStudy",
    "ReferringPhysicianName",
    "RetrieveURL",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyID",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
SERIES_FIELDS = (
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
    "SeriesInstanceUID",
    "NumberOfSeriesRelatedInstances",
    "RetrieveURL",
    "StudyInstanceUID",
    "InstanceAvailability",
)
INSTANCE_FIELDS = (
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceAvailability",
    "RetrieveURL",
    "InstanceNumber",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
)
"""Attributes returned by default at each level (PS3.18 Tables 10.6.3-3 to -5)."""


@dataclass(frozen=True)
class Query:
    """A parsed QIDO-RS search."""

    level: str
    filters: dict[str, str] = field(default_factory=dict)
    include: frozenset[str] = frozenset()
    include_all: bool = False
    fuzzy: bool = False
    limit: int | None = None
    offset: int = 0
    ignored: tuple[str, ...] = ()

    def fields(self, defaults: Sequence[str]) -> set[str] | None:
        """The keywords to return: the level's defaults, the matching keys and the included fields (None:
        everything known)."""
        if self.include_all:
            return None
        return {*defaults, *self.filters, *self.include}


def _int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise InvalidQuery(f"{name} must not be negative")
    return value


def _levels_up_to(level: str) -> set[str]:
    return set(LEVELS[: LEVELS.index(level) + 1])


def parse_query(params: Iterable[tuple[str, str]], level: str) -> Query:
    """Parse the query parameters (name, value pairs, repeated names allowed) of a search at `level`.

    :raises InvalidQuery: for a malformed control parameter, date or unknown attribute.
    """
    filters: dict[str, str] = {}
    include: set[str] = set()
    ignored: list[str] = []
    include_all = fuzzy = False
    limit: int | None = None
    offset = 0
    allowed = _levels_up_to(level)
    for name, raw in params:
        value = raw.strip()
        if name == "limit":
            limit = _int(name, value)
        elif name == "offset":
            offset = _int(name, value)
        elif name == "fuzzymatching":
            if value.lower() not in ("true", "false"):
                raise InvalidQuery("fuzzymatching must be true or false")
            fuzzy = value.lower() == "true"
        elif name == "includefield":
            for item in filter(None, (v.strip() for v in value.split(","))):
                if item.lower() == "all":
                    include_all = True
                    continue
                keyword = keyword_of(item)
                if keyword is None:
                    raise InvalidQuery(f"includefield {item!r} is not a DICOM attribute")
                include.add(keyword)
        elif name in CONTROL_PARAMETERS:
            continue
        else:
            keyword = keyword_of(name)
            if keyword is None:
                if "." in name or name[:4].isdigit():
                    ignored.append(name)  # sequence paths and private tags: not supported
                    continue
                raise InvalidQuery(f"{name!r} is neither a DICOM attribute nor a QIDO-RS parameter")
            if not value:
                include.add(keyword)  # universal matching: just return the attribute
            elif keyword in MATCHING_KEYS and MATCHING_KEYS[keyword].level in allowed:
                _check_value(keyword, value)
                filters[keyword] = value
            else:
                ignored.append(keyword)
    return Query(level, filters, frozenset(include), include_all, fuzzy, limit, offset, tuple(ignored))


def _date(text: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else _bad_date(text)
    except ValueError:
        return _bad_date(text)


def _bad_date(text: str) -> date:
    raise InvalidQuery(f"{text!r} is not a date (YYYYMMDD)")


def date_range(value: str) -> tuple[date | None, date | None]:
    """``YYYYMMDD`` → (d, d); ``A-B``, ``A-``, ``-B`` → the inclusive bounds (None when open)."""
    if "-" not in value:
        day = _date(value)
        return day, day
    low, _, high = value.partition("-")
    if not low and not high:
        raise InvalidQuery("a date range needs at least one bound")
    return (_date(low) if low else None), (_date(high) if high else None)


def _check_value(keyword: str, value: str) -> None:
    if MATCHING_KEYS[keyword].kind == "date":
        date_range(value)


def _like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def _condition(keyword: str, value: str, fuzzy: bool) -> ColumnElement[bool]:
    key = MATCHING_KEYS[keyword]
    column = key.column
    if key.kind == "uid":
        uids = [u.strip() for u in value.replace("\\", ",").split(",") if u.strip()]
        return column.in_(uids)
    if key.kind == "date":
        low, high = date_range(value)
        conditions = [column >= low] if low else []
        conditions += [column <= high] if high else []
        return conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]
    if key.kind == "pn":
        value = value.split("=")[0]  # alphabetic group only
        if fuzzy:
            pattern = _like_pattern(value.rstrip("*")) + "%"
            return or_(
                column.ilike(pattern, escape="\\"),
                column.ilike("%^" + pattern, escape="\\"),
                column.ilike("% " + pattern, escape="\\"),
            )
        if _has_wildcard(value):
            return column.ilike(_like_pattern(value), escape="\\")
        return func.lower(column) == value.lower()
    if _has_wildcard(value):
        if key.kind == "itext":
            return column.ilike(_like_pattern(value), escape="\\")
        return column.like(_like_pattern(value), escape="\\")
    return func.lower(column) == value.lower() if key.kind == "itext" else column == value


def _matching(query: Query, column: InstrumentedAttribute[Any], scope: dict[str, str]) -> Select[Any]:
    """The ids in `column` of current images matching the query's filters and the path's UIDs."""
    statement = (
        select(column)
        .select_from(Image)
        .join(Series, Series.id == Image.series_id)
        .join(Study, Study.id == Image.study_id)
        .where(Image.superseded.is_(False))
    )
    for keyword, value in {**query.filters, **scope}.items():
        statement = statement.where(_condition(keyword, value, query.fuzzy))
    return statement


@dataclass(frozen=True)
class Match:
    """One search result: its attribute values and the patient it belongs to (for the audit log)."""

    values: dict[str, Any]
    patient_id: uuid.UUID | None


@dataclass(frozen=True)
class Result:
    """The matches of a search and whether they were cut at `MAX_LIMIT`."""

    matches: list[Match]
    truncated: bool


def _page(statement: Select[Any], query: Query) -> tuple[Select[Any], int]:
    limit = min(query.limit, MAX_LIMIT) if query.limit else MAX_LIMIT
    return statement.offset(query.offset).limit(limit + 1), limit


@dataclass(frozen=True)
class _PatientFacts:
    patient_id: uuid.UUID | None
    dicom_id: str | None
    name: str | None
    birth_date: date | None
    sex: str | None


def _patients(uow: UnitOfWork, study_ids: list[uuid.UUID]) -> dict[uuid.UUID, _PatientFacts]:
    """The patient attributes of each study, from its most recently received current image."""
    rows = uow.session.execute(
        select(
            Image.study_id,
            Image.patient_id,
            Image.dicom_patient_id,
            Image.dicom_patient_name,
            Image.dicom_birth_date,
            Image.dicom_patient_sex,
        )
        .where(Image.study_id.in_(study_ids), Image.superseded.is_(False))
        .order_by(Image.created_at, Image.id)
    ).all()
    return {row[0]: _PatientFacts(*row[1:]) for row in rows}


def _patient_values(facts: _PatientFacts | None) -> dict[str, Any]:
    return {
        "PatientName": facts.name if facts else None,
        "PatientID": facts.dicom_id if facts else None,
        "PatientBirthDate": facts.birth_date if facts else None,
        "PatientSex": facts.sex if facts else None,
    }


def study_values(
    study: Study, series: int, instances: int, modalities: list[str], patient: _PatientFacts | None, base: str
) -> dict[str, Any]:
    """The study-level attributes Bitewing holds for `study`."""
    return {
        "StudyDate": study.study_date,
        "StudyTime": study.study_time,
        "AccessionNumber": study.accession_number,
        "InstanceAvailability": "ONLINE",
        "ModalitiesInStudy": sorted(modalities),
        "ReferringPhysicianName": study.referring_physician,
        "RetrieveURL": f"{base}/studies/{study.study_instance_uid}",
        **_patient_values(patient),
        "StudyInstanceUID": study.study_instance_uid,
        "StudyID": study.dicom_study_id,
        "StudyDescription": study.description,
        "NumberOfStudyRelatedSeries": series,
        "NumberOfStudyRelatedInstances": instances,
    }


def _study_values_for(
    uow: UnitOfWork, studies: list[Study], base: str
) -> dict[uuid.UUID, tuple[dict[str, Any], uuid.UUID | None]]:
    ids = [s.id for s in studies]
    if not ids:
        return {}
    live = (Image.study_id.in_(ids), Image.superseded.is_(False))
    counts = {
        row[0]: (row[1], row[2])
        for row in uow.session.execute(
            select(Image.study_id, func.count(distinct(Image.series_id)), func.count(Image.id))
            .where(*live)
            .group_by(Image.study_id)
        )
    }
    modalities: dict[uuid.UUID, list[str]] = {}
    for study_id, modality in uow.session.execute(
        select(Image.study_id, Series.modality)
        .join(Series, Series.id == Image.series_id)
        .where(*live)
        .distinct()
    ):
        modalities.setdefault(study_id, []).append(modality)
    patients = _patients(uow, ids)
    out = {}
    for study in studies:
        n_series, n_instances = counts.get(study.id, (0, 0))
        patient = patients.get(study.id)
        values = study_values(study, n_series, n_instances, modalities.get(study.id, []), patient, base)
        out[study.id] = (values, patient.patient_id if patient else None)
    return out


def search_studies(uow: UnitOfWork, query: Query, base: str) -> Result:
    """Studies with at least one current image matching `query`, newest study date first."""
    statement = (
        select(Study)
        .where(Study.id.in_(_matching(query, Image.study_id, {})))
        .order_by(Study.study_date.desc().nulls_last(), Study.created_at.desc(), Study.id)
    )
    statement, limit = _page(statement, query)
    studies = list(uow.session.scalars(statement))
    truncated = len(studies) > limit
    studies = studies[:limit]
    values = _study_values_for(uow, studies, base)
    return Result([Match(*values[s.id]) for s in studies], truncated)


def series_values(series: Series, study_uid: str, instances: int, base: str) -> dict[str, Any]:
    """The series-level attributes Bitewing holds for `series`."""
    return {
        "Modality": series.modality,
        "SeriesDescription": series.description,
        "SeriesNumber": series.series_number,
        "SeriesInstanceUID": series.series_instance_uid,
        "NumberOfSeriesRelatedInstances": instances,
        "RetrieveURL": f"{base}/studies/{study_uid}/series/{series.series_instance_uid}",
        "StudyInstanceUID": study_uid,
        "InstanceAvailability": "ONLINE",
    }


def search_series(uow: UnitOfWork, query: Query, base: str, study_uid: str | None = None) -> Result:
    """Series with at least one current image matching `query` (within `study_uid` when given)."""
    scope = {"StudyInstanceUID": study_uid} if study_uid else {}
    statement = (
        select(Series, Study)
        .join(Study, Study.id == Series.study_id)
        .where(Series.id.in_(_matching(query, Image.series_id, scope)))
        .order_by(Study.study_date.desc().nulls_last(), Study.created_at.desc(), Series.created_at, Series.id)
    )
    statement, limit = _page(statement, query)
    rows = uow.session.execute(statement).all()
    truncated = len(rows) > limit
    rows = rows[:limit]
    counts = dict(
        uow.session.execute(
            select(Image.series_id, func.count(Image.id))
            .where(Image.series_id.in_([s.id for s, _ in rows]), Image.superseded.is_(False))
            .group_by(Image.series_id)
        ).all()
    )
    studies = _study_values_for(uow, list({study.id: study for _, study in rows}.values()), base)
    matches = []
    for series, study in rows:
        study_vals, patient_id = studies[study.id]
        own = series_values(series, study.study_instance_uid, counts.get(series.id, 0), base)
        matches.append(Match({**study_vals, **own}, patient_id))
    return Result(matches, truncated)


def instance_values(image: Image, series: Series, study: Study, base: str) -> dict[str, Any]:
    """The instance-level attributes Bitewing holds for `image`."""
    url = f"{base}/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
    return {
        "SOPClassUID": image.sop_class_uid,
        "SOPInstanceUID": image.sop_instance_uid,
        "InstanceAvailability": "ONLINE",
        "RetrieveURL": f"{url}/instances/{image.sop_instance_uid}",
        "InstanceNumber": image.instance_number,
        "Rows": image.rows,
        "Columns": image.columns,
        "NumberOfFrames": image.frames,
        "BitsStored": image.bits_stored,
        "PhotometricInterpretation": image.photometric,
        "ImageLaterality": image.laterality,
        "AcquisitionDateTime": image.acquired_at,
        "AvailableTransferSyntaxUID": image.archive_transfer_syntax,
        "StudyInstanceUID": study.study_instance_uid,
        "SeriesInstanceUID": series.series_instance_uid,
        "Modality": series.modality,
    }


def search_instances(
    uow: UnitOfWork, query: Query, base: str, study_uid: str | None = None, series_uid: str | None = None
) -> Result:
    """Current images matching `query` (within the study / series of the path when given)."""
    scope = {"StudyInstanceUID": study_uid} if study_uid else {}
    if series_uid:
        scope["SeriesInstanceUID"] = series_uid
    statement = (
        select(Image, Series, Study)
        .join(Series, Series.id == Image.series_id)
        .join(Study, Study.id == Image.study_id)
        .where(Image.id.in_(_matching(query, Image.id, scope)))
        .options(lazyload(Image.renditions))
        .order_by(
            Study.study_date.desc().nulls_last(),
            Study.created_at.desc(),
            Series.created_at,
            Image.created_at,
            Image.id,
        )
    )
    statement, limit = _page(statement, query)
    rows = uow.session.execute(statement).all()
    truncated = len(rows) > limit
    rows = rows[:limit]
    studies = _study_values_for(uow, list({study.id: study for _, _, study in rows}.values()), base)
    matches = []
    for image, series, study in rows:
        study_vals, _ = studies[study.id]
        series_vals = series_values(series, study.study_instance_uid, 0, base)
        del series_vals["NumberOfSeriesRelatedInstances"]
        values = {
            **study_vals,
            **series_vals,
            **instance_values(image, series, study, base),
            "PatientName": image.dicom_patient_name,
            "PatientID": image.dicom_patient_id,
            "PatientBirthDate": image.dicom_birth_date,
        }
        matches.append(Match(values, image.patient_id))
    return Result(matches, truncated)


def study_exists(uow: UnitOfWork, study_uid: str, series_uid: str | None = None) -> bool:
    """Whether the tenant holds a current image of the study (and series)."""
    scope = {"StudyInstanceUID": study_uid}
    if series_uid:
        scope["SeriesInstanceUID"] = series_uid
    return uow.session.scalar(_matching(Query(STUDY), Image.id, scope).limit(1)) is not None


DEFAULT_FIELDS = {STUDY: STUDY_FIELDS, SERIES: SERIES_FIELDS, INSTANCE: INSTANCE_FIELDS}


def fields_for(query: Query, scoped_to_study: bool, scoped_to_series: bool) -> set[str] | None:
    """The keywords to return for `query`: the level's defaults, plus the study's (and series') defaults
    when the search is not within one study (series), plus matching keys and included fields."""
    defaults = list(DEFAULT_FIELDS[query.level])
    if query.level != STUDY and not scoped_to_study:
        defaults += STUDY_FIELDS
    if query.level == INSTANCE and not scoped_to_series:
        defaults += SERIES_FIELDS
    return query.fields(defaults)
