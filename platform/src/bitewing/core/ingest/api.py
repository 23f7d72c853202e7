"""HTTP endpoints of ingest: uploads (the console's drag and drop), the ingest list / errors, one record."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from bitewing.core.api.auth import TenantView, runtime
from bitewing.core.auth.actor import STAFF_ROLES
from bitewing.core.errors import Invalid
from bitewing.core.ingest import services
from bitewing.core.ingest.models import IngestSource, IngestStatus
from bitewing.core.ingest.schemas import (
    IngestQuerySchema,
    IngestRecordSchema,
    ReceiptSchema,
    UploadFormSchema,
    UploadSchema,
)
from bitewing.core.patients.services import require_patient
from bitewing.core.tenancy.services import get_location

blp = Blueprint("ingest", __name__, url_prefix="/ingest", description="Received instances and ingest errors")


@blp.route("")
class IngestRecords(TenantView):
    @blp.arguments(IngestQuerySchema, location="query")
    @blp.response(200, IngestRecordSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """List received instances, newest first; `status=rejected` is the ingest-errors list"""
        self.actor.require(STAFF_ROLES)
        page = services.list_records(
            self.uow, page=pagination_parameters.page, per_page=pagination_parameters.page_size, **query
        )
        pagination_parameters.item_count = page.total
        return page.items


@blp.route("/<uuid:ingest_id>")
class IngestRecordItem(TenantView):
    @blp.response(200, IngestRecordSchema)
    def get(self, ingest_id: uuid.UUID) -> Any:
        """One received instance and what became of it (follow an upload receipt's `ingest_id`)"""
        self.actor.require(STAFF_ROLES)
        return services.get_record(self.uow, ingest_id)


@blp.route("/uploads")
class Uploads(TenantView):
    @blp.arguments(UploadFormSchema, location="form")
    @blp.arguments(UploadSchema, location="files")
    @blp.response(200, ReceiptSchema(many=True))
    def post(self, form: dict[str, Any], files: dict[str, Any]) -> list[dict[str, Any]]:
        """Upload one or more DICOM files; each is answered accepted, duplicate or rejected with a reason"""
        self.actor.require(STAFF_ROLES)
        location_id = get_location(self.uow, form["location_id"]).id if form.get("location_id") else None
        patient_id = require_patient(self.uow, form["patient_id"]) if form.get("patient_id") else None
        receipts = []
        for upload in files["files"]:
            origin = services.Origin(
                source=IngestSource.UPLOAD,
                location_id=location_id,
                patient_id=patient_id,
                remote_addr=self.actor.ip,
                filename=upload.filename,
            )
            receipt = services.receive_instance(runtime(), self.actor.tenant_id, upload.read(), origin)
            receipts.append({"filename": upload.filename, **receipt.__dict__})
        if all(r["status"] == IngestStatus.REJECTED for r in receipts):
            errors = {r["filename"] or f"file {n}": [r["message"]] for n, r in enumerate(receipts, 1)}
            raise Invalid("no file was accepted: see errors", errors=errors)
        return receipts
