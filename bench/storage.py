"""Storage suite: where an image's bytes live — database bytes per image vs object-store bytes per image.

A few hundred realistic-size synthetic X-rays (intraoral and bitewing size 2, 1300x1700 / 1700x1300, 12-bit,
native Explicit VR Little Endian, 4.4 MB each; six pixel sets per kind) go through the real ingest path:
`receive_instance` (spooled to the object store, ingest record committed) and the processing job (in-process
jobs), on PostgreSQL as the app role with the local-folder object store. Every image matches a registered
patient, as in a practice. Before and after, the database's size is read as the sum of
``pg_total_relation_size`` (table, TOAST and indexes) of every table in the ``public`` schema (dead tuples
from the ingest record's status updates included; WAL not); the object store is measured by walking its folder
and sorting files by key (renditions by name, DICOM, JSON sidecars).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench import report
from bench.latency import _postgres
from bitewing.core.auth.actor import system_actor
from bitewing.core.config import load_settings
from bitewing.core.imaging import synthetic
from bitewing.core.ingest.archiving import delete_replaced_objects
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.jobs.runners import InProcessRunner
from bitewing.core.patients import services as patients
from bitewing.core.runtime import build_runtime
from bitewing.core.tenancy import services as tenancy

TARGETS = {"db_bytes_per_image_max": 16 * 1024, "object_to_db_ratio_min": 100.0}
KINDS = ("intraoral", "bitewing")
SEEDS = 6
PATIENTS = 10

TABLE_SIZES = """
SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""


def table_sizes(owner_url: str) -> dict[str, int]:
    """Bytes of every public table with its TOAST table and indexes."""
    with psycopg.connect(owner_url) as conn:
        return {name: int(size) for name, size, _rows in conn.execute(TABLE_SIZES).fetchall()}


def row_counts(owner_url: str, tables: list[str]) -> dict[str, int]:
    with psycopg.connect(owner_url) as conn:
        counts = {}
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            counts[table] = int(conn.execute(query).fetchone()[0])  # type: ignore[index]
        return counts


def large_objects(owner_url: str) -> int:
    with psycopg.connect(owner_url) as conn:
        return int(conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()[0])  # type: ignore[index]


def object_store_bytes(root: Path) -> dict[str, dict[str, int]]:
    """Files and bytes below `root` by class: rendition name, DICOM (archive copies, and received bytes an
    archive copy has not replaced yet: one key prefix), sidecar."""
    out: dict[str, dict[str, int]] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        parts = path.relative_to(root).parts
        if path.name.endswith(".meta"):
            kind = "sidecar (.meta)"
        elif parts[1] == "renditions":
            kind = f"rendition {path.stem}"
        elif parts[1] == "dicom":
            kind = "DICOM kept (the archive copies once processed)"
        else:
            kind = f"other {parts[1]}"
        entry = out.setdefault(kind, {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += path.stat().st_size
    return out


def ingest(count: int, owner_url: str, app_url: str, folder: Path) -> dict[str, Any]:
    """Ingest `count` images into a fresh tenant; returns sizes before/after and what was sent."""
    settings = load_settings({}, instance_path=folder / "instance", database_url=app_url)
    runtime = build_runtime(settings)
    try:
        with runtime.db.unit_of_work() as uow:
            tenant_id = tenancy.create_tenant(uow, f"Storage {uuid.uuid4().hex[:6]}").id
        actor = system_actor(tenant_id, "bench")
        with runtime.db.unit_of_work(tenant_id) as uow:
            location_id = tenancy.add_location(uow, actor, name="Storage clinic").id
        charts = []
        for i in range(PATIENTS):
            with runtime.db.unit_of_work(tenant_id) as uow:
                patients.create_patient(
                    uow,
                    actor,
                    chart_number=f"ST-{i}",
                    given_name="Sam",
                    family_name=f"Storage{i}",
                    birth_date=date(1970, 1, 1 + i),
                )
            charts.append((f"ST-{i}", f"Storage{i}^Sam", f"197001{1 + i:02d}"))
        templates = [synthetic.make_instance(k, seed=s) for k in KINDS for s in range(SEEDS)]
        del templates  # warm the pixel cache before the clock starts
        before = table_sizes(owner_url)
        jobs = runtime.jobs
        assert isinstance(jobs, InProcessRunner)
        origin = Origin(IngestSource.CSTORE, location_id=location_id)
        sent_bytes = 0
        pixel_bytes = 0
        start = time.perf_counter()
        for i in range(count):
            chart, name, born = charts[i % PATIENTS]
            ds = synthetic.make_instance(
                KINDS[i % 2], seed=(i // 2) % SEEDS, patient_id=chart, patient_name=name, birth_date=born
            )
            data = synthetic.to_bytes(ds)
            sent_bytes += len(data)
            pixel_bytes += len(ds.PixelData)
            receipt = receive_instance(runtime, tenant_id, data, origin)
            if not receipt.ok:
                raise RuntimeError(f"image {i} was not accepted: {receipt}")
            if i % 8 == 7:
                jobs.drain()
        jobs.drain()
        seconds = time.perf_counter() - start
        delete_replaced_objects(runtime, grace=timedelta(0), tenant_ids=[tenant_id])  # as the sweeper will
        after = table_sizes(owner_url)
        return {
            "before": before,
            "after": after,
            "rows": row_counts(owner_url, sorted(after)),
            "sent_bytes": sent_bytes,
            "pixel_bytes": pixel_bytes,
            "seconds": seconds,
            "store": object_store_bytes(Path(settings.storage_url.removeprefix("file://"))),
        }
    finally:
        runtime.close()


def run(quick: bool = False) -> dict[str, object]:
    """Ingest 300 images (40 when quick) and compare database growth with object-store bytes."""
    count = 40 if quick else 300
    with tempfile.TemporaryDirectory(prefix="bitewing-storage-") as tmp, _postgres() as (app_url, owner_url):
        measured = ingest(count, owner_url, app_url, Path(tmp))
        lobs = large_objects(owner_url)
    growth = {t: measured["after"][t] - measured["before"].get(t, 0) for t in measured["after"]}
    db_growth = sum(growth.values())
    store = measured["store"]
    store_total = sum(v["bytes"] for v in store.values())
    images = measured["rows"].get("images", 0)
    per_image_db = db_growth / count
    results: dict[str, Any] = {
        "images": count,
        "images_recorded": images,
        "geometry": "intraoral 1300x1700 and bitewing 1700x1300, 12-bit, native Explicit VR Little Endian",
        "ingest_seconds": round(measured["seconds"], 1),
        "original_bytes_per_image": round(measured["sent_bytes"] / count),
        "pixel_bytes_per_image": round(measured["pixel_bytes"] / count),
        "database": {
            "growth_bytes": db_growth,
            "bytes_per_image": round(per_image_db),
            "large_objects": lobs,
            "by_table": {
                t: {
                    "growth_bytes": g,
                    "bytes_per_image": round(g / count),
                    "rows": measured["rows"].get(t, 0),
                }
                for t, g in sorted(growth.items(), key=lambda kv: -kv[1])
                if g or measured["rows"].get(t)
            },
        },
        "object_store": {
            "bytes": store_total,
            "bytes_per_image": round(store_total / count),
            "by_kind": {
                k: {**v, "bytes_per_image": round(v["bytes"] / count)} for k, v in sorted(store.items())
            },
        },
    }
    ratio = store_total / db_growth if db_growth else float("inf")
    results["object_store_to_database_ratio"] = round(ratio, 1)
    results["targets"] = [
        {
            "target": "database growth per image (bytes, all tables with TOAST and indexes)",
            "measured": round(per_image_db),
            "op": "<=",
            "bound": TARGETS["db_bytes_per_image_max"],
            "met": per_image_db <= TARGETS["db_bytes_per_image_max"],
        },
        {
            "target": "object-store bytes / database growth",
            "measured": round(ratio, 1),
            "op": ">=",
            "bound": TARGETS["object_to_db_ratio_min"],
            "met": ratio >= TARGETS["object_to_db_ratio_min"],
        },
        {
            "target": "large objects in the database",
            "measured": lobs,
            "op": "==",
            "bound": 0,
            "met": lobs == 0,
        },
        {
            "target": "images recorded / images sent",
            "measured": images,
            "op": "==",
            "bound": count,
            "met": images == count,
        },
    ]
    return results


def _kib(n: float) -> str:
    return f"{n / 1024:,.1f}"


def markdown(results: dict[str, Any]) -> str:
    """The human report of `run()`'s results."""
    env, db, store = results["environment"], results["database"], results["object_store"]
    original = results["original_bytes_per_image"]
    kinds = {kind: v["bytes_per_image"] for kind, v in store["by_kind"].items()}
    parts = [
        *report.header(
            "Storage benchmark: images live outside the database",
            env,
            f"{results['images']} synthetic X-rays ({results['geometry']}, {_kib(original)} KiB each as sent) "
            "received and processed through the real ingest path on PostgreSQL (app role) with the local-folder "
            f"store, in {results['ingest_seconds']} s. Regenerate: `uv run python -m bench --suite storage`.",
        ),
        *report.targets_section(results["targets"]),
        "## Per image",
        "",
        report.table(
            ["where", "KiB per image", "share of the original"],
            [
                [
                    "original DICOM as sent (not kept: deleted a grace period after its archive copy replaces it)",
                    _kib(original),
                    "100%",
                ],
                *[
                    [k, _kib(v), f"{v / original:.2%}"]
                    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])
                ],
                [
                    "**object store, all**",
                    _kib(store["bytes_per_image"]),
                    f"{store['bytes_per_image'] / original:.2%}",
                ],
                [
                    "**database, all tables**",
                    _kib(db["bytes_per_image"]),
                    f"{db['bytes_per_image'] / original:.3%}",
                ],
            ],
        ),
        "",
        f"The object store holds {results['object_store_to_database_ratio']}x what the database grew by; "
        f"the database holds {db['large_objects']} large objects.",
        "",
        "## Database growth by table",
        "",
        report.table(
            ["table", "growth KiB", "bytes per image", "rows after"],
            [
                [t, _kib(v["growth_bytes"]), v["bytes_per_image"], v["rows"]]
                for t, v in db["by_table"].items()
            ],
        ),
        "",
        "Sizes are whole 8 KiB pages of tables, TOAST and indexes, so small tables show steps; the ingest "
        "record's status update leaves a dead tuple per image until autovacuum.",
        "",
    ]
    return "\n".join(parts)
