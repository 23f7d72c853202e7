"""`bitewing demo` as an operator runs it: a real process on a fresh instance folder, no other server."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from bitewing.core.demo import DEMO_PASSWORD, DEMO_STAFF
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

STARTUP_SECONDS = 30


def _reader(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _get_json(url: str, body: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback URL built by the test
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")


def _clean_environment() -> dict[str, str]:
    """The caller's environment without settings that would point the demo anywhere but its instance."""
    return {key: value for key, value in os.environ.items() if not key.startswith("BITEWING_")}


def _assert_demo_images_went_the_whole_way(instance: Path) -> None:
    """Every generated X-ray was received, matched to its demo patient, archived and rendered into files."""
    with closing(sqlite3.connect(instance / "bitewing.db")) as db:
        kinds = dict(db.execute("SELECT image_type, count(*) FROM images GROUP BY image_type").fetchall())
        unfinished = db.execute(
            "SELECT count(*) FROM images WHERE patient_id IS NULL OR archived_at IS NULL"
        ).fetchone()[0]
        keys = [
            row[0]
            for row in db.execute("SELECT key FROM renditions UNION ALL SELECT archive_key FROM images")
        ]
        renditions = db.execute("SELECT count(*) FROM renditions").fetchone()[0]
    assert kinds == {
        "bitewing": 4,
        "periapical": 2,
        "panoramic": 2,
        "cephalometric": 2,
        "intraoral": 1,
        "cbct": 1,
    }
    assert unfinished == 0
    assert renditions == 3 * 12
    assert all((instance / "objects" / key).is_file() for key in keys)


def test_demo_serves_a_seeded_practice_on_a_fresh_instance(tmp_path: Path) -> None:
    instance = tmp_path / "demo-instance"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bitewing.core.cli", "demo", "--instance", str(instance), "--port", str(port)],
        cwd=tmp_path,
        env=_clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        # The banner: URL and logins, printed before serving.
        while not any(f"{base}/" in line for line in output):
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no URL printed in time:\n" + "\n".join(output)
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, "the demo exited early:\n" + "\n".join(output)
            output.append(line)
        banner = "\n".join(output)
        for email, _name, _role in DEMO_STAFF:
            assert email in banner
        assert DEMO_PASSWORD in banner

        # Then it answers, within the same budget.
        while True:
            try:
                status, body = _get_json(f"{base}/healthz")
                break
            except OSError:
                assert process.poll() is None, "the demo exited:\n" + banner
                assert time.monotonic() < deadline, "no answer on /healthz in time"
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok"})

        status, body = _get_json(
            f"{base}/api/v1/session/login", {"email": DEMO_STAFF[0][0], "password": DEMO_PASSWORD}
        )
        assert status == 200, body
        assert body["user"]["email"] == DEMO_STAFF[0][0]  # type: ignore[index]
        assert body["csrf_token"]

        status, body = _get_json(
            f"{base}/api/v1/session/login", {"email": DEMO_STAFF[0][0], "password": "wrong-password"}
        )
        assert status == 401
        assert body["detail"] == "wrong e-mail or password"

        assert (instance / "bitewing.db").is_file()
        _assert_demo_images_went_the_whole_way(instance)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
