"""The dental group of the routing issue, end to end on real VNAs and the production stack.

"Location A on an on-premise Orthanc, Location B on a cloud VNA, CBCT scans on a premium archive, everything
copied to a backup": dcmtk ``storescu`` plays each X-ray machine and sends to Bitewing's DICOM listener (in this
process); real ``bitewing worker`` processes (RQ on a dedicated Redis database) process, route and deliver over
PostgreSQL (as the app role) and SeaweedFS (object store, and the S3 backup archive); where every instance
landed is checked through Orthanc's REST API and S3 ``HEAD``, and the delivery states through the API.

`Stack` (the listener, the app and worker processes over one environment) is shared with
``test_delivery_faults.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import redis
from flask import Flask
from pynetdicom.transport import ThreadedAssociationServer

from bitewing.core.app import create_app
from bitewing.core.config import load_settings
from bitewing.core.dicom import listener as dicom_listener
from bitewing.core.imaging import synthetic
from bitewing.core.runtime import Runtime
from tests.api.helpers import assert_problem
from tests.conftest import PostgresDatabase, TenantClient, issue_token, make_tenant
from tests.support import Orthanc, OrthancFactory, SeaweedFS, ensure_redis, free_port, storescu
from tests.support.process import tail

HOST = "127.0.0.1"
AMELIA = {"patient_id": "CH-1", "patient_name": "Chen^Amelia", "birth_date": "19860314"}
SMALL = (256, 256)
"""Small synthetic images keep the many-instance tests fast; the pipeline is the same for every size."""
UNREACHABLE = re.compile(
    r"Cannot reach host 127\.0\.0\.1 on port \d+: is it running and reachable from Bitewing\?"
)
ARCHIVE_PREFIX = "backup/group"
OPEN = {"pending", "sending", "retrying"}
WORKER_COMMAND = [sys.executable, "-m", "bitewing.core.cli"]
"""``bitewing`` as the worker pods run it."""


# --- the stack -------------------------------------------------------------------------------------------------


def wait_for(
    condition: Callable[[], Any],
    what: str,
    timeout: float = 90,
    *,
    interval: float = 0.2,
    detail: Callable[[], Any] | None = None,
) -> Any:
    """Poll `condition()` until it returns something truthy (returned); fail with `what` after `timeout` s,
    showing `detail()` (what the system looked like then) when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = detail() if detail else value
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; found: {seen!r}")
        time.sleep(interval)


class Stack:
    """Bitewing as deployed: the app and the DICOM listener in this process, ``bitewing worker`` processes.

    Everything shares `env` (``BITEWING_*``): PostgreSQL as the app role, SeaweedFS as the object store, a
    dedicated Redis database (flushed at start and at close). Workers run in their own session, so `kill_worker`
    takes down the worker and every process it started together, as when a pod dies. `log_files` puts the
    worker logs in the report of a failing test.
    """

    def __init__(
        self,
        workdir: Path,
        postgres: PostgresDatabase,
        seaweedfs: SeaweedFS,
        bucket: str,
        redis_db: int,
        **settings: str,
    ) -> None:
        ensure_redis()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.redis_url = f"redis://127.0.0.1:6379/{redis_db}"
        self.redis = redis.Redis.from_url(self.redis_url)
        self.redis.flushdb()
        self.env = {
            "BITEWING_DATABASE_URL": postgres.app_url,
            "BITEWING_STORAGE_URL": f"s3://{bucket}",
            "BITEWING_S3_ENDPOINT_URL": seaweedfs.endpoint_url,
            "BITEWING_S3_REGION": seaweedfs.region,
            "BITEWING_S3_ACCESS_KEY_ID": seaweedfs.access_key_id,
            "BITEWING_S3_SECRET_ACCESS_KEY": seaweedfs.secret_access_key,
            "BITEWING_REDIS_URL": self.redis_url,
            "BITEWING_SECRET_KEY": "vna-routing-test-secret-key",
            **{f"BITEWING_{k.upper()}": v for k, v in settings.items()},
        }
        self.app: Flask = create_app(load_settings(self.env, instance_path=workdir / "app", testing=True))
        self.runtime: Runtime = self.app.extensions["bitewing"]
        self.listener: ThreadedAssociationServer = dicom_listener.start(self.runtime, HOST, free_port())
        self.port = int(self.listener.server_address[1])
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._started = 0

    def owner(self) -> TenantClient:
        """An owner's API client of a new tenant (each test gets its own practice group)."""
        tenant_id, slug = make_tenant(self.runtime)
        return TenantClient(self.app.test_client(), tenant_id, slug, issue_token(self.runtime, tenant_id))

    def start_worker(self, **settings: str) -> subprocess.Popen[bytes]:
        """Start ``bitewing worker`` with the stack's settings plus `settings`; returns once RQ registered it."""
        self._started += 1
        number = self._started
        env = {k: v for k, v in os.environ.items() if not k.startswith("BITEWING_")}
        env |= self.env | {f"BITEWING_{k.upper()}": v for k, v in settings.items()}
        log = (self.workdir / f"worker-{number}.log").open("ab")
        self._logs.append(log)
        argv = [*WORKER_COMMAND, "--instance", str(self.workdir / f"w{number}")]
        process = subprocess.Popen(
            [*argv, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.workers.append(process)
        wait_for(
            lambda: process.poll() is not None or process.pid in self._registered_workers(),
            f"worker {number} to register with RQ",
            timeout=60,
        )
        assert process.poll() is None, tail(self.workdir / f"worker-{number}.log")
        return process

    def _registered_workers(self) -> set[int]:
        from rq import Worker

        return {w.pid for w in Worker.all(connection=self.redis)}

    def session_pids(self, process: subprocess.Popen[bytes]) -> list[int]:
        """The worker and every process it started (RQ's scheduler; work horses, which RQ puts in own groups)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[3]) == process.pid:  # the session id: the worker started a new session
                pids.append(int(stat.parent.name))
        return pids

    def kill_worker(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and everything it started, like a pod losing its node."""
        for pid in self.session_pids(process):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_workers(self) -> None:
        """Stop every worker (SIGTERM: RQ finishes the running job), killing any that does not stop."""
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_worker(process)
        self.workers = [p for p in self.workers if p.poll() is None]

    def queues_idle(self) -> bool:
        """No job waiting, and none running on a live worker (a killed worker's job stays "started" in RQ)."""
        from rq import Queue, Worker
        from rq.exceptions import NoSuchJobError
        from rq.job import Job
        from rq.registry import StartedJobRegistry

        from bitewing.core.jobs import QUEUES

        alive = {p.pid for p in self.workers if p.poll() is None}
        live_names = {w.name for w in Worker.all(connection=self.redis) if w.pid in alive}
        for name in QUEUES:
            queue = Queue(name, connection=self.redis)
            if queue.count:
                return False
            for job_id in StartedJobRegistry(queue=queue).get_job_ids():
                try:
                    job = Job.fetch(job_id, connection=self.redis)
                except NoSuchJobError:  # finished between the two calls
                    continue
                if job.worker_name in live_names:
                    return False
        return True

    def send(self, ae_title: str, files: list[Path]) -> None:
        """The X-ray machine `ae_title` sends `files` in one association; every one must be acknowledged."""
        sent = storescu(HOST, self.port, files, calling_aet=ae_title, called_aet="BITEWING", timeout=300)
        assert sent.returncode == 0, sent.stderr[-3000:]

    def log_files(self) -> dict[str, Path]:
        """Worker logs, and the jobs RQ recorded as failed with their tracebacks."""
        from rq import Queue
        from rq.registry import FailedJobRegistry

        from bitewing.core.jobs import QUEUES

        failed = self.workdir / "failed-jobs.log"
        with failed.open("w") as out:
            for name in QUEUES:
                registry = FailedJobRegistry(queue=Queue(name, connection=self.redis))
                for job in registry.get_job_ids():
                    fetched = registry.job_class.fetch(job, connection=self.redis)
                    out.write(f"{name} {fetched.args}: {fetched.latest_result().exc_string}\n")
        return {p.stem: p for p in [*sorted(self.workdir.glob("worker-*.log")), failed]}

    def close(self) -> None:
        dicom_listener.stop(self.listener, grace=5)
        self.stop_workers()
        for log in self._logs:
            log.close()
        self.runtime.close()
        self.redis.flushdb()
        self.redis.close()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_db: PostgresDatabase,
    seaweedfs: SeaweedFS,
) -> Iterator[Stack]:
    """The stack with two workers; tests get their own tenant, VNAs and AE titles, so they share it."""
    stack = Stack(
        tmp_path_factory.mktemp("vna-routing"),
        postgres_db,
        seaweedfs,
        seaweedfs.create_bucket(),
        redis_db=11,
        delivery_backoff_seconds="1",
        delivery_backoff_cap_seconds="5",
    )
    try:
        stack.start_worker()
        stack.start_worker()
        yield stack
    finally:
        stack.close()


# --- API helpers -----------------------------------------------------------------------------------------------


def fetch_all(client: TenantClient, url: str) -> list[dict[str, Any]]:
    """Every item of a paginated list (pages of 100)."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        sep = "&" if "?" in url else "?"
        response = client.get(f"{url}{sep}page={page}&page_size=100")
        assert response.status_code == 200, response.get_json()
        items += response.get_json()
        pagination = json.loads(response.headers.get("X-Pagination", "{}"))
        if page >= pagination.get("total_pages", 1):
            return items
        page += 1


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.get_json())


def add_location(client: TenantClient, name: str, storage: str) -> dict[str, Any]:
    return created(client.post("/api/v1/locations", json={"name": name, "storage_preference": storage}))


def add_machine(client: TenantClient, location: dict[str, Any], image_type: str | None = None) -> str:
    """Register an X-ray machine at `location` (a calling AE title unique in the run); returns the AE title."""
    ae_title = f"XR{uuid.uuid4().hex[:12].upper()}"
    body = {"location_id": location["id"], "name": f"Sensor {ae_title}", "ae_title": ae_title}
    if image_type:
        body["default_image_type"] = image_type
    created(client.post("/api/v1/machines", json=body))
    return ae_title


def add_patient(client: TenantClient) -> None:
    body = {"chart_number": "CH-1", "given_name": "Amelia", "family_name": "Chen", "birth_date": "1986-03-14"}
    created(client.post("/api/v1/patients", json=body))


def add_target(
    client: TenantClient,
    name: str,
    connector_type: str,
    config: dict[str, Any],
    transfer_syntax: str = "lossless",
) -> dict[str, Any]:
    body = {
        "name": name,
        "connector_type": connector_type,
        "region": "US",
        "config": config,
        "transfer_syntax": transfer_syntax,
    }
    return created(client.post("/api/v1/targets", json=body))


def add_rule(
    client: TenantClient, name: str, actions: list[tuple[dict[str, Any], str]], **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "actions": [{"target_id": t["id"], "role": role} for t, role in actions], **fields}
    return created(client.post("/api/v1/routing-rules", json=body))


def orthanc_target(client: TenantClient, name: str, orthanc: Orthanc, **config: Any) -> dict[str, Any]:
    """Orthanc through its REST API (``orthanc`` connector type)."""
    base = {"url": orthanc.url, "username": orthanc.username, "password": orthanc.password, "timeout": 10}
    return add_target(client, name, "orthanc", base | config)


def dicomweb_target(client: TenantClient, name: str, orthanc: Orthanc) -> dict[str, Any]:
    """Orthanc through STOW-RS, the way a cloud VNA is reached (``dicomweb`` connector type)."""
    config = {
        "url": orthanc.dicomweb_url,
        "auth": "basic",
        "username": orthanc.username,
        "password": orthanc.password,
    }
    return add_target(client, name, "dicomweb", config)


def cstore_target(client: TenantClient, name: str, orthanc: Orthanc) -> dict[str, Any]:
    """Orthanc through DICOM C-STORE (``cstore``, built in), as a PACS-style premium archive.

    Uncompressed: Orthanc 1.10 refuses HTJ2K (the lossless archive) over DIMSE, and the connector's own error
    tells the owner to choose "uncompressed".
    """
    config = {"host": HOST, "port": orthanc.dicom_port, "called_ae": orthanc.aet, "timeout": 10}
    return add_target(client, name, "cstore", config, transfer_syntax="uncompressed")


def s3_target(client: TenantClient, name: str, seaweedfs: SeaweedFS, bucket: str) -> dict[str, Any]:
    """An S3 bucket as the backup archive (``s3`` connector type)."""
    config = {
        "bucket": bucket,
        "prefix": ARCHIVE_PREFIX,
        "endpoint_url": seaweedfs.endpoint_url,
        "region": seaweedfs.region,
        "access_key_id": seaweedfs.access_key_id,
        "secret_access_key": seaweedfs.secret_access_key,
    }
    return add_target(client, name, "s3", config)


def write_instances(
    folder: Path, kind: str, count: int, *, prefix: str | None = None, **options: Any
) -> dict[str, Path]:
    """`count` synthetic instances written as Part-10 files; SOP Instance UID → file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i in range(count):
        ds = synthetic.make_instance(kind, seed=i % 4, **{"shape": SMALL, **AMELIA, **options})
        path = folder / f"{prefix or kind}-{i:04d}.dcm"
        path.write_bytes(synthetic.to_bytes(ds))
        files[str(ds.SOPInstanceUID)] = path
    return files


def image_ids(client: TenantClient) -> dict[str, str]:
    """SOP Instance UID → image id, for every processed instance of the tenant."""
    return {
        r["sop_instance_uid"]: r["image_id"]
        for r in fetch_all(client, "/api/v1/ingest?status=processed")
        if r["image_id"]
    }


def deliveries(client: TenantClient, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return fetch_all(client, f"/api/v1/deliveries?{query}" if query else "/api/v1/deliveries")


def settled(client: TenantClient, expected: int) -> list[dict[str, Any]]:
    """The tenant's deliveries once there are `expected` of them and none is still open."""

    def closed() -> list[dict[str, Any]] | None:
        found = deliveries(client)
        return found if len(found) == expected and not {d["state"] for d in found} & OPEN else None

    found: list[dict[str, Any]] = wait_for(
        closed, f"{expected} deliveries to settle", detail=lambda: progress(client)
    )
    return found


def progress(client: TenantClient) -> dict[str, Any]:
    """Where the tenant's instances are: ingest states and each delivery's state, attempts, last error."""
    return {
        "ingest": Counter(r["status"] for r in fetch_all(client, "/api/v1/ingest")),
        "deliveries": Counter((d["state"], d["attempts"], d["last_error"]) for d in deliveries(client)),
    }


def orthanc_sop_uids(orthanc: Orthanc) -> Counter[str]:
    """How many copies of each SOP Instance UID Orthanc holds."""
    query = {"Level": "Instance", "Query": {}, "Expand": True}
    found = orthanc.request("POST", "/tools/find", json.dumps(query).encode())
    return Counter(i["MainDicomTags"]["SOPInstanceUID"] for i in found)


def archived(seaweedfs: SeaweedFS, bucket: str, tenant_id: uuid.UUID, image_id: str) -> dict[str, Any] | None:
    """``HEAD`` of the archive object of an image in the backup bucket (None when absent)."""
    from botocore.exceptions import ClientError

    client = seaweedfs.client()
    try:
        head: dict[str, Any] = client.head_object(
            Bucket=bucket, Key=f"{ARCHIVE_PREFIX}/{tenant_id}/{image_id}.dcm"
        )
        return head
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    finally:
        client.close()


# --- the scenarios ---------------------------------------------------------------------------------------------


def test_each_location_goes_to_its_own_vna(
    stack: Stack, orthanc_factory: OrthancFactory, tmp_path: Path
) -> None:
    owner = stack.owner()
    add_patient(owner)
    clinic_a = add_location(owner, "Location A", "on_premise")
    clinic_b = add_location(owner, "Location B", "cloud")
    sensor_a, sensor_b = add_machine(owner, clinic_a), add_machine(owner, clinic_b)
    on_premise, cloud = orthanc_factory(aet="ONPREM"), orthanc_factory(aet="CLOUDVNA")
    vna_a = orthanc_target(owner, "On-premise Orthanc", on_premise)
    vna_b = dicomweb_target(owner, "Cloud VNA", cloud)
    add_rule(
        owner, "Location A on premise", [(vna_a, "primary")], conditions={"location_ids": [clinic_a["id"]]}
    )
    add_rule(
        owner, "Location B in the cloud", [(vna_b, "primary")], conditions={"location_ids": [clinic_b["id"]]}
    )

    from_a = write_instances(tmp_path / "a", "bitewing", 3)
    from_b = write_instances(tmp_path / "b", "periapical", 2)
    stack.send(sensor_a, list(from_a.values()))
    stack.send(sensor_b, list(from_b.values()))

    states = settled(owner, 5)
    assert {d["state"] for d in states} == {"delivered"}
    assert orthanc_sop_uids(on_premise) == Counter(set(from_a))
    assert orthanc_sop_uids(cloud) == Counter(set(from_b))
    ids = image_ids(owner)
    by_image = {d["image_id"]: d for d in states}
    for uid in from_a:
        assert (by_image[ids[uid]]["target_id"], by_image[ids[uid]]["role"]) == (vna_a["id"], "primary")
        assert on_premise.find_instance(uid) == by_image[ids[uid]]["remote_id"]
    for uid in from_b:
        assert by_image[ids[uid]]["target_id"] == vna_b["id"]
        assert cloud.find_instance(uid) is not None


def test_everything_goes_to_the_primary_and_is_copied_to_the_backup(
    stack: Stack, orthanc_factory: OrthancFactory, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    owner = stack.owner()
    add_patient(owner)
    clinic = add_location(owner, "Location A", "on_premise")
    sensor = add_machine(owner, clinic)
    primary = orthanc_factory(aet="PRIMARY")
    backup_bucket = seaweedfs.create_bucket()
    vna = orthanc_target(owner, "Primary Orthanc", primary)
    backup = s3_target(owner, "Backup archive", seaweedfs, backup_bucket)
    add_rule(owner, "Everything", [(vna, "primary"), (backup, "backup")], is_default=True)

    sent = write_instances(tmp_path, "intraoral", 4)
    stack.send(sensor, list(sent.values()))

    states = settled(owner, 8)
    assert {d["state"] for d in states} == {"delivered"}
    assert Counter((d["target_id"], d["role"]) for d in states) == {
        (vna["id"], "primary"): 4,
        (backup["id"], "backup"): 4,
    }
    assert orthanc_sop_uids(primary) == Counter(set(sent))
    for uid, image_id in image_ids(owner).items():
        assert uid in sent
        head = archived(seaweedfs, backup_bucket, owner.tenant_id, image_id)
        assert head is not None, f"image {image_id} is not in the backup archive"
        assert head["ContentType"] == "application/dicom"
        assert head["Metadata"]["sha256"]  # recorded, and compared by the connector's verification


def test_cbct_goes_to_the_premium_archive_and_intraoral_to_the_main_vna(
    stack: Stack, orthanc_factory: OrthancFactory, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    owner = stack.owner()
    add_patient(owner)
    clinic = add_location(owner, "Location A", "on_premise")
    sensor, scanner = add_machine(owner, clinic), add_machine(owner, clinic, "cbct")
    main = orthanc_factory(aet="MAINVNA")
    # the premium archive knows Bitewing's AE title, so the C-STORE connector can verify with C-FIND
    premium = orthanc_factory(aet="PREMIUM", modalities={"bitewing": ["BITEWING", HOST, 104]})
    backup_bucket = seaweedfs.create_bucket()
    main_vna = orthanc_target(owner, "Main VNA", main)
    premium_archive = cstore_target(owner, "Premium archive", premium)
    backup = s3_target(owner, "Backup archive", seaweedfs, backup_bucket)
    add_rule(
        owner,
        "CBCT to premium",
        [(premium_archive, "primary"), (backup, "backup")],
        conditions={"image_types": ["cbct"]},
    )
    add_rule(owner, "Everything else", [(main_vna, "primary"), (backup, "backup")], is_default=True)

    intraoral = write_instances(tmp_path, "intraoral", 2)
    cbct = write_instances(tmp_path, "cbct", 1, shape=(64, 64), frames=24)
    stack.send(sensor, list(intraoral.values()))
    stack.send(scanner, list(cbct.values()))

    states = settled(owner, 6)
    assert {d["state"] for d in states} == {"delivered"}, progress(owner)
    assert orthanc_sop_uids(main) == Counter(set(intraoral))
    # the premium archive holds the CBCT under its own SOP Instance UID (decoded to native, not renamed)
    assert orthanc_sop_uids(premium) == Counter(set(cbct))
    (cbct_uid,) = cbct
    ids = image_ids(owner)
    cbct_routes = {(d["target_id"], d["role"]) for d in states if d["image_id"] == ids[cbct_uid]}
    assert cbct_routes == {(premium_archive["id"], "primary"), (backup["id"], "backup")}
    image = owner.get(f"/api/v1/images/{ids[cbct_uid]}").get_json()
    assert image["image_type"] == "cbct"
    for image_id in ids.values():
        assert archived(seaweedfs, backup_bucket, owner.tenant_id, image_id) is not None


# --- bad configuration -----------------------------------------------------------------------------------------


def test_a_rule_naming_an_unknown_target_is_refused(stack: Stack) -> None:
    owner = stack.owner()
    response = owner.post(
        "/api/v1/routing-rules",
        json={"name": "to nowhere", "actions": [{"target_id": str(uuid.uuid4()), "role": "primary"}]},
    )
    body = assert_problem(response, 404)
    assert body["errors"] == {"actions": {"0": {"target_id": ["no such target in this practice"]}}}
    assert owner.get("/api/v1/routing-rules").get_json() == []


@pytest.mark.parametrize(
    ("connector_type", "config", "field", "message"),
    [
        ("orthanc", {"username": "u", "password": "p"}, "url", "Missing data for required field."),
        ("orthanc", {"url": "pacs.example:8042"}, "url", "Enter the full address of the Orthanc server"),
        ("cstore", {"host": HOST, "port": 70000, "called_ae": "PACS"}, "port", "between 1 and 65535"),
        ("cstore", {"host": HOST, "port": "eleven", "called_ae": "PACS"}, "port", "Not a valid integer."),
        ("cstore", {"host": "http://pacs", "port": 104, "called_ae": "PACS"}, "host", "without http://"),
        ("s3", {"bucket": "Bad_Bucket"}, "bucket", "A bucket name is 3 to 63"),
    ],
)
def test_an_invalid_connector_configuration_is_refused_field_by_field(
    stack: Stack, connector_type: str, config: dict[str, Any], field: str, message: str
) -> None:
    owner = stack.owner()
    body = {"name": "misconfigured", "connector_type": connector_type, "region": "US", "config": config}
    problem = assert_problem(owner.post("/api/v1/targets", json=body), 422)
    assert set(problem["errors"]) == {"config"}
    assert any(message in m for m in problem["errors"]["config"][field]), problem["errors"]
    assert owner.get("/api/v1/targets").get_json() == []


def test_an_unreachable_vna_fails_its_test_readably_and_its_deliveries_wait(
    stack: Stack, tmp_path: Path
) -> None:
    owner = stack.owner()
    add_patient(owner)
    clinic = add_location(owner, "Location A", "on_premise")
    sensor = add_machine(owner, clinic)
    nowhere = add_target(owner, "Switched-off Orthanc", "orthanc", {"url": f"http://{HOST}:{free_port()}"})
    dicom_nowhere = add_target(
        owner, "Switched-off PACS", "cstore", {"host": HOST, "port": free_port(), "called_ae": "PACS"}
    )

    for target in (nowhere, dicom_nowhere):
        response = owner.post(f"/api/v1/targets/{target['id']}/test")
        assert response.status_code == 200, response.get_json()
        result = response.get_json()
        assert result["ok"] is False
        assert any(UNREACHABLE.fullmatch(step) for step in result["steps"]), result["steps"]

    add_rule(owner, "Everything", [(nowhere, "primary"), (dicom_nowhere, "backup")])
    stack.send(sensor, list(write_instances(tmp_path, "bitewing", 1).values()))

    def retrying() -> list[dict[str, Any]] | None:
        found = deliveries(owner)
        return found if len(found) == 2 and all(d["state"] == "retrying" for d in found) else None

    for delivery in wait_for(retrying, "both deliveries to be retrying"):
        assert delivery["attempts"] >= 1
        assert delivery["next_attempt_at"]
        error = delivery["last_error"]
        assert UNREACHABLE.search(error), error
        assert "Traceback" not in error and "Errno" not in error and "object at 0x" not in error
