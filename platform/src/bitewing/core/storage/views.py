"""Serving local-folder objects through signed, expiring URLs (``/files/<token>``)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, send_file

from bitewing.core.plugins import ObjectNotFound
from bitewing.core.plugins.storage import attachment_disposition
from bitewing.core.storage.local import LocalFolderStore

blp = Blueprint("files", __name__, url_prefix="/files")


@blp.get("/<token>")
def serve(token: str) -> Response:
    """Stream the object a valid signed token grants; 404 for forged or expired tokens.

    A token signed with a download name answers ``Content-Disposition: attachment; filename="..."``.
    """
    store = current_app.extensions["bitewing"].object_store
    if not isinstance(store, LocalFolderStore):
        abort(404)
    try:
        grant = store.resolve_grant(token)
        meta = store.head(grant.key)
        stream = store.open(grant.key)
    except ObjectNotFound:
        abort(404, "this link is invalid or has expired")
    response = send_file(stream, mimetype=meta.content_type, max_age=300, conditional=False)
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Referrer-Policy"] = "no-referrer"
    if grant.filename is not None:
        response.headers["Content-Disposition"] = attachment_disposition(grant.filename)
    return response
