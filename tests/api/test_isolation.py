"""Tenant isolation through the API: another tenant's ids answer 404, lists never mix tenants."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.api.helpers import assert_problem, location_body, patient_body, user_body

RESOURCES = {
    "locations": location_body,
    "patients": patient_body,
    "users": user_body,
}


def _create_all(client: Any) -> dict[str, str]:
    ids = {}
    for resource, body in RESOURCES.items():
        response = client.post(f"/api/v1/{resource}", json=body())
        assert response.status_code == 201, response.get_json()
        ids[resource] = response.get_json()["id"]
    response = client.post("/api/v1/tokens", json={"name": "scanner", "role": "front_desk"})
    assert response.status_code == 201
    ids["tokens"] = response.get_json()["id"]
    response = client.post(
        "/api/v1/ingest/uploads",
        data={"files": [(io.BytesIO(b"not dicom"), "a.dcm")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.get_json()  # rejected, but recorded among the ingest errors
    (ids["ingest"],) = [r["id"] for r in client.get("/api/v1/ingest").get_json()]
    return ids


@pytest.mark.parametrize("resource", ["locations", "patients", "users", "ingest"])
def test_reading_another_tenants_record_is_not_found(owner: Any, other_owner: Any, resource: str) -> None:
    theirs = _create_all(other_owner)
    assert_problem(owner.get(f"/api/v1/{resource}/{theirs[resource]}"), 404)
    assert other_owner.get(f"/api/v1/{resource}/{theirs[resource]}").status_code == 200


@pytest.mark.parametrize("resource", ["locations", "patients", "users"])
def test_changing_another_tenants_record_is_not_found_and_changes_nothing(
    owner: Any, other_owner: Any, resource: str
) -> None:
    theirs = _create_all(other_owner)
    before = other_owner.get(f"/api/v1/{resource}/{theirs[resource]}").get_json()
    field = {"locations": "city", "patients": "city", "users": "full_name"}[resource]
    assert_problem(owner.patch(f"/api/v1/{resource}/{theirs[resource]}", json={field: "Hijacked"}), 404)
    after = other_owner.get(f"/api/v1/{resource}/{theirs[resource]}").get_json()
    assert after[field] == before[field]


def test_revoking_another_tenants_token_is_not_found(owner: Any, other_owner: Any) -> None:
    theirs = _create_all(other_owner)
    assert_problem(owner.delete(f"/api/v1/tokens/{theirs['tokens']}"), 404)
    tokens = other_owner.get("/api/v1/tokens").get_json()
    assert all(t["revoked_at"] is None for t in tokens)


@pytest.mark.parametrize("resource", ["locations", "patients", "users", "tokens", "audit-events", "ingest"])
def test_lists_never_include_another_tenants_rows(owner: Any, other_owner: Any, resource: str) -> None:
    mine = _create_all(owner)
    theirs = _create_all(other_owner)
    listed = owner.get(f"/api/v1/{resource}?page_size=100").get_json()
    listed_ids = {row["id"] for row in listed}
    their_ids = set(theirs.values())
    assert not listed_ids & their_ids
    if resource in mine:
        assert mine[resource] in listed_ids
    their_view = {row["id"] for row in other_owner.get(f"/api/v1/{resource}?page_size=100").get_json()}
    assert not their_view & set(mine.values())


def test_patient_filters_cannot_reach_another_tenant(owner: Any, other_owner: Any) -> None:
    theirs = other_owner.post("/api/v1/patients", json=patient_body(chart_number="SHARED-1")).get_json()
    assert owner.get("/api/v1/patients?chart_number=SHARED-1").get_json() == []
    assert owner.get(f"/api/v1/patients?dentist_id={theirs['id']}").get_json() == []


def test_references_to_another_tenants_records_are_refused(owner: Any, other_owner: Any) -> None:
    their_location = other_owner.post("/api/v1/locations", json=location_body()).get_json()["id"]
    their_dentist = other_owner.post("/api/v1/users", json=user_body()).get_json()["id"]
    assert_problem(owner.post("/api/v1/patients", json=patient_body(primary_location_id=their_location)), 404)
    assert_problem(owner.post("/api/v1/patients", json=patient_body(dentist_id=their_dentist)), 404)
    assert_problem(owner.post("/api/v1/users", json=user_body(location_ids=[their_location])), 404)
    assert owner.get("/api/v1/patients").get_json() == []
