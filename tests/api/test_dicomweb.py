"""DICOMweb at /dicomweb: STOW-RS through the ingest door, QIDO-RS on the image tables, WADO-RS from the
object store (as stored or transcoded), rendered pictures, tenancy, authentication and media types."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image as PILImage
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, get_frame
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
    JPEGExtended12Bit,
    JPEGLSLossless,
    RLELossless,
)

from bitewing.core.dicomweb.frames import (
    NATIVE_SYNTAX,
    FrameFormat,
    negotiate_frames,
    parse_frame_list,
    read_frames,
)
from bitewing.core.dicomweb.multipart import MultipartError, PartTooLarge, iter_parts, parse_accept
from bitewing.core.dicomweb.retrieve import (
    NotAcceptable,
    choose_rendition,
    native_part10,
    negotiate_dicom,
    negotiate_image,
    read_dataset,
)
from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.quality import psnr
from bitewing.core.imaging.synthetic import make_instance, to_bytes
from bitewing.core.imaging.transcode import lossless_archive
from bitewing.core.imaging.window import greyscale_lookup, needs_auto_window, window_sample
from bitewing.core.ingest import services as ingest
from bitewing.core.ingest.models import IngestStatus
from bitewing.core.runtime import Runtime
from tests.api.helpers import assert_problem
from tests.conftest import TenantClient

DICOM_ACCEPT = 'multipart/related; type="application/dicom"'
AS_STORED = f"{DICOM_ACCEPT}; transfer-syntax=*"
BOUNDARY = "test-boundary-1234"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary="{BOUNDARY}"'

FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"
FAILURE_REASON = "00081197"
RETRIEVE_URL = "00081190"
SOP_INSTANCE_UID = "00080018"
STUDY_INSTANCE_UID = "0020000D"
PATIENT_NAME = "00100010"
PATIENT_ID = "00100020"
PIXEL_DATA = "7FE00010"


def multipart(*bodies: bytes, content_type: str = "application/dicom") -> bytes:
    out = b"".join(
        b"--" + BOUNDARY.encode() + f"\r\nContent-Type: {content_type}\r\n\r\n".encode() + body + b"\r\n"
        for body in bodies
    )
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


def process_received(runtime: Runtime, tenant_id: uuid.UUID) -> None:
    """Run the in-process processing jobs to the end; instances of one new study processed at the same time
    must all be processed (the study row is created once, whoever wins)."""
    runtime.jobs.drain()
    with runtime.db.unit_of_work(tenant_id) as uow:
        waiting = [r.id for r in ingest.list_records(uow, status=IngestStatus.RECEIVED).items]
    assert waiting == [], "instances are still waiting to be processed"


def split_multipart(response: Any) -> list[tuple[str, bytes]]:
    """(content type, body) of each part of a multipart response, parsed independently of the server."""
    match = re.search(r'boundary="?([^";]+)"?', response.headers["Content-Type"])
    assert match, response.headers["Content-Type"]
    delimiter = b"--" + match.group(1).encode()
    parts = []
    for chunk in response.get_data().split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, body = chunk.partition(b"\r\n\r\n")
        content_type = re.search(rb"Content-Type: ([^\r\n]+)", head)
        parts.append((content_type.group(1).decode() if content_type else "", body.removesuffix(b"\r\n")))
    return parts


def dated(ds: Dataset, day: str) -> Dataset:
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
    return ds


@dataclass
class Stored:
    bitewing: Dataset
    periapical: Dataset
    panoramic: Dataset

    @property
    def all(self) -> list[Dataset]:
        return [self.bitewing, self.periapical, self.panoramic]


def instance_path(ds: Dataset) -> str:
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    )


def value(dataset: dict[str, Any], tag: str) -> Any:
    return dataset[tag]["Value"][0]


@pytest.fixture
def stored(owner: TenantClient, runtime: Runtime) -> Stored:
    """Three instances of two patients stored in one STOW-RS request and processed."""
    bitewing = dated(
        make_instance("bitewing", patient_id="P-1001", patient_name="Chen^Amelia", shape=(400, 520), seed=1),
        "20240517",
    )
    periapical = dated(
        make_instance(
            "periapical",
            patient_id="P-1001",
            patient_name="Chen^Amelia",
            study_uid=bitewing.StudyInstanceUID,
            shape=(260, 200),
            seed=2,
        ),
        "20240517",
    )
    panoramic = dated(
        make_instance("panoramic", patient_id="P-2002", patient_name="Okafor^Ben", shape=(150, 290), seed=3),
        "20230102",
    )
    data = Stored(bitewing, periapical, panoramic)
    response = owner.post(
        "/dicomweb/studies",
        data=multipart(*(to_bytes(ds) for ds in data.all)),
        headers={"Content-Type": STOW_TYPE, "Accept": "application/dicom+json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/dicom+json"
    body = response.get_json()
    assert FAILED_SOP_SEQUENCE not in body
    refs = body[REFERENCED_SOP_SEQUENCE]["Value"]
    assert [value(r, "00081155") for r in refs] == [str(ds.SOPInstanceUID) for ds in data.all]
    for ref, ds in zip(refs, data.all, strict=True):
        assert value(ref, RETRIEVE_URL).endswith(instance_path(ds))
        assert value(ref, "00081150") == str(ds.SOPClassUID)
    process_received(runtime, owner.tenant_id)
    return data


def search(client: TenantClient, url: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(url, query_string=params, headers={"Accept": "application/dicom+json"})
    if response.status_code == 204:
        assert not response.get_data()
        return []
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/dicom+json"
    return response.get_json()


def uids(results: list[dict[str, Any]], tag: str = STUDY_INSTANCE_UID) -> set[str]:
    return {value(r, tag) for r in results}


# --- QIDO-RS ----------------------------------------------------------------------------------------------


def test_qido_studies_match_patient_id_wildcard_name_date_range_and_modality(
    owner: TenantClient, stored: Stored
) -> None:
    first, pano = str(stored.bitewing.StudyInstanceUID), str(stored.panoramic.StudyInstanceUID)
    assert uids(search(owner, "/dicomweb/studies")) == {first, pano}

    [study] = search(owner, "/dicomweb/studies", PatientID="P-1001")
    assert value(study, STUDY_INSTANCE_UID) == first
    assert study[PATIENT_NAME] == {"vr": "PN", "Value": [{"Alphabetic": "Chen^Amelia"}]}
    assert study["00080020"] == {"vr": "DA", "Value": ["20240517"]}
    assert study["00201206"] == {"vr": "IS", "Value": [2]}
    assert value(study, "00201208") == 2
    assert study["00201208"]["vr"] == "IS"
    assert sorted(study["00080061"]["Value"]) == ["IO"]
    assert value(study, RETRIEVE_URL).endswith(f"/dicomweb/studies/{first}")
    assert study["00080050"] == {"vr": "SH"}  # accession number: type 2, empty

    assert uids(search(owner, "/dicomweb/studies", PatientName="chen*")) == {first}
    assert uids(search(owner, "/dicomweb/studies", PatientName="*Ben")) == {pano}
    assert uids(search(owner, "/dicomweb/studies", PatientName="Oka?or^Ben")) == {pano}
    assert uids(search(owner, "/dicomweb/studies", PatientName="Amelia", fuzzymatching="true")) == {first}
    assert search(owner, "/dicomweb/studies", PatientName="Chen") == []
    assert uids(search(owner, "/dicomweb/studies", StudyDate="20240101-20241231")) == {first}
    assert uids(search(owner, "/dicomweb/studies", StudyDate="-20231231")) == {pano}
    assert uids(search(owner, "/dicomweb/studies", StudyDate="20230102")) == {pano}
    assert uids(search(owner, "/dicomweb/studies", ModalitiesInStudy="PX")) == {pano}
    assert uids(search(owner, "/dicomweb/studies", StudyInstanceUID=f"{first},{pano}")) == {first, pano}
    assert uids(search(owner, "/dicomweb/studies", **{"00100020": "P-2002"})) == {pano}


def test_qido_returns_study_series_and_instance_identifiers(owner: TenantClient, runtime: Runtime) -> None:
    ds = make_instance("bitewing", patient_id="P-3003", patient_name="Singh^Noah", shape=(200, 260), seed=5)
    ds.AccessionNumber = "ACC-77"
    ds.ReferringPhysicianName = "Molar^Daniel"
    ds.SeriesNumber, ds.InstanceNumber, ds.PatientSex = 4, 9, "M"
    response = owner.post(
        "/dicomweb/studies", data=multipart(to_bytes(ds)), headers={"Content-Type": STOW_TYPE}
    )
    assert response.status_code == 200
    process_received(runtime, owner.tenant_id)
    (study,) = search(owner, "/dicomweb/studies", AccessionNumber="ACC-77")
    assert value(study, "00100040") == "M"
    assert value(study, "00080090") == {"Alphabetic": "Molar^Daniel"}
    assert value(study, "00200010") == str(ds.StudyID)
    assert value(study, "00080030") == str(ds.StudyTime)
    (instance,) = search(
        owner, "/dicomweb/instances", SOPInstanceUID=str(ds.SOPInstanceUID), includefield="all"
    )
    assert (value(instance, "00200011"), value(instance, "00200013")) == (4, 9)


def test_qido_limit_offset_and_includefield(owner: TenantClient, stored: Stored) -> None:
    everything = search(owner, "/dicomweb/studies")
    page1 = search(owner, "/dicomweb/studies", limit=1)
    page2 = search(owner, "/dicomweb/studies", limit=1, offset=1)
    assert len(page1) == len(page2) == 1
    assert uids(page1) | uids(page2) == uids(everything)
    assert search(owner, "/dicomweb/studies", offset=5) == []

    [study] = search(owner, "/dicomweb/studies", PatientID="P-1001")
    assert "00081030" not in study
    [study] = search(owner, "/dicomweb/studies", PatientID="P-1001", includefield="StudyDescription")
    assert value(study, "00081030") == "Dental imaging"
    [study] = search(owner, "/dicomweb/studies", PatientID="P-1001", includefield="all")
    assert value(study, "00081030") == "Dental imaging"


def test_qido_series_and_instances(owner: TenantClient, stored: Stored) -> None:
    series = search(owner, "/dicomweb/series", Modality="IO")
    assert uids(series, "0020000E") == {
        str(stored.bitewing.SeriesInstanceUID),
        str(stored.periapical.SeriesInstanceUID),
    }
    assert all(value(s, "00201209") == 1 for s in series)
    assert all(s["00080060"] == {"vr": "CS", "Value": ["IO"]} for s in series)
    in_study = search(owner, f"/dicomweb/studies/{stored.bitewing.StudyInstanceUID}/series")
    assert len(in_study) == 2

    [pano] = search(owner, "/dicomweb/instances", Modality="PX")
    assert value(pano, SOP_INSTANCE_UID) == str(stored.panoramic.SOPInstanceUID)
    assert value(pano, "00280010") == 150 and pano["00280010"]["vr"] == "US"
    assert value(pano, PATIENT_ID) == "P-2002"
    assert value(pano, RETRIEVE_URL).endswith(instance_path(stored.panoramic))

    bw = stored.bitewing
    [only] = search(owner, f"/dicomweb/studies/{bw.StudyInstanceUID}/series/{bw.SeriesInstanceUID}/instances")
    assert value(only, SOP_INSTANCE_UID) == str(bw.SOPInstanceUID)
    found = search(owner, f"/dicomweb/studies/{bw.StudyInstanceUID}/instances")
    assert uids(found, SOP_INSTANCE_UID) == {str(bw.SOPInstanceUID), str(stored.periapical.SOPInstanceUID)}
    [by_uid] = search(owner, "/dicomweb/instances", SOPInstanceUID=str(stored.periapical.SOPInstanceUID))
    assert value(by_uid, PATIENT_NAME) == {"Alphabetic": "Chen^Amelia"}


def test_qido_empty_result_is_204_and_bad_queries_are_400(owner: TenantClient, stored: Stored) -> None:
    response = owner.get("/dicomweb/studies?PatientID=nobody")
    assert response.status_code == 204
    assert_problem(owner.get("/dicomweb/studies?NotAnAttribute=1"), 400)
    assert_problem(owner.get("/dicomweb/studies?limit=-1"), 400)
    assert_problem(owner.get("/dicomweb/studies?StudyDate=2024-01-01"), 400)
    assert_problem(owner.get("/dicomweb/studies", headers={"Accept": "application/dicom+xml"}), 406)
    ignored = owner.get("/dicomweb/studies?ReferringPhysicianName=House")
    assert ignored.status_code == 200
    assert "ReferringPhysicianName" in ignored.headers["Warning"]
    assert_problem(owner.get("/dicomweb/studies/1.2.3.4/series"), 404)


def test_qido_searches_are_audited(owner: TenantClient, stored: Stored) -> None:
    search(owner, "/dicomweb/studies", PatientID="P-1001")
    events = owner.get("/api/v1/audit-events?action=image.dicomweb_search").get_json()
    assert events and events[0]["details"]["returned"] == [str(stored.bitewing.StudyInstanceUID)]


# --- WADO-RS ----------------------------------------------------------------------------------------------


def retrieve(client: TenantClient, url: str, accept: str | None) -> list[Dataset]:
    headers = {"Accept": accept} if accept is not None else {}
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "multipart/related"
    assert 'type="application/dicom"' in response.headers["Content-Type"]
    out = []
    for content_type, body in split_multipart(response):
        ds = pydicom.dcmread(io.BytesIO(body))
        assert content_type == f"application/dicom; transfer-syntax={ds.file_meta.TransferSyntaxUID}"
        out.append(ds)
    return out


@pytest.mark.parametrize(
    ("accept", "syntax"),
    [
        (AS_STORED, HTJ2KLossless),
        (DICOM_ACCEPT, ExplicitVRLittleEndian),
        (None, ExplicitVRLittleEndian),
        (f"{DICOM_ACCEPT}; transfer-syntax={ImplicitVRLittleEndian}", ImplicitVRLittleEndian),
        (f"{DICOM_ACCEPT}; transfer-syntax=1.2.840.10008.1.2.4.50, {AS_STORED}; q=0.5", HTJ2KLossless),
    ],
)
def test_wado_instance_has_the_original_pixels(
    owner: TenantClient, stored: Stored, accept: str | None, syntax: str
) -> None:
    original = stored.bitewing
    [ds] = retrieve(owner, instance_path(original), accept)
    assert ds.file_meta.TransferSyntaxUID == syntax
    assert ds.SOPInstanceUID == original.SOPInstanceUID
    assert ds.PatientID == "P-1001"
    assert np.array_equal(ds.pixel_array, original.pixel_array)


def test_wado_study_and_series_levels(owner: TenantClient, stored: Stored) -> None:
    study = stored.bitewing.StudyInstanceUID
    instances = retrieve(owner, f"/dicomweb/studies/{study}", DICOM_ACCEPT)
    assert {ds.SOPInstanceUID for ds in instances} == {
        stored.bitewing.SOPInstanceUID,
        stored.periapical.SOPInstanceUID,
    }
    by_uid = {ds.SOPInstanceUID: ds for ds in instances}
    assert np.array_equal(by_uid[stored.periapical.SOPInstanceUID].pixel_array, stored.periapical.pixel_array)
    series = retrieve(
        owner, f"/dicomweb/studies/{study}/series/{stored.periapical.SeriesInstanceUID}", AS_STORED
    )
    assert [ds.SOPInstanceUID for ds in series] == [stored.periapical.SOPInstanceUID]


def test_wado_refuses_what_it_cannot_send(owner: TenantClient, stored: Stored) -> None:
    path = instance_path(stored.bitewing)
    jpeg = f"{DICOM_ACCEPT}; transfer-syntax=1.2.840.10008.1.2.4.50"
    assert_problem(owner.get(path, headers={"Accept": jpeg}), 406)
    assert_problem(owner.get(path, headers={"Accept": "image/jpeg"}), 406)
    assert_problem(owner.get(f"{path}/rendered", headers={"Accept": "image/webp"}), 406)
    assert_problem(owner.get(f"/dicomweb/studies/{stored.bitewing.StudyInstanceUID}/series/1.2.3"), 404)


def test_wado_metadata_has_no_bulk_data(owner: TenantClient, stored: Stored) -> None:
    response = owner.get(f"{instance_path(stored.bitewing)}/metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/dicom+json"
    [meta] = response.get_json()
    assert PIXEL_DATA not in meta
    assert meta[PATIENT_ID] == {"vr": "LO", "Value": ["P-1001"]}
    assert value(meta, SOP_INSTANCE_UID) == str(stored.bitewing.SOPInstanceUID)
    assert value(meta, "00280010") == 400
    study = owner.get(f"/dicomweb/studies/{stored.bitewing.StudyInstanceUID}/metadata").get_json()
    assert len(study) == 2 and all(PIXEL_DATA not in m for m in study)


def jpeg_size(response: Any) -> tuple[int, int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/jpeg"
    picture = PILImage.open(io.BytesIO(response.get_data()))
    assert picture.format == "JPEG"
    return picture.size


def test_rendered_and_thumbnail_are_stored_jpegs_of_the_right_size(
    owner: TenantClient, stored: Stored
) -> None:
    path = instance_path(stored.bitewing)  # 520 x 400
    assert jpeg_size(owner.get(f"{path}/rendered")) == (520, 400)
    assert jpeg_size(owner.get(f"{path}/rendered", headers={"Accept": "image/jpeg"})) == (520, 400)
    assert max(jpeg_size(owner.get(f"{path}/thumbnail"))) == 200
    assert max(jpeg_size(owner.get(f"{path}/rendered?viewport=150,100"))) == 200
    assert jpeg_size(owner.get(f"{path}/thumbnail?viewport=300,300")) == (520, 400)
    assert jpeg_size(owner.get(f"{path}/rendered?viewport=4000,4000")) == (520, 400)
    assert_problem(owner.get(f"{path}/rendered?viewport=big"), 400)


def _picture(response: Any, media_type: str) -> tuple[str, tuple[int, int]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == media_type
    picture = PILImage.open(io.BytesIO(response.get_data()))
    return str(picture.format), picture.size


def test_other_rendition_formats_are_sent_as_stored_or_converted_on_request(
    owner: TenantClient, runtime: Runtime
) -> None:
    """A tenant keeping WebP thumbnails and AVIF previews: a client that asks for JPEG (or PNG) still gets
    the rendition of the size it asked for, converted; one that asks for nothing offered gets 406."""
    choice = {
        "thumbnail": {"format": "webp", "quality": 70},
        "preview": {"format": "avif", "quality": 60},
        "full": {"format": "jpeg", "quality": 85},
    }
    assert owner.request("PUT", "/api/v1/settings/renditions", json=choice).status_code == 200
    ds = make_instance("panoramic", patient_id="P-1", patient_name="Chen^Amelia", shape=(600, 1000), seed=4)
    response = owner.post(
        "/dicomweb/studies", data=multipart(to_bytes(ds)), headers={"Content-Type": STOW_TYPE}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    process_received(runtime, owner.tenant_id)
    path = instance_path(ds)

    assert _picture(owner.get(f"{path}/thumbnail"), "image/webp") == ("WEBP", (200, 120))
    as_jpeg = owner.get(f"{path}/thumbnail", headers={"Accept": "image/jpeg"})
    assert _picture(as_jpeg, "image/jpeg") == ("JPEG", (200, 120))
    as_png = owner.get(f"{path}/thumbnail", headers={"Accept": "image/png, image/jpeg;q=0.5"})
    assert _picture(as_png, "image/png") == ("PNG", (200, 120))
    preview = owner.get(f"{path}/rendered?viewport=500,300", headers={"Accept": "image/avif, image/*;q=0.8"})
    assert _picture(preview, "image/avif") == ("AVIF", (800, 480))
    old_viewer = owner.get(f"{path}/rendered?viewport=500,300", headers={"Accept": "image/jpeg"})
    assert _picture(old_viewer, "image/jpeg") == ("JPEG", (800, 480))
    assert _picture(owner.get(f"{path}/rendered"), "image/jpeg") == ("JPEG", (1000, 600))
    assert_problem(owner.get(f"{path}/rendered", headers={"Accept": "image/webp"}), 406)
    assert_problem(owner.get(f"{path}/thumbnail", headers={"Accept": "image/gif"}), 406)


def test_every_retrieval_is_audited(owner: TenantClient, stored: Stored) -> None:
    path = instance_path(stored.bitewing)
    owner.get(path, headers={"Accept": DICOM_ACCEPT}).get_data()
    owner.get(f"{path}/metadata")
    owner.get(f"{path}/thumbnail").get_data()
    events = owner.get("/api/v1/audit-events?action=image.dicomweb_retrieve").get_json()
    assert sorted(e["details"]["resource"] for e in events) == ["instances", "metadata", "thumbnail"]
    assert all(e["details"]["sop_instance_uid"] == str(stored.bitewing.SOPInstanceUID) for e in events)


# --- WADO-RS frames ---------------------------------------------------------------------------------------

OCTET_ACCEPT = 'multipart/related; type="application/octet-stream"'
NATIVE_PART = f"application/octet-stream; transfer-syntax={ExplicitVRLittleEndian}"
VOLUME_FRAMES = 6


@pytest.fixture
def volume(owner: TenantClient, runtime: Runtime) -> Dataset:
    """A small signed 16-bit CBCT volume stored through STOW-RS and processed (archived as HTJ2K)."""
    ds = make_instance("cbct", patient_id="P-4004", shape=(48, 40), frames=VOLUME_FRAMES, seed=8)
    response = owner.post(
        "/dicomweb/studies", data=multipart(to_bytes(ds)), headers={"Content-Type": STOW_TYPE}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    process_received(runtime, owner.tenant_id)
    return ds


def get_frames(client: TenantClient, ds: Dataset, frame_list: str, accept: str | None) -> tuple[Any, list]:
    """The response and its (content type, body) parts, after checking it is a 200 multipart/related."""
    headers = {"Accept": accept} if accept is not None else {}
    response = client.get(f"{instance_path(ds)}/frames/{frame_list}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "multipart/related"
    return response, split_multipart(response)


def decode_codestream(original: Dataset, codestream: bytes, syntax: str) -> np.ndarray:
    """One frame's codestream decoded by pydicom on its own, with `original`'s pixel description."""
    single = Dataset()
    for keyword in ("SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated"):
        setattr(single, keyword, original[keyword].value)
    single.BitsStored, single.HighBit = original.BitsStored, original.HighBit
    single.PixelRepresentation = original.PixelRepresentation
    single.file_meta = pydicom.dataset.FileMetaDataset()
    single.file_meta.TransferSyntaxUID = syntax
    single.PixelData = encapsulate([codestream])
    return single.pixel_array


@pytest.mark.parametrize(
    "accept", [None, OCTET_ACCEPT, f"{OCTET_ACCEPT}; transfer-syntax={ExplicitVRLittleEndian}"]
)
def test_frames_of_a_volume_are_its_uncompressed_pixels(
    owner: TenantClient, volume: Dataset, accept: str | None
) -> None:
    response, parts = get_frames(owner, volume, "3,1,6,3", accept)
    content_type = response.headers["Content-Type"]
    assert 'type="application/octet-stream"' in content_type
    assert f"transfer-syntax={ExplicitVRLittleEndian}" in content_type
    assert [c for c, _ in parts] == [NATIVE_PART] * 4
    expected = volume.pixel_array
    assert expected.dtype == np.int16 and expected.shape == (VOLUME_FRAMES, 48, 40)
    assert [body for _, body in parts] == [expected[n - 1].tobytes() for n in (3, 1, 6, 3)]
    assert len(parts[0][1]) == 48 * 40 * 2


def test_frames_as_stored_are_the_archived_codestreams(owner: TenantClient, volume: Dataset) -> None:
    [archived] = retrieve(owner, instance_path(volume), AS_STORED)
    assert archived.file_meta.TransferSyntaxUID == HTJ2KLossless
    stored_part = f"application/octet-stream; transfer-syntax={HTJ2KLossless}"
    for accept, part_type in [
        (f"{OCTET_ACCEPT}; transfer-syntax=*", stored_part),
        (f"{OCTET_ACCEPT}; transfer-syntax={HTJ2KLossless}", stored_part),
        ('multipart/related; type="image/jphc"', f"image/jphc; transfer-syntax={HTJ2KLossless}"),
    ]:
        response, parts = get_frames(owner, volume, "2,5", accept)
        assert f'type="{part_type.split(";")[0]}"' in response.headers["Content-Type"]
        assert [c for c, _ in parts] == [part_type] * 2
        for number, (_, codestream) in zip((2, 5), parts, strict=True):
            assert codestream[:4] == b"\xff\x4f\xff\x51"  # a J2K codestream: SOC, SIZ
            assert codestream == get_frame(archived.PixelData, number - 1, number_of_frames=VOLUME_FRAMES)
            decoded = decode_codestream(volume, codestream, HTJ2KLossless)
            assert np.array_equal(decoded, volume.pixel_array[number - 1])


def test_frame_of_a_single_frame_image(owner: TenantClient, stored: Stored) -> None:
    _, [(content_type, body)] = get_frames(owner, stored.panoramic, "1", None)
    assert content_type == NATIVE_PART
    assert body == stored.panoramic.pixel_array.astype("<u2").tobytes()
    _, [(_, codestream)] = get_frames(owner, stored.panoramic, "1", f"{OCTET_ACCEPT}; transfer-syntax=*")
    assert np.array_equal(
        decode_codestream(stored.panoramic, codestream, HTJ2KLossless), stored.panoramic.pixel_array
    )
    body = assert_problem(owner.get(f"{instance_path(stored.panoramic)}/frames/2"), 404)
    assert body["detail"] == "no frame 2: the instance has 1 frame"


@pytest.mark.parametrize("frame_list", ["0", "abc", "1,,2", "-1", "1.5", "2,0", "1;2", "%20", "99999999999"])
def test_malformed_frame_lists_are_400(owner: TenantClient, volume: Dataset, frame_list: str) -> None:
    body = assert_problem(owner.get(f"{instance_path(volume)}/frames/{frame_list}"), 400)
    assert "frame list" in body["detail"]


def test_an_empty_frame_list_is_400(owner: TenantClient, volume: Dataset) -> None:
    assert_problem(owner.get(f"{instance_path(volume)}/frames/"), 400)


def test_frames_beyond_the_volume_are_404(owner: TenantClient, volume: Dataset) -> None:
    body = assert_problem(owner.get(f"{instance_path(volume)}/frames/1,{VOLUME_FRAMES + 1},99,7"), 404)
    assert body["detail"] == f"no frame 7, 99: the instance has {VOLUME_FRAMES} frames"
    assert_problem(
        owner.get(f"/dicomweb/studies/{volume.StudyInstanceUID}/series/1.2.3/instances/1.2.4/frames/1"), 404
    )


@pytest.mark.parametrize(
    "accept",
    [
        DICOM_ACCEPT,
        "image/jpeg",
        "application/octet-stream",
        'multipart/related; type="image/jls"',
        f"{OCTET_ACCEPT}; transfer-syntax={JPEGLSLossless}",
    ],
)
def test_frames_in_other_media_types_are_406(owner: TenantClient, volume: Dataset, accept: str) -> None:
    assert_problem(owner.get(f"{instance_path(volume)}/frames/1", headers={"Accept": accept}), 406)


def test_frame_retrieval_is_audited(owner: TenantClient, volume: Dataset) -> None:
    get_frames(owner, volume, "4,2", f"{OCTET_ACCEPT}; transfer-syntax=*")
    [event] = owner.get("/api/v1/audit-events?action=image.dicomweb_retrieve").get_json()
    assert event["details"]["resource"] == "frames"
    assert event["details"]["frames"] == [4, 2]
    assert event["details"]["transfer_syntax"] == HTJ2KLossless
    assert event["details"]["sop_instance_uid"] == str(volume.SOPInstanceUID)


def test_another_tenant_cannot_read_frames(other_owner: TenantClient, volume: Dataset) -> None:
    assert_problem(other_owner.get(f"{instance_path(volume)}/frames/1"), 404)
    assert_problem(other_owner.get(f"{instance_path(volume)}/frames/99"), 404)


# --- WADO-RS rendered frames ------------------------------------------------------------------------------

SLICES = 12


def store_volume(client: TenantClient, runtime: Runtime, ds: Dataset) -> Dataset:
    response = client.post(
        "/dicomweb/studies", data=multipart(to_bytes(ds)), headers={"Content-Type": STOW_TYPE}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    process_received(runtime, client.tenant_id)
    return ds


@pytest.fixture
def cbct(owner: TenantClient, runtime: Runtime) -> Dataset:
    """A 12-slice CBCT volume with its window preset (in the shared functional groups), stored and archived."""
    ds = make_instance("cbct", patient_id="P-4005", shape=(48, 40), frames=SLICES, seed=9)
    return store_volume(owner, runtime, ds)


@pytest.fixture
def unwindowed(owner: TenantClient, runtime: Runtime) -> Dataset:
    """A 12-slice CBCT volume without any window: the viewer's window is computed from the data."""
    ds = make_instance("cbct", patient_id="P-4006", shape=(48, 40), frames=SLICES, seed=10)
    del ds.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence
    assert needs_auto_window(ds)
    return store_volume(owner, runtime, ds)


def rendered_frame(
    client: TenantClient, ds: Dataset, number: int, accept: str | None = None, **query: str
) -> Any:
    headers = {"Accept": accept} if accept else {}
    response = client.get(
        f"{instance_path(ds)}/frames/{number}/rendered", headers=headers, query_string=query
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"
    return response


def picture(response: Any, fmt: str) -> np.ndarray:
    image = PILImage.open(io.BytesIO(response.get_data()))
    assert image.format == fmt and image.mode == "L"
    return np.asarray(image)


def test_rendered_frame_is_the_slice_windowed_like_the_renditions(owner: TenantClient, cbct: Dataset) -> None:
    pixels = stored_frames(cbct)
    volume_lookup = greyscale_lookup(cbct, pixels)
    assert volume_lookup is not None
    shown = {}
    for number in (1, 5, SLICES):
        response = rendered_frame(owner, cbct, number)
        assert response.mimetype == "image/jpeg"
        shown[number] = picture(response, "JPEG")
        expected = volume_lookup(pixels[0][number - 1])
        assert shown[number].shape == (48, 40)
        # q90 on a 48 x 40 synthetic slice with hard edges keeps 38.6-43.9 dB
        assert psnr(expected, shown[number]) >= 37.0
        # PNG is lossless: exactly the slice through the volume's table
        assert np.array_equal(picture(rendered_frame(owner, cbct, number, "image/png"), "PNG"), expected)
    # each is its own slice, not the same picture sent for every number
    assert psnr(shown[1], shown[5]) < 30.0
    assert psnr(volume_lookup(pixels[0][0]), shown[5]) < 30.0


def test_every_slice_has_the_same_automatic_window(owner: TenantClient, unwindowed: Dataset) -> None:
    pixels, photometric = stored_frames(unwindowed)
    assert window_sample(SLICES) == [0, 2, 3, 5, 6, 8, 9, 11]
    assert window_sample(5) == [0, 1, 2, 3, 4]
    shared = greyscale_lookup(unwindowed, (pixels[window_sample(SLICES)], photometric))
    assert shared is not None
    for number in (1, 4, SLICES):
        # PNG is lossless: the picture is exactly the slice through the one shared table
        shown = picture(rendered_frame(owner, unwindowed, number, "image/png"), "PNG")
        assert np.array_equal(shown, shared(pixels[number - 1]))
    # a window computed from each slice alone would differ (so the test above can tell)
    own = greyscale_lookup(unwindowed, (pixels[:1], photometric))
    assert own is not None and not np.array_equal(own(pixels[0]), shared(pixels[0]))
    # the stored full rendition (the middle slice, made by the processing job) has that same window
    middle = SLICES // 2
    full = picture(owner.get(f"{instance_path(unwindowed)}/rendered?viewport=40,48"), "JPEG")
    assert full.shape == (48, 40)
    assert psnr(shared(pixels[middle]), full) >= 37.0
    assert psnr(own(pixels[middle]), full) < psnr(shared(pixels[middle]), full)


def test_rendered_frame_viewport_downsizes(owner: TenantClient, cbct: Dataset) -> None:
    assert picture(rendered_frame(owner, cbct, 3, viewport="20,20"), "JPEG").shape == (20, 17)
    assert picture(rendered_frame(owner, cbct, 3, viewport="40,24"), "JPEG").shape == (24, 20)
    assert picture(rendered_frame(owner, cbct, 3, viewport="400,400"), "JPEG").shape == (48, 40)
    assert picture(rendered_frame(owner, cbct, 3, viewport="20,"), "JPEG").shape == (24, 20)
    assert_problem(owner.get(f"{instance_path(cbct)}/frames/3/rendered?viewport=big"), 400)


def test_rendered_frame_errors(owner: TenantClient, cbct: Dataset, stored: Stored) -> None:
    path = instance_path(cbct)
    body = assert_problem(owner.get(f"{path}/frames/{SLICES + 1}/rendered"), 404)
    assert body["detail"] == f"no frame {SLICES + 1}: the instance has {SLICES} frames"
    assert_problem(owner.get(f"{instance_path(stored.panoramic)}/frames/2/rendered"), 404)
    assert_problem(
        owner.get(
            f"/dicomweb/studies/{cbct.StudyInstanceUID}/series/1.2.3/instances/1.2.4/frames/1/rendered"
        ),
        404,
    )
    for bad in ("0", "abc", "1,2", "-1", "1.5", "99999999999", "%20"):
        body = assert_problem(owner.get(f"{path}/frames/{bad}/rendered"), 400)
        assert "frame number" in body["detail"]
    for accept in ("image/gif", "application/dicom", DICOM_ACCEPT, "image/webp"):
        assert_problem(owner.get(f"{path}/frames/1/rendered", headers={"Accept": accept}), 406)
    assert rendered_frame(owner, cbct, 1, "image/*").mimetype == "image/jpeg"
    assert rendered_frame(owner, cbct, 1, "image/png, image/jpeg;q=0.5").mimetype == "image/png"
    single = picture(rendered_frame(owner, stored.panoramic, 1), "JPEG")
    assert single.shape == (stored.panoramic.Rows, stored.panoramic.Columns)


def test_rendered_frames_are_audited_and_tenant_scoped(
    app: Any, owner: TenantClient, other_owner: TenantClient, cbct: Dataset
) -> None:
    rendered_frame(owner, cbct, 7)
    [event] = owner.get("/api/v1/audit-events?action=image.dicomweb_retrieve").get_json()
    assert event["details"]["resource"] == "rendered_frame"
    assert event["details"]["frame"] == 7
    assert event["details"]["sop_instance_uid"] == str(cbct.SOPInstanceUID)
    assert_problem(other_owner.get(f"{instance_path(cbct)}/frames/1/rendered"), 404)
    assert_problem(other_owner.get(f"{instance_path(cbct)}/frames/99/rendered"), 404)
    assert_problem(app.test_client().get(f"{instance_path(cbct)}/frames/1/rendered"), 401)


# --- tenancy and authentication ---------------------------------------------------------------------------


def test_another_tenant_sees_nothing(other_owner: TenantClient, stored: Stored) -> None:
    assert search(other_owner, "/dicomweb/studies") == []
    assert search(other_owner, "/dicomweb/instances", PatientID="P-1001") == []
    path = instance_path(stored.bitewing)
    for url in (
        path,
        f"{path}/metadata",
        f"{path}/rendered",
        f"{path}/thumbnail",
        f"{path}/frames/1",
        f"/dicomweb/studies/{stored.bitewing.StudyInstanceUID}",
        f"/dicomweb/studies/{stored.bitewing.StudyInstanceUID}/series",
    ):
        assert_problem(other_owner.get(url), 404)


def test_no_token_is_401(app: Any, stored: Stored) -> None:
    client = app.test_client()
    for response in (
        client.get("/dicomweb/studies"),
        client.get(instance_path(stored.bitewing)),
        client.get(f"{instance_path(stored.bitewing)}/frames/1"),
        client.post("/dicomweb/studies", data=multipart(b"x"), headers={"Content-Type": STOW_TYPE}),
        client.get("/dicomweb/studies", headers={"Authorization": "Bearer not-a-token"}),
    ):
        body = assert_problem(response, 401)
        assert body["title"] == "Unauthorized"


def test_front_desk_may_search_and_view_but_not_download(
    tenant_client_factory: Any, owner: TenantClient, stored: Stored
) -> None:
    from bitewing.core.accounts.models import Role

    desk = tenant_client_factory(role=Role.FRONT_DESK, tenant=(owner.tenant_id, owner.slug))
    assert len(search(desk, "/dicomweb/studies")) == 2
    assert jpeg_size(desk.get(f"{instance_path(stored.bitewing)}/thumbnail"))
    assert_problem(desk.get(instance_path(stored.bitewing)), 403)
    assert_problem(desk.get(f"{instance_path(stored.bitewing)}/frames/1"), 403)
    assert jpeg_size(desk.get(f"{instance_path(stored.bitewing)}/frames/1/rendered")) == (520, 400)


# --- STOW-RS failures -------------------------------------------------------------------------------------


def test_stow_of_garbage_is_409_and_listed_among_ingest_errors(owner: TenantClient) -> None:
    response = owner.post(
        "/dicomweb/studies", data=multipart(b"this is not DICOM" * 20), headers={"Content-Type": STOW_TYPE}
    )
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/dicom+json"
    body = response.get_json()
    assert REFERENCED_SOP_SEQUENCE not in body
    [failed] = body[FAILED_SOP_SEQUENCE]["Value"]
    assert failed[FAILURE_REASON] == {"vr": "US", "Value": [0xC000]}
    assert failed["00081155"] == {"vr": "UI"}  # the instance UID is unknown
    rejected = owner.get("/api/v1/ingest?status=rejected").get_json()
    assert [(r["source"], r["error_reason"]) for r in rejected] == [("stow", "not_dicom")]


def test_stow_with_some_failures_is_202(owner: TenantClient, runtime: Runtime) -> None:
    good = make_instance("periapical", shape=(64, 48), seed=4)
    no_pixels = make_instance("periapical", shape=(64, 48), seed=5)
    del no_pixels.PixelData
    response = owner.post(
        "/dicomweb/studies",
        data=multipart(to_bytes(good), to_bytes(no_pixels)),
        headers={"Content-Type": STOW_TYPE},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert value(body[REFERENCED_SOP_SEQUENCE]["Value"][0], "00081155") == str(good.SOPInstanceUID)
    [failed] = body[FAILED_SOP_SEQUENCE]["Value"]
    assert value(failed, "00081155") == str(no_pixels.SOPInstanceUID)
    assert value(failed, FAILURE_REASON) == 0xA900
    process_received(runtime, owner.tenant_id)


def test_stow_to_a_study_refuses_instances_of_other_studies(owner: TenantClient) -> None:
    ds = make_instance("periapical", shape=(64, 48), seed=6)
    response = owner.post(
        "/dicomweb/studies/1.2.826.0.1.99", data=multipart(to_bytes(ds)), headers={"Content-Type": STOW_TYPE}
    )
    assert response.status_code == 409
    assert value(response.get_json()[FAILED_SOP_SEQUENCE]["Value"][0], FAILURE_REASON) == 0xA900
    assert owner.get("/api/v1/ingest").get_json() == []


def test_stow_of_a_duplicate_is_a_success(owner: TenantClient, runtime: Runtime) -> None:
    data = to_bytes(make_instance("periapical", shape=(64, 48), seed=7))
    for _ in range(2):
        response = owner.post("/dicomweb/studies", data=multipart(data), headers={"Content-Type": STOW_TYPE})
        assert response.status_code == 200
    process_received(runtime, owner.tenant_id)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/dicom",
        f'multipart/related; type="application/dicom+json"; boundary="{BOUNDARY}"',
        "multipart/form-data; boundary=x",
    ],
)
def test_stow_of_other_media_types_is_415(owner: TenantClient, content_type: str) -> None:
    response = owner.post("/dicomweb/studies", data=multipart(b"{}"), headers={"Content-Type": content_type})
    assert_problem(response, 415)


def test_stow_of_a_broken_body_is_400(owner: TenantClient) -> None:
    truncated = multipart(b"abc")[:-30]
    response = owner.post("/dicomweb/studies", data=truncated, headers={"Content-Type": STOW_TYPE})
    assert_problem(response, 400)
    response = owner.post("/dicomweb/studies", data=b"", headers={"Content-Type": STOW_TYPE})
    assert_problem(response, 400)


def test_stow_enforces_the_size_limit(
    owner: TenantClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_overrides(max_upload_mb=1))
    big = multipart(b"\0" * (1024 * 1024 + 10))
    response = owner.post("/dicomweb/studies", data=big, headers={"Content-Type": STOW_TYPE})
    assert_problem(response, 413)


# --- pure helpers -----------------------------------------------------------------------------------------


def _reader(data: bytes, size: int) -> Any:
    stream = io.BytesIO(data)
    return lambda _n: stream.read(size)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 4096])
def test_multipart_parser_handles_any_chunking_and_framing(chunk: int) -> None:
    bodies = [b"first\r\n--not-the-boundary", b"", b"x" * 300]
    body = b"preamble\r\n" + multipart(*bodies) + b"epilogue"
    parts = list(iter_parts(_reader(body, chunk), BOUNDARY, max_part_bytes=1000))
    assert [p.body for p in parts] == bodies
    assert all(p.content_type and p.content_type.type == "application/dicom" for p in parts)
    # dicomweb-client's framing: CRLF before the first boundary, no CRLF after the last
    framed = b"".join(
        b"\r\n--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + b for b in bodies
    )
    framed += b"\r\n--" + BOUNDARY.encode() + b"--"
    assert [p.body for p in iter_parts(_reader(framed, chunk), BOUNDARY, max_part_bytes=1000)] == bodies


def test_multipart_parser_limits_and_errors() -> None:
    with pytest.raises(PartTooLarge):
        list(iter_parts(_reader(multipart(b"x" * 2000), 100), BOUNDARY, max_part_bytes=1000))
    with pytest.raises(MultipartError):
        list(iter_parts(_reader(b"no boundary here", 100), BOUNDARY, max_part_bytes=1000))
    with pytest.raises(MultipartError):
        list(iter_parts(_reader(multipart(b"x")[:-20], 100), BOUNDARY, max_part_bytes=1000))


def test_accept_negotiation() -> None:
    assert [m.type for m in parse_accept("image/png;q=0.2, image/jpeg")] == ["image/jpeg", "image/png"]
    assert negotiate_dicom(None, {"1.2.3"}) == str(ExplicitVRLittleEndian)
    assert negotiate_dicom(f"{DICOM_ACCEPT}; transfer-syntax=1.2.3", {"1.2.3"}) == "1.2.3"
    with pytest.raises(NotAcceptable):
        negotiate_dicom(f"{DICOM_ACCEPT}; transfer-syntax=1.2.3", {"1.2.3", "1.2.4"})
    with pytest.raises(NotAcceptable):
        negotiate_dicom('multipart/related; type="application/octet-stream"', {"1.2.3"})


@dataclass
class _R:
    name: str
    width: int
    height: int
    content_type: str = "image/jpeg"


def test_rendition_choice() -> None:
    renditions = [_R("full", 2000, 1000), _R("thumbnail", 200, 100, "image/webp"), _R("preview", 800, 400)]
    assert choose_rendition(renditions, None, smallest=True).name == "thumbnail"
    assert choose_rendition(renditions, None, smallest=False).name == "full"
    assert choose_rendition(renditions, (300, 100), smallest=False).name == "preview"
    assert choose_rendition(renditions, (200, 100), smallest=False).name == "thumbnail"
    assert choose_rendition(renditions, (3000, 10), smallest=True).name == "full"
    assert choose_rendition([], None, smallest=True) is None


def test_image_negotiation_follows_the_clients_then_the_servers_preference() -> None:
    offered = ["image/webp", "image/jpeg", "image/png"]
    assert negotiate_image(None, offered) == "image/webp"
    assert negotiate_image("image/*", offered) == "image/webp"
    assert negotiate_image("image/png, image/jpeg", offered) == "image/png"
    assert negotiate_image("image/webp;q=0.1, image/jpeg", offered) == "image/jpeg"
    with pytest.raises(NotAcceptable):
        negotiate_image("image/avif, application/json", offered)


@pytest.mark.parametrize(
    ("kind", "source_syntax", "target"),
    [
        ("cbct", ExplicitVRLittleEndian, ExplicitVRLittleEndian),
        ("cbct", ExplicitVRLittleEndian, ImplicitVRLittleEndian),
        ("bitewing", JPEGLSLossless, ExplicitVRLittleEndian),
        ("bitewing", RLELossless, ImplicitVRLittleEndian),
        ("periapical", JPEGExtended12Bit, ExplicitVRLittleEndian),
    ],
)
def test_native_transcoding_is_frame_by_frame_and_exact(kind: Any, source_syntax: str, target: str) -> None:
    """Multi-frame signed volumes, lossless and lossy sources: the native copy holds the decoded values."""
    ds = make_instance(
        kind,
        shape=(40, 36),
        frames=5 if kind == "cbct" else None,
        transfer_syntax=source_syntax,
    )
    stored = to_bytes(ds)
    if kind == "cbct":
        stored, syntax = lossless_archive(ds)
        assert syntax == HTJ2KLossless
    expected = pydicom.dcmread(io.BytesIO(stored)).pixel_array
    chunks = list(native_part10(io.BytesIO(stored), str(target)))
    assert len(chunks) >= (
        2 + 5 if kind == "cbct" else 3
    )  # header, pixel element header, one chunk per frame
    out = pydicom.dcmread(io.BytesIO(b"".join(chunks)))
    assert out.file_meta.TransferSyntaxUID == target
    assert "LossyImageCompression" not in ds or out.LossyImageCompression == ds.LossyImageCompression
    assert np.array_equal(out.pixel_array, expected)


def test_frame_lists_and_frame_negotiation() -> None:
    assert parse_frame_list("3") == [3]
    assert parse_frame_list("5, 1,5") == [5, 1, 5]
    for bad in ("", "0", "x", "1,", "+1", "\u0661"):
        with pytest.raises(ValueError, match="frame list"):
            parse_frame_list(bad)
    htj2k, native = str(HTJ2KLossless), FrameFormat("application/octet-stream", NATIVE_SYNTAX)
    assert negotiate_frames(None, htj2k) == native
    assert negotiate_frames('multipart/related; type="*/*"', htj2k) == native
    assert negotiate_frames(f"{OCTET_ACCEPT}; transfer-syntax=*", htj2k) == FrameFormat(
        "application/octet-stream", htj2k
    )
    assert negotiate_frames(f"{OCTET_ACCEPT}; transfer-syntax=*", str(ExplicitVRLittleEndian)) == native
    assert negotiate_frames('multipart/related; type="image/*"', htj2k) == FrameFormat("image/jphc", htj2k)
    preferred = (
        f'multipart/related; type="image/jls", {OCTET_ACCEPT}; q=0.5, multipart/related; type="image/jphc"'
    )
    assert negotiate_frames(preferred, htj2k) == FrameFormat("image/jphc", htj2k)
    assert (
        negotiate_frames('multipart/related; type="image/jls"', str(JPEGLSLossless)).media_type == "image/jls"
    )
    with pytest.raises(NotAcceptable):
        negotiate_frames('multipart/related; type="image/jphc"', str(ExplicitVRLittleEndian))
    with pytest.raises(NotAcceptable):
        negotiate_frames(f"{OCTET_ACCEPT}; transfer-syntax={JPEGLSLossless}", htj2k)


class CountingStream(io.RawIOBase):
    """A forward-only stream (like an S3 body) that counts the bytes it hands out."""

    def __init__(self, data: bytes) -> None:
        self._source = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        chunk = self._source.read(len(target))
        target[: len(chunk)] = chunk
        self.read_bytes += len(chunk)
        return len(chunk)


@pytest.mark.parametrize(
    "source_syntax",
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGLSLossless, RLELossless, HTJ2KLossless],
)
@pytest.mark.parametrize("forward_only", [False, True])
def test_frames_are_read_one_at_a_time(source_syntax: str, forward_only: bool) -> None:
    """Each requested frame, decoded or as stored, from seekable files and forward-only streams; reading
    the first frames of a volume does not read the rest of it."""
    ds = make_instance("cbct", shape=(128, 128), frames=48, seed=9)
    if source_syntax == HTJ2KLossless:
        data, syntax = lossless_archive(ds)
        assert syntax == HTJ2KLossless
    else:
        data = to_bytes(
            make_instance("cbct", shape=(128, 128), frames=48, seed=9, transfer_syntax=source_syntax)
        )
    expected = pydicom.dcmread(io.BytesIO(data)).pixel_array

    def open_stream() -> Any:
        return CountingStream(data) if forward_only else io.BytesIO(data)

    stream = open_stream()
    native = list(read_frames(stream, [1, 0, 1], NATIVE_SYNTAX))
    assert native == [expected[i].astype("<i2").tobytes() for i in (1, 0, 1)]
    if forward_only:
        assert stream.read_bytes < len(data) / 4
    if UID(source_syntax).is_encapsulated:
        stream = open_stream()
        codestreams = list(read_frames(stream, [3, 2], str(source_syntax)))
        if forward_only:
            assert stream.read_bytes < len(data) / 4
        archived = pydicom.dcmread(io.BytesIO(data))
        assert codestreams == [get_frame(archived.PixelData, i, number_of_frames=48) for i in (3, 2)]
        assert np.array_equal(decode_codestream(ds, codestreams[0], str(source_syntax)), expected[3])


def test_headers_are_read_from_forward_only_streams() -> None:
    """Metadata from a store whose objects cannot seek (S3) reads the header only."""
    data = to_bytes(make_instance("cbct", shape=(128, 128), frames=48, seed=9))
    stream = CountingStream(data)
    ds = read_dataset(stream, header_only=True)
    assert ds.NumberOfFrames == 48 and "PixelData" not in ds
    assert stream.read_bytes < len(data) / 4
