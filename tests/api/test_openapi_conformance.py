"""Schemathesis fuzzes the whole served `/api/v1` spec: no 5xx, and every response matches the schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings


@pytest.fixture
def api_schema(app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_spec(case: Any, owner: Any) -> None:
    excluded = []
    if case.operation.path.endswith("/uploads"):
        # The schema can say "a file" but not "a DICOM file": a schema-valid PNG is rightly refused (422).
        excluded.append(schemathesis.checks.positive_data_acceptance)
    if case.operation.path.startswith("/api/v1/targets") and case.method in ("POST", "PATCH"):
        # A target's `config` is validated by its connector type's own schema (GET /connector-types).
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.call_and_validate(headers=owner.headers, excluded_checks=excluded)


def test_spec_documents_every_resource(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/patients", "/api/v1/locations", "/api/v1/users", "/api/v1/tokens"} <= set(spec["paths"])
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert spec["components"]["schemas"]["Problem"]["required"] == ["status", "title"]
