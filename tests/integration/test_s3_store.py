"""The S3 object store against a real SeaweedFS, and a smoke test of the Orthanc/dcmtk test harness."""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import get_frame
from pydicom.uid import HTJ2KLossless

import bitewing.connectors.s3.plugin
from bitewing.connectors.s3.plugin import s3_store_factory
from bitewing.connectors.s3.store import IMMUTABLE_CACHE_CONTROL, S3ObjectStore
from bitewing.core.dicomweb.frames import read_frames
from bitewing.core.imaging import synthetic
from bitewing.core.imaging.transcode import lossless_archive
from bitewing.core.plugins import ObjectNotFound, ObjectStoreError
from bitewing.core.plugins.manager import build_plugins
from bitewing.core.plugins.storage import sha256_hex
from tests.support import OrthancFactory, SeaweedFS, storescu

DATA = b"\x89PNG fake image bytes " * 100


def make_store(seaweedfs: SeaweedFS, url: str, **options: Any) -> S3ObjectStore:
    """A store built the way the app builds it: through the plugin's factory for the ``s3`` scheme."""
    factory = build_plugins().object_store_types()["s3"]
    store = factory(url, seaweedfs.store_options() | options)
    assert isinstance(store, S3ObjectStore)
    return store


@pytest.fixture
def store(seaweedfs: SeaweedFS, s3_bucket: str) -> S3ObjectStore:
    return make_store(seaweedfs, f"s3://{s3_bucket}")


def fetch(url: str) -> tuple[bytes, str | None]:
    """Body and Cache-Control of a GET."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test URL
        return response.read(), response.headers.get("Cache-Control")


def test_plugin_is_discovered_through_the_entry_point() -> None:
    plugins = build_plugins()
    assert plugins.object_store_types()["s3"] is s3_store_factory
    assert plugins.pm.get_plugin("s3") is bitewing.connectors.s3.plugin


def test_round_trip_records_sha256(store: S3ObjectStore) -> None:
    stored = store.put("images/1/full.png", DATA, "image/png")
    assert stored.sha256 == sha256_hex(DATA)
    assert stored.size == len(DATA)

    assert store.head("images/1/full.png") == stored
    assert store.get("images/1/full.png", verify=True) == DATA
    with store.open("images/1/full.png") as stream:
        assert stream.read() == DATA

    store.delete("images/1/full.png")
    with pytest.raises(ObjectNotFound):
        store.head("images/1/full.png")
    store.delete("images/1/full.png")  # deleting again is no error


def test_missing_key_is_object_not_found(store: S3ObjectStore) -> None:
    for operation in (store.get, store.open, store.open_random, store.head):
        with pytest.raises(ObjectNotFound):
            operation("no/such/key")


def test_a_slice_of_a_stored_volume_is_read_without_fetching_the_volume(
    store: S3ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WADO-RS frames of a CBCT archived as HTJ2K: the last slice's codestream comes through ranged GETs of
    the header and offset table and of the frame itself, a small part of the object."""
    volume = synthetic.make_instance("cbct", shape=(256, 256), frames=48, seed=5)
    archived, _syntax = lossless_archive(volume)
    store.put("volumes/v1.dcm", archived, "application/dicom")
    expected = get_frame(pydicom.dcmread(io.BytesIO(archived)).PixelData, 47, number_of_frames=48)
    fetched: list[int] = []
    get_object = store.client.get_object

    def counting_get_object(**kwargs: Any) -> Any:
        response = get_object(**kwargs)
        fetched.append(int(response["ContentLength"]))
        return response

    monkeypatch.setattr(store.client, "get_object", counting_get_object)
    with store.open_random("volumes/v1.dcm") as stream:
        (frame,) = read_frames(stream, [47], str(HTJ2KLossless))
    assert frame == expected
    assert len(fetched) == 2 and sum(fetched) < len(archived) / 4, (fetched, len(archived))
    with store.open_random("volumes/v1.dcm") as stream:
        assert stream.read() == archived  # and the whole object reads as it was stored


def test_get_verify_detects_a_changed_object(seaweedfs: SeaweedFS, store: S3ObjectStore) -> None:
    store.put("a", DATA, "image/png")
    client = seaweedfs.client()
    try:
        client.put_object(
            Bucket=store.bucket, Key="a", Body=b"tampered", Metadata={"sha256": sha256_hex(DATA)}
        )
    finally:
        client.close()
    assert store.get("a") == b"tampered"
    with pytest.raises(ObjectStoreError, match="corrupt"):
        store.get("a", verify=True)


def test_presigned_url_serves_the_bytes_with_cache_control(store: S3ObjectStore) -> None:
    store.put("p/full.png", DATA, "image/png")
    store.put("p/mutable.json", b"{}", "application/json", immutable=False)

    assert fetch(store.presign("p/full.png", 60)) == (DATA, IMMUTABLE_CACHE_CONTROL)
    assert fetch(store.presign("p/mutable.json", 60))[1] is None


def test_presigned_url_with_a_filename_answers_content_disposition(store: S3ObjectStore) -> None:
    store.put("p/archive", DATA, "application/dicom")
    url = store.presign("p/archive", 60, filename="image-1234.dcm")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test URL
        assert response.read() == DATA
        assert response.headers["Content-Disposition"] == 'attachment; filename="image-1234.dcm"'
        assert response.headers["Content-Type"] == "application/dicom"
    with urllib.request.urlopen(store.presign("p/archive", 60), timeout=10) as response:  # noqa: S310
        assert response.headers.get("Content-Disposition") is None
    # the name is part of the signature: a link cannot be edited to save under another name
    with pytest.raises(urllib.error.HTTPError) as renamed:
        fetch(url.replace("image-1234.dcm", "image-9999.dcm"))
    renamed.value.close()
    assert renamed.value.code == 403
    for unsafe in ('a".dcm', "../x.dcm", "Chen Amelia.dcm", "é.dcm", ""):
        with pytest.raises(ValueError, match="unsafe download filename"):
            store.presign("p/archive", 60, filename=unsafe)


def test_tampered_or_expired_presigned_url_is_refused(store: S3ObjectStore) -> None:
    store.put("p/full.png", DATA, "image/png")
    url = store.presign("p/full.png", 1)
    with pytest.raises(urllib.error.HTTPError) as tampered:
        fetch(url.replace("p/full.png", "p/other.png"))
    tampered.value.close()
    assert tampered.value.code == 403

    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as expired:
        fetch(url)
    expired.value.close()
    assert expired.value.code == 403


def test_prefix_is_prepended_to_every_key(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, f"s3://{s3_bucket}/tenants/t1/")
    store.put("images/x", DATA, "image/png")
    client = seaweedfs.client()
    try:
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    finally:
        client.close()
    assert keys == ["tenants/t1/images/x"]
    assert store.head("images/x").key == "images/x"


def test_server_side_encryption_sse_s3(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    store = make_store(seaweedfs, f"s3://{s3_bucket}", sse="AES256")
    store.check()
    store.put("enc", DATA, "image/png")
    assert store.get("enc", verify=True) == DATA
    head = store.client.head_object(Bucket=s3_bucket, Key="enc")
    assert head["ServerSideEncryption"] == "AES256"
    plain = make_store(seaweedfs, f"s3://{s3_bucket}")
    plain.put("plain", DATA, "image/png")
    assert "ServerSideEncryption" not in plain.client.head_object(Bucket=s3_bucket, Key="plain")


def test_check_passes_and_explains_failures(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    make_store(seaweedfs, f"s3://{s3_bucket}/prefix").check()

    with pytest.raises(ObjectStoreError, match="bucket no-such-bucket does not exist"):
        make_store(seaweedfs, "s3://no-such-bucket").check()
    with pytest.raises(ObjectStoreError, match="secret access key does not match"):
        make_store(seaweedfs, f"s3://{s3_bucket}", secret_access_key="wrong").check()
    with pytest.raises(ObjectStoreError, match=r"cannot reach S3 endpoint http://127\.0\.0\.1:9"):
        make_store(seaweedfs, f"s3://{s3_bucket}", endpoint_url="http://127.0.0.1:9").check()


def test_invalid_configuration_is_refused(seaweedfs: SeaweedFS) -> None:
    with pytest.raises(ObjectStoreError, match="s3://bucket"):
        make_store(seaweedfs, "s3:///nobucket")
    with pytest.raises(ObjectStoreError, match="server-side encryption"):
        make_store(seaweedfs, "s3://b", sse="rot13")


def test_orthanc_harness_runs_two_servers_that_accept_instances(orthanc_factory: OrthancFactory) -> None:
    first, second = orthanc_factory.many(2)
    path = Path(get_testdata_file("CT_small.dcm"))
    sop_uid = pydicom.dcmread(path).SOPInstanceUID

    assert first.upload(path.read_bytes())["Status"] == "Success"
    result = storescu("127.0.0.1", second.dicom_port, [path], called_aet=second.aet)

    assert result.returncode == 0, result.stderr
    assert first.find_instance(sop_uid) is not None
    assert second.find_instance(sop_uid) == second.instances()[0]
    assert (first.count_instances(), second.count_instances()) == (1, 1)
