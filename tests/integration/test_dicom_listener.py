"""The DICOM C-STORE listener against real peers: dcmtk storescu/echoscu as the X-ray machine, pynetdicom SCU.

Each test starts the listener on a free loopback port over the app's runtime (SQLite and PostgreSQL as the
app role, through the parametrised `database_url`); the last test runs the production stack: PostgreSQL,
SeaweedFS as the object store and a real RQ worker on Redis.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
import redis
from pydicom.dataset import Dataset
from pydicom.uid import JPEGExtended12Bit, JPEGLSLossless
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from bitewing.core.app import create_app
from bitewing.core.config import load_settings
from bitewing.core.dicom import listener as dicom_listener
from bitewing.core.imaging import synthetic
from bitewing.core.ingest.models import IngestRecord
from bitewing.core.plugins import ObjectStore, ObjectStoreError, StoredObject
from bitewing.core.runtime import Runtime
from tests.conftest import TenantClient, issue_token, make_tenant
from tests.support import SeaweedFS, ensure_redis, free_port, is_listening, storescu

HOST = "127.0.0.1"
AMELIA = {"patient_id": "CH-1", "patient_name": "Chen^Amelia", "birth_date": "19860314"}
ECHOSCU = "/usr/bin/echoscu"
STORESCU = "/usr/bin/storescu"


@pytest.fixture
def ae_title() -> str:
    """A calling AE title unique in this run (they are unique across tenants, and PostgreSQL is shared)."""
    return f"IO{uuid.uuid4().hex[:12].upper()}"


def storescu_compressed(
    host: str, port: int, files: list[Path], calling_aet: str, propose: str
) -> subprocess.CompletedProcess[str]:
    """dcmtk storescu proposing a compressed syntax (``-xt`` JPEG-LS lossless, ``-xx`` JPEG 12-bit, ...).

    By default storescu proposes only uncompressed syntaxes and cannot send a compressed file at all.
    """
    argv = [STORESCU, propose, "-aet", calling_aet, "-aec", "BITEWING", host, str(port), *map(str, files)]
    env = dict(os.environ, TCP_NODELAY="1")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)


# --- helpers ---------------------------------------------------------------------------------------------------


def register_machine(client: TenantClient, ae_title: str, **fields: Any) -> dict[str, Any]:
    """A location and an X-ray machine at it, through the API; returns the machine."""
    location = client.post("/api/v1/locations", json={"name": f"Clinic {ae_title}"})
    assert location.status_code == 201, location.get_json()
    body = {"location_id": location.get_json()["id"], "name": "Sensor room 1", "ae_title": ae_title, **fields}
    machine = client.post("/api/v1/machines", json=body)
    assert machine.status_code == 201, machine.get_json()
    return dict(machine.get_json())


def register_patient(client: TenantClient, chart_number: str = "CH-1") -> dict[str, Any]:
    body = {
        "chart_number": chart_number,
        "given_name": "Amelia",
        "family_name": "Chen",
        "birth_date": "1986-03-14",
    }
    response = client.post("/api/v1/patients", json=body)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def write(folder: Path, name: str, ds: Dataset) -> Path:
    path = folder / f"{name}.dcm"
    path.write_bytes(synthetic.to_bytes(ds))
    return path


def ingest_records(client: TenantClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/ingest{query}")
    assert response.status_code == 200, response.get_json()
    return list(response.get_json())


def stored_files(runtime: Runtime) -> set[Path]:
    root = Path(runtime.settings.storage_url.removeprefix("file://"))
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def associate(port: int, ae_title: str) -> Association:
    """A pynetdicom SCU association (Verification) to the listener; the caller releases it."""
    scu = AE(ae_title=ae_title)
    scu.add_requested_context(Verification)
    return scu.associate(HOST, port, ae_title="BITEWING")


def send_with_pynetdicom(port: int, ae_title: str, ds: Dataset) -> Dataset:
    """C-STORE one dataset in its own transfer syntax; returns the response status dataset."""
    scu = AE(ae_title=ae_title)
    scu.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = scu.associate(HOST, port, ae_title="BITEWING")
    assert assoc.is_established
    try:
        status = assoc.send_c_store(ds)
    finally:
        assoc.release()
    assert "Status" in status, "no response from the listener"
    return status


def _dataset_start(part10: bytes) -> int:
    """Offset of the data set in a Part-10 file: preamble, DICM, then the file meta group of known length."""
    assert part10[128:132] == b"DICM"
    return 132 + 12 + int.from_bytes(part10[140:144], "little")


@pytest.fixture
def listener(runtime: Runtime) -> Iterator[ThreadedAssociationServer]:
    """The listener on a free loopback port over the app's runtime."""
    server = dicom_listener.start(runtime, HOST, free_port())
    yield server
    dicom_listener.stop(server, grace=5)


def port_of(server: ThreadedAssociationServer) -> int:
    return int(server.server_address[1])


# --- receiving --------------------------------------------------------------------------------------------------


def test_storescu_images_are_stored_processed_and_listed(
    owner: TenantClient, runtime: Runtime, listener: ThreadedAssociationServer, tmp_path: Path, ae_title: str
) -> None:
    machine = register_machine(owner, ae_title)
    patient = register_patient(owner)
    native = [
        write(tmp_path, "intraoral", synthetic.make_instance("intraoral", seed=0, teeth=["36"], **AMELIA)),
        write(tmp_path, "panoramic", synthetic.make_instance("panoramic", seed=1, **AMELIA)),
        write(tmp_path, "cbct", synthetic.make_instance("cbct", shape=(64, 64), frames=24, **AMELIA)),
    ]
    jpeg_ls = write(
        tmp_path,
        "bitewing-jpegls",
        synthetic.make_instance("bitewing", seed=2, transfer_syntax=JPEGLSLossless, **AMELIA),
    )
    jpeg_12bit = write(
        tmp_path,
        "periapical-jpeg12",
        synthetic.make_instance("periapical", seed=3, transfer_syntax=JPEGExtended12Bit, **AMELIA),
    )

    port = port_of(listener)
    sent = storescu(HOST, port, native, calling_aet=ae_title, called_aet="BITEWING")
    assert sent.returncode == 0, sent.stderr
    for path, propose in ((jpeg_ls, "-xt"), (jpeg_12bit, "-xx")):
        sent = storescu_compressed(HOST, port, [path], ae_title, propose)
        assert sent.returncode == 0, sent.stderr

    records = ingest_records(owner)
    assert len(records) == 5
    assert {r["source"] for r in records} == {"cstore"}
    assert {r["machine_id"] for r in records} == {machine["id"]}
    assert {r["location_id"] for r in records} == {machine["location_id"]}
    assert {r["calling_ae"] for r in records} == {ae_title}

    runtime.jobs.drain()  # type: ignore[attr-defined]
    assert {r["status"] for r in ingest_records(owner)} == {"processed"}
    response = owner.get(f"/api/v1/patients/{patient['id']}/images")
    assert response.status_code == 200
    images = response.get_json()
    assert len(images) == 5
    assert all(i["match_status"] == "matched" for i in images)
    assert sorted(i["image_type"] for i in images) == [
        "bitewing",
        "cbct",
        "intraoral",
        "panoramic",
        "periapical",
    ]
    for image in images:
        (thumbnail,) = image["renditions"]
        assert thumbnail["name"] == "thumbnail"
        fetched = owner.client.get(thumbnail["url"])
        assert fetched.status_code == 200 and fetched.mimetype == "image/jpeg"
    details = [owner.get(f"/api/v1/images/{i['id']}").get_json() for i in images]
    assert {d["machine_id"] for d in details} == {machine["id"]}
    assert {d["location_id"] for d in details} == {machine["location_id"]}
    # the compressed originals were received in their own syntax, not decompressed by anyone
    assert {JPEGLSLossless, JPEGExtended12Bit} <= {d["original_transfer_syntax"] for d in details}


class Recorder:
    """A job runner that only records what was queued (so a received instance stays spooled)."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def enqueue(self, func: Any, **kwargs: Any) -> str:
        self.jobs.append(kwargs)
        return f"recorded-{len(self.jobs)}"

    def close(self) -> None:
        pass


def test_compressed_data_is_spooled_exactly_as_received(
    owner: TenantClient, runtime: Runtime, listener: ThreadedAssociationServer, tmp_path: Path, ae_title: str
) -> None:
    recorder = Recorder()
    runtime.jobs.drain()  # type: ignore[attr-defined]
    in_process = runtime.jobs
    runtime.__dict__["jobs"] = recorder
    try:
        register_machine(owner, ae_title)
        path = write(
            tmp_path,
            "jpegls",
            synthetic.make_instance("intraoral", seed=3, transfer_syntax=JPEGLSLossless, **AMELIA),
        )
        sent = storescu_compressed(HOST, port_of(listener), [path], ae_title, "-xt")
        assert sent.returncode == 0, sent.stderr
    finally:
        runtime.__dict__["jobs"] = in_process

    (record,) = ingest_records(owner)
    assert record["status"] == "received"
    assert recorder.jobs == [{"tenant_id": str(owner.tenant_id), "ingest_id": record["id"]}]
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        spool_key = uow.session.get(IngestRecord, uuid.UUID(record["id"])).spool_key
    spooled = runtime.object_store.get(spool_key)
    original = path.read_bytes()
    assert spooled[_dataset_start(spooled) :] == original[_dataset_start(original) :]  # byte for byte
    assert pydicom.dcmread(io.BytesIO(spooled)).file_meta.TransferSyntaxUID == JPEGLSLossless


def test_c_echo_answers_success(
    owner: TenantClient, listener: ThreadedAssociationServer, ae_title: str
) -> None:
    register_machine(owner, ae_title)
    echo = subprocess.run(
        [ECHOSCU, "-aet", ae_title, "-aec", "BITEWING", HOST, str(port_of(listener))],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, TCP_NODELAY="1"),
        check=False,
    )
    assert echo.returncode == 0, echo.stderr
    assoc = associate(port_of(listener), ae_title)
    assert assoc.is_established
    try:
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()


# --- who may call ----------------------------------------------------------------------------------------------


def test_unknown_calling_ae_title_is_rejected_and_nothing_recorded(
    owner: TenantClient, runtime: Runtime, listener: ThreadedAssociationServer, tmp_path: Path, ae_title: str
) -> None:
    register_machine(owner, ae_title)
    path = write(tmp_path, "io", synthetic.make_instance("intraoral", shape=(64, 64), **AMELIA))
    before = stored_files(runtime)

    sent = storescu(HOST, port_of(listener), [path], calling_aet="STRANGER")
    assert sent.returncode != 0
    assert "Calling AE Title Not Recognized" in sent.stderr

    assoc = associate(port_of(listener), "STRANGER")
    assert assoc.is_rejected
    rejection = assoc.acceptor.primitive
    assert (rejection.result, rejection.result_source, rejection.diagnostic) == (0x01, 0x01, 0x03)
    assert ingest_records(owner) == []
    assert stored_files(runtime) == before


def test_ip_outside_the_machines_allow_list_is_rejected(
    owner: TenantClient, listener: ThreadedAssociationServer, ae_title: str
) -> None:
    register_machine(owner, ae_title, allowed_ips=["10.20.30.0/24"])
    assoc = associate(port_of(listener), ae_title)
    assert assoc.is_rejected
    assert assoc.acceptor.primitive.diagnostic == 0x03


def test_ip_inside_the_allow_list_is_accepted(
    owner: TenantClient, listener: ThreadedAssociationServer, ae_title: str
) -> None:
    register_machine(owner, ae_title, allowed_ips=["10.20.30.0/24", "127.0.0.1"])
    assoc = associate(port_of(listener), ae_title)
    assert assoc.is_established
    assoc.release()


def test_a_deactivated_machine_is_refused_once_the_cache_expires(
    owner: TenantClient, runtime: Runtime, ae_title: str
) -> None:
    ttl = 0.3
    callers = dicom_listener.CallerCache(dicom_listener.database_lookup(runtime), ttl=ttl)
    server = dicom_listener.start(
        runtime, HOST, free_port(), listener=dicom_listener.Listener(runtime, callers)
    )
    try:
        machine = register_machine(owner, ae_title)
        first = associate(port_of(server), ae_title)
        assert first.is_established
        first.release()

        response = owner.patch(f"/api/v1/machines/{machine['id']}", json={"active": False})
        assert response.status_code == 200, response.get_json()
        time.sleep(ttl + 0.1)
        assert associate(port_of(server), ae_title).is_rejected
    finally:
        dicom_listener.stop(server, grace=5)


# --- bad input and durability ----------------------------------------------------------------------------------


def test_pixel_data_shorter_than_its_geometry_is_refused_and_listed(
    owner: TenantClient, runtime: Runtime, listener: ThreadedAssociationServer, ae_title: str
) -> None:
    register_machine(owner, ae_title)
    ds = synthetic.make_instance("intraoral", shape=(64, 64), **AMELIA)
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    before = stored_files(runtime)

    status = send_with_pynetdicom(port_of(listener), ae_title, ds)

    assert status.Status == dicom_listener.DOES_NOT_MATCH_SOP_CLASS
    assert status.ErrorComment.startswith("Pixel Data holds 4096 bytes")
    (record,) = ingest_records(owner, "?status=rejected")
    assert record["error_reason"] == "pixel_data_short"
    assert record["source"] == "cstore"
    assert ingest_records(owner, "?status=received") == []
    assert stored_files(runtime) == before


class FailingStore(ObjectStore):
    """The real store, except that `put` fails (a full disk, an unreachable bucket)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner

    def put(
        self, key: str, data: bytes, content_type: str, *, immutable: bool = True, sha256: str | None = None
    ) -> StoredObject:
        raise ObjectStoreError("simulated: bucket unreachable")

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def open(self, key: str) -> Any:
        return self.inner.open(key)

    def head(self, key: str) -> StoredObject:
        return self.inner.head(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def presign(self, key: str, expires_in: int, *, filename: str | None = None) -> str:
        return self.inner.presign(key, expires_in, filename=filename)


def test_nothing_is_acknowledged_when_the_store_fails(
    owner: TenantClient, runtime: Runtime, listener: ThreadedAssociationServer, tmp_path: Path, ae_title: str
) -> None:
    register_machine(owner, ae_title)
    ds = synthetic.make_instance("intraoral", shape=(64, 64), **AMELIA)
    real_store = runtime.object_store
    runtime.__dict__["object_store"] = FailingStore(real_store)
    try:
        status = send_with_pynetdicom(port_of(listener), ae_title, ds)
        assert status.Status == dicom_listener.OUT_OF_RESOURCES
        sent = storescu(HOST, port_of(listener), [write(tmp_path, "io", ds)], calling_aet=ae_title)
        assert sent.returncode != 0  # storescu exits non-zero when a store was not successful
        assert ingest_records(owner) == []
    finally:
        runtime.__dict__["object_store"] = real_store

    assert send_with_pynetdicom(port_of(listener), ae_title, ds).Status == 0x0000  # the device's retry works
    assert [r["status"] for r in ingest_records(owner)] == ["received"]
    runtime.jobs.drain()  # type: ignore[attr-defined]


# --- the command -----------------------------------------------------------------------------------------------


def test_the_dicom_listener_command_serves_until_sigterm(tmp_path: Path) -> None:
    bitewing = str(Path(sys.executable).with_name("bitewing"))
    instance = ["--instance", str(tmp_path / "instance")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITEWING_")}
    upgraded = subprocess.run(
        [bitewing, *instance, "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    command = [bitewing, *instance, "dicom-listener", "--host", HOST, "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not is_listening(HOST, port) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert is_listening(HOST, port)
        assert associate(port, "NOT-REGISTERED").is_rejected
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "rejected: calling AE title not recognised" in err
    assert "DICOM listener stopped" in err


# --- the production stack --------------------------------------------------------------------------------------


def test_full_stack_postgres_seaweedfs_and_an_rq_worker(
    postgres_db: Any, seaweedfs: SeaweedFS, s3_bucket: str, tmp_path: Path, ae_title: str
) -> None:
    ensure_redis()
    redis_url = "redis://127.0.0.1:6379/13"
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        "BITEWING_DATABASE_URL": postgres_db.app_url,
        "BITEWING_STORAGE_URL": f"s3://{s3_bucket}",
        "BITEWING_S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "BITEWING_S3_REGION": seaweedfs.region,
        "BITEWING_S3_ACCESS_KEY_ID": seaweedfs.access_key_id,
        "BITEWING_S3_SECRET_ACCESS_KEY": seaweedfs.secret_access_key,
        "BITEWING_REDIS_URL": redis_url,
        "BITEWING_SECRET_KEY": "full-stack-test-secret-key",
    }
    settings = load_settings(env, instance_path=tmp_path / "instance", testing=True)
    app = create_app(settings)
    runtime: Runtime = app.extensions["bitewing"]
    server = dicom_listener.start(runtime, HOST, free_port())
    try:
        tenant_id, slug = make_tenant(runtime)
        owner = TenantClient(app.test_client(), tenant_id, slug, issue_token(runtime, tenant_id))
        machine = register_machine(owner, ae_title)
        patient = register_patient(owner)
        files = [
            write(tmp_path, "pano", synthetic.make_instance("panoramic", seed=4, **AMELIA)),
            write(tmp_path, "io", synthetic.make_instance("intraoral", seed=5, **AMELIA)),
        ]
        sent = storescu(HOST, port_of(server), files, calling_aet=ae_title)
        assert sent.returncode == 0, sent.stderr
        records = ingest_records(owner)
        assert {(r["status"], r["source"], r["machine_id"]) for r in records} == {
            ("received", "cstore", machine["id"])
        }
        assert len(records) == 2

        bitewing = Path(sys.executable).with_name("bitewing")
        worker = subprocess.run(
            [str(bitewing), "--instance", str(tmp_path / "worker"), "worker", "--burst"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert worker.returncode == 0, worker.stderr[-3000:]

        assert {r["status"] for r in ingest_records(owner)} == {"processed"}
        images = owner.get(f"/api/v1/patients/{patient['id']}/images").get_json()
        assert sorted(i["image_type"] for i in images) == ["intraoral", "panoramic"]
        for image in images:
            (thumbnail,) = image["renditions"]
            assert thumbnail["url"].startswith(seaweedfs.endpoint_url)
    finally:
        dicom_listener.stop(server, grace=5)
        runtime.close()
        redis.Redis.from_url(redis_url).flushdb()
