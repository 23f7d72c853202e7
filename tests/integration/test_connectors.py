"""The four VNA connector types against real services: Orthanc (REST, DICOMweb, DICOM), dcmtk storescp, SeaweedFS.

Every type is built the way the core builds it: `build_plugins().connector_types()[name].open(config)`.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless
from pynetdicom import AE, evt
from pynetdicom.sop_class import DigitalIntraOralXRayImageStorageForPresentation  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from bitewing.core.imaging.synthetic import make_instance, to_bytes
from bitewing.core.plugins.connectors import Connection, ConnectorError, InstanceRef
from bitewing.core.plugins.manager import build_plugins
from bitewing.core.plugins.storage import sha256_hex
from tests.support import Orthanc, OrthancFactory, SeaweedFS, StoreSCP, free_port

CT_SMALL = Path(get_testdata_file("CT_small.dcm"))
UNREACHABLE = re.compile(
    r"Cannot reach host 127\.0\.0\.1 on port \d+: is it running and reachable from Bitewing\?"
)


# --- helpers --------------------------------------------------------------------------------------------------


def open_connection(type_name: str, config: dict[str, Any]) -> Connection:
    """A connection opened the way the core opens one."""
    return build_plugins().connector_types()[type_name].open(config)


def ref_for(data: bytes) -> InstanceRef:
    ds = pydicom.dcmread(BytesIO(data), stop_before_pixels=True)
    return InstanceRef(
        sop_instance_uid=ds.SOPInstanceUID,
        sop_class_uid=ds.SOPClassUID,
        study_instance_uid=ds.StudyInstanceUID,
        series_instance_uid=ds.SeriesInstanceUID,
        transfer_syntax_uid=ds.file_meta.TransferSyntaxUID,
        sha256=sha256_hex(data),
        size=len(data),
        object_name=f"deliveries/{uuid.uuid4().hex}.dcm",
    )


def synthetic(transfer_syntax: str = ExplicitVRLittleEndian, seed: int = 0) -> bytes:
    """A small synthetic bitewing with fresh UIDs."""
    return to_bytes(make_instance("bitewing", shape=(96, 128), seed=seed, transfer_syntax=transfer_syntax))


def ct_small() -> bytes:
    return CT_SMALL.read_bytes()


def orthanc_config(orthanc: Orthanc, **overrides: Any) -> dict[str, Any]:
    return {"url": orthanc.url, "username": orthanc.username, "password": orthanc.password} | overrides


def dicomweb_config(orthanc: Orthanc, **overrides: Any) -> dict[str, Any]:
    config = {"url": orthanc.dicomweb_url, "auth": "basic"}
    return config | {"username": orthanc.username, "password": orthanc.password} | overrides


def cstore_config(port: int, called_ae: str, **overrides: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "called_ae": called_ae, "timeout": 10} | overrides


def s3_config(seaweedfs: SeaweedFS, bucket: str, **overrides: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "prefix": "archive/practice-1",
        "endpoint_url": seaweedfs.endpoint_url,
        "region": seaweedfs.region,
        "access_key_id": seaweedfs.access_key_id,
        "secret_access_key": seaweedfs.secret_access_key,
    } | overrides


@pytest.fixture
def orthanc(orthanc_factory: OrthancFactory) -> Orthanc:
    """An Orthanc that knows Bitewing's AE title (so it answers our C-FIND queries)."""
    return orthanc_factory(modalities={"bitewing": ["BITEWING", "127.0.0.1", 104]})


# --- orthanc (REST) -------------------------------------------------------------------------------------------


def test_orthanc_check_explains_success_and_failures(orthanc: Orthanc) -> None:
    with open_connection("orthanc", orthanc_config(orthanc)) as connection:
        result = connection.check()
    assert result.ok, result.steps
    assert result.steps[0] == f"Connected to {orthanc.url}"
    assert re.fullmatch(r"Orthanc 1\.\d+\.\d+ answered", result.steps[1])

    with open_connection("orthanc", orthanc_config(orthanc, password="wrong")) as connection:
        result = connection.check()
    assert not result.ok
    assert result.steps == [f"Connected to {orthanc.url}", "Login refused: check the user name and password"]

    with open_connection(
        "orthanc", orthanc_config(orthanc, url=f"http://127.0.0.1:{free_port()}")
    ) as connection:
        result = connection.check()
    assert not result.ok
    assert len(result.steps) == 1 and UNREACHABLE.fullmatch(result.steps[0])


def test_orthanc_store_is_idempotent_and_verified(orthanc: Orthanc) -> None:
    data = synthetic()
    ref = ref_for(data)
    with open_connection("orthanc", orthanc_config(orthanc)) as connection:
        assert not connection.verify_instance(ref)
        first = connection.store_instance(data, ref)
        assert connection.verify_instance(ref)
        second = connection.store_instance(data, ref)

    assert first.remote_id == second.remote_id == orthanc.find_instance(ref.sop_instance_uid)
    assert "already stored" in second.detail
    assert orthanc.count_instances() == 1


def test_orthanc_refusals_are_not_retryable(orthanc: Orthanc) -> None:
    data = ct_small()
    with (
        open_connection("orthanc", orthanc_config(orthanc, password="wrong")) as connection,
        pytest.raises(ConnectorError, match="Orthanc refused the login") as login,
    ):
        connection.store_instance(data, ref_for(data))
    assert not login.value.retryable

    with (
        open_connection("orthanc", orthanc_config(orthanc)) as connection,
        pytest.raises(ConnectorError, match="invalid DICOM") as invalid,
    ):
        connection.store_instance(b"not a DICOM file" * 50, ref_for(data))
    assert not invalid.value.retryable
    assert orthanc.count_instances() == 0


def test_orthanc_stopped_is_retryable_and_recovers(orthanc: Orthanc) -> None:
    data = ct_small()
    ref = ref_for(data)
    with open_connection("orthanc", orthanc_config(orthanc)) as connection:
        orthanc.kill()
        with pytest.raises(ConnectorError) as stopped:
            connection.store_instance(data, ref)
        assert stopped.value.retryable
        assert UNREACHABLE.fullmatch(stopped.value.message)

        orthanc.start()
        connection.store_instance(data, ref)
        assert connection.verify_instance(ref)


def test_orthanc_source_polls_new_instances_and_advances_the_cursor(orthanc: Orthanc) -> None:
    first, second = synthetic(seed=1), ct_small()
    orthanc.upload(first)
    orthanc.upload(second)
    connection = open_connection("orthanc", orthanc_config(orthanc))
    assert build_plugins().connector_types()["orthanc"].can_poll
    with connection:
        instances, cursor = connection.poll_new_instances(None)
        polled = list(instances)
        assert sorted(p.data for p in polled) == sorted([first, second])
        assert {p.remote_id for p in polled} == set(orthanc.instances())

        again, same_cursor = connection.poll_new_instances(cursor)
        assert list(again) == []
        assert same_cursor == cursor

        third = synthetic(seed=2)
        orthanc.upload(third)
        instances, later = connection.poll_new_instances(cursor)
        assert [p.data for p in instances] == [third]
        assert int(later) > int(cursor)


def test_orthanc_source_restarts_when_the_change_log_was_reset(orthanc: Orthanc) -> None:
    data = ct_small()
    orthanc.upload(data)
    with open_connection("orthanc", orthanc_config(orthanc)) as connection:
        instances, _ = connection.poll_new_instances("999999")
        assert [p.data for p in instances] == [data]


# --- dicomweb (STOW-RS / QIDO-RS) -----------------------------------------------------------------------------


def test_dicomweb_check_explains_success_and_failures(orthanc: Orthanc) -> None:
    with open_connection("dicomweb", dicomweb_config(orthanc)) as connection:
        result = connection.check()
    assert result.ok, result.steps
    assert result.steps[0] == f"Connected to {orthanc.dicomweb_url}"

    with open_connection("dicomweb", dicomweb_config(orthanc, password="wrong")) as connection:
        result = connection.check()
    assert not result.ok
    assert result.steps[-1] == "Login refused: check the user name and password"

    bearer = dicomweb_config(orthanc, auth="bearer", token="not-a-token", username=None, password=None)
    with open_connection("dicomweb", bearer) as connection:
        assert connection.check().steps[-1] == "Login refused: check the access token"

    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    with open_connection("dicomweb", dicomweb_config(orthanc, url=url)) as connection:
        result = connection.check()
    assert not result.ok
    assert len(result.steps) == 1 and UNREACHABLE.fullmatch(result.steps[0])


def test_dicomweb_store_is_idempotent_and_verified(orthanc: Orthanc) -> None:
    data = synthetic(RLELossless)
    ref = ref_for(data)
    with open_connection("dicomweb", dicomweb_config(orthanc)) as connection:
        assert not connection.verify_instance(ref)
        connection.store_instance(data, ref)
        assert connection.verify_instance(ref)
        connection.store_instance(data, ref)
    assert orthanc.count_instances() == 1
    assert orthanc.find_instance(ref.sop_instance_uid) is not None


def test_dicomweb_refusals_and_outages(orthanc: Orthanc) -> None:
    data = ct_small()
    ref = ref_for(data)
    with open_connection("dicomweb", dicomweb_config(orthanc, password="wrong")) as connection:
        with pytest.raises(ConnectorError, match="Login refused") as login:
            connection.store_instance(data, ref)
        assert not login.value.retryable
    with open_connection("dicomweb", dicomweb_config(orthanc)) as connection:
        with pytest.raises(ConnectorError, match="not a readable DICOM file") as unreadable:
            connection.store_instance(b"garbage" * 100, ref)
        assert not unreadable.value.retryable

        orthanc.kill()
        with pytest.raises(ConnectorError) as stopped:
            connection.store_instance(data, ref)
        assert stopped.value.retryable
        assert UNREACHABLE.fullmatch(stopped.value.message)


# --- cstore (DICOM C-STORE, built into core) ------------------------------------------------------------------


def test_cstore_check_against_orthanc_echoes_and_finds(orthanc: Orthanc) -> None:
    with open_connection("cstore", cstore_config(orthanc.dicom_port, orthanc.aet)) as connection:
        result = connection.check()
    assert result.ok, result.steps
    assert result.steps[0] == f"Connected to host 127.0.0.1 port {orthanc.dicom_port}"
    assert "C-ECHO answered: DICOM communication works" in result.steps
    assert result.steps[-1] == "C-FIND works: deliveries will be verified by querying the target"


def test_cstore_check_says_how_deliveries_are_verified_without_c_find(
    storescp: StoreSCP, orthanc_factory: OrthancFactory
) -> None:
    with open_connection("cstore", cstore_config(storescp.port, storescp.aet)) as connection:
        result = connection.check()
    assert result.ok, result.steps
    assert result.steps[-1].startswith("The target does not offer C-FIND: deliveries are verified only by")

    stranger = orthanc_factory()  # knows no modality: refuses our queries
    with open_connection("cstore", cstore_config(stranger.dicom_port, stranger.aet)) as connection:
        result = connection.check()
    assert result.ok, result.steps
    assert "refused Bitewing's C-FIND query" in result.steps[-1]
    assert "AE title BITEWING" in result.steps[-1]


def test_cstore_check_unreachable_port() -> None:
    with open_connection("cstore", cstore_config(free_port(), "ANY")) as connection:
        result = connection.check()
    assert not result.ok
    assert len(result.steps) == 1 and UNREACHABLE.fullmatch(result.steps[0])


def test_cstore_store_is_idempotent_and_verified_by_c_find(orthanc: Orthanc) -> None:
    data, compressed = synthetic(), synthetic(RLELossless, seed=3)
    ref, compressed_ref = ref_for(data), ref_for(compressed)
    unknown = ref_for(synthetic(seed=4))
    with open_connection("cstore", cstore_config(orthanc.dicom_port, orthanc.aet)) as connection:
        assert connection.store_instance(data, ref).detail == "C-STORE: stored"
        assert connection.verify_instance(ref)
        connection.store_instance(data, ref)
        connection.store_instance(compressed, compressed_ref)
        assert connection.verify_instance(compressed_ref)
        assert not connection.verify_instance(unknown)
    assert orthanc.count_instances() == 2
    compressed_id = orthanc.find_instance(compressed_ref.sop_instance_uid)
    received = pydicom.dcmread(BytesIO(orthanc.request("GET", f"/instances/{compressed_id}/file")))
    assert received.file_meta.TransferSyntaxUID == RLELossless  # sent as it was, not decompressed
    assert received.PixelData == pydicom.dcmread(BytesIO(compressed)).PixelData
    # a fresh connection verifies too (its own association, C-FIND only)
    with open_connection("cstore", cstore_config(orthanc.dicom_port, orthanc.aet)) as connection:
        assert connection.verify_instance(ref)


def test_cstore_to_storescp_trusts_the_store_status(storescp: StoreSCP) -> None:
    storescp.clear()
    data = ct_small()
    ref = ref_for(data)
    with open_connection("cstore", cstore_config(storescp.port, storescp.aet)) as connection:
        connection.store_instance(data, ref)
        assert connection.verify_instance(ref)  # storescp offers no C-FIND
    with open_connection("cstore", cstore_config(storescp.port, storescp.aet)) as connection:
        assert connection.verify_instance(ref)
    assert len(storescp.received()) == 1
    assert pydicom.dcmread(storescp.received()[0]).SOPInstanceUID == ref.sop_instance_uid


def test_cstore_target_stopped_is_retryable(orthanc: Orthanc) -> None:
    data = ct_small()
    orthanc.kill()
    with (
        open_connection("cstore", cstore_config(orthanc.dicom_port, orthanc.aet)) as connection,
        pytest.raises(ConnectorError) as stopped,
    ):
        connection.store_instance(data, ref_for(data))
    assert stopped.value.retryable
    assert UNREACHABLE.fullmatch(stopped.value.message)


@contextmanager
def storage_scp(
    status: int = 0x0000,
    syntaxes: tuple[str, ...] = (ExplicitVRLittleEndian, ImplicitVRLittleEndian),
    **server_options: Any,
) -> Iterator[tuple[int, list[Dataset]]]:
    """A pynetdicom storage SCP for intraoral X-rays in `syntaxes`, answering every C-STORE with `status`."""
    received: list[Dataset] = []

    def on_store(event: evt.Event) -> int:
        received.append(event.dataset)
        return status

    ae = AE(ae_title="TESTSCP")
    ae.add_supported_context(DigitalIntraOralXRayImageStorageForPresentation, list(syntaxes))
    port = free_port()
    server: ThreadedAssociationServer = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)], **server_options
    )
    try:
        yield port, received
    finally:
        server.shutdown()


def store_to(port: int, data: bytes) -> Callable[[], Any]:
    def store() -> Any:
        with open_connection("cstore", cstore_config(port, "TESTSCP")) as connection:
            return connection.store_instance(data, ref_for(data))

    return store


def test_cstore_compressed_to_an_uncompressed_only_peer_asks_for_uncompressed() -> None:
    with storage_scp() as (port, received):
        with pytest.raises(
            ConnectorError, match='set the target\'s transfer syntax to "uncompressed"'
        ) as exc:
            store_to(port, synthetic(RLELossless))()
        assert not exc.value.retryable
        assert store_to(port, synthetic())().detail == "C-STORE: stored"
        assert len(received) == 1


def test_cstore_sends_explicit_little_endian_as_implicit_when_that_is_all_the_peer_takes() -> None:
    with storage_scp(syntaxes=(ImplicitVRLittleEndian,)) as (port, received):
        store_to(port, synthetic())()
    assert len(received) == 1


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(0xA700, True), (0xA7FF, True), (0xC000, False), (0xA900, False), (0x0110, False)],
)
def test_cstore_failure_statuses(status: int, retryable: bool) -> None:
    with storage_scp(status) as (port, _), pytest.raises(ConnectorError) as exc:
        store_to(port, synthetic())()
    assert exc.value.retryable is retryable
    assert f"0x{status:04X}" in exc.value.message


def test_cstore_warning_status_counts_as_stored() -> None:
    with storage_scp(0xB000) as (port, _):
        assert store_to(port, synthetic())().detail == "C-STORE: stored with warning 0xB000"


def test_cstore_rejected_calling_ae_is_explained() -> None:
    ae = AE(ae_title="TESTSCP")
    ae.require_calling_aet = ["ONLYTHIS"]
    ae.add_supported_context(DigitalIntraOralXRayImageStorageForPresentation, ExplicitVRLittleEndian)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False)
    try:
        with pytest.raises(ConnectorError, match="does not accept calls from AE title BITEWING") as exc:
            store_to(port, synthetic())()
        assert not exc.value.retryable
    finally:
        server.shutdown()


# --- s3 (archive) ---------------------------------------------------------------------------------------------


def test_s3_check_explains_success_and_failures(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    with open_connection("s3", s3_config(seaweedfs, s3_bucket)) as connection:
        result = connection.check()
    assert result.ok, result.steps
    assert result.steps == [
        f"Connected to {seaweedfs.endpoint_url}",
        f"Wrote a test object to bucket {s3_bucket} under archive/practice-1/",
        "Read the test object back",
        "Deleted the test object",
    ]

    with open_connection("s3", s3_config(seaweedfs, s3_bucket, secret_access_key="wrong")) as connection:
        result = connection.check()
    assert not result.ok
    assert result.steps == ["The S3 secret access key does not match the access key id"]

    with open_connection("s3", s3_config(seaweedfs, "no-such-bucket")) as connection:
        assert "bucket no-such-bucket does not exist" in connection.check().steps[-1]

    down = s3_config(seaweedfs, s3_bucket, endpoint_url=f"http://127.0.0.1:{free_port()}")
    with open_connection("s3", down) as connection:
        result = connection.check()
    assert not result.ok
    assert len(result.steps) == 1 and UNREACHABLE.fullmatch(result.steps[0])


def test_s3_store_is_idempotent_and_verified(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    data = synthetic(RLELossless)
    ref = ref_for(data)
    with open_connection("s3", s3_config(seaweedfs, s3_bucket)) as connection:
        assert not connection.verify_instance(ref)
        assert connection.store_instance(data, ref).detail == "archived"
        assert connection.verify_instance(ref)
        assert connection.store_instance(data, ref).detail == "already archived"

    key = f"archive/practice-1/{ref.object_name}"
    client = seaweedfs.client()
    try:
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
        head = client.head_object(Bucket=s3_bucket, Key=key)
        assert keys == [key]
        assert head["Metadata"]["sha256"] == ref.sha256
        assert head["ContentType"] == "application/dicom"
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"tampered", Metadata={"sha256": ref.sha256})
    finally:
        client.close()
    with open_connection("s3", s3_config(seaweedfs, s3_bucket)) as connection:
        assert not connection.verify_instance(ref)  # size differs
        assert connection.store_instance(data, ref).detail == "archived"  # repaired
        assert connection.verify_instance(ref)


def test_s3_with_sse_and_without_prefix(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    data = ct_small()
    ref = ref_for(data)
    with open_connection("s3", s3_config(seaweedfs, s3_bucket, prefix="", sse="AES256")) as connection:
        assert connection.check().ok
        connection.store_instance(data, ref)
        assert connection.verify_instance(ref)
    client = seaweedfs.client()
    try:
        assert client.get_object(Bucket=s3_bucket, Key=ref.object_name)["Body"].read() == data
    finally:
        client.close()


def test_s3_refusals_and_outages(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    data = ct_small()
    ref = ref_for(data)
    with open_connection("s3", s3_config(seaweedfs, s3_bucket)) as connection:
        with pytest.raises(ConnectorError, match="not the ones the delivery describes") as mismatch:
            connection.store_instance(data + b"\0\0", ref)
        assert not mismatch.value.retryable
    with open_connection("s3", s3_config(seaweedfs, s3_bucket, secret_access_key="wrong")) as connection:
        with pytest.raises(ConnectorError, match="Access denied to S3 bucket") as login:
            connection.store_instance(data, ref)
        assert not login.value.retryable
    down = s3_config(seaweedfs, s3_bucket, endpoint_url=f"http://127.0.0.1:{free_port()}")
    with open_connection("s3", down) as connection:
        with pytest.raises(ConnectorError) as stopped:
            connection.store_instance(data, ref)
        assert stopped.value.retryable
        assert UNREACHABLE.fullmatch(stopped.value.message)


def test_dicomweb_stores_a_full_size_image_in_chunks(orthanc: Orthanc) -> None:
    data = to_bytes(make_instance("panoramic", seed=5))  # ~8 MB: dicomweb-client streams it chunked
    assert len(data) > 4_000_000
    ref = ref_for(data)
    with open_connection("dicomweb", dicomweb_config(orthanc)) as connection:
        connection.store_instance(data, ref)
        assert connection.verify_instance(ref)


# --- sockets --------------------------------------------------------------------------------------------------


def test_dicom_associations_switch_off_nagle(storescp: StoreSCP) -> None:
    from bitewing.core.targets.dimse import DimseSettings, context, open_association

    settings = DimseSettings(host="127.0.0.1", port=storescp.port, called_ae=storescp.aet)
    assoc = open_association(settings, [context("1.2.840.10008.1.1", ExplicitVRLittleEndian)], "C-ECHO")
    try:
        raw = assoc.dul.socket.socket
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert raw.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    finally:
        assoc.release()
