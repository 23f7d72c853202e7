"""Evaluating a tenant's routing rules on an image's facts: a pure function, easy to test and to dry-run."""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RoutingFacts:
    """What rules can look at for one image."""

    location_id: uuid.UUID | None
    machine_ae_title: str | None
    image_type: str
    modality: str
    patient_primary_location_id: uuid.UUID | None
    storage_preference: str | None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Conditions:
    """All given conditions must hold; within one list, any value matches. No conditions match everything."""

    location_ids: frozenset[uuid.UUID] = frozenset()
    machine_ae_titles: frozenset[str] = frozenset()
    image_types: frozenset[str] = frozenset()
    modalities: frozenset[str] = frozenset()
    patient_primary_location_ids: frozenset[uuid.UUID] = frozenset()
    storage_preferences: frozenset[str] = frozenset()
    dicom: Mapping[str, str] = field(default_factory=dict)
    """DICOM keyword → shell-style pattern (``Manufacturer: "Planmeca*"``), compared case-insensitively."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conditions:
        """Build from the stored JSON form (lists of strings, ids as strings)."""
        return cls(
            location_ids=frozenset(uuid.UUID(str(v)) for v in data.get("location_ids", [])),
            machine_ae_titles=frozenset(data.get("machine_ae_titles", [])),
            image_types=frozenset(data.get("image_types", [])),
            modalities=frozenset(m.upper() for m in data.get("modalities", [])),
            patient_primary_location_ids=frozenset(
                uuid.UUID(str(v)) for v in data.get("patient_primary_location_ids", [])
            ),
            storage_preferences=frozenset(data.get("storage_preferences", [])),
            dicom={match["keyword"]: match["pattern"] for match in data.get("dicom", [])},
        )

    def match(self, facts: RoutingFacts) -> bool:
        """Whether every condition holds for `facts`."""
        checks = (
            (self.location_ids, facts.location_id),
            (self.machine_ae_titles, facts.machine_ae_title),
            (self.image_types, facts.image_type),
            (self.modalities, facts.modality.upper()),
            (self.patient_primary_location_ids, facts.patient_primary_location_id),
            (self.storage_preferences, facts.storage_preference),
        )
        if any(allowed and value not in allowed for allowed, value in checks):
            return False
        return all(
            fnmatch.fnmatchcase(str(facts.attributes.get(keyword, "")).lower(), pattern.lower())
            for keyword, pattern in self.dicom.items()
        )


@dataclass(frozen=True)
class Action:
    """Send to one target, as primary or backup."""

    target_id: uuid.UUID
    role: str = "primary"


@dataclass(frozen=True)
class Rule:
    """One rule as evaluation sees it."""

    id: uuid.UUID
    name: str
    conditions: Conditions
    actions: tuple[Action, ...]
    stop: bool = True
    is_default: bool = False


@dataclass(frozen=True)
class Route:
    """A decision: this target gets the image, because of this rule."""

    target_id: uuid.UUID
    role: str
    rule_id: uuid.UUID
    rule_name: str


def evaluate(rules: Iterable[Rule], facts: RoutingFacts) -> list[Route]:
    """The targets an image goes to.

    Rules are taken in order; every matching rule adds its targets (a target named twice keeps its first
    rule, and primary wins over backup); a matching rule with `stop` ends the evaluation. When no ordinary
    rule matched, the default rules apply.
    """
    ordered = list(rules)
    routes: dict[uuid.UUID, Route] = {}

    def add(rule: Rule) -> None:
        for action in rule.actions:
            existing = routes.get(action.target_id)
            if existing is None:
                routes[action.target_id] = Route(action.target_id, action.role, rule.id, rule.name)
            elif existing.role == "backup" and action.role == "primary":
                routes[action.target_id] = Route(
                    action.target_id, "primary", existing.rule_id, existing.rule_name
                )

    matched = False
    for rule in (r for r in ordered if not r.is_default):
        if rule.conditions.match(facts):
            matched = True
            add(rule)
            if rule.stop:
                break
    if not matched:
        for rule in (r for r in ordered if r.is_default):
            add(rule)
    return list(routes.values())
