"""HTTP endpoints of locations."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from bitewing.core.api.auth import TenantView
from bitewing.core.tenancy import services
from bitewing.core.tenancy.schemas import LocationQuerySchema, LocationSchema

blp = Blueprint(
    "locations", __name__, url_prefix="/locations", description="Practice locations of the tenant"
)


@blp.route("")
class Locations(TenantView):
    @blp.arguments(LocationQuerySchema, location="query")
    @blp.response(200, LocationSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """List locations"""
        page = services.list_locations(
            self.uow, page=pagination_parameters.page, per_page=pagination_parameters.page_size, **query
        )
        pagination_parameters.item_count = page.total
        return page.items

    @blp.arguments(LocationSchema)
    @blp.response(201, LocationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a location (owners)"""
        return services.add_location(self.uow, self.actor, **data)


@blp.route("/<uuid:location_id>")
class LocationItem(TenantView):
    @blp.response(200, LocationSchema)
    def get(self, location_id: uuid.UUID) -> Any:
        """Get a location"""
        return services.get_location(self.uow, location_id)

    @blp.arguments(LocationSchema(partial=True))
    @blp.response(200, LocationSchema)
    def patch(self, data: dict[str, Any], location_id: uuid.UUID) -> Any:
        """Change a location (owners)"""
        return services.update_location(self.uow, self.actor, location_id, **data)
