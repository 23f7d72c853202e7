"""Throwaway Orthanc 1.10 servers (the Debian package) with the DICOMweb plugin, for VNA tests."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.process import START_TIMEOUT, Service, ServiceProcess

ORTHANC_BINARY = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

Modality = Sequence[str | int]
"""An Orthanc ``DicomModalities`` entry: ``[aet, host, port]``."""


class OrthancHTTPError(RuntimeError):
    """Orthanc answered a REST call with an HTTP error."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"Orthanc {method} {path}: HTTP {status}: {body[:500]}")
        self.status = status


class Orthanc(Service):
    """One Orthanc with its own storage, index, HTTP and DICOM ports, user and AE title.

    `stop` (graceful, ~3 s) or `kill` (instant), then `start` (or `restart`) keeps the stored instances: it
    simulates a VNA going down and coming back. Attributes: `url`, `dicomweb_url`, `dicom_port`, `aet`, `username`, `password`, `modalities`
    (written to the configuration at each start; `add_modality` changes a running server).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        aet: str = "ORTHANC",
        modalities: Mapping[str, Modality] | None = None,
        timeout: float = START_TIMEOUT,
    ) -> None:
        super().__init__(workdir, "orthanc")
        self.aet = aet
        self.modalities: dict[str, Modality] = dict(modalities or {})
        self.timeout = timeout
        self.username = "bitewing"
        self.password = secrets.token_hex(12)
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.dicomweb_url = f"{self.url}/dicom-web"
        self.config_path = self.workdir / "orthanc.json"
        self.process = ServiceProcess(
            f"orthanc {aet}", [ORTHANC_BINARY, str(self.config_path)], self.workdir / "orthanc.log"
        )

    def config(self) -> dict[str, Any]:
        """The Orthanc configuration this server runs with."""
        return {
            "Name": self.aet,
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "DicomCheckCalledAet": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.username: self.password},
            "DicomModalities": self.modalities,
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "SaveJobs": False,
        }

    @property
    def auth_header(self) -> str:
        """The ``Authorization`` header value for the registered user."""
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def start(self) -> None:
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        self.process.start()
        try:
            self.process.wait_until(self._answers, "GET /system answered", self.timeout)
        except BaseException:
            self.process.stop()
            raise

    def _answers(self) -> bool:
        try:
            self.request("GET", "/system", timeout=2)
        except (OSError, OrthancHTTPError):
            return False
        return True

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), like a VNA losing power; `start` brings it back on the same data."""
        self.process.stop(graceful=False)

    def restart(self) -> None:
        """Stop and start again on the same data and ports."""
        self.stop()
        self.start()

    def log_files(self) -> dict[str, Path]:
        return {f"orthanc {self.aet}": self.process.log_path}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> Any:
        """Call the REST API; returns the decoded JSON answer (or the raw bytes when not JSON)."""
        headers = {"Authorization": self.auth_header}
        if body is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - our loopback URL
                data = resp.read()
                is_json = resp.headers.get_content_type() == "application/json"
        except urllib.error.HTTPError as exc:
            with exc:
                raise OrthancHTTPError(exc.code, method, path, exc.read().decode(errors="replace")) from None
        return json.loads(data) if is_json else data

    def upload(self, dicom: bytes) -> dict[str, Any]:
        """Store one DICOM Part-10 file through ``POST /instances``; returns Orthanc's answer (ID, Status)."""
        answer: dict[str, Any] = self.request("POST", "/instances", dicom, "application/dicom")
        return answer

    def instances(self) -> list[str]:
        """Orthanc ids of all stored instances."""
        ids: list[str] = self.request("GET", "/instances")
        return ids

    def count_instances(self) -> int:
        """Number of stored instances."""
        return int(self.request("GET", "/statistics")["CountInstances"])

    def find_instance(self, sop_instance_uid: str) -> str | None:
        """Orthanc id of the instance with this SOP Instance UID, or None (``/tools/find``)."""
        query = {"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}}
        found: list[str] = self.request("POST", "/tools/find", json.dumps(query).encode())
        return found[0] if found else None

    def add_modality(self, name: str, aet: str, host: str, port: int) -> None:
        """Register a DICOM modality on the running server (and in `modalities`, for later starts)."""
        self.modalities[name] = [aet, host, port]
        self.request(
            "PUT", f"/modalities/{name}", json.dumps({"AET": aet, "Host": host, "Port": port}).encode()
        )


class OrthancFactory:
    """Starts Orthancs on demand (``factory(aet="VNA1")``, ``factory.many(2)``) and stops them all at `close`.

    Each gets its own folder below `basedir`. AE titles default to ``ORTHANC1``, ``ORTHANC2``, ...
    """

    def __init__(self, basedir: Path) -> None:
        self.basedir = basedir
        self.started: list[Orthanc] = []

    def __call__(
        self, *, aet: str | None = None, modalities: Mapping[str, Modality] | None = None
    ) -> Orthanc:
        """Start one more Orthanc and return it once it answers."""
        aet = aet or f"ORTHANC{len(self.started) + 1}"
        server = Orthanc(self.basedir / f"{len(self.started) + 1}-{aet}", aet=aet, modalities=modalities)
        self.started.append(server)
        server.start()
        return server

    def many(self, count: int) -> list[Orthanc]:
        """Start `count` Orthancs with default AE titles."""
        return [self() for _ in range(count)]

    def log_files(self) -> dict[str, Path]:
        return {name: path for server in self.started for name, path in server.log_files().items()}

    def close(self) -> None:
        """Kill every Orthanc this factory started (a graceful stop takes ~3 s each; the data is disposable)."""
        for server in self.started:
            server.kill()
