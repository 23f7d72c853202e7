"""HTTP endpoints of connector types, targets, routing rules and dry runs."""

from __future__ import annotations

import uuid
from typing import Any

from apispec.ext.marshmallow import OpenAPIConverter
from flask_smorest import Blueprint

from bitewing.core.api.auth import TenantView, runtime
from bitewing.core.routing import rules, targets
from bitewing.core.routing.models import Target
from bitewing.core.routing.schemas import (
    CheckResultSchema,
    ConnectorTypeSchema,
    DryRunResultSchema,
    DryRunSchema,
    ResidencyOverrideSchema,
    RuleSchema,
    TargetSchema,
    TargetUpdateSchema,
)

types_blp = Blueprint(
    "connector_types", __name__, url_prefix="/connector-types", description="Installed connector types"
)
targets_blp = Blueprint("targets", __name__, url_prefix="/targets", description="VNAs and archives (owners)")
rules_blp = Blueprint(
    "routing_rules", __name__, url_prefix="/routing-rules", description="Where images go (owners)"
)
dry_run_blp = Blueprint(
    "routing_dry_run", __name__, url_prefix="/routing", description="Routing without sending"
)

_converter = OpenAPIConverter("3.1.0", lambda schema: None, None)


@types_blp.route("")
class ConnectorTypes(TenantView):
    @types_blp.response(200, ConnectorTypeSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Connector types the installed plugins provide, with their configuration fields"""
        return [
            {
                "name": kind.name,
                "title": kind.title,
                "secret_fields": sorted(kind.secret_fields),
                "can_poll": kind.can_poll,
                "config_fields": {
                    name: _converter.field2property(field)
                    for name, field in kind.config_schema().fields.items()
                },
            }
            for kind in sorted(runtime().plugins.connector_types().values(), key=lambda k: k.name)
        ]


def _view(target: Target, overrides: set[uuid.UUID] | None = None) -> Target:
    target.residency_override = "recorded" if overrides and target.id in overrides else None  # type: ignore[attr-defined]
    return target


@targets_blp.route("")
class Targets(TenantView):
    @targets_blp.response(200, TargetSchema(many=True))
    @targets_blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Any]:
        """List targets (secrets are never returned)"""
        page = targets.list_targets(
            self.uow, page=pagination_parameters.page, per_page=pagination_parameters.page_size
        )
        pagination_parameters.item_count = page.total
        overrides = targets.overridden_target_ids(self.uow)
        return [_view(t, overrides) for t in page.items]

    @targets_blp.arguments(TargetSchema)
    @targets_blp.response(201, TargetSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a target; its configuration is validated by its connector type (owners)"""
        return _view(targets.create_target(runtime(), self.uow, self.actor, **data))


@targets_blp.route("/<uuid:target_id>")
class TargetItem(TenantView):
    @targets_blp.response(200, TargetSchema)
    def get(self, target_id: uuid.UUID) -> Any:
        """Get a target"""
        return _view(targets.get_target(self.uow, target_id), targets.overridden_target_ids(self.uow))

    @targets_blp.arguments(TargetUpdateSchema(partial=True))
    @targets_blp.response(200, TargetSchema)
    def patch(self, data: dict[str, Any], target_id: uuid.UUID) -> Any:
        """Change a target; omitted secrets are kept (owners)"""
        return _view(targets.update_target(runtime(), self.uow, self.actor, target_id, **data))


@targets_blp.route("/<uuid:target_id>/test", methods=["POST"])
class TargetTest(TenantView):
    @targets_blp.response(200, CheckResultSchema)
    def post(self, target_id: uuid.UUID) -> Any:
        """Test the connection and explain what failed (owners)"""
        return targets.check_target(runtime(), self.uow, self.actor, target_id)


@targets_blp.route("/<uuid:target_id>/residency-override", methods=["PUT"])
class TargetResidency(TenantView):
    @targets_blp.arguments(ResidencyOverrideSchema)
    @targets_blp.response(200, TargetSchema)
    def put(self, data: dict[str, Any], target_id: uuid.UUID) -> Any:
        """Allow this target outside the practice's data region, with a reason (owners; audited)"""
        target = targets.record_residency_override(self.uow, self.actor, target_id, data["reason"])
        return _view(target, {target.id})


@rules_blp.route("")
class Rules(TenantView):
    @rules_blp.response(200, RuleSchema(many=True))
    def get(self) -> list[Any]:
        """List routing rules in evaluation order"""
        return rules.list_rules(self.uow)

    @rules_blp.arguments(RuleSchema)
    @rules_blp.response(201, RuleSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a routing rule (owners)"""
        return rules.create_rule(self.uow, self.actor, **data)


@rules_blp.route("/<uuid:rule_id>")
class RuleItem(TenantView):
    @rules_blp.response(200, RuleSchema)
    def get(self, rule_id: uuid.UUID) -> Any:
        """Get a routing rule"""
        return rules.get_rule(self.uow, rule_id)

    @rules_blp.arguments(RuleSchema(partial=True))
    @rules_blp.response(200, RuleSchema)
    def patch(self, data: dict[str, Any], rule_id: uuid.UUID) -> Any:
        """Change a routing rule (owners)"""
        return rules.update_rule(self.uow, self.actor, rule_id, **data)

    @rules_blp.response(204)
    def delete(self, rule_id: uuid.UUID) -> None:
        """Remove a routing rule (owners)"""
        rules.delete_rule(self.uow, self.actor, rule_id)


@dry_run_blp.route("/dry-run")
class DryRun(TenantView):
    @dry_run_blp.arguments(DryRunSchema, location="query")
    @dry_run_blp.response(200, DryRunResultSchema(many=True))
    def get(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Where would this image (or the latest N images) go? Nothing is sent"""
        return rules.dry_run(self.uow, self.actor, image_id=data.get("image_id"), last=data.get("last"))
