"""HTTP endpoints of the practice group's own settings (rendition formats and qualities)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from bitewing.core.api.auth import TenantView
from bitewing.core.tenancy import renditions
from bitewing.core.tenancy.services import get_tenant

blp = Blueprint("settings", __name__, url_prefix="/settings", description="Practice group settings")


class RenditionChoiceSchema(Schema):
    """Format and quality of one rendition."""

    max_side = fields.Integer(dump_only=True, allow_none=True)
    format = fields.String(required=True, validate=validate.OneOf(renditions.FORMATS))
    quality = fields.Integer(required=True, validate=validate.Range(min=30, max=100))


class RenditionSettingsSchema(Schema):
    """The three renditions every image gets."""

    thumbnail = fields.Nested(RenditionChoiceSchema, required=True)
    preview = fields.Nested(RenditionChoiceSchema, required=True)
    full = fields.Nested(
        RenditionChoiceSchema, required=True, metadata={"description": "quality is a floor, raised per image"}
    )


@blp.route("/renditions")
class RenditionSettings(TenantView):
    @blp.response(200, RenditionSettingsSchema)
    def get(self) -> dict[str, Any]:
        """Rendition formats and qualities for new images"""
        return renditions.describe(get_tenant(self.uow, self.actor.tenant_id).rendition_settings or {})

    @blp.arguments(RenditionSettingsSchema)
    @blp.response(200, RenditionSettingsSchema)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Choose JPEG, WebP or AVIF and the quality of each rendition for new images (owners)"""
        tenant = renditions.update_rendition_settings(self.uow, self.actor, data)
        return renditions.describe(tenant.rendition_settings)
