"""`bitewing demo`: a seeded demo practice on the embedded default, served on one port."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date

from pydicom.uid import generate_uid
from sqlalchemy import select

from bitewing.core.accounts import services as accounts
from bitewing.core.accounts.models import Role
from bitewing.core.auth.actor import system_actor
from bitewing.core.config import Settings
from bitewing.core.db import migrations
from bitewing.core.devices import services as devices
from bitewing.core.devices.models import XrayMachine
from bitewing.core.images.types import ImageType
from bitewing.core.imaging import synthetic
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.jobs.runners import InProcessRunner
from bitewing.core.jobs.sweep import start_periodic_sweeper
from bitewing.core.patients import services as patients
from bitewing.core.patients.models import Sex
from bitewing.core.runtime import Runtime, build_runtime
from bitewing.core.server import SWEEP_SECONDS
from bitewing.core.tenancy import services as tenancy
from bitewing.core.tenancy.models import Region, StoragePreference, Tenant

DEMO_TENANT = "Bitewing Demo Dental"
DEMO_PASSWORD = "bitewing-demo-2026"  # noqa: S105 (published demo credential)
DEMO_STAFF = (
    ("owner@demo.bitewing.test", "Olivia Owner", Role.OWNER),
    ("dentist@demo.bitewing.test", "Dr. Daniel Molar", Role.DENTIST),
    ("hygienist@demo.bitewing.test", "Hana Hygienist", Role.HYGIENIST),
    ("frontdesk@demo.bitewing.test", "Frank Frontdesk", Role.FRONT_DESK),
)
DEMO_LOCATIONS = (
    ("Downtown Clinic", "America/Toronto", StoragePreference.ON_PREMISE),
    ("Lakeside Orthodontics", "America/Toronto", StoragePreference.CLOUD),
)
DEMO_MACHINES = (
    ("Operatory 1 intraoral sensor", "IOSENSOR1", ImageType.INTRAORAL),
    ("Panoramic / ceph unit", "PANO1", ImageType.PANORAMIC),
)
DEMO_IMAGES = (
    ("bitewing", "bitewing", "periapical"),
    ("panoramic", "cephalometric"),
    ("intraoral", "cbct"),
)
DEMO_PATIENTS = (
    ("DEMO-1001", "Amelia", "Chen", date(1986, 3, 14), Sex.FEMALE),
    ("DEMO-1002", "Lucas", "Martin", date(1979, 11, 2), Sex.MALE),
    ("DEMO-1003", "Zoë", "Tremblay", date(2011, 6, 25), Sex.FEMALE),
    ("DEMO-1004", "Noah", "Singh", date(1995, 1, 9), Sex.MALE),
    ("DEMO-1005", "Maya", "Okafor", date(1962, 8, 30), Sex.FEMALE),
)


def embedded_settings(settings: Settings) -> Settings:
    """The demo always runs on the embedded default, whatever the environment configures."""
    instance = settings.instance_path
    return replace(
        settings,
        database_url=f"sqlite:///{instance / 'bitewing.db'}",
        storage_url=f"file://{instance / 'objects'}",
        redis_url=None,
    )


def seed(runtime: Runtime) -> Tenant:
    """Create the demo practice once: two locations with an X-ray machine each, four staff, five patients
    and their generated X-rays (bitewings, periapical, panoramic, ceph, intraoral, a small CBCT). Safe to
    re-run."""
    with runtime.db.unit_of_work() as uow:
        existing = uow.session.scalar(select(Tenant).where(Tenant.name == DEMO_TENANT))
        if existing is not None:
            uow.session.expunge(existing)
            return existing
        tenant = tenancy.create_tenant(uow, DEMO_TENANT, Region.CA)
    actor = system_actor(tenant.id, "demo")
    with runtime.db.unit_of_work(tenant.id) as uow:
        locations = [
            tenancy.add_location(uow, actor, name=name, time_zone=tz, storage_preference=pref, country="CA")
            for name, tz, pref in DEMO_LOCATIONS
        ]
        users = {
            role: accounts.create_user(
                uow, actor, email=email, full_name=name, role=role, password=DEMO_PASSWORD
            )
            for email, name, role in DEMO_STAFF
        }
        machines = [
            devices.add_machine(
                uow, actor, location_id=location.id, name=name, ae_title=ae_title, default_image_type=kind
            )
            for location, (name, ae_title, kind) in zip(locations, DEMO_MACHINES, strict=True)
        ]
        for index, (chart, given, family, born, sex) in enumerate(DEMO_PATIENTS):
            patients.create_patient(
                uow,
                actor,
                chart_number=chart,
                given_name=given,
                family_name=family,
                birth_date=born,
                sex=sex,
                primary_location_id=locations[index % len(locations)].id,
                dentist_id=users[Role.DENTIST].id,
                consent_portal=True,
            )
    _ingest_demo_images(runtime, tenant.id, machines)
    return tenant


def _ingest_demo_images(runtime: Runtime, tenant_id: uuid.UUID, machines: list[XrayMachine]) -> None:
    """Send generated X-rays through the real ingest path, as the demo practice's machines would."""
    for index, (chart, given, family, born, _sex) in enumerate(DEMO_PATIENTS):
        machine = machines[index % len(machines)]
        kinds = DEMO_IMAGES[index % len(DEMO_IMAGES)]
        study_uid = generate_uid()
        for seed, kind in enumerate(kinds):
            ds = synthetic.make_instance(
                kind,
                patient_id=chart,
                patient_name=f"{family}^{given}",
                birth_date=born.strftime("%Y%m%d"),
                seed=index * 10 + seed,
                study_uid=study_uid,
            )
            origin = Origin(
                source=IngestSource.CSTORE,
                machine_id=machine.id,
                location_id=machine.location_id,
                calling_ae=machine.ae_title,
            )
            receive_instance(runtime, tenant_id, synthetic.to_bytes(ds), origin)
    if isinstance(runtime.jobs, InProcessRunner):
        runtime.jobs.drain()


def run_demo(
    settings: Settings, *, host: str, port: int, serve: bool, echo: Callable[[str], None] = print
) -> None:
    """Migrate and seed the embedded database, print the logins, then serve until interrupted."""
    url = f"http://{host}:{port}"
    settings = replace(embedded_settings(settings), public_url=url)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.database_url)
    runtime = build_runtime(settings)
    try:
        tenant = seed(runtime)
        echo(f"Bitewing demo practice {tenant.name!r} (tenant slug: {tenant.slug})")
        echo(f"instance folder: {settings.instance_path}")
        echo("staff logins (password for all: " + DEMO_PASSWORD + "):")
        for email, name, role in DEMO_STAFF:
            echo(f"  {role.value:<11} {email}  ({name})")
        echo(f"open {url}/  — API docs at {url}/api/v1/docs")
        if serve:
            from werkzeug.serving import run_simple

            from bitewing.core.app import create_app

            app = create_app(runtime=runtime)
            stop = threading.Event()
            start_periodic_sweeper(runtime, SWEEP_SECONDS, stop)
            try:
                run_simple(host, port, app, threaded=True, use_reloader=False)
            finally:
                stop.set()
    finally:
        runtime.close()
