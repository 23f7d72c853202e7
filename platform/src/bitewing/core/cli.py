"""The `bitewing` command line: operate, migrate, serve and demo."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from pathlib import Path

import click

from bitewing.core.accounts import services as accounts
from bitewing.core.accounts.models import Role
from bitewing.core.auth.actor import system_actor
from bitewing.core.config import ConfigError, Settings, load_settings
from bitewing.core.db import migrations
from bitewing.core.deliveries.models import Delivery, DeliveryState
from bitewing.core.devices import services as devices
from bitewing.core.errors import DomainError
from bitewing.core.images.types import ImageType
from bitewing.core.jobs import QUEUES
from bitewing.core.jobs.runners import InProcessRunner
from bitewing.core.logs import configure_logging
from bitewing.core.runtime import Runtime, build_runtime
from bitewing.core.tenancy import services as tenancy
from bitewing.core.tenancy.models import Region, StoragePreference


class CliState:
    """What the group's options chose; settings are read only when a command needs them."""

    def __init__(self, instance: Path | None) -> None:
        self.instance = instance

    @cached_property
    def settings(self) -> Settings:
        return load_settings(instance_path=self.instance)


@contextmanager
def _runtime(ctx: click.Context) -> Iterator[Runtime]:
    runtime = build_runtime(ctx.obj.settings)
    try:
        yield runtime
    finally:
        runtime.close()


@contextmanager
def _tenant_uow(ctx: click.Context, slug: str) -> Iterator[tuple[Runtime, object]]:
    with _runtime(ctx) as runtime, runtime.db.unit_of_work() as lookup:
        tenant = tenancy.tenant_by_slug(lookup, slug)
        with runtime.db.unit_of_work(tenant.id) as uow:
            yield uow, system_actor(tenant.id, "cli")


class BitewingGroup(click.Group):
    """Shows domain and configuration errors as one readable line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (DomainError, ConfigError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=BitewingGroup)
@click.option(
    "--instance", type=click.Path(file_okay=False, path_type=Path), help="Instance folder (embedded default)."
)
@click.pass_context
def main(ctx: click.Context, instance: Path | None) -> None:
    """Bitewing: dental imaging and practice workflow platform."""
    ctx.obj = CliState(instance)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_obj
def db_upgrade(state: CliState, revision: str) -> None:
    """Apply the migrations (the only way the schema changes)."""
    settings = state.settings
    migrations.upgrade(settings.database_url, revision)
    click.echo(f"database at revision {migrations.current(settings.database_url)}")


@main.group()
def tenant() -> None:
    """Practice groups."""


@tenant.command("create")
@click.argument("name")
@click.option("--region", type=click.Choice([r.value for r in Region]), default="US", show_default=True)
@click.pass_context
def tenant_create(ctx: click.Context, name: str, region: str) -> None:
    """Create a practice group; prints its slug as the last line."""
    with _runtime(ctx) as runtime, runtime.db.unit_of_work() as uow:
        created = tenancy.create_tenant(uow, name, region)
        click.echo(f"created tenant {created.name!r} in region {created.region.value}")
        click.echo(created.slug)


@main.group()
def location() -> None:
    """Practice locations."""


@location.command("add")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--time-zone", default="UTC", show_default=True)
@click.option(
    "--storage", type=click.Choice([p.value for p in StoragePreference]), default="cloud", show_default=True
)
@click.argument("name")
@click.pass_context
def location_add(ctx: click.Context, slug: str, time_zone: str, storage: str, name: str) -> None:
    """Add a location to a tenant; prints its id."""
    with _tenant_uow(ctx, slug) as (uow, actor):
        created = tenancy.add_location(
            uow, actor, name=name, time_zone=time_zone, storage_preference=StoragePreference(storage)
        )
        click.echo(f"added location {created.name!r}")
        click.echo(str(created.id))


@main.group()
def machine() -> None:
    """X-ray machines (DICOM senders)."""


@machine.command("add")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--location", "location_name", required=True, help="Location name.")
@click.option("--ae-title", required=True, help="Calling AE title the machine sends with.")
@click.option("--name", default=None, help="Display name (default: the AE title).")
@click.option("--image-type", type=click.Choice([t.value for t in ImageType]), default=None)
@click.option("--allow-ip", "allowed_ips", multiple=True, help="Source IP or network allowed (repeatable).")
@click.pass_context
def machine_add(
    ctx: click.Context,
    slug: str,
    location_name: str,
    ae_title: str,
    name: str | None,
    image_type: str | None,
    allowed_ips: tuple[str, ...],
) -> None:
    """Register an X-ray machine at a location; prints its id."""
    with _tenant_uow(ctx, slug) as (uow, actor):
        location = tenancy.location_by_name(uow, location_name)
        created = devices.add_machine(
            uow,
            actor,
            location_id=location.id,
            name=name or ae_title,
            ae_title=ae_title,
            default_image_type=ImageType(image_type) if image_type else None,
            allowed_ips=list(allowed_ips),
        )
        click.echo(f"registered {created.ae_title} at {location.name}")
        click.echo(str(created.id))


@main.command("dicom-listener")
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 (a DICOM listener serves the LAN)
@click.option("--port", type=int, default=None, help="Default: BITEWING_DICOM_PORT (11112).")
@click.pass_context
def dicom_listener(ctx: click.Context, host: str, port: int | None) -> None:
    """Receive DICOM C-STORE from registered X-ray machines (and answer C-ECHO)."""
    from bitewing.core.dicom.listener import serve_forever

    configure_logging(ctx.obj.settings)
    with _runtime(ctx) as runtime:
        serve_forever(runtime, host=host, port=port or runtime.settings.dicom_port)


@main.command("ingest")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--location", "location_name", default=None, help="Location the images belong to.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_context
def ingest_command(ctx: click.Context, slug: str, location_name: str | None, paths: tuple[Path, ...]) -> None:
    """Import DICOM files, folders and .zip archives (a practice moving in). Safe to re-run."""
    from bitewing.core.ingest.importer import import_paths, iter_sources

    with _runtime(ctx) as runtime:
        with runtime.db.unit_of_work() as lookup:
            tenant_id = tenancy.tenant_by_slug(lookup, slug).id
        location_id = None
        if location_name:
            with runtime.db.unit_of_work(tenant_id) as uow:
                location_id = tenancy.location_by_name(uow, location_name).id
        total = sum(1 for _ in iter_sources(paths))
        with click.progressbar(
            length=total,
            label=f"importing {total} files",
            show_pos=True,
            file=sys.stderr,
        ) as bar:
            summary = import_paths(
                runtime, tenant_id, iter_sources(paths), location_id=location_id, progress=bar.update
            )
    click.echo(summary.describe())
    if summary.rejected and not summary.imported and not summary.duplicates:
        ctx.exit(1)


@main.command("worker-check")
@click.pass_context
def worker_check(ctx: click.Context) -> None:
    """Exit 0 when a worker of this host is alive in Redis, 1 otherwise (the worker pods' liveness probe)."""
    import socket

    from bitewing.core.jobs.worker import live_workers

    redis_url = ctx.obj.settings.redis_url
    if not redis_url:
        raise click.ClickException("BITEWING_REDIS_URL is not set: there are no worker processes to check")
    hostname = socket.gethostname()
    alive = live_workers(redis_url, hostname)
    if not alive:
        click.echo(f"no live worker on {hostname}", err=True)
        raise SystemExit(1)
    click.echo(f"{len(alive)} live worker(s) on {hostname}: {', '.join(alive)}")


@main.command()
@click.option(
    "--older-than", default=300, show_default=True, help="Seconds a record may wait before re-queueing."
)
@click.pass_context
def sweep(ctx: click.Context, older_than: int) -> None:
    """Queue lost processing and archive jobs and due delivery retries once (workers also sweep every 15 s)."""
    from bitewing.core.jobs.sweep import sweep_once

    with _runtime(ctx) as runtime:
        result = sweep_once(runtime, ingest_older_than=timedelta(seconds=older_than))
        if isinstance(runtime.jobs, InProcessRunner):
            runtime.jobs.drain()
    click.echo(
        f"queued {result.ingests} received instance(s), {result.archives} archive copy(ies), "
        f"deleted {result.replaced_deleted} replaced original(s), "
        f"{result.deliveries} delivery(ies), {result.polls} poll(s), {result.volumes} CBCT volume(s)"
    )


@main.group()
def deliveries() -> None:
    """Images on their way to VNAs: backlog per target, failures, retries."""


@deliveries.command("backlog")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.pass_context
def deliveries_backlog(ctx: click.Context, slug: str) -> None:
    """Per target: deliveries by state and the oldest still open."""
    from bitewing.core.deliveries import services as outbox

    with _tenant_uow(ctx, slug) as (uow, actor):
        rows = outbox.target_backlog(uow, actor)
    if not rows:
        click.echo("no targets configured")
    for row in rows:
        counts = (
            ", ".join(f"{state} {count}" for state, count in sorted(row["counts"].items()))
            or "nothing sent yet"
        )
        oldest = (
            f"; oldest open since {row['oldest_open_at']:%Y-%m-%d %H:%M}" if row["oldest_open_at"] else ""
        )
        click.echo(f"{row['target_name'] or row['target_id']}: {counts}{oldest}")


@deliveries.command("list")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--state", type=click.Choice([s.value for s in DeliveryState]), default=None)
@click.option("--image", "image_id", type=click.UUID, default=None, help="Which targets hold this image.")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def deliveries_list(ctx: click.Context, slug: str, state: str | None, image_id: object, limit: int) -> None:
    """Deliveries newest first, with their last error."""
    from bitewing.core.deliveries import services as outbox
    from bitewing.core.routing.targets import list_targets

    with _tenant_uow(ctx, slug) as (uow, actor):
        names = {t.id: t.name for t in list_targets(uow, per_page=100).items}
        page = outbox.list_deliveries(
            uow, actor, state=DeliveryState(state) if state else None, image_id=image_id, per_page=limit
        )
        for d in page.items:
            error = f"  ({d.last_error})" if d.last_error else ""
            click.echo(
                f"{d.id}  image {d.image_id}  → {names.get(d.target_id, d.target_id)}  {d.state.value}"
                f"  attempts {d.attempts}{error}"
            )
        click.echo(f"{len(page.items)} of {page.total} deliveries")


@deliveries.command("retry")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.argument("delivery_id", type=click.UUID)
@click.pass_context
def deliveries_retry(ctx: click.Context, slug: str, delivery_id: object) -> None:
    """Send a dead, cancelled or waiting delivery again now."""
    from bitewing.core.deliveries import services as outbox

    with _runtime(ctx) as runtime, runtime.db.unit_of_work() as lookup:
        tenant_id = tenancy.tenant_by_slug(lookup, slug).id
        with runtime.db.unit_of_work(tenant_id) as uow:
            state = outbox.retry_delivery(
                runtime, uow, system_actor(tenant_id, "cli"), delivery_id
            ).state.value
        if isinstance(runtime.jobs, InProcessRunner):
            runtime.jobs.drain()
            with runtime.db.unit_of_work(tenant_id) as uow:
                state = uow.session.get(Delivery, delivery_id).state.value
    click.echo(f"delivery {delivery_id}: {state}")


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.password_option(help="At least 12 characters.")
@click.pass_context
def user_create(ctx: click.Context, slug: str, email: str, full_name: str, role: str, password: str) -> None:
    """Create a staff account; prints its id."""
    with _tenant_uow(ctx, slug) as (uow, actor):
        created = accounts.create_user(
            uow, actor, email=email, full_name=full_name, role=Role(role), password=password
        )
        click.echo(f"created {created.role.value} {created.email}")
        click.echo(str(created.id))


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="cli", show_default=True)
@click.pass_context
def token_create(ctx: click.Context, slug: str, role: str, name: str) -> None:
    """Issue an API token; prints the secret as the last line (it is shown only once)."""
    with _tenant_uow(ctx, slug) as (uow, actor):
        issued = accounts.create_api_token(uow, actor, name=name, role=Role(role))
        click.echo(
            f"token {issued.token.prefix}… for role {role}: store it now, it is not shown again", err=True
        )
        click.echo(issued.secret)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.pass_obj
def serve(state: CliState, host: str, port: int, workers: int) -> None:
    """Serve the web app and API with gunicorn."""
    from bitewing.core.server import run_gunicorn

    configure_logging(state.settings)
    run_gunicorn(state.settings, host=host, port=port, workers=workers)


@main.command()
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice(QUEUES),
    help="Queues to work, in priority order (default: all, in this order: " + ", ".join(QUEUES) + ").",
)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option(
    "--sweep-seconds", default=15.0, show_default=True, help="Interval of the sweeper for lost work."
)
@click.pass_context
def worker(ctx: click.Context, queues: tuple[str, ...], burst: bool, sweep_seconds: float) -> None:
    """Run background jobs from Redis (needs BITEWING_REDIS_URL)."""
    from bitewing.core.jobs.worker import work

    if not ctx.obj.settings.redis_url:
        raise click.ClickException(
            "BITEWING_REDIS_URL is not set: without Redis, jobs run inside `bitewing serve`"
        )
    configure_logging(ctx.obj.settings)
    with _runtime(ctx) as runtime:
        work(runtime, queues or QUEUES, burst=burst, sweep_seconds=sweep_seconds)


@main.command()
@click.option("--port", default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--instance", type=click.Path(file_okay=False, path_type=Path), help="Instance folder of the demo."
)
@click.option("--no-serve", is_flag=True, help="Seed only; do not start the web server.")
@click.pass_obj
def demo(state: CliState, port: int, host: str, instance: Path | None, no_serve: bool) -> None:
    """Seed a demo practice on the embedded default (SQLite, local folder, in-process jobs) and serve it."""
    from bitewing.core.demo import run_demo

    settings = load_settings(instance_path=instance or state.instance)
    run_demo(settings, host=host, port=port, serve=not no_serve, echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
