"""The listener's decisions without a network or database: caller cache, status mapping, handlers, shutdown."""

from __future__ import annotations

import copy
import os
import signal
import threading
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGLSLossless, RLELossless
from pynetdicom import AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from bitewing.core.dicom import listener
from bitewing.core.ingest.models import IngestSource, IngestStatus
from bitewing.core.ingest.services import Receipt

CALLER = listener.Caller(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "IOSENSOR1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingLookup:
    def __init__(self, answer: listener.Caller | None = CALLER) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str | None]] = []
        self.fail = False

    def __call__(self, ae_title: str, remote_addr: str | None) -> listener.Caller | None:
        self.calls.append((ae_title, remote_addr))
        if self.fail:
            raise RuntimeError("database down")
        return self.answer


# --- caller cache ----------------------------------------------------------------------------------------------


def test_cache_answers_from_memory_within_the_ttl_then_asks_again() -> None:
    lookup, clock = CountingLookup(), Clock()
    cache = listener.CallerCache(lookup, ttl=5, clock=clock)
    assert cache.get("IOSENSOR1 ", "10.0.0.5") == CALLER
    clock.now += 4.9
    assert cache.get("IOSENSOR1", "10.0.0.5") == CALLER
    assert lookup.calls == [("IOSENSOR1", "10.0.0.5")]  # trimmed like DICOM pads it
    lookup.answer = None  # the machine was deactivated
    clock.now += 0.2
    assert cache.get("IOSENSOR1", "10.0.0.5") is None
    assert len(lookup.calls) == 2


def test_cache_keys_on_the_address_and_remembers_refusals() -> None:
    lookup, clock = CountingLookup(answer=None), Clock()
    cache = listener.CallerCache(lookup, ttl=5, clock=clock)
    assert cache.get("STRANGER", "10.0.0.5") is None
    assert cache.get("STRANGER", "10.0.0.5") is None
    assert cache.get("STRANGER", "10.0.0.6") is None
    assert lookup.calls == [("STRANGER", "10.0.0.5"), ("STRANGER", "10.0.0.6")]


def test_cache_does_not_remember_errors() -> None:
    lookup = CountingLookup()
    cache = listener.CallerCache(lookup, ttl=5, clock=Clock())
    lookup.fail = True
    with pytest.raises(RuntimeError):
        cache.get("IOSENSOR1", None)
    lookup.fail = False
    assert cache.get("IOSENSOR1", None) == CALLER


def test_cache_stays_bounded_under_a_scan_of_made_up_titles() -> None:
    clock = Clock()
    cache = listener.CallerCache(CountingLookup(answer=None), ttl=5, clock=clock, max_entries=10)
    for i in range(100):
        clock.now += 1
        cache.get(f"SCAN{i}", "10.0.0.9")
    assert len(cache._entries) <= 10


# --- statuses --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("pixel_data_short", 0xA900),
        ("missing_uid", 0xA900),
        ("bad_uid", 0xA900),
        ("no_pixel_data", 0xA900),
        ("bad_pixel_module", 0xA900),
        ("not_dicom", 0xC000),
        ("truncated", 0xC000),
        ("nesting_too_deep", 0xC000),
        ("too_large", 0xC000),
        ("unsupported_transfer_syntax", 0xC000),
        (None, 0xC000),
    ],
)
def test_reject_reasons_map_to_failure_statuses(reason: str | None, status: int) -> None:
    assert listener.failure_status(reason) == status


def test_error_comment_fits_its_value_representation() -> None:
    ds = listener.status_dataset(0xA900, "x\\y" + "z" * 100)
    assert ds.Status == 0xA900
    assert len(ds.ErrorComment) == 64 and "\\" not in ds.ErrorComment
    assert "ErrorComment" not in listener.status_dataset(0xA700)


# --- the AE ----------------------------------------------------------------------------------------------------


def fake_runtime() -> Any:
    return SimpleNamespace(settings=SimpleNamespace(dicom_ae_title="BITEWING"))


def test_the_ae_accepts_every_storage_class_in_native_and_compressed_syntaxes() -> None:
    ae = listener.build_listener(fake_runtime())
    assert ae.ae_title == "BITEWING"
    assert ae.maximum_pdu_size == listener.MAX_PDU_BYTES >= 1024 * 1024
    contexts = {cx.abstract_syntax: cx.transfer_syntax for cx in ae.supported_contexts}
    assert set(contexts) == {cx.abstract_syntax for cx in AllStoragePresentationContexts} | {Verification}
    intraoral = contexts["1.2.840.10008.5.1.4.1.1.1.3"]
    for syntax in (ExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGLSLossless, RLELossless):
        assert syntax in intraoral
    # lossless compressed before native before lossy: we never ask a device to compress lossily
    assert intraoral.index(JPEGLSLossless) < intraoral.index(ExplicitVRLittleEndian)
    assert intraoral.index(ExplicitVRLittleEndian) < intraoral.index(JPEGBaseline8Bit)


def test_the_server_contexts_copy_per_association_without_rebuilding_their_uids() -> None:
    """pynetdicom deep-copies the server's contexts for every association: the copies must be equal and
    independent (negotiation may change them) while sharing the immutable UIDs (rebuilding 2,723 of them
    cost 64-120 ms per association)."""
    ae = listener.build_listener(fake_runtime())
    server = listener.start(
        fake_runtime(), listener=listener.Listener(fake_runtime(), listener.CallerCache(CountingLookup()))
    )
    try:
        copies = copy.deepcopy(server.contexts)
    finally:
        listener.stop(server, grace=1)

    def described(contexts: list[Any]) -> list[tuple[Any, ...]]:
        return [(c.abstract_syntax, c.transfer_syntax, c.scu_role, c.scp_role) for c in contexts]

    assert described(copies) == described(server.contexts) == described(ae.supported_contexts)
    first, original = copies[0], server.contexts[0]
    assert first is not original and first.transfer_syntax is not original.transfer_syntax
    assert first.abstract_syntax is original.abstract_syntax
    assert all(a is b for a, b in zip(first.transfer_syntax, original.transfer_syntax, strict=True))
    first.transfer_syntax = [ExplicitVRLittleEndian]
    first.context_id = 1
    assert original.transfer_syntax != [ExplicitVRLittleEndian] and original.context_id is None


# --- handlers --------------------------------------------------------------------------------------------------


class FakeAssociation:
    """What the handlers read of a pynetdicom Association."""

    def __init__(self, calling: str = "IOSENSOR1", address: str = "10.0.0.5") -> None:
        primitive = SimpleNamespace(calling_ae_title=calling, called_ae_title="BITEWING")
        self.requestor = SimpleNamespace(primitive=primitive, address=address, ae_title=calling)
        self.rejected: tuple[int, int, int] | None = None
        self.killed = False
        self.acse = SimpleNamespace(send_reject=self._reject)

    def _reject(self, *reason: int) -> None:
        self.rejected = reason  # type: ignore[assignment]

    def kill(self) -> None:
        self.killed = True


def store_event(assoc: FakeAssociation, data: bytes = b"DICOM bytes") -> Any:
    return SimpleNamespace(
        assoc=assoc,
        encoded_dataset=lambda: data,
        request=SimpleNamespace(AffectedSOPInstanceUID="1.2.3"),
    )


def make_listener(lookup: CountingLookup | None = None) -> listener.Listener:
    return listener.Listener(fake_runtime(), listener.CallerCache(lookup or CountingLookup()))


def test_an_unknown_caller_is_rejected_as_not_recognised() -> None:
    handlers = make_listener(CountingLookup(answer=None))
    assoc = FakeAssociation("STRANGER")
    handlers.on_association_requested(SimpleNamespace(assoc=assoc))
    assert assoc.rejected == (0x01, 0x01, 0x03)
    assert assoc.killed


def test_a_lookup_failure_rejects_transient_so_the_device_retries() -> None:
    lookup = CountingLookup()
    lookup.fail = True
    assoc = FakeAssociation()
    make_listener(lookup).on_association_requested(SimpleNamespace(assoc=assoc))
    assert assoc.rejected == (0x02, 0x01, 0x01)


def test_store_hands_the_bytes_and_origin_to_receive_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []

    def receive(runtime: Any, tenant_id: uuid.UUID, data: bytes, origin: Any) -> Receipt:
        seen.append((tenant_id, data, origin))
        return Receipt(IngestStatus.RECEIVED, uuid.uuid4(), "1.2.3")

    monkeypatch.setattr(listener, "receive_instance", receive)
    handlers = make_listener()
    assoc = FakeAssociation()
    handlers.on_association_requested(SimpleNamespace(assoc=assoc))
    assert assoc.rejected is None

    assert handlers.on_c_store(store_event(assoc)) == 0x0000
    ((tenant_id, data, origin),) = seen
    assert tenant_id == CALLER.tenant_id and data == b"DICOM bytes"
    assert origin.source == IngestSource.CSTORE
    assert (origin.machine_id, origin.location_id) == (CALLER.machine_id, CALLER.location_id)
    assert (origin.calling_ae, origin.remote_addr) == ("IOSENSOR1", "10.0.0.5")


@pytest.mark.parametrize("status", [IngestStatus.RECEIVED, IngestStatus.DUPLICATE])
def test_store_succeeds_only_for_durable_receipts(
    monkeypatch: pytest.MonkeyPatch, status: IngestStatus
) -> None:
    monkeypatch.setattr(listener, "receive_instance", lambda *a: Receipt(status, uuid.uuid4(), "1.2.3"))
    handlers = make_listener()
    assoc = FakeAssociation()
    handlers.on_association_requested(SimpleNamespace(assoc=assoc))
    assert handlers.on_c_store(store_event(assoc)) == 0x0000


def test_a_rejected_instance_answers_failure_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    receipt = Receipt(IngestStatus.REJECTED, uuid.uuid4(), None, "missing_uid", "SOPInstanceUID is missing")
    monkeypatch.setattr(listener, "receive_instance", lambda *a: receipt)
    handlers = make_listener()
    assoc = FakeAssociation()
    handlers.on_association_requested(SimpleNamespace(assoc=assoc))
    answer = handlers.on_c_store(store_event(assoc))
    assert answer.Status == 0xA900
    assert answer.ErrorComment == "SOPInstanceUID is missing"


def test_any_failure_before_durable_answers_out_of_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> Receipt:
        raise OSError("disk full")

    monkeypatch.setattr(listener, "receive_instance", broken)
    handlers = make_listener()
    assoc = FakeAssociation()
    handlers.on_association_requested(SimpleNamespace(assoc=assoc))
    assert handlers.on_c_store(store_event(assoc)).Status == 0xA700


def test_a_store_on_an_unidentified_association_never_succeeds() -> None:
    assert make_listener().on_c_store(store_event(FakeAssociation())).Status == 0xA700


# --- running and stopping --------------------------------------------------------------------------------------


def test_serve_forever_stops_on_sigterm_and_restores_the_handler() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        listener.serve_forever(fake_runtime(), host="127.0.0.1", port=0)
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_serve_forever_stops_when_asked_from_another_thread() -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=listener.serve_forever,
        args=(fake_runtime(),),
        kwargs={"host": "127.0.0.1", "port": 0, "stop_event": stop},
    )
    thread.start()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
