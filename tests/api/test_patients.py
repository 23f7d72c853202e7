"""Patient registration, search, pagination and the audit trail of patient data."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import patient_body


def _ids(response: Any) -> list[str]:
    return [row["id"] for row in response.get_json()]


def test_search_by_name_chart_number_and_birth_date(owner: Any) -> None:
    zoe = owner.post(
        "/api/v1/patients", json=patient_body(given_name="Zoë", family_name="Tremblay")
    ).get_json()
    lucas = owner.post(
        "/api/v1/patients",
        json=patient_body(given_name="Lucas", family_name="Martin", birth_date="1979-11-02"),
    ).get_json()
    assert _ids(owner.get("/api/v1/patients?q=zoe")) == [zoe["id"]]
    assert _ids(owner.get("/api/v1/patients?q=TREMB")) == [zoe["id"]]
    assert _ids(owner.get("/api/v1/patients?q=lucas martin")) == [lucas["id"]]
    assert _ids(owner.get(f"/api/v1/patients?chart_number={lucas['chart_number']}")) == [lucas["id"]]
    assert _ids(owner.get("/api/v1/patients?birth_date=1979-11-02")) == [lucas["id"]]
    assert _ids(owner.get("/api/v1/patients?q=nobody")) == []


def test_patients_list_in_name_order_with_pagination(owner: Any) -> None:
    for family in ["Young", "Adams", "Moreau", "Baker", "Nguyen"]:
        owner.post("/api/v1/patients", json=patient_body(family_name=family))
    first = owner.get("/api/v1/patients?page=1&page_size=2")
    second = owner.get("/api/v1/patients?page=2&page_size=2")
    names = [p["family_name"] for p in first.get_json() + second.get_json()]
    assert names == ["Adams", "Baker", "Moreau", "Nguyen"]
    assert '"total": 5' in first.headers["X-Pagination"]


def test_assign_dentist_and_primary_location(owner: Any) -> None:
    location = owner.post("/api/v1/locations", json={"name": "Lakeside"}).get_json()
    dentist = owner.post(
        "/api/v1/users",
        json={
            "email": "dr@example.com",
            "full_name": "Dr Molar",
            "role": "dentist",
            "password": "a-long-passw0rd",
        },
    ).get_json()
    patient = owner.post("/api/v1/patients", json=patient_body()).get_json()
    changed = owner.patch(
        f"/api/v1/patients/{patient['id']}",
        json={"dentist_id": dentist["id"], "primary_location_id": location["id"]},
    ).get_json()
    assert (changed["dentist_id"], changed["primary_location_id"]) == (dentist["id"], location["id"])
    assert _ids(owner.get(f"/api/v1/patients?dentist_id={dentist['id']}")) == [patient["id"]]
    assert _ids(owner.get(f"/api/v1/patients?primary_location_id={location['id']}")) == [patient["id"]]


def test_every_read_and_write_of_patient_data_is_audited(owner: Any) -> None:
    patient = owner.post("/api/v1/patients", json=patient_body()).get_json()
    owner.get(f"/api/v1/patients/{patient['id']}")
    owner.patch(f"/api/v1/patients/{patient['id']}", json={"phone": "555-0101"})
    owner.get("/api/v1/patients?q=chen")
    events = owner.get(f"/api/v1/audit-events?patient_id={patient['id']}").get_json()
    assert [e["action"] for e in events] == ["patient.update", "patient.read", "patient.create"]
    assert all(e["actor_type"] == "token" and e["actor_id"] for e in events)
    searches = owner.get("/api/v1/audit-events?action=patient.search").get_json()
    assert patient["id"] in searches[0]["details"]["returned"]
