"""Registering X-ray machines and identifying callers."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bitewing.core.accounts.models import Role
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import Actor
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import UNSCOPED, Database, UnitOfWork
from bitewing.core.devices.models import XrayMachine
from bitewing.core.errors import Conflict, Invalid, NotFound
from bitewing.core.tenancy.services import get_location


def normalize_ae_title(ae_title: str) -> str:
    """AE titles are compared trimmed (DICOM pads them with spaces) and are at most 16 characters."""
    value = ae_title.strip()
    if not value or len(value) > 16 or "\\" in value or not value.isprintable():
        raise Invalid(
            "an AE title has 1 to 16 printable characters", errors={"ae_title": ["1 to 16 characters"]}
        )
    return value


def _check_ips(allowed_ips: list[str]) -> list[str]:
    try:
        return [str(ipaddress.ip_network(ip, strict=False)) for ip in allowed_ips]
    except ValueError as exc:
        raise Invalid(str(exc), errors={"allowed_ips": [str(exc)]}) from exc


def _save(uow: UnitOfWork, actor: Actor, machine: XrayMachine, action: str) -> XrayMachine:
    try:
        uow.session.flush()
    except IntegrityError as exc:
        uow.rollback()
        raise Conflict(
            f"AE title {machine.ae_title!r} is already registered", errors={"ae_title": ["already used"]}
        ) from exc
    audit.record(uow, actor, action, "xray_machine", machine.id, details={"ae_title": machine.ae_title})
    uow.commit()
    return machine


def add_machine(uow: UnitOfWork, actor: Actor, **fields: Any) -> XrayMachine:
    """Register a machine at one of the tenant's locations (owners)."""
    actor.require({Role.OWNER})
    get_location(uow, fields["location_id"])
    fields["ae_title"] = normalize_ae_title(fields["ae_title"])
    fields["allowed_ips"] = _check_ips(fields.get("allowed_ips") or [])
    machine = XrayMachine(id=uuid.uuid4(), tenant_id=actor.tenant_id, **fields)
    uow.session.add(machine)
    return _save(uow, actor, machine, "xray_machine.create")


def update_machine(uow: UnitOfWork, actor: Actor, machine_id: uuid.UUID, **fields: Any) -> XrayMachine:
    """Change a machine (owners)."""
    actor.require({Role.OWNER})
    machine = get_machine(uow, machine_id)
    if "location_id" in fields:
        get_location(uow, fields["location_id"])
    if "ae_title" in fields:
        fields["ae_title"] = normalize_ae_title(fields["ae_title"])
    if "allowed_ips" in fields:
        fields["allowed_ips"] = _check_ips(fields["allowed_ips"] or [])
    for key, value in fields.items():
        setattr(machine, key, value)
    return _save(uow, actor, machine, "xray_machine.update")


def get_machine(uow: UnitOfWork, machine_id: uuid.UUID) -> XrayMachine:
    """One machine of the tenant; raises `NotFound`."""
    machine = uow.session.scalar(select(XrayMachine).where(XrayMachine.id == machine_id))
    if machine is None:
        raise NotFound("no such X-ray machine")
    return machine


def list_machines(
    uow: UnitOfWork, *, location_id: uuid.UUID | None = None, page: int = 1, per_page: int = 50
) -> Page[XrayMachine]:
    """The tenant's machines by name."""
    statement = select(XrayMachine).order_by(XrayMachine.name, XrayMachine.id)
    if location_id:
        statement = statement.where(XrayMachine.location_id == location_id)
    return paginate(uow, statement, page, per_page)


def identify_caller(db: Database, ae_title: str, remote_addr: str | None) -> XrayMachine | None:
    """The active machine registered under `ae_title` whose IP allow-list (if any) admits `remote_addr`.

    Runs before the tenant is known: the lookup is by AE title only (row-level security lets exactly
    that row through), then the session switches to the machine's tenant.
    """
    try:
        ae_title = normalize_ae_title(ae_title)
    except Invalid:
        return None
    with db.unit_of_work(lookup_key=ae_title) as uow:
        machine = uow.session.scalar(
            select(XrayMachine).where(XrayMachine.ae_title == ae_title), execution_options={UNSCOPED: True}
        )
        if machine is None or not machine.active:
            return None
        if machine.allowed_ips and not _ip_allowed(remote_addr, machine.allowed_ips):
            return None
        uow.session.expunge(machine)
        return machine


def _ip_allowed(remote_addr: str | None, allowed: list[str]) -> bool:
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in allowed)
