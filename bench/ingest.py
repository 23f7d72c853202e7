"""Ingest suite: DICOM C-STORE throughput of Bitewing's listener against Orthanc 1.10, same batch, same run.

dcmtk ``storescu`` (``TCP_NODELAY=1``, one association) plays the X-ray machine and sends a batch of synthetic
intraoral instances (alternating size-2 1300x1700 and size-1 1000x1500 sensors, 12-bit, native Explicit VR
Little Endian, ~3-4.4 MB each) to:

- Bitewing's listener (`bitewing.core.dicom.listener`) in this process, on SQLite and, when it is reachable,
  PostgreSQL as the application role, storing into a local folder. The time measured is *durable acceptance*:
  a success status is only sent after the bytes are fsynced and the ingest record is committed. Processing jobs
  are not run (the job runner is a no-op), as in production where RQ workers on other pods do that.
- Orthanc 1.10 (Debian package, default configuration as `tests.support.orthanc.Orthanc` writes it:
  ``SyncStorageArea`` true, i.e. it fsyncs every file too; SQLite index).

Every target gets a fresh database / store per run, so no run sees duplicates of an earlier one. A warm-up
association of a few other instances precedes each timed batch. Then the first instances of the batch go to
Bitewing (SQLite) and Orthanc once more, each in an association of its own (as many sensors send), from a
pynetdicom sender in this process. The stage breakdown times the parts of one instance's acceptance in
isolation, to show where the listener's time goes.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, evt

from bench import report
from bitewing.core.auth.actor import system_actor
from bitewing.core.config import load_settings
from bitewing.core.db import migrations
from bitewing.core.devices import services as devices
from bitewing.core.dicom import listener as dicom_listener
from bitewing.core.imaging import synthetic
from bitewing.core.imaging.validate import parse_instance
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.plugins.storage import StoredObject, sha256_hex
from bitewing.core.runtime import Runtime, build_runtime
from bitewing.core.storage.keys import dicom_key
from bitewing.core.tenancy import services as tenancy
from tests.support import Orthanc, storescu
from tests.support.databases import DEFAULT_PG_ADMIN_URL, temporary_database
from tests.support.ports import is_listening

AE_TITLE = "BENCHSENSOR"
TARGETS = {"bitewing_vs_orthanc_rate": 1.0, "bitewing_mb_per_s": 100.0}


class NoJobs:
    """A job runner that drops what is queued: the benchmark measures acceptance, not processing."""

    def enqueue(self, func: Callable[..., Any], **kwargs: Any) -> str:
        return "skipped"

    def close(self) -> None:
        pass


def make_batch(folder: Path, count: int, prefix: str = "i") -> list[Path]:
    """`count` intraoral instances (fresh UIDs each) written as Part-10 files into `folder`."""
    paths = []
    for i in range(count):
        ds = synthetic.make_instance(
            "intraoral", seed=i % 4, sensor_size=2 if i % 2 == 0 else 1, patient_id=f"BENCH{i % 20}"
        )
        path = folder / f"{prefix}{i:04d}.dcm"
        path.write_bytes(synthetic.to_bytes(ds))
        paths.append(path)
    return paths


def _send(port: int, files: list[Path], called_aet: str) -> float:
    """Seconds for one storescu association sending `files`; raises unless every file was accepted."""
    start = time.perf_counter()
    sent = storescu("127.0.0.1", port, files, calling_aet=AE_TITLE, called_aet=called_aet, timeout=1800)
    seconds = time.perf_counter() - start
    if sent.returncode != 0:
        raise RuntimeError(f"storescu exited {sent.returncode}: {sent.stderr[-2000:]}")
    return seconds


class NullStore:
    """Takes every `put` without writing anything: isolates the database's share of `receive_instance`."""

    def put(
        self, key: str, data: bytes, content_type: str, *, immutable: bool = True, sha256: str | None = None
    ) -> StoredObject:
        """What a store returns (the digest computed when not given, as every store does), nothing written."""
        return StoredObject(key, len(data), sha256 or sha256_hex(data), content_type)

    def delete(self, key: str) -> None:
        return None


# --- Bitewing --------------------------------------------------------------------------------------------------


def _postgres_reachable() -> bool:
    return is_listening("127.0.0.1", 5432, timeout=1)


@contextmanager
def _database(kind: str, folder: Path) -> Iterator[str]:
    """A migrated database URL for the listener: SQLite file, or a throwaway PostgreSQL as the app role."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'bitewing.db'}"
        migrations.upgrade(url)
        yield url
        return
    import psycopg

    from bitewing.core.db.rls import DEFAULT_APP_ROLE

    with temporary_database(prefix="bitewing_bench") as database:
        migrations.upgrade(database.sqlalchemy_url)
        with psycopg.connect(DEFAULT_PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"ALTER ROLE {DEFAULT_APP_ROLE} LOGIN")
        yield f"postgresql+psycopg://{DEFAULT_APP_ROLE}@127.0.0.1:5432/{database.name}"


@contextmanager
def bitewing_runtime(kind: str) -> Iterator[tuple[Runtime, uuid.UUID, uuid.UUID]]:
    """A runtime on a fresh database and local store with one tenant, location and registered machine."""
    with tempfile.TemporaryDirectory(prefix="bitewing-bench-") as tmp, _database(kind, Path(tmp)) as url:
        settings = load_settings({}, instance_path=Path(tmp) / "instance", database_url=url)
        runtime = build_runtime(settings)
        runtime.__dict__["jobs"] = NoJobs()
        try:
            with runtime.db.unit_of_work() as uow:
                tenant_id = tenancy.create_tenant(uow, f"Bench {uuid.uuid4().hex[:6]}").id
            actor = system_actor(tenant_id, "bench")
            with runtime.db.unit_of_work(tenant_id) as uow:
                location_id = tenancy.add_location(uow, actor, name="Bench clinic").id
            with runtime.db.unit_of_work(tenant_id) as uow:
                devices.add_machine(uow, actor, location_id=location_id, name="sensor", ae_title=AE_TITLE)
            yield runtime, tenant_id, location_id
        finally:
            runtime.close()


def _through(server: Any, warmup: list[Path], batch: list[Path]) -> float:
    """Send `warmup`, then time `batch`, to the listener `server`; stop it after."""
    try:
        port = int(server.server_address[1])
        _send(port, warmup, "BITEWING")
        return _send(port, batch, "BITEWING")
    finally:
        dicom_listener.stop(server, grace=5)


def run_bitewing(kind: str, warmup: list[Path], batch: list[Path]) -> float:
    with bitewing_runtime(kind) as (runtime, _tenant, _location):
        return _through(dicom_listener.start(runtime, "127.0.0.1", 0), warmup, batch)


def run_transport_only(warmup: list[Path], batch: list[Path]) -> float:
    """The same listener with a store handler that keeps nothing: the pynetdicom transport's ceiling."""

    class Discard(dicom_listener.Listener):
        def on_c_store(self, event: Any) -> int:
            event.encoded_dataset()
            return dicom_listener.SUCCESS

    caller = dicom_listener.Caller(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), AE_TITLE)
    runtime: Any = type("R", (), {"settings": type("S", (), {"dicom_ae_title": "BITEWING"})})
    handlers = Discard(runtime, dicom_listener.CallerCache(lambda _ae, _ip: caller))
    return _through(dicom_listener.start(runtime, "127.0.0.1", 0, listener=handlers), warmup, batch)


def _send_one_per_association(port: int, files: list[Path], called_aet: str) -> float:
    """Seconds to send each of `files` in an association of its own (as many sensors do), with pynetdicom
    (TCP_NODELAY on its sockets); raises unless every instance was accepted."""
    sender = AE(ae_title=AE_TITLE)
    for sop_class in {dcmread(f, stop_before_pixels=True).SOPClassUID for f in files}:
        sender.add_requested_context(sop_class, ExplicitVRLittleEndian)
    handlers = [(evt.EVT_CONN_OPEN, dicom_listener.Listener.on_connection_open)]
    start = time.perf_counter()
    for path in files:
        assoc = sender.associate("127.0.0.1", port, ae_title=called_aet, evt_handlers=handlers)
        if not assoc.is_established:
            raise RuntimeError(f"association to {called_aet} refused")
        status = assoc.send_c_store(path)
        assoc.release()
        if status.get("Status") != 0:
            raise RuntimeError(f"{called_aet} answered {status.get('Status')} for {path.name}")
    return time.perf_counter() - start


def run_bitewing_per_association(files: list[Path]) -> float:
    with bitewing_runtime("sqlite") as (runtime, _tenant, _location):
        server = dicom_listener.start(runtime, "127.0.0.1", 0)
        try:
            return _send_one_per_association(int(server.server_address[1]), files, "BITEWING")
        finally:
            dicom_listener.stop(server, grace=5)


def run_orthanc_per_association(files: list[Path]) -> float:
    with Orthanc(aet="ORTHANC") as orthanc:
        return _send_one_per_association(orthanc.dicom_port, files, orthanc.aet)


# --- Orthanc ---------------------------------------------------------------------------------------------------


def run_orthanc(warmup: list[Path], batch: list[Path]) -> float:
    with Orthanc(aet="ORTHANC") as orthanc:
        _send(orthanc.dicom_port, warmup, orthanc.aet)
        seconds = _send(orthanc.dicom_port, batch, orthanc.aet)
        stored = orthanc.count_instances()
        if stored != len(warmup) + len(batch):
            raise RuntimeError(f"Orthanc holds {stored} instances, {len(warmup) + len(batch)} were sent")
        return seconds


# --- stage breakdown -------------------------------------------------------------------------------------------


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def stage_breakdown(sample: Path, repeat: int) -> dict[str, float]:
    """Milliseconds per instance of each step of durable acceptance, measured in isolation (SQLite)."""
    data = sample.read_bytes()
    with bitewing_runtime("sqlite") as (runtime, tenant_id, location_id):
        store = runtime.object_store
        origin = Origin(IngestSource.CSTORE, location_id=location_id, calling_ae=AE_TITLE)

        uid = str(parse_instance(data).SOPInstanceUID)
        stem, last = uid.rsplit(".", 1)
        instances = iter(
            [  # another SOP Instance UID (same length) for each call: nothing is a duplicate or a new version
                data.replace(
                    uid.encode(),
                    f"{stem}.{random.randrange(10 ** (len(last) - 1), 10 ** len(last))}".encode(),
                )
                for _ in range(2 * repeat + 2)
            ]
        )

        def fresh() -> bytes:
            return next(instances)

        stages = {
            "sha256_ms": _median_ms(lambda: hashlib.sha256(data).hexdigest(), repeat),
            "parse_instance_ms": _median_ms(lambda: parse_instance(data), repeat),
            "object_store_put_ms": _median_ms(lambda: store.put(dicom_key(tenant_id), data, "x"), repeat),
            "receive_instance_ms": _median_ms(
                lambda: receive_instance(runtime, tenant_id, fresh(), origin), repeat
            ),
        }
        runtime.__dict__["object_store"] = NullStore()
        stages["receive_instance_without_store_ms"] = _median_ms(
            lambda: receive_instance(runtime, tenant_id, fresh(), origin), repeat
        )
        return stages


# --- the suite -------------------------------------------------------------------------------------------------


def _rate(name: str, seconds: list[float], count: int, total_bytes: int) -> dict[str, Any]:
    median = statistics.median(seconds)
    return {
        "target": name,
        "images": count,
        "megabytes": round(total_bytes / 1e6, 1),
        "runs_seconds": [round(s, 3) for s in seconds],
        "seconds": round(median, 3),
        "images_per_s": round(count / median, 2),
        "mb_per_s": round(total_bytes / 1e6 / median, 1),
        "ms_per_image": round(median / count * 1000, 2),
    }


def run(quick: bool = False) -> dict[str, object]:
    """C-STORE the batch into each target; `quick` sends 40 instances once instead of 300 twice."""
    count, repeat = (40, 1) if quick else (300, 2)
    kinds = ["sqlite"] + (["postgres"] if _postgres_reachable() else [])
    with tempfile.TemporaryDirectory(prefix="bitewing-bench-batch-") as tmp:
        folder = Path(tmp)
        warmup = make_batch(folder, 4, prefix="w")
        batch = make_batch(folder, count)
        total = sum(p.stat().st_size for p in batch)
        runners: dict[str, Callable[[], float]] = {"orthanc": lambda: run_orthanc(warmup, batch)}
        for kind in kinds:
            runners[f"bitewing_{kind}"] = lambda kind=kind: run_bitewing(kind, warmup, batch)  # type: ignore[misc]
        runners["transport_only"] = lambda: run_transport_only(warmup, batch)
        seconds: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(repeat):  # interleaved, so drift in the machine's load hits every target alike
            for name, runner in runners.items():
                seconds[name].append(runner())
        rates = [_rate(name, runs, count, total) for name, runs in seconds.items()]
        singles = batch[: 10 if quick else 40]
        single_seconds: dict[str, list[float]] = {"bitewing_sqlite": [], "orthanc": []}
        for _ in range(repeat):
            single_seconds["bitewing_sqlite"].append(run_bitewing_per_association(singles))
            single_seconds["orthanc"].append(run_orthanc_per_association(singles))
        singles_bytes = sum(p.stat().st_size for p in singles)
        per_association = [_rate(n, s, len(singles), singles_bytes) for n, s in single_seconds.items()]
        stages = stage_breakdown(batch[0], repeat=10 if quick else 30)
    by_name = {r["target"]: r for r in rates}
    orthanc = by_name["orthanc"]
    best = max((r for r in rates if r["target"].startswith("bitewing_")), key=lambda r: r["images_per_s"])
    results: dict[str, object] = {
        "batch": {
            "images": count,
            "megabytes": round(total / 1e6, 1),
            "mean_mb_per_image": round(total / count / 1e6, 2),
            "geometry": "intraoral 1300x1700 and 1000x1500, 12-bit, Explicit VR Little Endian",
            "repeats": repeat,
        },
        "listener": {
            "max_pdu_bytes": dicom_listener.MAX_PDU_BYTES,
            "caller_cache_ttl_s": dicom_listener.CALLER_TTL_SECONDS,
        },
        "rates": rates,
        "ratios": {
            r["target"]: round(r["images_per_s"] / orthanc["images_per_s"], 2)
            for r in rates
            if r["target"] != "orthanc"
        },
        "stages_ms_per_instance": {k: round(v, 2) for k, v in stages.items()},
        "one_instance_per_association": per_association,
    }
    results["targets"] = [
        {
            "target": f"{best['target']} images/s vs Orthanc",
            "measured": round(best["images_per_s"] / orthanc["images_per_s"], 2),
            "op": ">=",
            "bound": TARGETS["bitewing_vs_orthanc_rate"],
            "met": best["images_per_s"] >= orthanc["images_per_s"],
        },
        {
            "target": f"{best['target']} MB/s per listener",
            "measured": best["mb_per_s"],
            "op": ">=",
            "bound": TARGETS["bitewing_mb_per_s"],
            "met": best["mb_per_s"] >= TARGETS["bitewing_mb_per_s"],
        },
    ]
    return results


def markdown(results: dict[str, Any]) -> str:
    """The human report of `run()`'s results."""
    env, batch, stages = results["environment"], results["batch"], results["stages_ms_per_instance"]
    receive = stages["receive_instance_ms"]
    db_ms = round(
        stages["receive_instance_without_store_ms"] - stages["parse_instance_ms"] - stages["sha256_ms"], 1
    )
    transport = next(r for r in results["rates"] if r["target"] == "transport_only")
    parts = [
        *report.header(
            "Ingest benchmark (DICOM C-STORE)",
            env,
            f"dcmtk storescu (TCP_NODELAY=1, one association) sends {batch['images']} synthetic instances "
            f"({batch['megabytes']} MB, {batch['mean_mb_per_image']} MB each: {batch['geometry']}); median of "
            f"{batch['repeats']} interleaved run(s), each into a fresh target. Bitewing's time is durable acceptance "
            "(bytes fsynced in the local folder store and the ingest record committed before success; processing "
            "jobs not run). Orthanc 1.10 runs its default configuration (fsyncs its storage area too). "
            "Regenerate: `uv run python -m bench --suite ingest`.",
        ),
        *report.targets_section(results["targets"]),
        "## Throughput",
        "",
        report.table(
            ["target", "images/s", "MB/s", "ms/image", "vs Orthanc", "runs (s)"],
            [
                [
                    r["target"],
                    r["images_per_s"],
                    r["mb_per_s"],
                    r["ms_per_image"],
                    results["ratios"].get(r["target"], 1.0),
                    ", ".join(str(s) for s in r["runs_seconds"]),
                ]
                for r in results["rates"]
            ],
        ),
        "",
        "`transport_only` is the same listener with a C-STORE handler that keeps nothing (not durable): the "
        "ceiling pynetdicom's transport allows on this machine.",
        "",
        "## One instance per association",
        "",
        "Many sensors open an association for each image. The first instances of the batch, each sent by "
        "pynetdicom (this process, TCP_NODELAY) in an association of its own, into a fresh target per run:",
        "",
        report.table(
            ["target", "images/s", "ms/image", "runs (s)"],
            [
                [r["target"], r["images_per_s"], r["ms_per_image"], ", ".join(map(str, r["runs_seconds"]))]
                for r in results["one_instance_per_association"]
            ],
        ),
        "",
        "## Where one instance's time goes (first instance of the batch, in isolation, SQLite)",
        "",
        report.table(["step", "ms"], [[k.removesuffix("_ms"), v] for k, v in stages.items()]),
        "",
        f"Per image, the transport alone takes {transport['ms_per_image']} ms. `receive_instance` (validate, "
        f"SHA-256, store write with fsync, two database transactions) takes {receive} ms: the object store's "
        f"`put` {stages['object_store_put_ms']} ms (the local folder store's atomic write: the data file written "
        "and fdatasynced while a helper thread computes its SHA-256, the sidecar, one fsync of the folder; as "
        "ingest calls it for an instance whose UID is new), "
        f"`parse_instance` {stages['parse_instance_ms']} ms, one SHA-256 {stages['sha256_ms']} ms (overlapped "
        f"with the write), and the database (duplicate check, insert, commit) about {db_ms} ms "
        "(`receive_instance` with a store that writes nothing, minus "
        "parse and SHA-256). The listener's own work around these (rebuilding the Part-10 header, the "
        "handler, logging) is below the run-to-run noise.",
        "",
    ]
    return "\n".join(parts)
