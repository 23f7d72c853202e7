"""The database never holds pixel data or file bytes: the schema has no column that could hold a file, and
ingesting a few hundred images grows PostgreSQL by a few KiB per image while the object store holds the
renditions and archives under keys that carry no patient identifier or DICOM UID.

Runs on PostgreSQL as the app role (`postgres_db`), the local-folder store in ``tmp_path`` and in-process
jobs, through the real ingest path (`receive_instance` and the processing job).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bitewing.core.auth.actor import system_actor
from bitewing.core.config import load_settings
from bitewing.core.imaging import synthetic
from bitewing.core.ingest.archiving import delete_replaced_objects
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.jobs.runners import InProcessRunner
from bitewing.core.patients import services as patients
from bitewing.core.runtime import Runtime, build_runtime
from bitewing.core.tenancy import services as tenancy
from tests.conftest import PostgresDatabase

IMAGES = 300
SHAPE = (512, 512)

MAX_DB_BYTES_PER_IMAGE = 16 * 1024
"""Measured here: ~5.4 KiB per image over 300 images (the images row and its indexes, three rendition rows,
the ingest record with the dead tuple its status update leaves, a study and a series; by table in
bench/results/storage.md). 16 KiB leaves room for 8 KiB page steps and autovacuum timing, yet one 512x512
12-bit image is 512 KiB of pixels and its archive and renditions ~250 KiB: keeping any of them in a row
would break the bound many times over."""

MAX_VARCHAR = 1000
"""The longest bounded string today is 500 characters (error messages, reasons)."""

UNBOUNDED_TEXT = {("targets", "secrets"): "the connector's encrypted credentials (a few hundred bytes)"}
"""Unbounded ``text`` columns, each with why it cannot hold a file; any other one fails the test."""

JSON_COLUMNS = {
    ("audit_events", "details"),
    ("images", "attributes"),
    ("images", "teeth"),
    ("routing_rules", "actions"),
    ("routing_rules", "conditions"),
    ("targets", "config"),
    ("tenants", "rendition_settings"),
    ("xray_machines", "allowed_ips"),
}
"""JSON columns are unbounded by type: the test checks their largest stored value after the ingest."""
MAX_JSON_BYTES = 8 * 1024

FILE_TYPES = {"bytea", "oid", "lo"}

PATIENTS = (
    ("CHART-77310", "Okonkwo", "Adaeze", date(1977, 4, 12)),
    ("CHART-55102", "Lindqvist", "Henrik", date(1964, 9, 30)),
    ("CHART-90418", "Tremblay", "Zoé", date(2009, 1, 23)),
)


@pytest.fixture
def runtime(postgres_db: PostgresDatabase, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on PostgreSQL as the app role, a local folder store in `tmp_path`, jobs in this process."""
    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        database_url=postgres_db.app_url,
        storage_url=f"file://{tmp_path / 'objects'}",
        testing=True,
    )
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


def owner_query(postgres_db: PostgresDatabase, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(postgres_db.database.url) as conn:
        return conn.execute(query, params).fetchall()


def database_bytes(postgres_db: PostgresDatabase) -> int:
    """Bytes of every public table with its TOAST table and indexes."""
    ((total,),) = owner_query(
        postgres_db,
        "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
    )
    return int(total)


def test_schema_has_no_column_that_could_hold_a_file(postgres_db: PostgresDatabase) -> None:
    columns = owner_query(
        postgres_db,
        "SELECT table_name, column_name, data_type, udt_name, character_maximum_length"
        " FROM information_schema.columns WHERE table_schema = 'public'",
    )
    assert len({c[0] for c in columns}) > 10, "the migrated schema should have been found"
    binary = [c[:2] for c in columns if c[3] in FILE_TYPES or c[2] in FILE_TYPES]
    assert binary == []
    text = {c[:2] for c in columns if c[2] == "text"}
    assert text == set(UNBOUNDED_TEXT), "a new unbounded text column: say why it cannot hold a file"
    long_strings = [
        (c[0], c[1], c[4]) for c in columns if c[2] == "character varying" and (c[4] or 0) > MAX_VARCHAR
    ]
    assert long_strings == []
    unbounded_varchar = [c[:2] for c in columns if c[2] == "character varying" and c[4] is None]
    assert unbounded_varchar == []
    json = {c[:2] for c in columns if c[2] in ("json", "jsonb")}
    assert json == JSON_COLUMNS, "a new JSON column: add it to JSON_COLUMNS so its stored size is checked"
    arrays = [c[:2] for c in columns if c[2] == "ARRAY" or c[2] == "USER-DEFINED"]
    assert arrays == []


def test_ingesting_images_grows_the_database_by_metadata_only(
    runtime: Runtime, postgres_db: PostgresDatabase, tmp_path: Path
) -> None:
    with runtime.db.unit_of_work() as uow:
        tenant_id = tenancy.create_tenant(uow, f"Outside DB {uuid.uuid4().hex[:6]}").id
    actor = system_actor(tenant_id, "test")
    for chart, family, given, born in PATIENTS:
        with runtime.db.unit_of_work(tenant_id) as uow:
            patients.create_patient(
                uow, actor, chart_number=chart, given_name=given, family_name=family, birth_date=born
            )
    jobs = runtime.jobs
    assert isinstance(jobs, InProcessRunner)
    before = database_bytes(postgres_db)

    identifiers: set[str] = set()
    sent_bytes = 0
    origin = Origin(IngestSource.CSTORE)
    for i in range(IMAGES):
        chart, family, given, born = PATIENTS[i % len(PATIENTS)]
        ds = synthetic.make_instance(
            "intraoral",
            seed=1000 + i,
            shape=SHAPE,
            patient_id=chart,
            patient_name=f"{family}^{given}",
            birth_date=born.strftime("%Y%m%d"),
        )
        identifiers |= {str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)}
        data = synthetic.to_bytes(ds)
        sent_bytes += len(data)
        assert receive_instance(runtime, tenant_id, data, origin).ok
        if i % 10 == 9:
            jobs.drain()
    jobs.drain()
    growth = database_bytes(postgres_db) - before

    images = owner_query(
        postgres_db,
        "SELECT id, archive_key, archive_bytes, patient_id IS NOT NULL FROM images WHERE tenant_id = %s",
        (tenant_id,),
    )
    renditions = owner_query(
        postgres_db, "SELECT key, bytes FROM renditions WHERE tenant_id = %s", (tenant_id,)
    )
    assert len(images) == IMAGES
    assert all(matched for *_, matched in images), "every image should match its patient"
    assert len(renditions) == 3 * IMAGES

    root = tmp_path / "objects"

    def stored_objects() -> dict[str, int]:
        return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}

    def dicom_objects() -> set[str]:
        return {k for k in stored_objects() if "/dicom/" in k and not k.endswith(".meta")}

    archives = {key for _id, key, _b, _m in images}
    assert len(archives) == IMAGES and archives < dicom_objects()
    assert len(dicom_objects()) == 2 * IMAGES, (
        "the received bytes stay through the grace period after the swap"
    )
    assert delete_replaced_objects(runtime, grace=timedelta(0), tenant_ids=[tenant_id]) == IMAGES
    stored = stored_objects()
    for key, size in [(k, b) for _id, k, b, _m in images] + renditions:
        assert stored.get(key) == size, f"{key} missing from the object store or of another size"
    assert dicom_objects() == archives, "replaced originals should be gone, and nothing else"
    object_bytes = sum(size for key, size in stored.items() if not key.endswith(".meta"))

    per_image = growth / IMAGES
    print(  # the figures behind the bounds, for `pytest -s`
        f"database +{growth} B ({per_image:.0f} B/image); object store {object_bytes} B "
        f"({object_bytes / IMAGES:.0f} B/image); sent {sent_bytes / IMAGES:.0f} B/image"
    )
    assert 0 < per_image < MAX_DB_BYTES_PER_IMAGE
    assert object_bytes > 20 * growth  # measured ~48x
    assert object_bytes > 2 * IMAGES * MAX_DB_BYTES_PER_IMAGE

    ((lobs,),) = owner_query(postgres_db, "SELECT count(*) FROM pg_largeobject_metadata")
    assert lobs == 0
    for table, column in sorted(JSON_COLUMNS):
        ((largest,),) = owner_query(
            postgres_db,
            f"SELECT COALESCE(max(pg_column_size({column})), 0) FROM {table}",  # noqa: S608
        )
        assert largest <= MAX_JSON_BYTES, f"{table}.{column} holds a {largest}-byte value"

    for chart, family, given, born in PATIENTS:
        identifiers |= {chart, family, given, born.strftime("%Y%m%d"), born.isoformat()}
    for key in stored:
        lowered = key.lower()
        leaked = [value for value in identifiers if value.lower() in lowered]
        assert leaked == [], f"object key {key!r} contains {leaked}"
