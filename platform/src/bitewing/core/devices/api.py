"""HTTP endpoints of X-ray machines."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from bitewing.core.api.auth import TenantView
from bitewing.core.devices import services
from bitewing.core.devices.schemas import MachineQuerySchema, MachineSchema

blp = Blueprint("machines", __name__, url_prefix="/machines", description="X-ray machines (DICOM senders)")


@blp.route("")
class Machines(TenantView):
    @blp.arguments(MachineQuerySchema, location="query")
    @blp.response(200, MachineSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """List X-ray machines"""
        page = services.list_machines(
            self.uow, page=pagination_parameters.page, per_page=pagination_parameters.page_size, **query
        )
        pagination_parameters.item_count = page.total
        return page.items

    @blp.arguments(MachineSchema)
    @blp.response(201, MachineSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register an X-ray machine (owners)"""
        return services.add_machine(self.uow, self.actor, **data)


@blp.route("/<uuid:machine_id>")
class MachineItem(TenantView):
    @blp.response(200, MachineSchema)
    def get(self, machine_id: uuid.UUID) -> Any:
        """Get an X-ray machine"""
        return services.get_machine(self.uow, machine_id)

    @blp.arguments(MachineSchema(partial=True))
    @blp.response(200, MachineSchema)
    def patch(self, data: dict[str, Any], machine_id: uuid.UUID) -> Any:
        """Change an X-ray machine (owners)"""
        return services.update_machine(self.uow, self.actor, machine_id, **data)
