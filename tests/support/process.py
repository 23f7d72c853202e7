"""Running a service binary as a child process with its output in a log file, and stopping it for sure."""

from __future__ import annotations

import abc
import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self, runtime_checkable

START_TIMEOUT = 30.0


class ServiceError(RuntimeError):
    """A test service is missing, did not come up or did not answer; the message includes its log tail."""


@runtime_checkable
class HasLogs(Protocol):
    """A started service whose log files a failing test report should show."""

    def log_files(self) -> dict[str, Path]:
        """Log files by a short name ("seaweedfs", "orthanc ORTHANC1", ...)."""
        ...


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a text file ("" when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ServiceProcess:
    """One child process whose stdout and stderr go to `log_path`.

    `stop` sends SIGTERM, waits `stop_timeout` seconds, then SIGKILLs: some services (SeaweedFS) take long to
    shut down gracefully and test data is disposable.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stop_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(os.environ) | dict(env or {})
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """The running process's id (benchmarks read its CPU time from /proc)."""
        if self._proc is None:
            raise ServiceError(f"{self.name} is not running")
        return self._proc.pid

    def start(self) -> None:
        """Start the process, appending to its log file (a restart keeps the earlier output)."""
        if self.running:
            raise ServiceError(f"{self.name} is already running")
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=self.env,
        )

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
        """Poll `ready()` until it is true; raise `ServiceError` with the log tail on exit or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise self.error(f"{self.name} exited (code {code}) before {what}")
            if ready():
                return
            if time.monotonic() > deadline:
                raise self.error(f"{self.name}: {what} did not happen within {timeout:.0f} s")
            time.sleep(0.1)

    def error(self, message: str) -> ServiceError:
        """A `ServiceError` whose message ends with the command line and the log tail."""
        return ServiceError(
            f"{message}\ncommand: {' '.join(self.argv)}\nlog {self.log_path} (last lines):\n{tail(self.log_path)}"
        )

    def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM, wait `stop_timeout`, then SIGKILL (at once when not `graceful`); closes the log file.

        Stopping a stopped process does nothing.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            if graceful:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(self.stop_timeout)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class Service(abc.ABC):
    """Base of the process-backed services: a work folder, `start`/`stop`, and use as a context manager.

    Files live in `workdir` (give a pytest ``tmp_path`` to keep them for inspection); without one a temporary
    folder is made and removed by `close`. `stop` only stops the process, so a service can be started again
    on the same data; `close` (or leaving the ``with`` block) stops it and removes a temporary folder.
    """

    def __init__(self, workdir: Path | None, name: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"bitewing-{name}-") if workdir is None else None
        self.workdir = Path(self._tmp.name) if self._tmp is not None else workdir
        self.workdir.mkdir(parents=True, exist_ok=True)

    @abc.abstractmethod
    def start(self) -> None:
        """Start the service and wait until it answers; raise `ServiceError` (with its log tail) if it doesn't."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the service, keeping its files."""

    @abc.abstractmethod
    def log_files(self) -> dict[str, Path]:
        """Log files by a short name."""

    def close(self) -> None:
        """Stop the service and remove its temporary folder, if it made one."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
