"""Builders of valid API payloads."""

from __future__ import annotations

import uuid
from typing import Any

from click.testing import CliRunner, Result

from bitewing.core import cli


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def location_body(**overrides: Any) -> dict[str, Any]:
    return {"name": unique("Clinic"), "time_zone": "America/Toronto", **overrides}


def patient_body(**overrides: Any) -> dict[str, Any]:
    return {
        "chart_number": unique("C"),
        "given_name": "Amelia",
        "family_name": "Chen",
        "birth_date": "1986-03-14",
        **overrides,
    }


def user_body(**overrides: Any) -> dict[str, Any]:
    return {
        "email": f"{unique('staff')}@example.com",
        "full_name": "Dana Dentist",
        "role": "dentist",
        "password": "a-long-enough-passw0rd",
        **overrides,
    }


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an error of `status` with the problem-details body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    return body


def invoke_cli(runtime: Any, *args: str) -> Result:
    """Run the `bitewing` command line on the test runtime's instance, database and object store."""
    settings = runtime.settings
    env = {
        "BITEWING_DATABASE_URL": settings.database_url,
        "BITEWING_STORAGE_URL": settings.storage_url,
        "BITEWING_SECRET_KEY": settings.secret_key,
    }
    return CliRunner().invoke(cli.main, ["--instance", str(settings.instance_path), *args], env=env)
