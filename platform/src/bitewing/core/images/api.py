"""HTTP endpoints of images: a patient's images, one image, the unmatched inbox."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from flask import Response, jsonify, redirect, url_for
from flask_smorest import Blueprint

from bitewing.core.api.auth import TenantView, runtime
from bitewing.core.api.fast_dump import compile_dump
from bitewing.core.images import services
from bitewing.core.images.schemas import AssignSchema, ImageQuerySchema, ImageSchema, ImageSummarySchema

blp = Blueprint("images", __name__, url_prefix="/images", description="X-rays and photos")
patient_images_blp = Blueprint(
    "patient_images", __name__, url_prefix="/patients", description="A patient's X-rays and photos"
)


def _expiry() -> int:
    return runtime().settings.url_expiry_seconds


_dump_summary = compile_dump(ImageSummarySchema())


def _summaries(items: list[Any]) -> Any:
    """The items as `ImageSummarySchema` dumps them, dumped here by `fast_dump` (marshmallow's dump of a
    page of 100 was a fifth of the list request); flask-smorest passes the response through with its
    pagination header."""
    if _dump_summary is None:
        return items
    return jsonify([_dump_summary(item) for item in items])


@patient_images_blp.route("/<uuid:patient_id>/images")
class PatientImages(TenantView):
    @patient_images_blp.arguments(ImageQuerySchema, location="query")
    @patient_images_blp.response(200, ImageSummarySchema(many=True))
    @patient_images_blp.paginate()
    def get(self, query: dict[str, Any], patient_id: uuid.UUID, pagination_parameters: Any) -> list[Any]:
        """A patient's images, newest first, each with a thumbnail URL"""
        page = services.list_patient_images(
            self.uow,
            self.actor,
            runtime().object_store,
            patient_id,
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            expires_in=_expiry(),
            **query,
        )
        pagination_parameters.item_count = page.total
        return _summaries(page.items)


@blp.route("/unmatched")
class UnmatchedImages(TenantView):
    @blp.response(200, ImageSummarySchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Any]:
        """Images waiting for staff to choose their patient"""
        page = services.list_unmatched(
            self.uow,
            self.actor,
            runtime().object_store,
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            expires_in=_expiry(),
        )
        pagination_parameters.item_count = page.total
        return _summaries(page.items)


def _image(view: TenantView, image_id: uuid.UUID) -> services.ImageView:
    """The image view with `download_url` (this API's download endpoint) for those who may download."""
    image = services.get_image(view.uow, view.actor, runtime().object_store, image_id, expires_in=_expiry())
    if not image.may_download:
        return image
    return dataclasses.replace(image, download_url=url_for("images.ImageDownload", image_id=image_id))


@blp.route("/<uuid:image_id>")
class ImageItem(TenantView):
    @blp.response(200, ImageSchema)
    def get(self, image_id: uuid.UUID) -> Any:
        """One image with thumbnail, preview and full URLs (and the DICOM download for clinical roles)"""
        return _image(self, image_id)


@blp.route("/<uuid:image_id>/download")
class ImageDownload(TenantView):
    @blp.response(302, description="Redirect to a short-lived URL of the DICOM, saved as image-<id>.dcm")
    def get(self, image_id: uuid.UUID) -> Response:
        """Download the stored DICOM (clinical roles; audited): a redirect to a short-lived URL"""
        url = services.download_original(
            self.uow, self.actor, runtime().object_store, image_id, expires_in=_expiry()
        )
        response = redirect(url, code=302)
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/<uuid:image_id>/patient", methods=["PUT"])
class ImagePatient(TenantView):
    @blp.arguments(AssignSchema)
    @blp.response(200, ImageSchema)
    def put(self, data: dict[str, Any], image_id: uuid.UUID) -> Any:
        """Assign the image to a patient (resolves the unmatched inbox)"""
        services.assign_patient(self.uow, self.actor, image_id, data["patient_id"])
        return _image(self, image_id)
