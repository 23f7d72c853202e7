"""Bad input gets a 4xx problem body and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import assert_problem, location_body, patient_body, user_body


def _count(client: Any, resource: str) -> int:
    response = client.get(f"/api/v1/{resource}?page_size=1")
    return int(response.headers["X-Pagination"].split('"total": ')[1].split(",")[0])


@pytest.mark.parametrize(
    ("resource", "body"),
    [("patients", patient_body), ("locations", location_body), ("users", user_body)],
)
def test_malformed_json_is_400(owner: Any, resource: str, body: Any) -> None:
    response = owner.post(f"/api/v1/{resource}", data='{"name": ', content_type="application/json")
    assert_problem(response, 400)
    assert _count(owner, resource) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("birth_date", "not a date"),
        ("birth_date", 19800101),
        ("given_name", 42),
        ("given_name", ""),
        ("consent_email", "maybe"),
        ("sex", "Z"),
        ("primary_location_id", "not-a-uuid"),
        ("email", "no-at-sign"),
        ("chart_number", "A\\B"),
        ("chart_number", "x" * 65),
    ],
)
def test_wrong_types_and_values_are_422_with_field_errors(owner: Any, field: str, value: Any) -> None:
    body = assert_problem(owner.post("/api/v1/patients", json=patient_body(**{field: value})), 422)
    assert field in body["errors"]
    assert _count(owner, "patients") == 0


@pytest.mark.parametrize("field", ["tenant_id", "id", "created_at", "role", "is_admin"])
def test_mass_assignment_is_refused(owner: Any, other_owner: Any, field: str) -> None:
    value = str(other_owner.tenant_id) if field in ("tenant_id", "id") else "owner"
    body = assert_problem(owner.post("/api/v1/patients", json=patient_body(**{field: value})), 422)
    assert field in body["errors"]
    assert _count(owner, "patients") == 0


def test_users_cannot_change_their_tenant(owner: Any, other_owner: Any) -> None:
    created = owner.post("/api/v1/users", json=user_body()).get_json()
    response = owner.patch(f"/api/v1/users/{created['id']}", json={"tenant_id": str(other_owner.tenant_id)})
    assert_problem(response, 422)
    assert owner.get(f"/api/v1/users/{created['id']}").status_code == 200


@pytest.mark.parametrize(
    ("resource", "body", "field"),
    [
        ("users", user_body, "full_name"),
        ("patients", patient_body, "given_name"),
        ("patients", patient_body, "family_name"),
        ("locations", location_body, "name"),
    ],
)
@pytest.mark.parametrize("blank", [" ", " \t\n ", " \r\n\x85", "\ufeff"])
def test_blank_required_names_are_refused(
    owner: Any, resource: str, body: Any, field: str, blank: str
) -> None:
    """A name of white space only would be stored stripped, i.e. empty (schemathesis found the user's)."""
    problem = assert_problem(owner.post(f"/api/v1/{resource}", json=body(**{field: blank})), 422)
    assert field in problem["errors"]
    assert _count(owner, resource) == 0


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x85", "\x9b", "\ufeff"])
def test_control_characters_in_names_are_refused(owner: Any, character: str) -> None:
    """C0 and C1 controls and the byte-order mark: schemathesis found an AE title list item of white space
    ending in NEL (U+0085), which JSON Schema's pattern takes for text and Python's for white space."""
    problem = assert_problem(
        owner.post("/api/v1/patients", json=patient_body(given_name=f"Ana{character}")), 422
    )
    assert "given_name" in problem["errors"]
    assert _count(owner, "patients") == 0


def test_future_birth_date_is_refused(owner: Any) -> None:
    body = assert_problem(owner.post("/api/v1/patients", json=patient_body(birth_date="2999-01-01")), 422)
    assert "birth_date" in body["errors"]


def test_unknown_time_zone_is_refused(owner: Any) -> None:
    body = assert_problem(owner.post("/api/v1/locations", json=location_body(time_zone="Mars/Olympus")), 422)
    assert "time_zone" in body["errors"]


def test_weak_password_is_refused(owner: Any) -> None:
    body = assert_problem(owner.post("/api/v1/users", json=user_body(password="short")), 422)
    assert "password" in body["errors"]


def test_oversized_json_body_is_413(owner: Any) -> None:
    huge = patient_body(address_line="x" * (300 * 1024))
    assert_problem(owner.post("/api/v1/patients", json=huge), 413)
    assert _count(owner, "patients") == 0


def test_duplicate_chart_number_is_409(owner: Any) -> None:
    owner.post("/api/v1/patients", json=patient_body(chart_number="DUP-1"))
    body = assert_problem(owner.post("/api/v1/patients", json=patient_body(chart_number="DUP-1")), 409)
    assert "chart_number" in body["errors"]
    assert _count(owner, "patients") == 1


def test_duplicate_location_name_is_409(owner: Any) -> None:
    owner.post("/api/v1/locations", json=location_body(name="Main"))
    assert_problem(owner.post("/api/v1/locations", json=location_body(name="Main")), 409)
    assert _count(owner, "locations") == 1


def test_unknown_ids_and_routes_are_problems(owner: Any) -> None:
    assert_problem(owner.get("/api/v1/patients/00000000-0000-0000-0000-000000000000"), 404)
    assert_problem(owner.get("/api/v1/patients/not-a-uuid"), 404)
    assert_problem(owner.get("/api/v1/nothing-here"), 404)
    assert_problem(owner.request("PUT", "/api/v1/patients"), 405)


def test_bad_pagination_is_422(owner: Any) -> None:
    assert_problem(owner.get("/api/v1/patients?page=0"), 422)
    assert_problem(owner.get("/api/v1/patients?page_size=100000"), 422)


def test_field_errors_keyed_by_none_still_make_a_json_problem(app: Any) -> None:
    """marshmallow keys the errors of a nameless multipart field with None (schemathesis sent one to the
    upload form); sorted JSON cannot mix None and string keys, so the handler names it."""
    from werkzeug.exceptions import UnprocessableEntity

    from bitewing.core.api.errors import handle_http_exception

    exc = UnprocessableEntity()
    exc.data = {"messages": {"form": {"": ["Unknown field."], None: ["Unknown field."]}}}
    with app.test_request_context():
        response = handle_http_exception(exc)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {"": ["Unknown field."], "(no name)": ["Unknown field."]}
