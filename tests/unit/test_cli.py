"""The `bitewing` command line on a migrated SQLite instance (the embedded default), driven by CliRunner."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from flask import Flask

from bitewing.core.app import create_app
from bitewing.core.cli import main
from bitewing.core.config import load_settings
from bitewing.core.db import migrations

PASSWORD = "a-long-enough-passw0rd"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BITEWING_* variable or .env of the caller leaks in; the working directory is a scratch folder."""
    for name in list(os.environ):
        if name.startswith("BITEWING_"):
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An instance folder whose SQLite database is migrated to head."""
    path = tmp_path / "instance"
    path.mkdir()
    migrations.upgrade(f"sqlite:///{path / 'bitewing.db'}")
    return path


def head_revision(database_url: str) -> str:
    head = ScriptDirectory.from_config(migrations.alembic_config(database_url)).get_current_head()
    assert head
    return head


def bitewing(instance: Path | None, *args: str, env: dict[str, str] | None = None) -> Result:
    options = ["--instance", str(instance)] if instance is not None else []
    return CliRunner().invoke(main, [*options, *args], env=env, catch_exceptions=False)


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def slug(instance: Path) -> str:
    result = bitewing(instance, "tenant", "create", "Smile Group", "--region", "CA")
    assert result.exit_code == 0, result.output
    return last_line(result.stdout)


def app_for(instance: Path) -> Iterator[Flask]:
    app = create_app(load_settings({}, instance_path=instance, testing=True))
    try:
        yield app
    finally:
        app.extensions["bitewing"].close()


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    yield from app_for(instance)


def test_db_upgrade_on_a_fresh_sqlite_file_reports_the_revision(tmp_path: Path) -> None:
    instance = tmp_path / "fresh"
    instance.mkdir()
    result = bitewing(instance, "db", "upgrade")
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{(instance / 'bitewing.db').resolve()}"
    head = head_revision(url)
    assert last_line(result.stdout) == f"database at revision {head}"
    assert migrations.current(url) == head


def test_db_upgrade_takes_the_database_url_from_the_environment(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    url = f"sqlite:///{database}"
    result = bitewing(None, "db", "upgrade", env={"BITEWING_DATABASE_URL": url, "BITEWING_SECRET_KEY": "k"})
    assert result.exit_code == 0, result.output
    assert head_revision(url) in last_line(result.stdout)
    assert database.is_file()


def test_tenant_create_prints_the_slug_as_the_last_line(instance: Path) -> None:
    result = bitewing(instance, "tenant", "create", "Smile Group", "--region", "CA")
    assert result.exit_code == 0, result.output
    assert last_line(result.stdout) == "smile-group"
    again = bitewing(instance, "tenant", "create", "Smile Group")
    assert again.exit_code == 0, again.output
    assert re.fullmatch(r"smile-group-[a-z0-9]+", last_line(again.stdout))


def test_the_instance_can_come_from_the_environment(instance: Path) -> None:
    result = bitewing(None, "tenant", "create", "Env Dental", env={"BITEWING_INSTANCE_PATH": str(instance)})
    assert result.exit_code == 0, result.output
    assert last_line(result.stdout) == "env-dental"
    added = bitewing(instance, "location", "add", "--tenant", "env-dental", "Main Street")
    assert added.exit_code == 0, added.output


def test_location_add(instance: Path, slug: str, app: Flask) -> None:
    result = bitewing(instance, "location", "add", "--tenant", slug, "Downtown Clinic")
    assert result.exit_code == 0, result.output
    location_id = uuid.UUID(last_line(result.stdout))
    token = last_line(bitewing(instance, "token", "create", "--tenant", slug, "--role", "dentist").stdout)
    response = app.test_client().get(
        f"/api/v1/locations/{location_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == "Downtown Clinic"


def test_user_create_with_a_password_that_signs_in(instance: Path, slug: str, app: Flask) -> None:
    result = bitewing(
        instance,
        "user", "create", "--tenant", slug, "--email", "dana@smile.example", "--name", "Dana Dentist",
        "--role", "dentist", "--password", PASSWORD,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    uuid.UUID(last_line(result.stdout))
    response = app.test_client().post(
        "/api/v1/session/login", json={"email": "dana@smile.example", "password": PASSWORD}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["role"] == "dentist"


def test_user_create_with_a_short_password_is_a_one_line_error(instance: Path, slug: str) -> None:
    result = bitewing(
        instance,
        "user", "create", "--tenant", slug, "--email", "x@smile.example", "--name", "X", "--role", "owner",
        "--password", "short",
    )  # fmt: skip
    assert_one_line_error(result, "password")


def test_token_create_prints_a_token_that_works_against_the_api(
    instance: Path, slug: str, app: Flask
) -> None:
    result = bitewing(instance, "token", "create", "--tenant", slug, "--role", "owner")
    assert result.exit_code == 0, result.output
    token = last_line(result.stdout)
    assert len(token) >= 32 and " " not in token
    assert token not in result.stderr, "the advice goes to stderr, the secret to stdout"
    client = app.test_client()
    response = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == []
    assert client.get("/api/v1/patients", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize(
    "command",
    [
        ["location", "add", "--tenant", "no-such-practice", "Somewhere"],
        ["token", "create", "--tenant", "no-such-practice", "--role", "owner"],
        ["user", "create", "--tenant", "no-such-practice", "--email", "a@b.example", "--name", "A",
         "--role", "owner", "--password", PASSWORD],
    ],
    ids=["location", "token", "user"],
)  # fmt: skip
def test_an_unknown_tenant_slug_is_a_one_line_error(instance: Path, command: list[str]) -> None:
    assert_one_line_error(bitewing(instance, *command), "no-such-practice")


def test_a_malformed_setting_is_a_one_line_error(instance: Path) -> None:
    result = bitewing(instance, "db", "upgrade", env={"BITEWING_DICOM_PORT": "eleven"})
    assert_one_line_error(result, "BITEWING_DICOM_PORT")


def test_demo_with_an_instance_leaves_the_working_directory_alone(tmp_path: Path) -> None:
    demo_instance = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--instance", str(demo_instance), "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "owner@demo.bitewing.test" in result.stdout
    assert (demo_instance / "bitewing.db").is_file()
    assert list(Path.cwd().iterdir()) == []
