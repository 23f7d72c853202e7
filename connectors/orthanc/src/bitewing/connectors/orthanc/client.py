"""The one place where HTTP sessions to Orthanc are made, and where its answers become `ConnectorError`s.

Sockets: TCP_NODELAY (urllib3's default, repeated here so it cannot silently go away) and SO_KEEPALIVE, so
an idle pooled connection through a NAT or firewall is noticed. Timeouts: connecting gets at most 10 s, every
read the configured `timeout`. requests' own retries are off: the core's delivery queue retries, with backoff.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from bitewing.core.plugins.connectors import ConnectorError

SOCKET_OPTIONS = [
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
]
MAX_CONNECT_TIMEOUT = 10.0
USER_AGENT = "Bitewing-Orthanc-Connector/0.1"


@dataclass(frozen=True)
class OrthancSettings:
    """How to reach one Orthanc: base `url` (no trailing slash), Basic credentials, TLS checking, timeout."""

    url: str
    username: str | None = None
    password: str | None = None
    verify_tls: bool = True
    timeout: float = 30.0

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for requests."""
        return min(self.timeout, MAX_CONNECT_TIMEOUT), self.timeout

    @property
    def host_and_port(self) -> tuple[str, int]:
        """Host and port of `url` (the scheme's default port when none is written)."""
        parts = urlsplit(self.url)
        return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


class _Adapter(HTTPAdapter):
    """Connection pool with our socket options and no retries of its own."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = SOCKET_OPTIONS
        super().init_poolmanager(*args, **kwargs)


def make_session(settings: OrthancSettings) -> requests.Session:
    """A requests session for `settings` (close it when done)."""
    session = requests.Session()
    session.mount("http://", _Adapter())
    session.mount("https://", _Adapter())
    session.verify = settings.verify_tls
    session.trust_env = False  # a proxy from the environment must not capture traffic to a local VNA
    session.headers["User-Agent"] = USER_AGENT
    if settings.username:
        session.auth = (settings.username, settings.password or "")
    return session


class OrthancHTTPError(ConnectorError):
    """Orthanc answered, with an HTTP error status (`status`)."""

    def __init__(self, message: str, *, status: int, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


def _detail(response: requests.Response) -> str:
    """Orthanc's own explanation of an error (``Message`` and ``Details`` of its JSON error body)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if not isinstance(body, dict):
        return ""
    message, details = str(body.get("Message", "")), str(body.get("Details", ""))
    return f"{message} ({details})" if message and details else message or details


def http_error(response: requests.Response, settings: OrthancSettings, action: str) -> OrthancHTTPError:
    """The error for an HTTP error answer to `action` (e.g. "storing the instance")."""
    status = response.status_code
    detail = _detail(response)
    suffix = f": {detail}" if detail else ""
    if status == 401:
        return OrthancHTTPError(
            "Orthanc refused the login: check the user name and password", status=status, retryable=False
        )
    if status == 403:
        return OrthancHTTPError(
            f"Orthanc refused {action} for user {settings.username or '(none)'}: check the user's permissions",
            status=status,
            retryable=False,
        )
    if status == 404:
        return OrthancHTTPError(
            f"No Orthanc REST API answers at {settings.url} ({action} got HTTP 404): check the address",
            status=status,
            retryable=False,
        )
    if status == 413:
        return OrthancHTTPError(
            f"Orthanc (or a proxy in front of it) refused the instance as too large{suffix}",
            status=status,
            retryable=False,
        )
    if status in (408, 429) or status >= 500:
        return OrthancHTTPError(
            f"Orthanc at {settings.url} failed while {action} (HTTP {status}){suffix}",
            status=status,
            retryable=True,
        )
    if status == 400 and action == "storing the instance":
        return OrthancHTTPError(
            f"Orthanc refused the instance as invalid DICOM{suffix}", status=status, retryable=False
        )
    return OrthancHTTPError(
        f"Orthanc refused {action} (HTTP {status}){suffix}", status=status, retryable=False
    )


def transport_error(exc: requests.RequestException, settings: OrthancSettings, action: str) -> ConnectorError:
    """The error for a request that got no HTTP answer at all."""
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
            f"Orthanc at {settings.url} did not answer within {settings.timeout:g} s while {action}",
            retryable=True,
        )
    return ConnectorError(
        f"Request to Orthanc at {settings.url} failed while {action}: {exc}", retryable=True
    )


class OrthancClient:
    """Orthanc's REST API over one session; every failure is raised as a `ConnectorError`."""

    def __init__(self, settings: OrthancSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or make_session(settings)

    def request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
        allow: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send one request; return the response when it succeeded or its status is in `allow`."""
        headers = {"Content-Type": content_type} if content_type else None
        try:
            response = self.session.request(
                method,
                self.settings.url + path,
                json=json,
                data=data,
                headers=headers,
                params=params,
                timeout=self.settings.timeouts,
            )
        except requests.RequestException as exc:
            raise transport_error(exc, self.settings, action) from exc
        if response.ok or response.status_code in allow:
            return response
        raise http_error(response, self.settings, action)

    def json(self, method: str, path: str, *, action: str, **kwargs: Any) -> Any:
        """The decoded JSON answer of a request."""
        response = self.request(method, path, action=action, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ConnectorError(
                f"The server at {self.settings.url} answered {method} {path} without JSON: is it an Orthanc?",
                retryable=False,
            ) from exc

    def close(self) -> None:
        self.session.close()
