"""A tenant's choice of rendition formats and qualities (sizes are fixed: ≤200 px, ≤800 px, full)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bitewing.core.accounts.models import Role
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import Actor
from bitewing.core.db.session import UnitOfWork
from bitewing.core.imaging.render import DEFAULT_RENDITIONS, RenditionSpec
from bitewing.core.tenancy.models import Tenant

FORMATS = ("jpeg", "webp", "avif")


def rendition_specs(settings: Mapping[str, Any]) -> tuple[RenditionSpec, ...]:
    """The defaults with the tenant's format and quality applied per rendition (the full rendition's quality
    is a floor: the pipeline raises it where an image needs more to stay faithful)."""
    return tuple(
        dataclasses.replace(
            spec, **{k: v for k, v in settings.get(spec.name, {}).items() if k in ("format", "quality")}
        )
        for spec in DEFAULT_RENDITIONS
    )


def describe(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every rendition with its size limit, format and quality as they apply to the tenant."""
    return {
        spec.name: {"max_side": spec.max_side, "format": spec.format, "quality": spec.quality}
        for spec in rendition_specs(settings)
    }


def update_rendition_settings(
    uow: UnitOfWork, actor: Actor, changes: Mapping[str, Mapping[str, Any]]
) -> Tenant:
    """Change formats or qualities of renditions made from now on (owners; audited)."""
    actor.require({Role.OWNER})
    tenant = uow.session.get(Tenant, actor.tenant_id)
    merged = {name: dict(values) for name, values in (tenant.rendition_settings or {}).items()}
    for name, values in changes.items():
        merged.setdefault(name, {}).update(values)
    tenant.rendition_settings = merged
    audit.record(uow, actor, "tenant.renditions", "tenant", tenant.id, details={"renditions": merged})
    uow.commit()
    return tenant
