"""`GET /api/v1/ingest/{id}`: an uploader follows one receipt to what became of it."""

from __future__ import annotations

import io
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import HTJ2KLossless, generate_uid

from bitewing.core.imaging import synthetic
from bitewing.core.ingest import processing
from bitewing.core.ingest import services as ingest_services
from bitewing.core.ingest.services import enqueue_processing
from bitewing.core.plugins import ObjectStoreError
from tests.api.helpers import assert_problem
from tests.api.imaging_helpers import register_patient
from tests.api.test_dicomweb import STOW_TYPE, multipart

AMELIA = {"patient_id": "CH-1", "patient_name": "Chen^Amelia", "birth_date": "19860314"}


def _upload(client: Any, *files: tuple[bytes, str]) -> list[dict[str, Any]]:
    response = client.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(data), name) for data, name in files]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _record(client: Any, ingest_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/ingest/{ingest_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_receipt_is_followed_from_received_to_its_image(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    good = synthetic.to_bytes(synthetic.make_instance("bitewing", **AMELIA))
    (receipt,) = _upload(owner, (good, "good.dcm"))
    waiting = _record(owner, receipt["ingest_id"])
    assert (waiting["id"], waiting["status"], waiting["image_id"]) == (receipt["ingest_id"], "received", None)
    assert (waiting["filename"], waiting["source"], waiting["processed_at"]) == ("good.dcm", "upload", None)
    assert waiting["sop_instance_uid"] == receipt["sop_instance_uid"]
    assert waiting["received_at"]
    runtime.jobs.drain()
    done = _record(owner, receipt["ingest_id"])
    assert (done["status"], done["error_reason"], done["attempts"]) == ("processed", None, 0)
    assert done["processed_at"] >= done["received_at"]
    image = owner.get(f"/api/v1/images/{done['image_id']}")
    assert image.status_code == 200
    assert image.get_json()["sop_instance_uid"] == receipt["sop_instance_uid"]
    (again,) = _upload(owner, (good, "again.dcm"))
    assert again["status"] == "duplicate"
    assert _record(owner, again["ingest_id"])["image_id"] == done["image_id"]


def test_a_rejected_upload_keeps_its_reason_and_message(owner: Any, runtime: Any) -> None:
    good = synthetic.to_bytes(synthetic.make_instance("bitewing", **AMELIA))
    _, receipt = _upload(owner, (good, "good.dcm"), (good[: len(good) // 2], "half.dcm"))
    runtime.jobs.drain()
    record = _record(owner, receipt["ingest_id"])
    assert (record["status"], record["error_reason"], record["image_id"]) == ("rejected", "truncated", None)
    assert record["error_message"] == receipt["message"]
    assert record["filename"] == "half.dcm"


def _nested_sequences(depth: int) -> Dataset:
    top = current = Dataset()
    for _ in range(depth):
        current.ReferencedSeriesSequence = Sequence([Dataset()])
        current = current.ReferencedSeriesSequence[0]
    return top


def _bad_inputs() -> dict[str, tuple[bytes, str]]:
    """A file for each kind of bad input, by name: its bytes and the reason it must be listed with."""

    def instance(**changes: Any) -> Dataset:
        ds = synthetic.make_instance("intraoral", shape=(64, 48), **AMELIA, **changes)
        ds.SOPInstanceUID = generate_uid()
        return ds

    whole = synthetic.to_bytes(instance())
    no_pixels = instance()
    del no_pixels.PixelData
    short = instance()
    short.PixelData = short.PixelData[:-100]
    bomb = instance(transfer_syntax=HTJ2KLossless)
    bomb.Rows, bomb.Columns, bomb.NumberOfFrames = 65535, 65535, 100
    htj2k = synthetic.to_bytes(instance(transfer_syntax=HTJ2KLossless))
    mpeg4 = htj2k.replace(str(HTJ2KLossless).encode() + b"\x00", b"1.2.840.10008.1.2.4.102\x00", 1)
    escaping = instance()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        escaping.SOPInstanceUID = "../../etc/passwd"
        escaping_bytes = synthetic.to_bytes(escaping)
    slashed = instance()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slashed.StudyInstanceUID = "1.2/3"
        slashed_bytes = synthetic.to_bytes(slashed)
    deep = instance()
    deep.update(_nested_sequences(9))
    return {
        "notes.txt": (b"these are not the images you are looking for" * 4, "not_dicom"),
        "half.dcm": (whole[: len(whole) // 2], "truncated"),
        "no-pixels.dcm": (synthetic.to_bytes(no_pixels), "no_pixel_data"),
        "short.dcm": (synthetic.to_bytes(short), "pixel_data_short"),
        "bomb.dcm": (synthetic.to_bytes(bomb), "too_large"),
        "video.dcm": (mpeg4, "unsupported_transfer_syntax"),
        "escape.dcm": (escaping_bytes, "bad_uid"),
        "slash.dcm": (slashed_bytes, "bad_uid"),
        "deep.dcm": (synthetic.to_bytes(deep), "nesting_too_deep"),
    }


def test_every_kind_of_bad_input_is_refused_listed_with_its_reason_and_stores_nothing(
    owner: Any, runtime: Any
) -> None:
    bad = _bad_inputs()
    response = owner.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(data), name) for name, (data, _) in bad.items()]},
        content_type="multipart/form-data",
    )
    assert set(assert_problem(response, 422)["errors"]) == set(bad)
    runtime.jobs.drain()
    listed = owner.get("/api/v1/ingest?status=rejected&page_size=50").get_json()
    assert {e["filename"]: e["error_reason"] for e in listed} == {n: r for n, (_, r) in bad.items()}
    assert all(e["error_message"] and e["image_id"] is None for e in listed)
    objects = Path(runtime.settings.storage_url.removeprefix("file://"))
    assert not [p for p in objects.rglob("*") if p.is_file()]
    assert owner.get("/api/v1/images/unmatched").get_json() == []


def test_failed_processing_counts_attempts_until_the_record_is_failed(
    owner: Any, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("decoder crashed")

    monkeypatch.setattr(processing, "render_instance", broken)
    data = synthetic.to_bytes(synthetic.make_instance("periapical", **AMELIA))
    (receipt,) = _upload(owner, (data, "p.dcm"))
    runtime.jobs.drain()
    retrying = _record(owner, receipt["ingest_id"])
    assert (retrying["status"], retrying["attempts"]) == ("received", 1)
    assert retrying["error_message"] == "RuntimeError: decoder crashed"
    for _ in range(processing.MAX_ATTEMPTS - 1):
        enqueue_processing(runtime, owner.tenant_id, uuid.UUID(receipt["ingest_id"]))
        runtime.jobs.drain()
    failed = _record(owner, receipt["ingest_id"])
    assert (failed["status"], failed["error_reason"]) == ("failed", "processing_failed")
    assert (failed["attempts"], failed["image_id"]) == (processing.MAX_ATTEMPTS, None)


def test_an_unknown_id_is_a_problem_404(owner: Any) -> None:
    assert_problem(owner.get(f"/api/v1/ingest/{uuid.uuid4()}"), 404)
    assert owner.get("/api/v1/ingest/not-a-uuid").status_code == 404


def test_every_staff_role_may_follow_a_receipt_and_anonymous_callers_may_not(
    owner: Any, app: Any, tenant_client_factory: Any
) -> None:
    from bitewing.core.accounts.models import Role

    good = synthetic.to_bytes(synthetic.make_instance("intraoral", **AMELIA))
    rejected, _ = _upload(owner, (b"not dicom", "x.dcm"), (good, "ok.dcm"))
    front_desk = tenant_client_factory(role=Role.FRONT_DESK, tenant=(owner.tenant_id, owner.slug))
    assert _record(front_desk, rejected["ingest_id"])["status"] == "rejected"
    assert_problem(app.test_client().get(f"/api/v1/ingest/{rejected['ingest_id']}"), 401)


def test_an_upload_pinned_to_a_patient_goes_to_them_whatever_the_header_says(
    owner: Any, runtime: Any
) -> None:
    chosen = register_patient(
        owner, "CH-7", given_name="Bruno", family_name="Keller", birth_date="1970-01-01"
    )
    register_patient(owner)  # CH-1, whom the header names
    scanned = synthetic.to_bytes(synthetic.make_instance("intraoral", shape=(64, 48), **AMELIA))
    response = owner.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(scanned), "scan.dcm")], "patient_id": chosen["id"]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    runtime.jobs.drain()
    (image,) = owner.get(f"/api/v1/patients/{chosen['id']}/images").get_json()
    detail = owner.get(f"/api/v1/images/{image['id']}").get_json()
    assert (detail["match_status"], detail["match_note"]) == ("manual", "chosen by staff at upload")


def test_an_upload_pinned_to_another_tenants_patient_stores_nothing(
    owner: Any, other_owner: Any, runtime: Any
) -> None:
    theirs = register_patient(other_owner)
    scanned = synthetic.to_bytes(synthetic.make_instance("intraoral", shape=(64, 48), **AMELIA))
    response = owner.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(scanned), "scan.dcm")], "patient_id": theirs["id"]},
        content_type="multipart/form-data",
    )
    assert_problem(response, 404)
    runtime.jobs.drain()
    assert owner.get("/api/v1/ingest").get_json() == []
    assert other_owner.get(f"/api/v1/patients/{theirs['id']}/images").get_json() == []


class _FailingStore:
    """The tenant's object store with `put` failing (a full disk, an unreachable S3)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def put(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ObjectStoreError("no space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _stored_files(runtime: Any) -> list[Path]:
    return [p for p in Path(runtime.settings.storage_url.removeprefix("file://")).rglob("*") if p.is_file()]


def test_when_the_store_fails_uploads_get_a_503_to_retry_and_nothing_is_recorded(
    owner: Any, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = synthetic.to_bytes(synthetic.make_instance("bitewing", shape=(64, 48), **AMELIA))
    monkeypatch.setitem(runtime.__dict__, "object_store", _FailingStore(runtime.object_store))
    response = owner.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(data), "bw.dcm")]},
        content_type="multipart/form-data",
    )
    assert "image store is unavailable" in assert_problem(response, 503)["detail"]
    assert int(response.headers["Retry-After"]) > 0
    stow = owner.post(
        "/dicomweb/studies",
        data=multipart(data),
        headers={"Content-Type": STOW_TYPE, "Accept": "application/dicom+json"},
    )
    assert stow.status_code == 409, stow.get_data(as_text=True)
    assert stow.get_json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xA700]
    assert owner.get("/api/v1/ingest").get_json() == []
    assert _stored_files(runtime) == []

    monkeypatch.undo()
    (receipt,) = _upload(owner, (data, "bw.dcm"))
    assert receipt["status"] == "received"


def test_a_failed_commit_takes_the_stored_bytes_back(
    owner: Any, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = synthetic.to_bytes(synthetic.make_instance("bitewing", shape=(64, 48), **AMELIA))

    def database_gone(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr(ingest_services, "_record", database_gone)
    response = owner.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(data), "bw.dcm")]},
        content_type="multipart/form-data",
    )
    assert_problem(response, 500)
    assert _stored_files(runtime) == []
