"""HTTP endpoint of the audit log (owners)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from bitewing.core.accounts.models import Role
from bitewing.core.api.auth import TenantView
from bitewing.core.audit import services
from bitewing.core.audit.schemas import AuditEventSchema, AuditQuerySchema

blp = Blueprint("audit", __name__, url_prefix="/audit-events", description="Append-only audit log")


@blp.route("")
class AuditEvents(TenantView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Any]:
        """List audit events, newest first (owners)"""
        self.actor.require({Role.OWNER})
        page = services.list_events(
            self.uow, page=pagination_parameters.page, per_page=pagination_parameters.page_size, **query
        )
        pagination_parameters.item_count = page.total
        return page.items
