"""dcmtk's ``storescu`` and ``storescp`` (Debian package), the reference DICOM C-STORE peers for tests.

Absolute paths on purpose: pynetdicom installs its own ``storescu``/``storescp`` into the virtualenv, which
come first on PATH under ``uv run``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tests.support.ports import free_port, is_listening
from tests.support.process import START_TIMEOUT, Service, ServiceProcess

STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"


def storescu(
    host: str,
    port: int,
    files: Iterable[Path | str],
    calling_aet: str = "BITEWING",
    called_aet: str = "ANY-SCP",
    *,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Send `files` with dcmtk ``storescu``; returns the completed process (check ``returncode`` and output).

    ``storescu`` exits 0 only when every file was accepted.
    """
    argv = [STORESCU, "-aet", calling_aet, "-aec", called_aet, host, str(port), *map(str, files)]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, TCP_NODELAY="1"),
        check=False,
    )


class StoreSCP(Service):
    """dcmtk ``storescp`` on a free port, writing every received object to `output_dir`.

    Attributes: `host`, `port`, `aet`, `output_dir`. `received()` lists the stored files; `clear()` empties it.
    """

    def __init__(
        self, workdir: Path | None = None, *, aet: str = "STORESCP", timeout: float = START_TIMEOUT
    ) -> None:
        super().__init__(workdir, "storescp")
        self.aet = aet
        self.host = "127.0.0.1"
        self.port = free_port()
        self.timeout = timeout
        self.output_dir = self.workdir / "received"
        argv = [
            STORESCP,
            "--aetitle",
            self.aet,
            "--output-directory",
            str(self.output_dir),
            "+xa",
            str(self.port),
        ]
        self.process = ServiceProcess(f"storescp {aet}", argv, self.workdir / "storescp.log")

    def start(self) -> None:
        self.output_dir.mkdir(exist_ok=True)
        self.process.start()
        try:
            self.process.wait_until(lambda: is_listening(self.host, self.port), "listening", self.timeout)
        except BaseException:
            self.process.stop()
            raise

    def stop(self) -> None:
        self.process.stop()

    def log_files(self) -> dict[str, Path]:
        return {self.process.name: self.process.log_path}

    def received(self) -> list[Path]:
        """Files received so far, sorted by name."""
        return sorted(p for p in self.output_dir.iterdir() if p.is_file())

    def clear(self) -> None:
        """Forget what was received (delete the files)."""
        for path in self.received():
            path.unlink()
