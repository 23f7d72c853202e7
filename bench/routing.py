"""Routing suite: deliveries per second to Orthanc 1.10 through REST and through C-STORE, against dcmtk storescu.

A batch of synthetic intraoral instances (alternating size-2 1300x1700 and size-1 1000x1500 sensors, 12-bit,
native Explicit VR Little Endian, as in the ingest suite) is ingested once through `receive_instance` and the
processing job (embedded runner, no routing rules), so every image has its lossless HTJ2K archive in the store.
Then, into a fresh Orthanc per measurement (so nothing is ``AlreadyStored``), in the same run:

- ``storescu``: dcmtk storescu sends the original files straight to Orthanc over one association
  (``TCP_NODELAY=1``): the peer every figure is compared with.
- ``connector_rest`` / ``connector_cstore``: the raw connector: one open connection (`orthanc` REST, or the
  built-in `cstore`, one association) storing the same native bytes, already in memory, one after the other;
  no database, no object store, no verification.
- ``deliver_*``: the delivery path as Bitewing runs it: the `deliver` job for one delivery row after the other,
  in one thread (one worker's throughput): claim the row (a transaction), read the archive from the object
  store, encode it for the target, open a connection, store, verify (REST ``/tools/find``; C-FIND, as Orthanc
  knows Bitewing's AE title), settle the row (a transaction). ``deliver_rest``: a REST target taking the
  archive as stored (``lossless``: HTJ2K, no decoding, fewer bytes; Orthanc 1.10 stores it but cannot decode
  it). ``deliver_rest_uncompressed`` and ``deliver_cstore``: targets set to ``uncompressed`` (Orthanc 1.10
  refuses HTJ2K over DIMSE, and the connector tells the owner to choose ``uncompressed``), so the archive is
  decoded back to the native bytes storescu sends.

Not measured: what an RQ worker adds around each job (dequeuing, job bookkeeping in Redis) and the queueing;
the tests in ``tests/integration`` run that path end to end.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench import report
from bench.ingest import _database, _postgres_reachable, make_batch
from bitewing.core.auth.actor import system_actor
from bitewing.core.config import load_settings
from bitewing.core.deliveries import encoding
from bitewing.core.deliveries.models import Delivery, DeliveryRole, DeliveryState
from bitewing.core.deliveries.services import deliver, instance_ref
from bitewing.core.images.models import Image, Series, Study
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.plugins.connectors import InstanceRef, TransferSyntaxPreference
from bitewing.core.routing import targets
from bitewing.core.runtime import Runtime, build_runtime
from bitewing.core.tenancy import services as tenancy
from bitewing.core.tenancy.models import Region
from tests.support import Orthanc, storescu

BITEWING_MODALITY = {"bitewing": ["BITEWING", "127.0.0.1", 104]}
"""Orthanc knows Bitewing's AE title, so the C-STORE connector verifies with C-FIND."""
TARGETS = {"deliver_rest": 0.5, "deliver_cstore": 0.5}
"""Bounds on deliveries/s relative to storescu: one worker's delivery path should reach half the raw peer."""


@contextmanager
def ingested(folder: Path, files: list[Path]) -> Iterator[tuple[Runtime, uuid.UUID, str, list[uuid.UUID]]]:
    """A runtime with one tenant whose images are `files`, processed; yields (runtime, tenant, db, image ids)."""
    kind = "postgres" if _postgres_reachable() else "sqlite"
    with _database(kind, folder) as url:
        settings = load_settings({}, instance_path=folder / "instance", database_url=url)
        runtime = build_runtime(settings)
        try:
            with runtime.db.unit_of_work() as uow:
                tenant_id = tenancy.create_tenant(uow, f"Bench {uuid.uuid4().hex[:6]}").id
            for path in files:
                receive_instance(runtime, tenant_id, path.read_bytes(), Origin(IngestSource.UPLOAD))
            runtime.jobs.drain()  # type: ignore[attr-defined]
            with runtime.db.unit_of_work(tenant_id) as uow:
                images = list(uow.session.scalars(select(Image.id).order_by(Image.created_at)))
            if len(images) != len(files):
                raise RuntimeError(f"{len(images)} of {len(files)} instances were processed")
            yield runtime, tenant_id, kind, images
        finally:
            runtime.close()


def _target(
    runtime: Runtime, tenant_id: uuid.UUID, kind: str, config: dict[str, Any], syntax: str
) -> uuid.UUID:
    with runtime.db.unit_of_work(tenant_id) as uow:
        target = targets.create_target(
            runtime,
            uow,
            system_actor(tenant_id, "bench"),
            name=f"{kind}-{uuid.uuid4().hex[:8]}",
            connector_type=kind,
            config=config,
            region=Region.US,
            transfer_syntax=TransferSyntaxPreference(syntax),
        )
        return target.id


def rest_config(orthanc: Orthanc) -> dict[str, Any]:
    return {"url": orthanc.url, "username": orthanc.username, "password": orthanc.password}


def cstore_config(orthanc: Orthanc) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": orthanc.dicom_port, "called_ae": orthanc.aet}


def _check_stored(orthanc: Orthanc, count: int) -> None:
    stored = orthanc.count_instances()
    if stored != count:
        raise RuntimeError(f"Orthanc holds {stored} instances, {count} were sent")


def run_storescu(files: list[Path]) -> float:
    with Orthanc(aet="ORTHANC") as orthanc:
        start = time.perf_counter()
        sent = storescu("127.0.0.1", orthanc.dicom_port, files, called_aet=orthanc.aet, timeout=1800)
        seconds = time.perf_counter() - start
        if sent.returncode != 0:
            raise RuntimeError(f"storescu exited {sent.returncode}: {sent.stderr[-2000:]}")
        _check_stored(orthanc, len(files))
        return seconds


def run_connector(runtime: Runtime, kind: str, payloads: list[tuple[bytes, InstanceRef]]) -> float:
    """One open connection of connector type `kind` storing every payload (no verification)."""
    connector = runtime.plugins.connector_types()[kind]
    with Orthanc(aet="ORTHANC", modalities=BITEWING_MODALITY) as orthanc:
        config = rest_config(orthanc) if kind == "orthanc" else cstore_config(orthanc)
        loaded = connector.config_schema().load(config)
        start = time.perf_counter()
        with connector.open(loaded) as connection:
            for data, ref in payloads:
                connection.store_instance(data, ref)
        seconds = time.perf_counter() - start
        _check_stored(orthanc, len(payloads))
        return seconds


def run_deliver(
    runtime: Runtime, tenant_id: uuid.UUID, images: list[uuid.UUID], kind: str, syntax: str
) -> float:
    """The `deliver` job for one new delivery row per image, one after the other."""
    with Orthanc(aet="ORTHANC", modalities=BITEWING_MODALITY) as orthanc:
        config = rest_config(orthanc) if kind == "orthanc" else cstore_config(orthanc)
        target_id = _target(runtime, tenant_id, kind, config, syntax)
        with runtime.db.unit_of_work(tenant_id) as uow:
            rows = [
                Delivery(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    image_id=image_id,
                    target_id=target_id,
                    role=DeliveryRole.PRIMARY,
                    state=DeliveryState.PENDING,
                )
                for image_id in images
            ]
            uow.session.add_all(rows)
            uow.commit()
            ids = [str(row.id) for row in rows]
        start = time.perf_counter()
        states = [deliver(runtime, tenant_id=str(tenant_id), delivery_id=i) for i in ids]
        seconds = time.perf_counter() - start
        if set(states) != {"delivered"}:
            with runtime.db.unit_of_work(tenant_id) as uow:
                errors = set(uow.session.scalars(select(Delivery.last_error).where(Delivery.id.in_(ids))))
            raise DeliveryFailed(f"deliveries ended {sorted(set(states))}: {sorted(map(str, errors))[:2]}")
        _check_stored(orthanc, len(images))
        return seconds


class DeliveryFailed(RuntimeError):
    """The deliver job did not deliver: the path is broken, and the suite says so rather than report a rate."""


def native_payloads(
    runtime: Runtime, tenant_id: uuid.UUID, images: list[uuid.UUID]
) -> list[tuple[bytes, InstanceRef]]:
    """What an uncompressed target gets for each image (the archive decoded back to native), in memory."""
    payloads = []
    with runtime.db.unit_of_work(tenant_id) as uow:
        for image_id in images:
            image = uow.session.get(Image, image_id)
            assert image is not None
            data, syntax = encoding.encode_for_target(
                runtime.object_store.get(image.archive_key),
                image.archive_transfer_syntax,
                image.original_transfer_syntax,
                TransferSyntaxPreference.UNCOMPRESSED,
            )
            study = uow.session.get(Study, image.study_id)
            series = uow.session.get(Series, image.series_id)
            payloads.append((data, instance_ref(image, study, series, data, syntax)))
    return payloads


def archive_bytes(runtime: Runtime, tenant_id: uuid.UUID, images: list[uuid.UUID]) -> int:
    with runtime.db.unit_of_work(tenant_id) as uow:
        return sum(uow.session.get(Image, i).archive_bytes for i in images)  # type: ignore[union-attr]


def _rate(name: str, seconds: list[float], count: int, total_bytes: int, measures: str) -> dict[str, Any]:
    median = statistics.median(seconds)
    return {
        "path": name,
        "measures": measures,
        "instances": count,
        "megabytes": round(total_bytes / 1e6, 1),
        "runs_seconds": [round(s, 3) for s in seconds],
        "seconds": round(median, 3),
        "per_s": round(count / median, 2),
        "mb_per_s": round(total_bytes / 1e6 / median, 1),
        "ms_each": round(median / count * 1000, 2),
    }


MEASURES = {
    "storescu": "peer: dcmtk storescu, the original files straight to Orthanc, one association",
    "connector_rest": "raw connector: orthanc REST, one connection, native bytes in memory, no verification",
    "connector_cstore": "raw connector: cstore, one association, native bytes in memory, no verification",
    "deliver_rest": "delivery path: deliver job, orthanc REST target taking the HTJ2K archive as stored (lossless)",
    "deliver_rest_uncompressed": "delivery path: deliver job, orthanc REST target (uncompressed), verify by find",
    "deliver_cstore": "delivery path: deliver job, cstore target (uncompressed), verify by C-FIND",
}


def run(quick: bool = False) -> dict[str, object]:
    """Deliver the batch along each path; `quick` uses 40 instances once instead of 200 twice."""
    count, repeat = (40, 1) if quick else (200, 2)
    with tempfile.TemporaryDirectory(prefix="bitewing-bench-routing-") as tmp:
        folder = Path(tmp)
        files = make_batch(folder, count)
        total = sum(p.stat().st_size for p in files)
        with ingested(folder, files) as (runtime, tenant_id, database, images):
            payloads = native_payloads(runtime, tenant_id, images)
            native_total = sum(len(d) for d, _ in payloads)
            htj2k_total = archive_bytes(runtime, tenant_id, images)
            runners: dict[str, Callable[[], float]] = {
                "storescu": lambda: run_storescu(files),
                "connector_rest": lambda: run_connector(runtime, "orthanc", payloads),
                "connector_cstore": lambda: run_connector(runtime, "cstore", payloads),
                "deliver_rest": lambda: run_deliver(runtime, tenant_id, images, "orthanc", "lossless"),
                "deliver_rest_uncompressed": lambda: run_deliver(
                    runtime, tenant_id, images, "orthanc", "uncompressed"
                ),
                "deliver_cstore": lambda: run_deliver(runtime, tenant_id, images, "cstore", "uncompressed"),
            }
            seconds: dict[str, list[float]] = {name: [] for name in runners}
            for _ in range(repeat):  # interleaved, so drift in the machine's load hits every path alike
                for name, runner in runners.items():
                    seconds[name].append(runner())
    sizes = {name: native_total for name in runners} | {"storescu": total, "deliver_rest": htj2k_total}
    rates = [_rate(name, runs, count, sizes[name], MEASURES[name]) for name, runs in seconds.items()]
    by_name = {r["path"]: r for r in rates}
    peer = by_name["storescu"]["per_s"]
    ratios = {r["path"]: round(r["per_s"] / peer, 2) for r in rates if r["path"] != "storescu"}
    results: dict[str, object] = {
        "batch": {
            "instances": count,
            "megabytes": round(total / 1e6, 1),
            "archive_megabytes": round(htj2k_total / 1e6, 1),
            "geometry": "intraoral 1300x1700 and 1000x1500, 12-bit, Explicit VR Little Endian",
            "repeats": repeat,
            "database": database,
            "object_store": "local folder",
        },
        "rates": rates,
        "ratios_vs_storescu": ratios,
        "delivery_overhead_ms": {
            "rest": round(
                by_name["deliver_rest_uncompressed"]["ms_each"] - by_name["connector_rest"]["ms_each"], 2
            ),
            "cstore": round(by_name["deliver_cstore"]["ms_each"] - by_name["connector_cstore"]["ms_each"], 2),
        },
    }
    results["targets"] = [
        {
            "target": f"{path} deliveries/s vs storescu",
            "measured": ratios[path],
            "op": ">=",
            "bound": bound,
            "met": ratios[path] >= bound,
        }
        for path, bound in TARGETS.items()
    ]
    return results


def markdown(results: dict[str, Any]) -> str:
    """The human report of `run()`'s results."""
    env, batch, ratios = results["environment"], results["batch"], results["ratios_vs_storescu"]
    overhead = results["delivery_overhead_ms"]
    parts = [
        *report.header(
            "Routing benchmark (deliveries to Orthanc)",
            env,
            f"{batch['instances']} synthetic instances ({batch['megabytes']} MB native, {batch['geometry']}; "
            f"{batch['archive_megabytes']} MB as HTJ2K archives), ingested once ({batch['database']}, "
            f"{batch['object_store']} store), then delivered to a fresh Orthanc 1.10 per measurement; median of "
            f"{batch['repeats']} interleaved run(s). One sender at a time (one worker, one association or "
            "connection). Regenerate: `uv run python -m bench --suite routing`.",
        ),
        *report.targets_section(results["targets"]),
        "## Throughput",
        "",
        report.table(
            ["path", "what is measured", "per s", "MB/s", "ms each", "vs storescu", "runs (s)"],
            [
                [
                    r["path"],
                    r["measures"],
                    r["per_s"],
                    r["mb_per_s"],
                    r["ms_each"],
                    ratios.get(r["path"], 1.0),
                    ", ".join(str(s) for s in r["runs_seconds"]),
                ]
                for r in results["rates"]
            ],
        ),
        "",
        "`connector_*` rows are the raw connector throughput (bytes already in memory, one open connection, no "
        "database, store or verification). `deliver_*` rows are the delivery path as Bitewing runs it: the "
        "`deliver` job per delivery row (claim, archive read from the object store, encoding for the target, "
        "a new connection, store, verification, settle). What the delivery path adds per instance over the raw "
        f"connector: {overhead['rest']} ms through REST, {overhead['cstore']} ms through C-STORE. Not included: "
        "what an RQ worker adds around each job (dequeuing, bookkeeping in Redis).",
        "",
    ]
    return "\n".join(parts)
