"""The DICOM C-STORE listener (`bitewing dicom-listener`): X-ray machines send images here.

One pynetdicom acceptor per process (production runs several listener pods behind one service):

- **Who may call.** The calling AE title (and the peer's IP, when the machine has an allow-list) must name an
  active registered X-ray machine; anything else gets A-ASSOCIATE-RJ "rejected permanent, calling AE title
  not recognised". The lookup is cached a few seconds per (AE title, IP) so a burst of associations costs one
  query, and a deactivated machine is refused once its entry expires (`CALLER_TTL_SECONDS`). A database error
  during the lookup answers "rejected transient" so the sender retries later. The called AE title is not
  enforced (devices are often configured with whatever the installer typed); it is logged.
- **What is accepted.** Every storage SOP class pynetdicom knows plus Verification, each with the native
  syntaxes and the common compressed ones. Compressed data is stored exactly as received (the Part-10 bytes
  are rebuilt from the received stream without decoding). When a sender proposes several syntaxes for one
  context, our order decides (`TRANSFER_SYNTAXES`): lossless compressed first, then native, lossy last, so
  we never make a device compress lossily and rarely make it transcode what it already holds compressed.
  The 128 presentation contexts of an association are the *requestor's* limit: as the acceptor we support
  all 171 abstract syntaxes and answer whichever (at most 128) a device proposes.
- **Acknowledge only what is durable.** The C-STORE handler hands the bytes to `receive_instance`, which
  validates, writes the object store and commits the ingest record before returning. Success (0x0000) only
  follows a received or duplicate receipt; a rejected instance answers 0xA900 or 0xC000 with the reason in
  Error Comment; any storage or database failure answers 0xA700 (out of resources) so the device retries.
  Processing jobs are queued through `runtime.jobs` (RQ in production, in-process on the embedded default).
- **Speed.** TCP_NODELAY on every accepted socket (without it the dcmtk peers stall ~40 ms per instance on
  delayed ACKs), a 1 MiB maximum PDU read in bulk (`sockets.BulkReceiveSocket`), and supported contexts
  that pynetdicom's per-association copy does not rebuild UID by UID (`contexts.SharedUidContext`).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from bitewing.core.devices.services import identify_caller
from bitewing.core.dicom.contexts import shared_uid_contexts
from bitewing.core.dicom.sockets import use_bulk_receive
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.runtime import Runtime

log = logging.getLogger(__name__)

CALLER_TTL_SECONDS = 5.0
"""How long an AE title / IP lookup is trusted; also the longest a deactivated machine can still connect."""

MAX_PDU_BYTES = 1024 * 1024
"""Largest PDU we accept (the sender's PDUs may be up to this): fewer, larger reads for big images."""

MAX_ASSOCIATIONS = 32
"""Concurrent associations per listener process (more are rejected transient: "local limit exceeded")."""

SHUTDOWN_GRACE_SECONDS = 20.0
"""On SIGTERM, how long running associations may finish before they are aborted."""

TRANSFER_SYNTAXES: tuple[UID, ...] = (
    # lossless compressed: if a device offers these it most likely holds the data so
    JPEGLSLossless,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLossless,
    RLELossless,
    # native
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    # lossy: only chosen when the device offers nothing else, i.e. the data is already lossy
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
    JPEG2000,
    HTJ2K,
)
"""Accepted transfer syntaxes in order of preference (the acceptor's order picks among a context's offers)."""

VERIFICATION_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000

_DOES_NOT_MATCH = frozenset(
    {"missing_uid", "bad_uid", "no_pixel_data", "bad_pixel_module", "pixel_data_short"}
)
"""Reject reasons meaning "the data set is DICOM but not a usable instance of its SOP class"."""

# A-ASSOCIATE-RJ (result, source, diagnostic)
_REJECT_UNKNOWN_CALLER = (0x01, 0x01, 0x03)  # rejected permanent, service user, calling AE not recognised
_REJECT_TRY_LATER = (0x02, 0x01, 0x01)  # rejected transient, service user, no reason given


def failure_status(reason: str | None) -> int:
    """The C-STORE failure status for a `receive_instance` reject reason code."""
    return DOES_NOT_MATCH_SOP_CLASS if reason in _DOES_NOT_MATCH else CANNOT_UNDERSTAND


def status_dataset(status: int, comment: str | None = None) -> Dataset:
    """A C-STORE response status with an Error Comment (LO: at most 64 characters, no backslash)."""
    ds = Dataset()
    ds.Status = status
    if comment:
        text = "".join(c if c.isprintable() and c != "\\" else " " for c in comment)
        ds.ErrorComment = text[:64]
    return ds


# --- who is calling ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A registered X-ray machine as far as the listener needs it (no ORM object crosses threads)."""

    machine_id: uuid.UUID
    tenant_id: uuid.UUID
    location_id: uuid.UUID
    ae_title: str


Lookup = Callable[[str, str | None], Caller | None]


def database_lookup(runtime: Runtime) -> Lookup:
    """Identify callers through `identify_caller` on the runtime's database."""

    def lookup(ae_title: str, remote_addr: str | None) -> Caller | None:
        machine = identify_caller(runtime.db, ae_title, remote_addr)
        if machine is None:
            return None
        return Caller(machine.id, machine.tenant_id, machine.location_id, machine.ae_title)

    return lookup


class CallerCache:
    """`lookup` results (found or not) remembered for `ttl` seconds per (AE title, IP).

    Errors are not cached. Expired entries are pruned when the cache grows past `max_entries`, so a scan of
    made-up AE titles cannot grow it without bound.
    """

    def __init__(
        self,
        lookup: Lookup,
        ttl: float = CALLER_TTL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 4096,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[tuple[str, str | None], tuple[float, Caller | None]] = {}
        self._lock = threading.Lock()

    def get(self, ae_title: str, remote_addr: str | None) -> Caller | None:
        """The machine calling as `ae_title` from `remote_addr`, or None when it may not call."""
        key = (ae_title.strip(), remote_addr)
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        caller = self._lookup(*key)
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
            self._entries[key] = (now + self._ttl, caller)
        return caller

    def clear(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            self._entries.clear()


# --- the acceptor ----------------------------------------------------------------------------------------


@dataclass
class _Session:
    """One accepted association: who, and what happened so far (logged when the connection closes)."""

    caller: Caller
    remote_addr: str | None
    started: float = field(default_factory=time.perf_counter)
    counts: dict[str, int] = field(default_factory=dict)
    bytes_received: int = 0

    def count(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1


def _reject(assoc: Association, reason: tuple[int, int, int]) -> None:
    """Send A-ASSOCIATE-RJ from an EVT_REQUESTED handler, as pynetdicom's own rejections do.

    `kill` waits until the DUL has sent the PDU and the peer closed (or the ARTIM timer fired); without it
    the acceptor may close the socket before the reject PDU leaves, and the peer sees an abort instead.
    """
    assoc.acse.send_reject(*reason)
    assoc.kill()


class Listener:
    """The acceptor's event handlers, bound to one runtime; `start` binds them to the AE's server."""

    def __init__(self, runtime: Runtime, callers: CallerCache | None = None) -> None:
        self.runtime = runtime
        self.callers = callers or CallerCache(database_lookup(runtime))
        self._sessions: weakref.WeakKeyDictionary[Association, _Session] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        """``evt_handlers`` for `AE.start_server`."""
        return [
            (evt.EVT_CONN_OPEN, self.on_connection_open),
            (evt.EVT_REQUESTED, self.on_association_requested),
            (evt.EVT_C_STORE, self.on_c_store),
            (evt.EVT_CONN_CLOSE, self.on_connection_closed),
        ]

    def _session(self, assoc: Association) -> _Session | None:
        with self._lock:
            return self._sessions.get(assoc)

    @staticmethod
    def on_connection_open(event: evt.Event) -> None:
        """Switch off Nagle on the accepted socket (and keep it alive through idle NAT/firewalls); read PDUs
        in bulk (`sockets.use_bulk_receive`)."""
        use_bulk_receive(event.assoc)
        raw = getattr(event.assoc.dul.socket, "socket", None)
        if raw is None:
            return
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        except OSError as exc:  # the peer may already be gone
            log.debug("could not set socket options: %s", exc)

    def on_association_requested(self, event: evt.Event) -> None:
        """Accept only a registered, active machine calling from an allowed address."""
        assoc = event.assoc
        request = assoc.requestor.primitive  # the A-ASSOCIATE-RQ (requestor.ae_title is set only later)
        calling = (request.calling_ae_title or "").strip()
        called = (request.called_ae_title or "").strip()
        remote = assoc.requestor.address or None
        try:
            caller = self.callers.get(calling, remote)
        except Exception:
            log.exception(
                "association from %r at %s: caller lookup failed; rejected transient", calling, remote
            )
            _reject(assoc, _REJECT_TRY_LATER)
            return
        if caller is None:
            log.warning(
                "association from %r at %s rejected: calling AE title not recognised (or IP not allowed)",
                calling,
                remote,
            )
            _reject(assoc, _REJECT_UNKNOWN_CALLER)
            return
        with self._lock:
            self._sessions[assoc] = _Session(caller, remote)
        log.info(
            "association from %r at %s (called %r): machine %s, tenant %s",
            calling,
            remote,
            called,
            caller.machine_id,
            caller.tenant_id,
        )

    def on_c_store(self, event: evt.Event) -> int | Dataset:
        """Store one instance durably, then answer; never success unless the bytes and record are committed."""
        session = self._session(event.assoc)
        if session is None:  # cannot happen: only identified associations are accepted
            return status_dataset(OUT_OF_RESOURCES, "association not identified")
        data = event.encoded_dataset()
        session.bytes_received += len(data)
        caller = session.caller
        origin = Origin(
            source=IngestSource.CSTORE,
            machine_id=caller.machine_id,
            location_id=caller.location_id,
            calling_ae=caller.ae_title,
            remote_addr=session.remote_addr,
        )
        try:
            receipt = receive_instance(self.runtime, caller.tenant_id, data, origin)
        except Exception:
            session.count("failed")
            log.exception(
                "C-STORE of %s from %r failed before it was durable; answered out of resources",
                event.request.AffectedSOPInstanceUID,
                caller.ae_title,
            )
            return status_dataset(OUT_OF_RESOURCES, "could not store the instance; retry later")
        session.count(receipt.status.value)
        if receipt.ok:
            return SUCCESS
        log.warning(
            "C-STORE of %s from %r rejected (%s): %s",
            event.request.AffectedSOPInstanceUID,
            caller.ae_title,
            receipt.reason,
            receipt.message,
        )
        return status_dataset(failure_status(receipt.reason), receipt.message or receipt.reason)

    def on_connection_closed(self, event: evt.Event) -> None:
        """Log what the association brought."""
        with self._lock:
            session = self._sessions.pop(event.assoc, None)
        if session is None:
            return
        seconds = time.perf_counter() - session.started
        counts = ", ".join(f"{n} {k}" for k, n in sorted(session.counts.items())) or "no instances"
        log.info(
            "association from %r at %s closed after %.1f s: %s, %.1f MB",
            session.caller.ae_title,
            session.remote_addr,
            seconds,
            counts,
            session.bytes_received / 1e6,
        )


def build_listener(runtime: Runtime) -> AE:
    """The configured acceptor AE, not yet listening: contexts, PDU size, association limit, our AE title.

    Its event handlers come from `Listener`; `start` and `serve_forever` bind both when they start the server.
    """
    ae = AE(ae_title=runtime.settings.dicom_ae_title)
    ae.maximum_pdu_size = MAX_PDU_BYTES
    ae.maximum_associations = MAX_ASSOCIATIONS
    ae.require_called_aet = False
    ae.require_calling_aet = []
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, list(TRANSFER_SYNTAXES))
    ae.add_supported_context(Verification, list(VERIFICATION_SYNTAXES))
    return ae


def start(
    runtime: Runtime, host: str = "127.0.0.1", port: int = 0, *, listener: Listener | None = None
) -> ThreadedAssociationServer:
    """Listen in background threads; returns the server (``server.server_address`` has the bound port).

    Stop it with `stop(server)`.
    """
    ae = build_listener(runtime)
    handlers = (listener or Listener(runtime)).handlers()
    server = ae.start_server(
        (host, port),
        block=False,
        evt_handlers=handlers,
        contexts=shared_uid_contexts(ae.supported_contexts),
    )
    assert server is not None
    # Linux copies TCP_NODELAY to accepted sockets; the EVT_CONN_OPEN handler sets it on each one anyway.
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    bound_host, bound_port = server.server_address[:2]
    log.info(
        "DICOM listener %r on %s:%s (max PDU %d bytes, %d associations)",
        ae.ae_title,
        bound_host,
        bound_port,
        ae.maximum_pdu_size,
        ae.maximum_associations,
    )
    return server


def stop(server: ThreadedAssociationServer, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
    """Stop accepting, let running associations finish for up to `grace` seconds, then abort the rest."""
    server.shutdown()
    deadline = time.monotonic() + grace
    while server.active_associations and time.monotonic() < deadline:
        time.sleep(0.05)
    for assoc in server.active_associations:
        log.warning("aborting association from %r at shutdown", assoc.requestor.ae_title)
        assoc.abort()


@contextmanager
def _stop_on_signals(stop_event: threading.Event) -> Iterator[None]:
    """Set `stop_event` on SIGTERM/SIGINT while inside (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("DICOM listener received %s", signal.Signals(signum).name)
        stop_event.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve_forever(
    runtime: Runtime, *, host: str, port: int, stop_event: threading.Event | None = None
) -> None:
    """Listen on `host:port` until SIGTERM or SIGINT (or `stop_event` is set), then shut down cleanly.

    Running associations get `SHUTDOWN_GRACE_SECONDS` to finish; an instance cut off mid-transfer was never
    acknowledged, so the device sends it again.
    """
    stop_event = stop_event or threading.Event()
    with _stop_on_signals(stop_event):
        server = start(runtime, host, port)
        try:
            while not stop_event.wait(1.0):
                pass
        finally:
            log.info("DICOM listener stopping")
            stop(server)
    log.info("DICOM listener stopped")


__all__ = [
    "CALLER_TTL_SECONDS",
    "MAX_PDU_BYTES",
    "TRANSFER_SYNTAXES",
    "Caller",
    "CallerCache",
    "Listener",
    "build_listener",
    "failure_status",
    "serve_forever",
    "start",
    "status_dataset",
    "stop",
]
