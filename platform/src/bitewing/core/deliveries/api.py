"""HTTP endpoints of deliveries: list, backlog per target, retry, cancel."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from bitewing.core.api.auth import TenantView, runtime
from bitewing.core.deliveries import services
from bitewing.core.deliveries.schemas import BacklogSchema, DeliveryQuerySchema, DeliverySchema

blp = Blueprint("deliveries", __name__, url_prefix="/deliveries", description="Images on their way to VNAs")


@blp.route("")
class Deliveries(TenantView):
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """List deliveries (per image: which targets hold it; per target: its failures)"""
        page = services.list_deliveries(
            self.uow,
            self.actor,
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            **query,
        )
        pagination_parameters.item_count = page.total
        return page.items


@blp.route("/backlog")
class Backlog(TenantView):
    @blp.response(200, BacklogSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Per target: deliveries by state and the oldest still open"""
        return services.target_backlog(self.uow, self.actor)


@blp.route("/<uuid:delivery_id>/retry", methods=["POST"])
class Retry(TenantView):
    @blp.response(200, DeliverySchema)
    def post(self, delivery_id: uuid.UUID) -> Any:
        """Send again now (dead letters, cancelled, waiting retries)"""
        return services.retry_delivery(runtime(), self.uow, self.actor, delivery_id)


@blp.route("/<uuid:delivery_id>/cancel", methods=["POST"])
class Cancel(TenantView):
    @blp.response(200, DeliverySchema)
    def post(self, delivery_id: uuid.UUID) -> Any:
        """Stop trying to deliver"""
        return services.cancel_delivery(self.uow, self.actor, delivery_id)
