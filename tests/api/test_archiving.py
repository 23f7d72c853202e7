"""The archive copy is made after the image is listed: the received bytes serve until a verified lossless
copy replaces them, nothing is lost on the way, and routing waits for the copy."""

from __future__ import annotations

import io
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, HTJ2KLossless, JPEGBaseline8Bit
from sqlalchemy import select

from bitewing.core.deliveries.services import requeue_due_deliveries
from bitewing.core.images.models import Image, Rendition
from bitewing.core.imaging import synthetic
from bitewing.core.imaging.transcode import ArchiveMismatch
from bitewing.core.ingest import archiving, processing
from bitewing.core.ingest.archiving import archive_image, delete_replaced_objects, requeue_unarchived_images
from bitewing.core.ingest.models import IngestRecord, IngestSource, IngestStatus
from bitewing.core.ingest.processing import process_ingest
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.plugins import ObjectNotFound, ObjectStoreError
from tests.api.imaging_helpers import register_patient


class HoldingRunner:
    """A job runner that keeps every queued job (name, kwargs) instead of running it."""

    def __init__(self) -> None:
        self.held: list[tuple[str, dict[str, Any]]] = []

    def enqueue(self, func: Any, **kwargs: Any) -> str:
        self.held.append((func.__name__, kwargs))
        return "held"

    def take(self, name: str) -> list[dict[str, Any]]:
        """The held jobs of function `name`, removed from the holding."""
        taken = [kwargs for job, kwargs in self.held if job == name]
        self.held = [(job, kwargs) for job, kwargs in self.held if job != name]
        return taken

    def close(self) -> None:
        """Nothing to stop."""


@pytest.fixture
def held(runtime: Any, owner: Any) -> Any:
    """Jobs are held instead of run; afterwards the tenant's images are archived and routed for real, so
    that no later test's all-tenant sweep finds this test's leftovers (the PostgreSQL database is shared)."""
    working = runtime.jobs
    runner = HoldingRunner()
    runtime.__dict__["jobs"] = runner
    yield runner
    runtime.__dict__["jobs"] = working
    mine = [owner.tenant_id]
    requeue_unarchived_images(runtime, timedelta(0), tenant_ids=mine)
    working.drain()
    requeue_due_deliveries(runtime, stale_pending=timedelta(0), tenant_ids=mine)
    working.drain()


def _received(runtime: Any, owner: Any, held: HoldingRunner, data: bytes) -> str:
    """Receive `data` and run its processing job; the image id (its archive job is held)."""
    receive_instance(runtime, owner.tenant_id, data, Origin(IngestSource.UPLOAD))
    (job,) = held.take("process_ingest")
    image_id = process_ingest(runtime, **job)
    assert image_id is not None
    return image_id


def _image(runtime: Any, owner: Any, image_id: str) -> Image:
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        image = uow.session.get(Image, uuid.UUID(image_id))
        uow.session.expunge(image)
        return image


def _intraoral() -> tuple[pydicom.Dataset, bytes]:
    ds = synthetic.make_instance(
        "intraoral", shape=(300, 240), patient_id="CH-1", patient_name="Chen^Amelia", birth_date="19860314"
    )
    return ds, synthetic.to_bytes(ds)


def test_an_image_is_listed_as_received_then_swapped_to_its_verified_archive_copy(
    owner: Any, runtime: Any, held: HoldingRunner
) -> None:
    patient = register_patient(owner)
    ds, data = _intraoral()
    image_id = _received(runtime, owner, held, data)

    (listed,) = owner.get(f"/api/v1/patients/{patient['id']}/images").get_json()
    assert listed["id"] == image_id
    assert [r["name"] for r in listed["renditions"]] == ["thumbnail"]
    assert owner.client.get(listed["renditions"][0]["url"]).status_code == 200
    before = _image(runtime, owner, image_id)
    assert before.archived_at is None
    assert before.archive_transfer_syntax == ExplicitVRLittleEndian
    assert runtime.object_store.get(before.archive_key) == data
    assert held.take("route_image") == []
    assert owner.get(f"/api/v1/images/{image_id}").get_json()["archived_at"] is None

    (job,) = held.take("archive_image")
    assert archive_image(runtime, **job) == HTJ2KLossless
    assert owner.get(f"/api/v1/images/{image_id}").get_json()["archived_at"]
    after = _image(runtime, owner, image_id)
    assert after.archived_at is not None
    assert after.archive_transfer_syntax == HTJ2KLossless
    assert after.archive_key != before.archive_key
    archived = runtime.object_store.get(after.archive_key)
    assert len(archived) == after.archive_bytes < len(data)
    assert np.array_equal(pydicom.dcmread(io.BytesIO(archived)).pixel_array, ds.pixel_array)
    assert held.take("route_image") == [{"tenant_id": str(owner.tenant_id), "image_id": image_id}]

    assert archive_image(runtime, **job) is None  # a second run changes nothing and routes nothing
    assert _image(runtime, owner, image_id).archive_key == after.archive_key
    assert held.take("route_image") == []

    mine = [owner.tenant_id]
    assert after.replaced_key == before.archive_key  # kept for URLs issued before the swap
    assert runtime.object_store.get(before.archive_key) == data
    assert delete_replaced_objects(runtime, tenant_ids=mine) == 0  # within the grace period
    assert delete_replaced_objects(runtime, grace=timedelta(0), tenant_ids=mine) == 1
    with pytest.raises(ObjectNotFound):
        runtime.object_store.get(before.archive_key)
    assert _image(runtime, owner, image_id).replaced_key is None
    assert runtime.object_store.get(after.archive_key) == archived


@pytest.mark.parametrize(
    "failure", [ArchiveMismatch("HTJ2K archive is not bit-exact"), ValueError("the encoder gave up")]
)
def test_a_copy_that_cannot_be_made_or_verified_is_discarded_and_the_original_kept(
    owner: Any, runtime: Any, held: HoldingRunner, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    """Retrying a codec failure would fail the same way for ever: the image keeps what was received."""
    _, data = _intraoral()
    image_id = _received(runtime, owner, held, data)
    before = _image(runtime, owner, image_id)

    def codec_bug(received: bytes) -> Any:
        raise failure

    monkeypatch.setattr(archiving, "archive_instance", codec_bug)
    (job,) = held.take("archive_image")
    assert archive_image(runtime, **job) == ExplicitVRLittleEndian
    after = _image(runtime, owner, image_id)
    assert after.archived_at is not None
    assert (after.archive_key, after.archive_transfer_syntax) == (before.archive_key, ExplicitVRLittleEndian)
    assert runtime.object_store.get(after.archive_key) == data
    assert len(held.take("route_image")) == 1


def test_received_bytes_that_changed_in_the_store_are_not_archived(
    owner: Any, runtime: Any, held: HoldingRunner, caplog: pytest.LogCaptureFixture
) -> None:
    """An archive made from bytes that are no longer the ones received would make the damage permanent."""
    _, data = _intraoral()
    image_id = _received(runtime, owner, held, data)
    before = _image(runtime, owner, image_id)
    stored = runtime.object_store.root / before.archive_key
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    stored.write_bytes(bytes(damaged))
    objects = sorted(p for p in runtime.object_store.root.rglob("*") if p.is_file())

    (job,) = held.take("archive_image")
    assert archive_image(runtime, **job) == ExplicitVRLittleEndian
    after = _image(runtime, owner, image_id)
    assert after.archived_at is not None
    assert (after.archive_key, after.archive_sha256) == (before.archive_key, before.archive_sha256)
    assert sorted(p for p in runtime.object_store.root.rglob("*") if p.is_file()) == objects
    assert f"image {image_id} is not archived" in caplog.text and "SHA-256" in caplog.text


def test_a_lossy_original_is_kept_as_received_without_a_second_object(
    owner: Any, runtime: Any, held: HoldingRunner
) -> None:
    data = synthetic.to_bytes(
        synthetic.make_instance("intraoral", shape=(64, 48), transfer_syntax=JPEGBaseline8Bit)
    )
    image_id = _received(runtime, owner, held, data)
    before = _image(runtime, owner, image_id)
    (job,) = held.take("archive_image")
    assert archive_image(runtime, **job) == JPEGBaseline8Bit
    after = _image(runtime, owner, image_id)
    assert after.archived_at is not None and after.archive_key == before.archive_key
    assert runtime.object_store.get(after.archive_key) == data


def test_an_image_swapped_by_another_run_is_left_to_that_run(
    owner: Any, runtime: Any, held: HoldingRunner
) -> None:
    """Two archive runs of one image (a sweeper re-queue racing a slow job): the loser deletes only its own
    copy, never the winner's nor the image's."""
    _, data = _intraoral()
    image_id = _received(runtime, owner, held, data)
    (job,) = held.take("archive_image")
    store = runtime.object_store
    written: list[str] = []
    put = store.put

    def put_then_lose_the_race(key: str, *args: Any, **kwargs: Any) -> Any:
        stored = put(key, *args, **kwargs)
        written.append(stored.key)
        if len(written) == 1:
            assert archive_image(runtime, **job) == HTJ2KLossless  # the other run wins meanwhile
        return stored

    store.__dict__["put"] = put_then_lose_the_race
    try:
        assert archive_image(runtime, **job) is None
    finally:
        del store.__dict__["put"]
    winner = _image(runtime, owner, image_id)
    assert winner.archive_key == written[1]
    assert store.get(winner.archive_key)
    with pytest.raises(ObjectNotFound):
        store.get(written[0])


def test_lost_archive_jobs_are_queued_again_and_routing_waits_for_the_copy(
    owner: Any, runtime: Any, held: HoldingRunner
) -> None:
    _, data = _intraoral()
    image_id = _received(runtime, owner, held, data)
    held.take("archive_image")  # lost: the worker died
    mine = [owner.tenant_id]  # the PostgreSQL database is shared with other tests' tenants

    assert requeue_due_deliveries(runtime, stale_pending=timedelta(0), tenant_ids=mine) == 0
    assert requeue_unarchived_images(runtime, timedelta(minutes=5), tenant_ids=mine) == 0
    assert requeue_unarchived_images(runtime, timedelta(0), tenant_ids=mine) == 1
    (job,) = held.take("archive_image")
    assert job == {"tenant_id": str(owner.tenant_id), "image_id": image_id}
    archive_image(runtime, **job)
    held.take("route_image")  # lost as well
    assert requeue_unarchived_images(runtime, timedelta(0), tenant_ids=mine) == 0
    assert requeue_due_deliveries(runtime, stale_pending=timedelta(0), tenant_ids=mine) == 1
    assert held.take("route_image") == [{"tenant_id": str(owner.tenant_id), "image_id": image_id}]


def test_a_second_processing_run_racing_the_first_leaves_its_image_and_spool_alone(
    owner: Any, runtime: Any, held: HoldingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper re-queues a record while its first job still runs: the later run must neither record a
    duplicate nor delete the spool, which is now the first run's image's DICOM."""
    from bitewing.core.ingest import processing

    _, data = _intraoral()
    receive_instance(runtime, owner.tenant_id, data, Origin(IngestSource.UPLOAD))
    (job,) = held.take("process_ingest")
    render = processing.render_instance
    first: list[str | None] = []

    def render_while_the_first_run_finishes(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(processing, "render_instance", render)
        first.append(process_ingest(runtime, **job))
        return render(*args, **kwargs)

    monkeypatch.setattr(processing, "render_instance", render_while_the_first_run_finishes)
    assert process_ingest(runtime, **job) is None
    (image_id,) = first
    assert image_id is not None
    image = _image(runtime, owner, image_id)
    assert runtime.object_store.get(image.archive_key) == data
    (record,) = owner.get("/api/v1/ingest").get_json()
    assert (record["status"], record["image_id"]) == ("processed", image_id)
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        assert uow.session.scalars(select(Image.id)).all() == [uuid.UUID(image_id)]


def test_two_processing_runs_at_once_list_one_image_and_keep_its_dicom(
    owner: Any, runtime: Any, held: HoldingRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-queued processing job running beside the first (a worker thought dead): both render, both
    reach the claim together, and the database lets exactly one of them record the image. The other deletes
    its own renditions only, never the spool that is now the image's DICOM."""
    _, data = _intraoral()
    receive_instance(runtime, owner.tenant_id, data, Origin(IngestSource.UPLOAD))
    (job,) = held.take("process_ingest")
    together = threading.Barrier(2, timeout=30)
    claim = processing._claim

    def claim_together(uow: Any, ingest_id: str) -> Any:
        together.wait()  # both transactions are open and neither has claimed yet
        return claim(uow, ingest_id)

    monkeypatch.setattr(processing, "_claim", claim_together)
    written: list[str] = []
    put = runtime.object_store.put

    def recording_put(key: str, *args: Any, **kwargs: Any) -> Any:
        written.append(key)
        return put(key, *args, **kwargs)

    monkeypatch.setitem(runtime.object_store.__dict__, "put", recording_put)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(process_ingest, runtime, **job) for _ in range(2)]
        outcomes = sorted((run.result(timeout=60) for run in runs), key=lambda result: result is None)
    image_id, lost = outcomes
    assert image_id is not None and lost is None
    sop = pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        rows = [
            (str(i.id), i.archive_key)
            for i in uow.session.scalars(select(Image).filter_by(sop_instance_uid=sop))
        ]
        renditions = set(uow.session.scalars(select(Rendition.key).filter_by(image_id=uuid.UUID(image_id))))
    assert [image for image, _ in rows] == [image_id]
    assert runtime.object_store.get(rows[0][1]) == data  # the spool survived the losing run
    assert len(written) == 6 and len(renditions) == 3 and renditions < set(written)
    for key in set(written) - renditions:
        with pytest.raises(ObjectNotFound):
            runtime.object_store.get(key)
    assert [name for name, _ in held.held] == ["archive_image"]  # queued once, by the winner


def test_a_rendition_that_cannot_be_stored_leaves_no_other_rendition_behind(
    owner: Any, runtime: Any, held: HoldingRunner
) -> None:
    """The renditions are put at once; when one put fails, the ones written are deleted, the image is not
    recorded and the attempt is counted, so the job can run again."""
    _, data = _intraoral()
    receipt = receive_instance(runtime, owner.tenant_id, data, Origin(IngestSource.UPLOAD))
    (job,) = held.take("process_ingest")
    store = runtime.object_store
    put, written = store.put, []

    def put_but_not_the_preview(key: str, *args: Any, **kwargs: Any) -> Any:
        if "/preview." in key:
            raise ObjectStoreError(f"could not write {key}: disk full")
        stored = put(key, *args, **kwargs)
        written.append(stored.key)
        return stored

    store.__dict__["put"] = put_but_not_the_preview
    try:
        with pytest.raises(ObjectStoreError, match="disk full"):
            process_ingest(runtime, **job)
    finally:
        del store.__dict__["put"]
    assert len(written) == 2  # thumbnail and full were written before the failure was known
    for key in written:
        with pytest.raises(ObjectNotFound):
            store.get(key)
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        record = uow.session.get(IngestRecord, receipt.ingest_id)
        assert record is not None
        assert (record.status, record.attempts, record.image_id) == (IngestStatus.RECEIVED, 1, None)
        assert "disk full" in (record.error_message or "")
    assert process_ingest(runtime, **job) is not None  # the next attempt stores the image
