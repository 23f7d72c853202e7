"""The one place where Bitewing opens DICOM associations as an SCU (pynetdicom): timeouts, TLS, socket options.

`open_association` either returns an established association or raises a `ConnectorError` whose message a
practice owner can act on (cannot reach the host, unknown AE title, busy, no accepted presentation context),
and whose `retryable` says whether waiting can help. Every association socket gets TCP_NODELAY (without it
small PDUs such as C-STORE responses stall ~40 ms on delayed ACKs) and SO_KEEPALIVE.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import A_ASSOCIATE
from pynetdicom.presentation import PresentationContext, build_context

from bitewing.core.plugins.connectors import ConnectorError

log = logging.getLogger(__name__)

MAX_PDU_BYTES = 1024 * 1024
"""Largest PDU we accept from the peer (its C-FIND/C-ECHO answers; our C-STORE PDUs follow its limit)."""
MAX_CONNECT_TIMEOUT = 10.0

# A-ASSOCIATE-RJ: result 1 = rejected permanent, 2 = rejected transient; source 1 = service user
_REJECTED_PERMANENT = 0x01
_SOURCE_SERVICE_USER = 0x01
_CALLING_AE_NOT_RECOGNISED = 0x03
_CALLED_AE_NOT_RECOGNISED = 0x07


@dataclass(frozen=True)
class DimseSettings:
    """How to reach one DICOM peer. TLS material is PEM text (CA bundle, client certificate and key)."""

    host: str
    port: int
    called_ae: str
    calling_ae: str = "BITEWING"
    timeout: float = 30.0
    tls: bool = False
    tls_ca_pem: str | None = None
    tls_cert_pem: str | None = None
    tls_key_pem: str | None = None
    tls_check_hostname: bool = True

    @property
    def label(self) -> str:
        """The peer as a person would name it."""
        return f"{self.called_ae} at {self.host} port {self.port}"


def make_ae(settings: DimseSettings) -> AE:
    """An application entity with our AE title, timeouts and PDU size (one per association; they are cheap)."""
    ae = AE(ae_title=settings.calling_ae)
    ae.acse_timeout = settings.timeout
    ae.dimse_timeout = settings.timeout
    ae.network_timeout = settings.timeout
    ae.connection_timeout = min(settings.timeout, MAX_CONNECT_TIMEOUT)
    ae.maximum_pdu_size = MAX_PDU_BYTES
    return ae


def make_ssl_context(settings: DimseSettings) -> ssl.SSLContext:
    """A client TLS context: the configured CA (or the system's), optional client certificate, TLS 1.2+."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=settings.tls_ca_pem or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = settings.tls_check_hostname
        if settings.tls_cert_pem and settings.tls_key_pem:
            # ssl loads certificates only from files: a private folder, deleted right after loading
            with tempfile.TemporaryDirectory(prefix="bitewing-tls-") as folder:
                cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
                for path, text in ((cert, settings.tls_cert_pem), (key, settings.tls_key_pem)):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as fh:
                        fh.write(text)
                context.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise ConnectorError(
            f"The TLS certificates of this target cannot be used: {exc}", retryable=False
        ) from exc
    return context


def _set_socket_options(event: evt.Event) -> None:
    raw = getattr(event.assoc.dul.socket, "socket", None)
    if raw is None:
        return
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError as exc:  # the peer may already be gone
        log.debug("could not set socket options: %s", exc)


class _Negotiation:
    """What happened while associating: whether TCP connected, and the peer's A-ASSOCIATE answer."""

    def __init__(self) -> None:
        self.connected = False
        self.answer: A_ASSOCIATE | None = None

    def on_open(self, event: evt.Event) -> None:
        self.connected = True
        _set_socket_options(event)

    def on_acse(self, event: evt.Event) -> None:
        primitive = getattr(event, "primitive", None)
        if isinstance(primitive, A_ASSOCIATE) and primitive.result is not None:
            self.answer = primitive

    def handlers(self) -> list[Any]:
        return [(evt.EVT_CONN_OPEN, self.on_open), (evt.EVT_ACSE_RECV, self.on_acse)]


def unreachable(settings: DimseSettings) -> ConnectorError:
    over = " over TLS" if settings.tls else ""
    hint = ", and is its certificate trusted" if settings.tls else ""
    return ConnectorError(
        f"Cannot reach host {settings.host} on port {settings.port}{over}: is it running and reachable "
        f"from Bitewing{hint}?",
        retryable=True,
    )


def _rejection(settings: DimseSettings, answer: A_ASSOCIATE) -> ConnectorError:
    where = f"{settings.host} port {settings.port}"
    if answer.result != _REJECTED_PERMANENT:
        return ConnectorError(
            f"{where} refused the association for now ({answer.reason_str}): it may be busy", retryable=True
        )
    if answer.result_source == _SOURCE_SERVICE_USER and answer.diagnostic == _CALLED_AE_NOT_RECOGNISED:
        return ConnectorError(
            f"{where} does not answer to the AE title {settings.called_ae}: check the target's AE title",
            retryable=False,
        )
    if answer.result_source == _SOURCE_SERVICE_USER and answer.diagnostic == _CALLING_AE_NOT_RECOGNISED:
        return ConnectorError(
            f"{where} does not accept calls from AE title {settings.calling_ae}: register {settings.calling_ae} "
            "(and Bitewing's address) on the target",
            retryable=False,
        )
    return ConnectorError(f"{where} refused the association ({answer.reason_str})", retryable=False)


def open_association(
    settings: DimseSettings, contexts: Sequence[PresentationContext], what: str
) -> Association:
    """Associate with the peer proposing `contexts`; raise `ConnectorError` unless established.

    :param what: what the contexts are for, as a person would say it ("CT Image Storage"), for the message
        when the peer accepts none of them.
    """
    ae = make_ae(settings)
    ae.requested_contexts = list(contexts)
    tls_args = (make_ssl_context(settings), settings.host) if settings.tls else None
    negotiation = _Negotiation()
    assoc = ae.associate(
        settings.host,
        settings.port,
        ae_title=settings.called_ae,
        tls_args=tls_args,
        evt_handlers=negotiation.handlers(),
    )
    if assoc.is_established:
        return assoc
    assoc.abort()
    if not negotiation.connected:
        raise unreachable(settings)
    answer = negotiation.answer
    if answer is None:
        raise ConnectorError(
            f"{settings.label} did not accept the association (no answer within {settings.timeout:g} s, "
            "or the connection was closed)",
            retryable=True,
        )
    if answer.result == 0x00:  # accepted, but none of our presentation contexts
        raise NoAcceptedContext(f"{settings.label} does not accept {what}")
    raise _rejection(settings, answer)


class NoAcceptedContext(ConnectorError):
    """The peer accepted the association but none of the proposed presentation contexts."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def context(abstract_syntax: str, transfer_syntax: str) -> PresentationContext:
    """A presentation context with one transfer syntax (so the peer's answer says which one it takes)."""
    return build_context(abstract_syntax, [transfer_syntax])
