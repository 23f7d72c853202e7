"""Managing routing rules, dry runs, and turning an image's routes into deliveries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from bitewing.core.accounts.models import Role
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import STAFF_ROLES, Actor
from bitewing.core.db.session import UnitOfWork
from bitewing.core.devices.models import XrayMachine
from bitewing.core.errors import Invalid, NotFound
from bitewing.core.images.models import Image
from bitewing.core.patients.models import Patient
from bitewing.core.routing.evaluate import Action, Conditions, Route, RoutingFacts, Rule, evaluate
from bitewing.core.routing.models import RoutingRule, Target
from bitewing.core.routing.targets import overridden_target_ids, residency_refusal
from bitewing.core.tenancy.models import Location, Tenant


def _json_conditions(conditions: dict[str, Any]) -> dict[str, Any]:
    """The stored JSON form: only the conditions given, values as strings."""
    return {
        key: [v if isinstance(v, dict) else str(v) for v in values]
        for key, values in conditions.items()
        if values
    }


def _check_actions(uow: UnitOfWork, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target must exist in the tenant and respect its data region (or have an override)."""
    tenant = uow.session.get(Tenant, uow.tenant_id)
    overrides = overridden_target_ids(uow)
    checked, errors = [], {}
    for index, action in enumerate(actions):
        target = uow.session.scalar(select(Target).where(Target.id == action["target_id"]))
        if target is None:
            raise NotFound(
                "a rule action names an unknown target",
                errors={"actions": {str(index): {"target_id": ["no such target in this practice"]}}},
            )
        refusal = residency_refusal(tenant, target, overrides)
        if refusal:
            errors[str(index)] = {"target_id": [refusal]}
            continue
        checked.append({"target_id": str(target.id), "role": str(action.get("role", "primary"))})
    if errors:
        raise Invalid("the rule's actions are not valid: see errors", errors={"actions": errors})
    return checked


def _check_conditions_refs(uow: UnitOfWork, conditions: dict[str, Any]) -> None:
    for key in ("location_ids", "patient_primary_location_ids"):
        for location_id in conditions.get(key, []):
            if uow.session.scalar(select(Location.id).where(Location.id == location_id)) is None:
                raise NotFound(
                    "unknown location in conditions",
                    errors={"conditions": {key: [f"no location {location_id}"]}},
                )


def create_rule(uow: UnitOfWork, actor: Actor, **data: Any) -> RoutingRule:
    """Add a rule (owners); its position defaults to after the last rule."""
    actor.require({Role.OWNER})
    _check_conditions_refs(uow, data.get("conditions", {}))
    if "position" not in data:
        last = uow.session.scalar(select(func.max(RoutingRule.position))) or 0
        data["position"] = last + 10
    rule = RoutingRule(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        **{
            **data,
            "conditions": _json_conditions(data.get("conditions", {})),
            "actions": _check_actions(uow, data["actions"]),
        },
    )
    uow.session.add(rule)
    uow.session.flush()
    audit.record(uow, actor, "routing_rule.create", "routing_rule", rule.id, details={"name": rule.name})
    uow.commit()
    return rule


def update_rule(uow: UnitOfWork, actor: Actor, rule_id: uuid.UUID, **data: Any) -> RoutingRule:
    """Change a rule (owners)."""
    actor.require({Role.OWNER})
    rule = get_rule(uow, rule_id)
    if "conditions" in data:
        _check_conditions_refs(uow, data["conditions"])
        data["conditions"] = _json_conditions(data["conditions"])
    if "actions" in data:
        data["actions"] = _check_actions(uow, data["actions"])
    for key, value in data.items():
        setattr(rule, key, value)
    audit.record(uow, actor, "routing_rule.update", "routing_rule", rule.id, details={"fields": sorted(data)})
    uow.commit()
    return rule


def delete_rule(uow: UnitOfWork, actor: Actor, rule_id: uuid.UUID) -> None:
    """Remove a rule (owners)."""
    actor.require({Role.OWNER})
    rule = get_rule(uow, rule_id)
    uow.session.delete(rule)
    audit.record(uow, actor, "routing_rule.delete", "routing_rule", rule_id, details={"name": rule.name})
    uow.commit()


def get_rule(uow: UnitOfWork, rule_id: uuid.UUID) -> RoutingRule:
    """One rule of the tenant; raises `NotFound`."""
    rule = uow.session.scalar(select(RoutingRule).where(RoutingRule.id == rule_id))
    if rule is None:
        raise NotFound("no such routing rule")
    return rule


def list_rules(uow: UnitOfWork) -> list[RoutingRule]:
    """The tenant's rules in evaluation order."""
    return list(
        uow.session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.created_at))
    )


def load_rules(uow: UnitOfWork) -> list[Rule]:
    """The enabled rules as evaluation sees them."""
    return [
        Rule(
            id=r.id,
            name=r.name,
            conditions=Conditions.from_json(r.conditions),
            actions=tuple(Action(uuid.UUID(a["target_id"]), a.get("role", "primary")) for a in r.actions),
            stop=r.stop,
            is_default=r.is_default,
        )
        for r in list_rules(uow)
        if r.enabled
    ]


def routing_facts(uow: UnitOfWork, image: Image) -> RoutingFacts:
    """What rules see of an image: its location, machine, type, patient's location, storage preference."""
    location = uow.session.get(Location, image.location_id) if image.location_id else None
    machine = uow.session.get(XrayMachine, image.machine_id) if image.machine_id else None
    patient = uow.session.get(Patient, image.patient_id) if image.patient_id else None
    return RoutingFacts(
        location_id=image.location_id,
        machine_ae_title=machine.ae_title if machine else None,
        image_type=image.image_type.value,
        modality=image.modality,
        patient_primary_location_id=patient.primary_location_id if patient else None,
        storage_preference=location.storage_preference.value if location else None,
        attributes=image.attributes or {},
    )


@dataclass(frozen=True)
class Decision:
    """A route with the target it names and, when it cannot be followed, why."""

    route: Route
    target: Target | None
    refused: str | None


def decide(uow: UnitOfWork, image: Image, rules: list[Rule] | None = None) -> list[Decision]:
    """Where `image` goes under the tenant's current rules, with refusals (inactive, residency) spelled out."""
    tenant = uow.session.get(Tenant, image.tenant_id)
    overrides = overridden_target_ids(uow)
    decisions = []
    for route in evaluate(rules if rules is not None else load_rules(uow), routing_facts(uow, image)):
        target = uow.session.scalar(select(Target).where(Target.id == route.target_id))
        if target is None:
            refused = "the target no longer exists"
        elif not target.active:
            refused = f"target {target.name!r} is inactive"
        else:
            refused = residency_refusal(tenant, target, overrides)
        decisions.append(Decision(route, target, refused))
    return decisions


def dry_run(
    uow: UnitOfWork, actor: Actor, *, image_id: uuid.UUID | None = None, last: int | None = None
) -> list[dict[str, Any]]:
    """ "Where would this image go?" for one image or the tenant's latest `last` images; nothing is sent."""
    actor.require(STAFF_ROLES)
    if image_id is not None:
        image = uow.session.scalar(select(Image).where(Image.id == image_id))
        if image is None:
            raise NotFound("no such image")
        images = [image]
    else:
        images = list(
            uow.session.scalars(
                select(Image)
                .where(Image.superseded.is_(False))
                .order_by(Image.created_at.desc())
                .limit(last or 20)
            )
        )
    rules = load_rules(uow)
    return [
        {
            "image_id": image.id,
            "image_type": image.image_type.value,
            "routes": [
                {
                    "target_id": d.route.target_id,
                    "target_name": d.target.name if d.target else None,
                    "role": d.route.role,
                    "rule_id": d.route.rule_id,
                    "rule_name": d.route.rule_name,
                    "refused": d.refused,
                }
                for d in decide(uow, image, rules)
            ],
        }
        for image in images
    ]
