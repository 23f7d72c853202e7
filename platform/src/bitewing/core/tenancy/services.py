"""Creating tenants and managing their locations."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bitewing.core.accounts.models import Role
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import Actor
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import Database, UnitOfWork
from bitewing.core.errors import Conflict, Invalid, NotFound
from bitewing.core.tenancy.models import Location, Region, Tenant

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """A URL-safe slug for a tenant name (``"Smile Dental Group"`` → ``"smile-dental-group"``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _SLUG_STRIP.sub("-", ascii_name.lower()).strip("-")[:50] or "tenant"


def create_tenant(uow: UnitOfWork, name: str, region: Region | str = Region.US) -> Tenant:
    """Create a practice group with a unique slug derived from its name (operator action)."""
    name = name.strip()
    if not name:
        raise Invalid("a tenant needs a name", errors={"name": ["must not be empty"]})
    try:
        region = Region(region)
    except ValueError as exc:
        raise Invalid(
            f"unknown region {region!r}", errors={"region": [f"one of {[r.value for r in Region]}"]}
        ) from exc
    base = slugify(name)
    slug, n = base, 1
    while uow.session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    tenant = Tenant(id=uuid.uuid4(), slug=slug, name=name, region=region)
    uow.session.add(tenant)
    uow.commit()
    return tenant


def tenant_by_slug(uow: UnitOfWork, slug: str) -> Tenant:
    """The tenant with `slug`; raises `NotFound`."""
    tenant = uow.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"no tenant with slug {slug!r}")
    return tenant


def all_tenant_ids(db: Database) -> list[uuid.UUID]:
    """Every tenant's id (operator passes such as the sweeper, which then work tenant by tenant)."""
    with db.unit_of_work() as uow:
        return list(uow.session.scalars(select(Tenant.id)))


def get_tenant(uow: UnitOfWork, tenant_id: uuid.UUID) -> Tenant:
    """The tenant with `tenant_id`; raises `NotFound`."""
    tenant = uow.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    return tenant


def list_locations(
    uow: UnitOfWork, *, page: int = 1, per_page: int = 50, name: str | None = None
) -> Page[Location]:
    """The tenant's locations by name."""
    statement = select(Location).order_by(Location.name, Location.id)
    if name:
        statement = statement.where(Location.name.ilike(f"%{name}%"))
    return paginate(uow, statement, page, per_page)


def get_location(uow: UnitOfWork, location_id: uuid.UUID) -> Location:
    """One location of the tenant; another tenant's id is `NotFound`."""
    location = uow.session.scalar(select(Location).where(Location.id == location_id))
    if location is None:
        raise NotFound("no such location")
    return location


def location_by_name(uow: UnitOfWork, name: str) -> Location:
    """The tenant's location called `name`; raises `NotFound`."""
    location = uow.session.scalar(select(Location).where(Location.name == name))
    if location is None:
        raise NotFound(f"no location named {name!r}")
    return location


def _save_location(uow: UnitOfWork, actor: Actor, location: Location, action: str) -> Location:
    try:
        uow.session.flush()
    except IntegrityError as exc:
        uow.rollback()
        raise Conflict(
            f"a location named {location.name!r} already exists", errors={"name": ["already used"]}
        ) from exc
    audit.record(uow, actor, action, "location", location.id, details={"name": location.name})
    uow.commit()
    return location


def add_location(uow: UnitOfWork, actor: Actor, **fields: Any) -> Location:
    """Add a location to the actor's tenant (owners only)."""
    actor.require({Role.OWNER})
    location = Location(id=uuid.uuid4(), tenant_id=actor.tenant_id, **fields)
    uow.session.add(location)
    return _save_location(uow, actor, location, "location.create")


def update_location(uow: UnitOfWork, actor: Actor, location_id: uuid.UUID, **fields: Any) -> Location:
    """Change a location's details (owners only)."""
    actor.require({Role.OWNER})
    location = get_location(uow, location_id)
    for key, value in fields.items():
        setattr(location, key, value)
    return _save_location(uow, actor, location, "location.update")
