"""A standard DICOMweb client (dicomweb-client, as the dicomweb connector uses it) against a real Bitewing
HTTP server: store, search, retrieve (as stored and transcoded), frames, metadata and rendered.

Only Bitewing is involved: no Orthanc (nor its DICOMweb plugin) is started; this is about standard clients
talking to Bitewing's own ``/dicomweb``.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from flask import Flask
from PIL import Image as PILImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, HTJ2KLossless
from werkzeug.serving import make_server

from bitewing.core.imaging.synthetic import make_instance
from bitewing.core.ingest import services as ingest
from bitewing.core.ingest.models import IngestStatus
from bitewing.core.runtime import Runtime
from tests.conftest import TenantClient
from tests.support.ports import free_port

PIXEL_DATA = "7FE00010"


@pytest.fixture
def server_url(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on a free loopback port, in a thread."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="bitewing-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def client_for(server_url: str, tenant: TenantClient) -> DICOMwebClient:
    return DICOMwebClient(url=f"{server_url}/dicomweb", headers=dict(tenant.headers))


def process_received(runtime: Runtime, tenant_id: uuid.UUID) -> None:
    """Run processing to the end, re-queueing jobs that lost the race to create a new study's row."""
    for _ in range(5):
        runtime.jobs.drain()
        with runtime.db.unit_of_work(tenant_id) as uow:
            waiting = [r.id for r in ingest.list_records(uow, status=IngestStatus.RECEIVED).items]
        if not waiting:
            return
        for ingest_id in waiting:
            ingest.enqueue_processing(runtime, tenant_id, ingest_id)
    raise AssertionError("instances are still waiting to be processed")


def uid_of(result: dict, tag: str) -> str:
    return result[tag]["Value"][0]


def test_dicomweb_client_stores_searches_and_retrieves(
    server_url: str, owner: TenantClient, other_owner: TenantClient, runtime: Runtime
) -> None:
    first = make_instance("bitewing", patient_id="DW-1", patient_name="Novak^Ida", shape=(300, 420), seed=11)
    second = make_instance(
        "periapical",
        patient_id="DW-1",
        patient_name="Novak^Ida",
        study_uid=first.StudyInstanceUID,
        shape=(210, 160),
        seed=12,
    )
    client = client_for(server_url, owner)

    response = client.store_instances(datasets=[first, second])
    assert isinstance(response, Dataset)
    assert [ref.ReferencedSOPInstanceUID for ref in response.ReferencedSOPSequence] == [
        first.SOPInstanceUID,
        second.SOPInstanceUID,
    ]
    assert "FailedSOPSequence" not in response
    process_received(runtime, owner.tenant_id)

    [study] = client.search_for_studies(search_filters={"PatientID": "DW-1"})
    assert uid_of(study, "0020000D") == first.StudyInstanceUID
    assert study["00201208"]["Value"] == [2]
    assert client.search_for_studies(search_filters={"PatientName": "novak*"}) == [study]
    assert client.search_for_studies(search_filters={"PatientID": "nobody"}) == []

    instances = client.search_for_instances(study_instance_uid=first.StudyInstanceUID)
    assert {uid_of(i, "00080018") for i in instances} == {first.SOPInstanceUID, second.SOPInstanceUID}
    [series] = client.search_for_series(search_filters={"SeriesInstanceUID": first.SeriesInstanceUID})
    assert uid_of(series, "00080060") == "IO"

    uids = (first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID)
    as_stored = client.retrieve_instance(*uids)  # dicomweb-client asks for transfer-syntax=* by default
    assert as_stored.file_meta.TransferSyntaxUID == HTJ2KLossless
    assert np.array_equal(as_stored.pixel_array, first.pixel_array)
    native = client.retrieve_instance(*uids, media_types=(("application/dicom", ExplicitVRLittleEndian),))
    assert native.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(native.pixel_array, first.pixel_array)

    whole_study = client.retrieve_study(first.StudyInstanceUID)
    assert {ds.SOPInstanceUID for ds in whole_study} == {first.SOPInstanceUID, second.SOPInstanceUID}

    metadata = client.retrieve_instance_metadata(*uids)
    assert PIXEL_DATA not in metadata
    assert metadata["00100020"] == {"vr": "LO", "Value": ["DW-1"]}

    rendered = client.retrieve_instance_rendered(*uids, media_types=("image/jpeg",))
    assert PILImage.open(io.BytesIO(rendered)).size == (420, 300)
    small = client.retrieve_instance_rendered(*uids, params={"viewport": "100,100"})
    assert max(PILImage.open(io.BytesIO(small)).size) == 200

    stranger = client_for(server_url, other_owner)
    assert stranger.search_for_studies() == []
    with pytest.raises(requests.HTTPError) as refused:
        stranger.retrieve_instance(*uids)
    assert refused.value.response.status_code == 404
    anonymous = DICOMwebClient(url=f"{server_url}/dicomweb")
    with pytest.raises(requests.HTTPError) as unauthenticated:
        anonymous.search_for_studies()
    assert unauthenticated.value.response.status_code == 401


def test_dicomweb_client_retrieves_frames_of_a_volume(
    server_url: str, owner: TenantClient, other_owner: TenantClient, runtime: Runtime
) -> None:
    volume = make_instance("cbct", patient_id="DW-2", shape=(64, 56), frames=12, seed=13)
    client = client_for(server_url, owner)
    assert "FailedSOPSequence" not in client.store_instances(datasets=[volume])
    process_received(runtime, owner.tenant_id)
    uids = (volume.StudyInstanceUID, volume.SeriesInstanceUID, volume.SOPInstanceUID)
    expected = volume.pixel_array

    # dicomweb-client's default asks for type="*/*": uncompressed frames
    frames = client.retrieve_instance_frames(*uids, frame_numbers=[12, 1, 7])
    assert frames == [expected[n - 1].tobytes() for n in (12, 1, 7)]
    native = client.retrieve_instance_frames(
        *uids, frame_numbers=[3], media_types=(("application/octet-stream", ExplicitVRLittleEndian),)
    )
    assert native == [expected[2].tobytes()]
    streamed = client.iter_instance_frames(*uids, frame_numbers=list(range(1, 13)))
    assert b"".join(streamed) == expected.tobytes()

    # as stored: the archive's HTJ2K codestreams, which decode to the same values
    codestreams = client.retrieve_instance_frames(
        *uids, frame_numbers=[5, 9], media_types=(("application/octet-stream", "*"),)
    )
    for number, codestream in zip((5, 9), codestreams, strict=True):
        single = Dataset()
        single.file_meta = FileMetaDataset()
        single.file_meta.TransferSyntaxUID = HTJ2KLossless
        for keyword in ("Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated"):
            setattr(single, keyword, volume[keyword].value)
        single.BitsStored, single.HighBit = volume.BitsStored, volume.HighBit
        single.PixelRepresentation = volume.PixelRepresentation
        single.PixelData = encapsulate([codestream])
        assert np.array_equal(single.pixel_array, expected[number - 1])

    with pytest.raises(requests.HTTPError) as beyond:
        client.retrieve_instance_frames(*uids, frame_numbers=[13])
    assert beyond.value.response.status_code == 404
    with pytest.raises(requests.HTTPError) as refused:
        client_for(server_url, other_owner).retrieve_instance_frames(*uids, frame_numbers=[1])
    assert refused.value.response.status_code == 404
