"""The one place where DICOMweb clients are made, and where HTTP failures become `ConnectorError`s.

`make_client` builds a dicomweb-client `DICOMwebClient` over a requests session that carries the
authentication (HTTP Basic or a bearer token), TLS checking and our socket options (TCP_NODELAY, urllib3's
default, kept explicit; SO_KEEPALIVE). dicomweb-client's own retries are switched off: the core's delivery
queue retries, with backoff, and needs to see each failure.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from dicomweb_client import DICOMwebClient
from requests.adapters import HTTPAdapter

from bitewing.core.plugins.connectors import ConnectorError

SOCKET_OPTIONS = [
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
]
MAX_CONNECT_TIMEOUT = 10.0
USER_AGENT = "Bitewing-DICOMweb-Connector/0.1"

AUTH_NONE = "none"
AUTH_BASIC = "basic"
AUTH_BEARER = "bearer"


@dataclass(frozen=True)
class DicomwebSettings:
    """How to reach one DICOMweb service (`url` is its base, e.g. ``http://host:8042/dicom-web``)."""

    url: str
    auth: str = AUTH_NONE
    username: str | None = None
    password: str | None = None
    token: str | None = None
    qido_prefix: str | None = None
    wado_prefix: str | None = None
    stow_prefix: str | None = None
    verify_tls: bool = True
    timeout: float = 60.0

    @property
    def timeouts(self) -> tuple[float, float]:
        return min(self.timeout, MAX_CONNECT_TIMEOUT), self.timeout

    @property
    def host_and_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


class _Adapter(HTTPAdapter):
    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = SOCKET_OPTIONS
        super().init_poolmanager(*args, **kwargs)


def make_session(settings: DicomwebSettings) -> requests.Session:
    """A requests session with the authentication, TLS checking and socket options of `settings`."""
    session = requests.Session()
    session.mount("http://", _Adapter())
    session.mount("https://", _Adapter())
    session.verify = settings.verify_tls
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    if settings.auth == AUTH_BASIC:
        session.auth = (settings.username or "", settings.password or "")
    elif settings.auth == AUTH_BEARER:
        session.headers["Authorization"] = f"Bearer {settings.token}"
    return session


def make_client(settings: DicomwebSettings, session: requests.Session) -> DICOMwebClient:
    """A `DICOMwebClient` for `settings` over `session` (from `make_session`), without client-side retries."""
    try:
        client = DICOMwebClient(
            settings.url,
            session=session,
            qido_url_prefix=settings.qido_prefix,
            wado_url_prefix=settings.wado_prefix,
            stow_url_prefix=settings.stow_prefix,
            timeout=settings.timeouts,
        )
    except ValueError as exc:
        raise ConnectorError(f"Invalid DICOMweb address {settings.url}: {exc}", retryable=False) from exc
    client.set_http_retry_params(retry=False)
    return client


class DicomwebHTTPError(ConnectorError):
    """The service answered with an HTTP error `status`."""

    def __init__(self, message: str, *, status: int, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


def login_refused_message(settings: DicomwebSettings) -> str:
    if settings.auth == AUTH_BEARER:
        return "Login refused: check the access token"
    if settings.auth == AUTH_BASIC:
        return "Login refused: check the user name and password"
    return "Login refused: the service needs a login (choose basic or bearer authentication)"


def http_error(response: requests.Response, settings: DicomwebSettings, action: str) -> DicomwebHTTPError:
    """The error for an HTTP error answer to `action` ("storing the instance", "searching", ...)."""
    status = response.status_code
    if status == 401:
        return DicomwebHTTPError(login_refused_message(settings), status=status, retryable=False)
    if status == 403:
        return DicomwebHTTPError(
            f"The DICOMweb service refused {action}: this login has no permission for it",
            status=status,
            retryable=False,
        )
    if status in (404, 405):
        return DicomwebHTTPError(
            f"No DICOMweb service for {action} at {settings.url} (HTTP {status}): check the address and "
            "the QIDO/WADO/STOW prefixes",
            status=status,
            retryable=False,
        )
    if status in (408, 429) or status >= 500:
        return DicomwebHTTPError(
            f"The DICOMweb service at {settings.url} failed while {action} (HTTP {status})",
            status=status,
            retryable=True,
        )
    return DicomwebHTTPError(
        f"The DICOMweb service refused {action} (HTTP {status} {response.reason})",
        status=status,
        retryable=False,
    )


def transport_error(
    exc: requests.RequestException, settings: DicomwebSettings, action: str
) -> ConnectorError:
    """The error for a request that got no HTTP answer."""
    host, port = settings.host_and_port
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectorError(
            f"The TLS certificate of {host} is not trusted or the TLS handshake failed: install a valid "
            "certificate on the server or switch off certificate checking for this target",
            retryable=False,
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ConnectionError):
        return ConnectorError(
            f"Cannot reach host {host} on port {port}: is it running and reachable from Bitewing?",
            retryable=True,
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return ConnectorError(
            f"The DICOMweb service at {settings.url} did not answer within {settings.timeout:g} s "
            f"while {action}",
            retryable=True,
        )
    return ConnectorError(f"DICOMweb request to {settings.url} failed while {action}: {exc}", retryable=True)
