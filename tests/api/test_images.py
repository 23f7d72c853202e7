"""From a received instance to a patient's images with expiring URLs; matching, the inbox, versions."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from bitewing.core.imaging import synthetic
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from tests.api.helpers import assert_problem, location_body
from tests.api.imaging_helpers import register_patient, send

AMELIA = {"patient_id": "CH-1", "patient_name": "Chen^Amelia", "birth_date": "19860314"}


def _images(client: Any, patient_id: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/patients/{patient_id}/images{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_received_images_appear_with_thumbnail_urls_newest_first(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, "panoramic", **AMELIA)
    send(runtime, owner.tenant_id, "bitewing", seed=1, **AMELIA)
    images = _images(owner, patient["id"])
    assert sorted(i["image_type"] for i in images) == ["bitewing", "panoramic"]
    assert all(i["match_status"] == "matched" for i in images)
    for image in images:
        (thumb,) = image["renditions"]
        assert thumb["name"] == "thumbnail"
        assert max(thumb["width"], thumb["height"]) <= 200
        fetched = owner.client.get(thumb["url"])
        assert fetched.status_code == 200
        assert fetched.mimetype == "image/jpeg"
        assert fetched.headers["Referrer-Policy"] == "no-referrer"
    assert _images(owner, patient["id"], "?image_type=panoramic")[0]["image_type"] == "panoramic"


def _taken_on(runtime: Any, tenant_id: Any, seed: int, day: str) -> None:
    ds = synthetic.make_instance("periapical", shape=(120, 90), seed=seed, **AMELIA)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
    receive_instance(runtime, tenant_id, synthetic.to_bytes(ds), Origin(IngestSource.UPLOAD))
    runtime.jobs.drain()


def test_a_patients_images_come_newest_taken_first_and_filter_by_the_day_taken(
    owner: Any, runtime: Any
) -> None:
    patient = register_patient(owner)
    for seed, day in enumerate(("20240517", "20230102", "20250611", "20240518")):
        _taken_on(runtime, owner.tenant_id, seed, day)

    def days(query: str = "") -> list[str]:
        return [i["acquired_at"][:10] for i in _images(owner, patient["id"], query)]

    assert days() == ["2025-06-11", "2024-05-18", "2024-05-17", "2023-01-02"]
    assert days("?acquired_from=2024-05-17&acquired_to=2024-05-18") == ["2024-05-18", "2024-05-17"]
    assert days("?acquired_to=2024-05-17") == ["2024-05-17", "2023-01-02"]
    assert days("?acquired_from=2024-05-18") == ["2025-06-11", "2024-05-18"]
    assert days("?acquired_from=2026-01-01") == []
    assert (
        "acquired_from"
        in assert_problem(owner.get(f"/api/v1/patients/{patient['id']}/images?acquired_from=yesterday"), 422)[
            "errors"
        ]
    )


def test_the_day_an_image_was_taken_is_the_practices_day(owner: Any, runtime: Any) -> None:
    """An X-ray taken at 20:30 in Vancouver is 03:30 UTC the next day; the practice files it under its day."""
    location = owner.post("/api/v1/locations", json=location_body(time_zone="America/Vancouver")).get_json()
    patient = register_patient(owner, primary_location_id=location["id"])
    ds = synthetic.make_instance("periapical", shape=(120, 90), **AMELIA)
    ds.AcquisitionDate, ds.AcquisitionTime = "20240517", "203000"
    origin = Origin(IngestSource.UPLOAD, location_id=uuid.UUID(location["id"]))
    receive_instance(runtime, owner.tenant_id, synthetic.to_bytes(ds), origin)
    runtime.jobs.drain()
    (image,) = _images(owner, patient["id"], "?acquired_from=2024-05-17&acquired_to=2024-05-17")
    assert image["acquired_at"].startswith("2024-05-18T03:30:00")
    assert _images(owner, patient["id"], "?acquired_from=2024-05-18") == []


def test_one_image_has_every_rendition_and_the_compression_figures(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, "panoramic", **AMELIA)
    (summary,) = _images(owner, patient["id"])
    image = owner.get(f"/api/v1/images/{summary['id']}").get_json()
    sizes = {r["name"]: max(r["width"], r["height"]) for r in image["renditions"]}
    assert sizes["thumbnail"] <= 200
    assert sizes["preview"] <= 800
    assert sizes["full"] == max(image["rows"], image["columns"])
    rendition_bytes = sum(r["bytes"] for r in image["renditions"])
    assert rendition_bytes <= 0.10 * image["pixel_bytes"]
    assert image["archive_bytes"] < image["original_bytes"]
    assert image["download_url"] == f"/api/v1/images/{summary['id']}/download"


def test_an_image_carries_the_dicom_uids_it_was_sent_with(owner: Any, runtime: Any) -> None:
    """Integrators match Bitewing's images to their DICOM by these UIDs, in the list and in one image."""
    patient = register_patient(owner)
    instance = synthetic.make_instance("intraoral", **AMELIA)
    receive_instance(runtime, owner.tenant_id, synthetic.to_bytes(instance), Origin(IngestSource.UPLOAD))
    runtime.jobs.drain()
    (summary,) = _images(owner, patient["id"])
    assert summary["sop_instance_uid"] == instance.SOPInstanceUID
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", seen)
    try:
        image = owner.get(f"/api/v1/images/{summary['id']}").get_json()
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", seen)
    assert (image["sop_instance_uid"], image["study_instance_uid"], image["series_instance_uid"]) == (
        instance.SOPInstanceUID,
        instance.StudyInstanceUID,
        instance.SeriesInstanceUID,
    )
    assert sorted(r["name"] for r in image["renditions"]) == ["full", "preview", "thumbnail"]
    reads_after_the_audit = statements[
        [s.startswith("INSERT INTO audit_events") for s in statements].index(True) :
    ]
    assert not [s for s in reads_after_the_audit if s.startswith("SELECT")], (
        "read everything before the commit"
    )


def test_urls_expire_and_cannot_be_forged(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, **AMELIA)
    url = _images(owner, patient["id"])[0]["renditions"][0]["url"]
    store = runtime.object_store
    expired = store.presign(store.resolve_grant(url.rsplit("/", 1)[1]).key, -1)
    assert owner.client.get(expired).status_code == 404
    assert owner.client.get(url[:-3] + "abc").status_code == 404


def test_both_image_lists_issue_urls_for_the_configured_expiry(
    owner: Any, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The patient list and the inbox sign thumbnail URLs for `url_expiry_seconds`: set to the past, the URLs
    they issue are refused."""
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, **AMELIA)
    send(runtime, owner.tenant_id, patient_id="NOBODY", patient_name="Nobody^Known", birth_date="20000101")
    lists = (f"/api/v1/patients/{patient['id']}/images", "/api/v1/images/unmatched")

    def thumbnail_status(path: str) -> int:
        (item,) = owner.get(path).get_json()
        return int(owner.client.get(item["renditions"][0]["url"]).status_code)

    assert [thumbnail_status(path) for path in lists] == [200, 200]
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, url_expiry_seconds=-1))
    assert [thumbnail_status(path) for path in lists] == [404, 404]


def test_unknown_patient_waits_in_the_inbox_until_assigned(owner: Any, runtime: Any) -> None:
    send(runtime, owner.tenant_id, patient_id="NOBODY", patient_name="Nobody^Known", birth_date="20000101")
    inbox = owner.get("/api/v1/images/unmatched").get_json()
    assert [i["match_status"] for i in inbox] == ["unmatched"]
    patient = register_patient(owner, chart_number="CH-9")
    assigned = owner.request(
        "PUT", f"/api/v1/images/{inbox[0]['id']}/patient", json={"patient_id": patient["id"]}
    )
    assert assigned.status_code == 200
    assert assigned.get_json()["match_status"] == "manual"
    assert owner.get("/api/v1/images/unmatched").get_json() == []
    assert len(_images(owner, patient["id"])) == 1


def test_chart_number_with_another_birth_date_is_a_conflict_not_a_guess(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, patient_id="CH-1", patient_name="Chen^Amelia", birth_date="19990101")
    assert _images(owner, patient["id"]) == []
    assert owner.get("/api/v1/images/unmatched").get_json()[0]["match_status"] == "conflict"


def test_name_and_birth_date_match_when_the_chart_number_is_unknown(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, patient_id="OTHER-ID", patient_name="CHEN^AMELIA", birth_date="19860314")
    assert [i["match_status"] for i in _images(owner, patient["id"])] == ["matched"]


def test_images_never_match_another_tenants_patient(owner: Any, other_owner: Any, runtime: Any) -> None:
    theirs = register_patient(other_owner)
    send(runtime, owner.tenant_id, **AMELIA)
    assert _images(other_owner, theirs["id"]) == []
    assert_problem(owner.get(f"/api/v1/patients/{theirs['id']}/images"), 404)
    mine = owner.get("/api/v1/images/unmatched").get_json()
    assert len(mine) == 1
    assert_problem(other_owner.get(f"/api/v1/images/{mine[0]['id']}"), 404)
    assert_problem(
        other_owner.request(
            "PUT", f"/api/v1/images/{mine[0]['id']}/patient", json={"patient_id": theirs["id"]}
        ),
        404,
    )


def test_same_instance_twice_is_a_no_op_and_changed_content_is_a_new_version(
    owner: Any, runtime: Any
) -> None:
    from bitewing.core.ingest.models import IngestSource
    from bitewing.core.ingest.services import Origin, receive_instance

    patient = register_patient(owner)
    ds = synthetic.make_instance("periapical", **AMELIA)
    first = receive_instance(runtime, owner.tenant_id, synthetic.to_bytes(ds), Origin(IngestSource.UPLOAD))
    again = receive_instance(runtime, owner.tenant_id, synthetic.to_bytes(ds), Origin(IngestSource.UPLOAD))
    runtime.jobs.drain()
    assert (first.status, again.status) == ("received", "duplicate")
    ds.InstitutionName = "Corrected"
    changed = receive_instance(runtime, owner.tenant_id, synthetic.to_bytes(ds), Origin(IngestSource.UPLOAD))
    runtime.jobs.drain()
    assert changed.status == "received"
    (current,) = _images(owner, patient["id"])
    assert current["version"] == 2
    versions = owner.get("/api/v1/audit-events?action=image.new_version").get_json()
    assert versions[0]["entity_id"] == current["id"]


def test_upload_endpoint_answers_per_file_and_lists_rejections(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    good = synthetic.to_bytes(synthetic.make_instance("bitewing", **AMELIA))
    truncated = good[: len(good) // 2]
    response = owner.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(good), "good.dcm"), (io.BytesIO(truncated), "half.dcm")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()] == ["received", "rejected"]
    runtime.jobs.drain()
    errors = owner.get("/api/v1/ingest?status=rejected").get_json()
    assert [(e["filename"], e["error_reason"]) for e in errors] == [("half.dcm", "truncated")]
    only_bad = owner.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(b"not dicom"), "x.txt")]},
        content_type="multipart/form-data",
    )
    assert assert_problem(only_bad, 422)["errors"]["x.txt"]


def test_image_lists_page_with_a_pagination_header(owner: Any, runtime: Any) -> None:
    """The lists answer with their own dump (fast_dump) and keep flask-smorest's X-Pagination header."""
    patient = register_patient(owner)
    for seed in range(3):
        send(runtime, owner.tenant_id, "intraoral", seed=seed, **AMELIA)
    send(runtime, owner.tenant_id, patient_id="NOBODY", patient_name="Nobody^Known", birth_date="20000101")
    pages = [owner.get(f"/api/v1/patients/{patient['id']}/images?page_size=2&page={n}") for n in (1, 2)]
    assert [len(p.get_json()) for p in pages] == [2, 1]
    assert json.loads(pages[0].headers["X-Pagination"]) == {
        "total": 3,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 1,
        "next_page": 2,
    }
    assert len({i["id"] for p in pages for i in p.get_json()}) == 3
    assert [[r["name"] for r in i["renditions"]] for p in pages for i in p.get_json()] == [["thumbnail"]] * 3
    past_the_end = owner.get(f"/api/v1/patients/{patient['id']}/images?page_size=2&page=3")
    assert past_the_end.get_json() == []
    assert json.loads(past_the_end.headers["X-Pagination"])["total"] == 3
    inbox = owner.get("/api/v1/images/unmatched?page_size=1")
    assert json.loads(inbox.headers["X-Pagination"])["total"] == 1
    assert inbox.get_json()[0]["dicom_patient_id"] == "NOBODY"


def _queries_listing(owner: Any, runtime: Any, patient_id: str, expected: int) -> int:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        assert len(_images(owner, patient_id, "?page_size=50")) == expected
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    return len(statements)


def test_image_list_query_count_does_not_grow_with_images(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    for seed in range(2):
        send(runtime, owner.tenant_id, "intraoral", seed=seed, **AMELIA)
    few = _queries_listing(owner, runtime, patient["id"], 2)
    for seed in range(2, 12):
        send(runtime, owner.tenant_id, "intraoral", seed=seed, **AMELIA)
    assert _queries_listing(owner, runtime, patient["id"], 12) == few


def test_viewing_and_downloading_images_is_audited(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, **AMELIA)
    image_id = _images(owner, patient["id"])[0]["id"]
    owner.get(f"/api/v1/images/{image_id}")
    actions = [e["action"] for e in owner.get(f"/api/v1/audit-events?patient_id={patient['id']}").get_json()]
    assert actions[:2] == ["image.read", "image.list"]


def test_the_dicom_download_is_audited_and_redirected_to_a_short_lived_url(
    owner: Any, runtime: Any, tenant_client_factory: Any, other_owner: Any
) -> None:
    from bitewing.core.accounts.models import Role

    patient = register_patient(owner)
    send(runtime, owner.tenant_id, **AMELIA)
    (summary,) = _images(owner, patient["id"])
    download_url = owner.get(f"/api/v1/images/{summary['id']}").get_json()["download_url"]
    answer = owner.get(download_url)
    assert answer.status_code == 302
    assert answer.headers["Cache-Control"] == "no-store"
    fetched = owner.client.get(answer.headers["Location"])  # the short-lived URL needs no credentials
    assert fetched.status_code == 200
    assert fetched.mimetype == "application/dicom"
    assert fetched.data[128:132] == b"DICM"
    assert fetched.headers["Content-Disposition"] == f'attachment; filename="image-{summary["id"]}.dcm"'
    thumbnail = owner.client.get(summary["renditions"][0]["url"])
    assert "Content-Disposition" not in thumbnail.headers  # renditions are shown inline, not saved
    actions = [e["action"] for e in owner.get(f"/api/v1/audit-events?patient_id={patient['id']}").get_json()]
    assert actions[:2] == ["image.download", "image.read"]

    front_desk = tenant_client_factory(Role.FRONT_DESK, (owner.tenant_id, owner.slug))
    assert front_desk.get(f"/api/v1/images/{summary['id']}").get_json()["download_url"] is None
    refused = front_desk.get(download_url)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert other_owner.get(download_url).status_code == 404
    assert owner.client.get(download_url).status_code == 401


def test_owners_choose_rendition_formats_for_new_images(
    owner: Any, runtime: Any, tenant_client_factory: Any
) -> None:
    from bitewing.core.accounts.models import Role

    defaults = owner.get("/api/v1/settings/renditions").get_json()
    assert (defaults["thumbnail"]["max_side"], defaults["preview"]["max_side"]) == (200, 800)
    dentist = tenant_client_factory(role=Role.DENTIST, tenant=(owner.tenant_id, owner.slug))
    choice = {
        "thumbnail": {"format": "webp", "quality": 70},
        "preview": {"format": "avif", "quality": 60},
        "full": {"format": "jpeg", "quality": 85},
    }
    assert_problem(dentist.request("PUT", "/api/v1/settings/renditions", json=choice), 403)
    bad = {**choice, "thumbnail": {"format": "gif", "quality": 70}}
    assert_problem(owner.request("PUT", "/api/v1/settings/renditions", json=bad), 422)
    assert_problem(
        owner.request("PUT", "/api/v1/settings/renditions", json={"thumbnail": choice["thumbnail"]}), 422
    )
    changed = owner.request("PUT", "/api/v1/settings/renditions", json=choice).get_json()
    assert (changed["thumbnail"]["format"], changed["preview"]["format"], changed["full"]["format"]) == (
        "webp",
        "avif",
        "jpeg",
    )
    patient = register_patient(owner)
    send(runtime, owner.tenant_id, **AMELIA)
    image = owner.get(f"/api/v1/images/{_images(owner, patient['id'])[0]['id']}").get_json()
    types = {r["name"]: r["content_type"] for r in image["renditions"]}
    assert types == {"thumbnail": "image/webp", "preview": "image/avif", "full": "image/jpeg"}
    assert (
        owner.client.get(next(r["url"] for r in image["renditions"] if r["name"] == "preview")).mimetype
        == "image/avif"
    )
