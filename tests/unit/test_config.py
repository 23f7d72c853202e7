"""Settings from ``BITEWING_*`` variables over the embedded defaults (which need no server)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bitewing.core.config import ConfigError, Settings, load_settings


def settings(tmp_path: Path, **environ: str) -> Settings:
    """Settings from exactly `environ` (no process environment, no .env file) on a fresh instance folder."""
    return load_settings(environ, instance_path=tmp_path / "instance")


def test_embedded_defaults_need_no_server(tmp_path: Path) -> None:
    loaded = settings(tmp_path)
    instance = (tmp_path / "instance").resolve()
    assert loaded.instance_path == instance
    assert loaded.database_url == f"sqlite:///{instance / 'bitewing.db'}"
    assert loaded.storage_url == f"file://{instance / 'objects'}"
    assert loaded.redis_url is None
    assert loaded.jobs_in_process
    assert not loaded.is_postgres
    assert loaded.dicom_port == 11112


def test_the_secret_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = settings(tmp_path).secret_key
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.read_text().strip() == first
    assert len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings(tmp_path).secret_key == first
    assert load_settings({}, instance_path=tmp_path / "other").secret_key != first


def test_a_configured_secret_key_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    loaded = settings(tmp_path, BITEWING_SECRET_KEY="from-a-secret")
    assert loaded.secret_key == "from-a-secret"
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_the_instance_path_comes_from_the_environment(tmp_path: Path) -> None:
    loaded = load_settings(
        {"BITEWING_INSTANCE_PATH": str(tmp_path / "elsewhere"), "BITEWING_SECRET_KEY": "k"}
    )
    assert loaded.instance_path == (tmp_path / "elsewhere").resolve()
    assert loaded.database_url.endswith("/elsewhere/bitewing.db")


def test_urls_and_strings_are_taken_as_they_are(tmp_path: Path) -> None:
    loaded = settings(
        tmp_path,
        BITEWING_DATABASE_URL="postgresql+psycopg://app@db:5432/bitewing",
        BITEWING_REDIS_URL="redis://redis:6379/0",
        BITEWING_STORAGE_URL="s3://bucket/prefix",
        BITEWING_S3_REGION="ca-central-1",
        BITEWING_DICOM_AE_TITLE="PRACTICE1",
    )
    assert loaded.database_url == "postgresql+psycopg://app@db:5432/bitewing"
    assert loaded.is_postgres
    assert loaded.redis_url == "redis://redis:6379/0"
    assert not loaded.jobs_in_process
    assert loaded.storage_url == "s3://bucket/prefix"
    assert loaded.storage_options()["region"] == "ca-central-1"
    assert loaded.dicom_ae_title == "PRACTICE1"


def test_whole_numbers_are_parsed(tmp_path: Path) -> None:
    loaded = settings(
        tmp_path, BITEWING_DICOM_PORT="104", BITEWING_MAX_UPLOAD_MB="64", BITEWING_MAX_JSON_KB="8"
    )
    assert (loaded.dicom_port, loaded.max_upload_mb, loaded.max_json_kb) == (104, 64, 8)


@pytest.mark.parametrize(
    "name", ["BITEWING_DICOM_PORT", "BITEWING_SESSION_IDLE_MINUTES", "BITEWING_MAX_UPLOAD_MB"]
)
def test_a_malformed_whole_number_names_its_variable(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        settings(tmp_path, **{name: "eleven"})
    assert "eleven" in str(raised.value)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("false", False), ("no", False), ("off", False)])  # fmt: skip
def test_booleans_are_parsed(tmp_path: Path, raw: str, expected: bool) -> None:
    assert settings(tmp_path, BITEWING_LOG_JSON=raw).log_json is expected


def test_empty_variables_fall_back_to_the_defaults(tmp_path: Path) -> None:
    loaded = settings(tmp_path, BITEWING_DICOM_PORT="", BITEWING_REDIS_URL="")
    assert loaded.dicom_port == 11112
    assert loaded.redis_url is None


def test_unrelated_variables_are_ignored(tmp_path: Path) -> None:
    loaded = settings(tmp_path, DICOM_PORT="1", BITEWING_NOT_A_SETTING="x", BITEWING_EXTRA="x")
    assert loaded.dicom_port == 11112
    assert dict(loaded.extra) == {}


def test_explicit_overrides_win_over_the_environment(tmp_path: Path) -> None:
    loaded = load_settings({"BITEWING_DICOM_PORT": "104"}, instance_path=tmp_path, dicom_port=11113)
    assert loaded.dicom_port == 11113


def test_a_dotenv_file_is_read_and_the_process_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BITEWING_DICOM_PORT", "BITEWING_DICOM_AE_TITLE", "BITEWING_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("BITEWING_DICOM_PORT=2104\nBITEWING_DICOM_AE_TITLE=FROMFILE\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BITEWING_DICOM_AE_TITLE", "FROMENV")
    loaded = load_settings(instance_path=tmp_path / "instance")
    assert loaded.dicom_port == 2104
    assert loaded.dicom_ae_title == "FROMENV"


def test_without_an_instance_path_the_instance_folder_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_settings({})
    assert loaded.instance_path == (tmp_path / "instance").resolve()
    assert (tmp_path / "instance" / "secret_key").is_file()
