"""HTTP layer of ``/dicomweb``: authenticate, negotiate, call one service, shape the response.

Errors are problem details like the rest of the app (401 without a valid token, 404 for UIDs the tenant does
not hold, 406 / 415 for media types this server does not produce or read).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest, NotAcceptable, RequestEntityTooLarge, UnsupportedMediaType

from bitewing.core.api.auth import authenticate, runtime
from bitewing.core.dicomweb import frames, rendered_frames, retrieve, services
from bitewing.core.dicomweb import query as qido
from bitewing.core.dicomweb.multipart import (
    MultipartError,
    PartTooLarge,
    iter_parts,
    new_boundary,
    parse_accept,
    parse_media_type,
    write_parts,
)
from bitewing.core.plugins import ObjectStore

blp = Blueprint("dicomweb", __name__, url_prefix="/dicomweb")

DICOM_JSON = "application/dicom+json"
JSON_TYPES = (DICOM_JSON, "application/json")
DICOM = "application/dicom"


def _base() -> str:
    return request.url_root.rstrip("/") + blp.url_prefix


def _require_json_accept() -> None:
    if not any(media.matches(t) for media in parse_accept(request.headers.get("Accept")) for t in JSON_TYPES):
        raise NotAcceptable("this resource is available as application/dicom+json only")


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=DICOM_JSON)


# --- STOW-RS ----------------------------------------------------------------------------------------------


@blp.post("/studies")
@blp.post("/studies/<study>")
def store(study: str | None = None) -> Response:
    """Store instances sent as ``multipart/related; type="application/dicom"``."""
    uow, actor = authenticate()
    media = parse_media_type(request.headers.get("Content-Type"))
    if media.type != "multipart/related" or media.params.get("type", DICOM).lower() != DICOM:
        raise UnsupportedMediaType('send multipart/related; type="application/dicom"')
    if not media.params.get("boundary"):
        raise BadRequest("the multipart/related Content-Type has no boundary")
    _require_json_accept()
    limit = runtime().settings.max_upload_mb * 1024 * 1024
    parts = iter_parts(request.stream.read, media.params["boundary"], max_part_bytes=limit)
    try:
        outcome = services.store_instances(runtime(), uow, actor, parts, base=_base(), study_uid=study)
    except PartTooLarge as exc:
        raise RequestEntityTooLarge(f"instances are limited to {limit // (1024 * 1024)} MiB") from exc
    except MultipartError as exc:
        raise BadRequest(f"the body is not a valid multipart/related body: {exc}") from exc
    return _json(outcome.body, outcome.status)


# --- QIDO-RS ----------------------------------------------------------------------------------------------


def _search(level: str, study: str | None = None, series: str | None = None) -> Response:
    uow, actor = authenticate()
    _require_json_accept()
    try:
        outcome = services.search(
            uow,
            actor,
            level,
            request.args.items(multi=True),
            base=_base(),
            study_uid=study,
            series_uid=series,
        )
    except qido.InvalidQuery as exc:
        raise BadRequest(str(exc)) from exc
    response = _json(outcome.results) if outcome.results else Response(status=204)
    for note in outcome.warnings:
        response.headers.add("Warning", f'299 {request.host} "{note}"')
    return response


@blp.get("/studies")
def search_studies() -> Response:
    return _search(qido.STUDY)


@blp.get("/series")
def search_series() -> Response:
    return _search(qido.SERIES)


@blp.get("/studies/<study>/series")
def search_study_series(study: str) -> Response:
    return _search(qido.SERIES, study)


@blp.get("/instances")
def search_instances() -> Response:
    return _search(qido.INSTANCE)


@blp.get("/studies/<study>/instances")
def search_study_instances(study: str) -> Response:
    return _search(qido.INSTANCE, study)


@blp.get("/studies/<study>/series/<series>/instances")
def search_series_instances(study: str, series: str) -> Response:
    return _search(qido.INSTANCE, study, series)


# --- WADO-RS ----------------------------------------------------------------------------------------------


def _parts(
    store: ObjectStore, located: list[services.Located], syntax: str
) -> Iterator[tuple[str, Iterable[bytes]]]:
    for item in located:
        image = item.image
        sent = image.archive_transfer_syntax if syntax == retrieve.AS_STORED else syntax
        chunks = retrieve.part10_chunks(
            lambda key=image.archive_key: store.open(key), image.archive_transfer_syntax, syntax
        )
        yield retrieve.part_content_type(sent), chunks


@blp.get("/studies/<study>")
@blp.get("/studies/<study>/series/<series>")
@blp.get("/studies/<study>/series/<series>/instances/<instance>")
def retrieve_instances(study: str, series: str | None = None, instance: str | None = None) -> Response:
    """The instances as ``multipart/related; type="application/dicom"``, streamed from the object store."""
    uow, actor = authenticate()
    located = services.for_retrieval(uow, actor, study, series, instance)
    stored = {item.image.archive_transfer_syntax for item in located}
    try:
        syntax = retrieve.negotiate_dicom(request.headers.get("Accept"), stored)
    except retrieve.NotAcceptable as exc:
        raise NotAcceptable(str(exc)) from exc
    services.audit_retrieval(uow, actor, located, "instances", transfer_syntax=syntax)
    boundary = new_boundary()
    content_type = f'multipart/related; type="application/dicom"; boundary="{boundary}"'
    uniform = stored.pop() if syntax == retrieve.AS_STORED and len(stored) == 1 else syntax
    if uniform != retrieve.AS_STORED:
        content_type += f"; transfer-syntax={uniform}"
    body = write_parts(_parts(runtime().object_store, located, syntax), boundary)
    return Response(body, content_type=content_type)


@blp.get("/studies/<study>/series/<series>/instances/<instance>/frames/", defaults={"frame_list": ""})
@blp.get("/studies/<study>/series/<series>/instances/<instance>/frames/<frame_list>")
def retrieve_frames(study: str, series: str, instance: str, frame_list: str) -> Response:
    """Frames of an instance as ``multipart/related``: uncompressed ``application/octet-stream`` by default,
    or the stored codestreams as they are (``transfer-syntax=*``, the stored syntax, or its image type)."""
    uow, actor = authenticate()
    try:
        numbers = frames.parse_frame_list(frame_list)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    located = services.for_frames(uow, actor, study, series, instance, numbers)
    key, stored = located.image.archive_key, located.image.archive_transfer_syntax
    try:
        chosen = frames.negotiate_frames(request.headers.get("Accept"), stored)
    except retrieve.NotAcceptable as exc:
        raise NotAcceptable(str(exc)) from exc
    services.audit_retrieval(
        uow, actor, [located], "frames", frames=numbers[:200], transfer_syntax=chosen.syntax
    )
    store = runtime().object_store
    boundary = new_boundary()
    parts = frames.frame_parts(lambda: store.open_random(key), [n - 1 for n in numbers], chosen)
    content_type = f'multipart/related; type="{chosen.media_type}"; boundary="{boundary}"; transfer-syntax={chosen.syntax}'
    return Response(write_parts(parts, boundary), content_type=content_type)


@blp.get("/studies/<study>/series/<series>/instances/<instance>/frames/<frame>/rendered")
def rendered_frame(study: str, series: str, instance: str, frame: str) -> Response:
    """One frame as a picture (``image/jpeg`` by default, or ``image/png``), windowed like the renditions
    with one window for every frame of the instance; ``viewport=w,h`` fits it into that box."""
    uow, actor = authenticate()
    try:
        number = rendered_frames.parse_frame_number(frame)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    located = services.for_rendered_frame(uow, actor, study, series, instance, number)
    try:
        viewport = retrieve.parse_viewport(request.args.get("viewport"))
    except ValueError as exc:
        raise BadRequest("viewport must be two whole numbers: width,height") from exc
    try:
        content_type = retrieve.negotiate_image(request.headers.get("Accept"), rendered_frames.MEDIA_TYPES)
    except retrieve.NotAcceptable as exc:
        raise NotAcceptable(
            f"rendered frames are available as {', '.join(rendered_frames.MEDIA_TYPES)}"
        ) from exc
    services.audit_retrieval(uow, actor, [located], "rendered_frame", frame=number)
    store, key = runtime().object_store, located.image.archive_key
    body = rendered_frames.render_frame(lambda: store.open_random(key), number - 1, content_type, viewport)
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.get("/studies/<study>/metadata")
@blp.get("/studies/<study>/series/<series>/metadata")
@blp.get("/studies/<study>/series/<series>/instances/<instance>/metadata")
def retrieve_metadata(study: str, series: str | None = None, instance: str | None = None) -> Response:
    """The DICOM JSON of the instances, without bulk data."""
    uow, actor = authenticate()
    _require_json_accept()
    return _json(services.retrieve_metadata(uow, actor, runtime().object_store, study, series, instance))


def _rendition_body(key: str, stored_type: str, content_type: str) -> bytes | Iterator[bytes]:
    """The stored rendition at `key`: streamed as stored, or converted when `content_type` differs."""
    store = runtime().object_store
    if content_type != stored_type:
        with store.open(key) as stream:
            return rendered_frames.convert_rendition(stream.read(), content_type)

    def chunks() -> Iterator[bytes]:
        with store.open(key) as stream:
            while chunk := stream.read(retrieve.CHUNK):
                yield chunk

    return chunks()


def _rendition(study: str, series: str, instance: str, *, thumbnail: bool) -> Response:
    uow, actor = authenticate()
    located = services.for_rendering(uow, actor, study, series, instance)
    renditions = located.image.renditions
    try:
        viewport = retrieve.parse_viewport(request.args.get("viewport"))
    except ValueError as exc:
        raise BadRequest("viewport must be two whole numbers: width,height") from exc
    chosen = retrieve.choose_rendition(renditions, viewport, smallest=thumbnail)
    if chosen is None:
        raise NotAcceptable("the image has no rendition")
    stored_type = parse_media_type(chosen.content_type).type
    offered = list(dict.fromkeys((stored_type, *rendered_frames.MEDIA_TYPES)))
    try:
        content_type = retrieve.negotiate_image(request.headers.get("Accept"), offered)
    except retrieve.NotAcceptable as exc:
        raise NotAcceptable(str(exc)) from exc
    resource = "thumbnail" if thumbnail else "rendered"
    services.audit_retrieval(uow, actor, [located], resource, rendition=chosen.name)
    body = _rendition_body(chosen.key, stored_type, content_type)
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.get("/studies/<study>/series/<series>/instances/<instance>/rendered")
def rendered(study: str, series: str, instance: str) -> Response:
    """The instance as a picture: the stored rendition that best fits ``viewport`` (else the largest), in
    its stored format or converted to JPEG or PNG when ``Accept`` asks for those."""
    return _rendition(study, series, instance, thumbnail=False)


@blp.get("/studies/<study>/series/<series>/instances/<instance>/thumbnail")
def thumbnail(study: str, series: str, instance: str) -> Response:
    """The instance's thumbnail (or, with ``viewport``, the stored rendition that best fits it), in its
    stored format or converted to JPEG or PNG when ``Accept`` asks for those."""
    return _rendition(study, series, instance, thumbnail=True)
