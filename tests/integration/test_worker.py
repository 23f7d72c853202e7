"""A long-running `bitewing worker` keeps processing after its sweeper has run, and jobs are not queued twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
from rq import Queue

from bitewing.core.app import create_app
from bitewing.core.config import load_settings
from bitewing.core.imaging import synthetic
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.processing import process_ingest
from bitewing.core.ingest.services import Origin, receive_instance
from tests.api.imaging_helpers import register_patient
from tests.conftest import TenantClient, issue_token, make_tenant
from tests.support.databases import ensure_redis

REDIS_URL = "redis://127.0.0.1:6379/12"


def _stack(postgres_db: Any, tmp_path: Path) -> tuple[dict[str, str], Any]:
    ensure_redis()
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        "BITEWING_DATABASE_URL": postgres_db.app_url,
        "BITEWING_STORAGE_URL": f"file://{tmp_path / 'objects'}",
        "BITEWING_REDIS_URL": REDIS_URL,
        "BITEWING_SECRET_KEY": "worker-test-secret-key",
    }
    app = create_app(load_settings(env, instance_path=tmp_path / "instance", testing=True))
    return env, app


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_running_worker_processes_after_its_sweeper_ran(postgres_db: Any, tmp_path: Path) -> None:
    env, app = _stack(postgres_db, tmp_path)
    runtime = app.extensions["bitewing"]
    tenant_id, slug = make_tenant(runtime)
    owner = TenantClient(app.test_client(), tenant_id, slug, issue_token(runtime, tenant_id))
    patient = register_patient(owner)
    bitewing = Path(sys.executable).with_name("bitewing")
    worker = subprocess.Popen(
        [str(bitewing), "--instance", str(tmp_path / "worker"), "worker", "--sweep-seconds", "0.5"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # several sweeper passes use the worker's database pool before any job arrives
        assert worker.poll() is None
        for seed in range(3):
            ds = synthetic.make_instance(
                "bitewing",
                seed=seed,
                shape=(256, 256),
                patient_id="CH-1",
                patient_name="Chen^Amelia",
                birth_date="19860314",
            )
            assert receive_instance(
                runtime, tenant_id, synthetic.to_bytes(ds), Origin(IngestSource.UPLOAD)
            ).ok

        def listed() -> bool:
            return len(owner.get(f"/api/v1/patients/{patient['id']}/images").get_json()) == 3

        _wait_for(listed, 60, "three processed images")
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
        runtime.close()
        redis.Redis.from_url(REDIS_URL).flushdb()
    assert "DuplicatePreparedStatement" not in err


def test_the_same_job_waiting_is_not_queued_twice(postgres_db: Any, tmp_path: Path) -> None:
    _, app = _stack(postgres_db, tmp_path)
    runtime = app.extensions["bitewing"]
    try:
        first = runtime.jobs.enqueue(process_ingest, tenant_id="t", ingest_id="i")
        again = runtime.jobs.enqueue(process_ingest, tenant_id="t", ingest_id="i")
        other = runtime.jobs.enqueue(process_ingest, tenant_id="t", ingest_id="j")
        assert first != again
        assert again == "already-queued"
        assert other != "already-queued"
        assert Queue("ingest", connection=redis.Redis.from_url(REDIS_URL)).count == 2
    finally:
        runtime.close()
        redis.Redis.from_url(REDIS_URL).flushdb()


def test_worker_check_sees_a_live_worker_of_this_host_and_not_a_stopped_one(
    postgres_db: Any, tmp_path: Path
) -> None:
    """`bitewing worker-check` is the worker pods' liveness probe: it must pass while a worker runs and fail
    once it is gone (RQ removes a stopped worker from Redis; a hung one expires with its heartbeat)."""
    env, app = _stack(postgres_db, tmp_path)
    bitewing = str(Path(sys.executable).with_name("bitewing"))
    full_env = {**os.environ, **env}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [bitewing, "--instance", str(tmp_path / "probe"), "worker-check"],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    before = check()
    assert before.returncode == 1 and "no live worker" in before.stderr
    worker = subprocess.Popen(
        [bitewing, "--instance", str(tmp_path / "worker"), "worker"],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: check().returncode == 0, 60, "the worker to register")
        assert "1 live worker(s)" in check().stdout
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    try:
        assert check().returncode == 1
    finally:
        app.extensions["bitewing"].close()
        redis.Redis.from_url(REDIS_URL).flushdb()
