"""Fixtures for integration tests: real services on free loopback ports (see `tests.support`).

Every test below this folder is marked ``integration``. When a test fails, the report shows the log tail of
each service fixture it used. Add new service fixtures in the sections below.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.support import HasLogs, OrthancFactory, SeaweedFS, SMTPServer, StoreSCP
from tests.support.process import tail

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, HasLogs):
                for name, path in value.log_files().items():
                    report.sections.append((f"{name} log ({path}, last lines)", tail(path)))
    return report


# --- S3 (SeaweedFS) -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS S3 endpoint for the session; make a bucket per test with ``s3_bucket`` / `create_bucket()`."""
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedFS) -> str:
    """A fresh, empty bucket on the session's SeaweedFS."""
    return seaweedfs.create_bucket()


# --- Orthanc (VNA) --------------------------------------------------------------------------------------------


@pytest.fixture
def orthanc_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancFactory]:
    """Start Orthancs on demand: ``orthanc_factory(aet="VNA1")`` or ``orthanc_factory.many(2)``; all stopped after."""
    factory = OrthancFactory(tmp_path_factory.mktemp("orthanc"))
    try:
        yield factory
    finally:
        factory.close()


# --- DICOM C-STORE receiver (dcmtk storescp) ------------------------------------------------------------------


@pytest.fixture(scope="session")
def storescp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreSCP]:
    """One dcmtk ``storescp`` for the session (AE title ``STORESCP``); call `clear()` before counting files."""
    with StoreSCP(tmp_path_factory.mktemp("storescp")) as server:
        yield server


# --- SMTP -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    """One in-memory SMTP server for the session; call `clear()` before counting `messages`."""
    with SMTPServer() as server:
        yield server
