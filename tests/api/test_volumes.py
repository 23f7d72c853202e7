"""A CBCT that arrives as one CT instance per slice is listed once, drawn as a volume, once it is quiet."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from PIL import Image as PILImage

from bitewing.core.imaging import synthetic
from bitewing.core.imaging.volume import MIN_VOLUME_SLICES
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.ingest.volumes import requeue_volumes
from tests.api.imaging_helpers import register_patient

AMELIA = {"patient_id": "CH-1", "patient_name": "Chen^Amelia", "birth_date": "19860314"}


def _send(runtime: Any, tenant_id: Any, slices: list[Any]) -> None:
    for ds in slices:
        receive_instance(runtime, tenant_id, synthetic.to_bytes(ds), Origin(IngestSource.CSTORE))
    runtime.jobs.drain()


def _listed(owner: Any, patient_id: str) -> list[dict[str, Any]]:
    return owner.get(f"/api/v1/patients/{patient_id}/images?page_size=100").get_json()


def _preview(owner: Any, image_id: str) -> PILImage.Image:
    renditions = owner.get(f"/api/v1/images/{image_id}").get_json()["renditions"]
    url = next(r["url"] for r in renditions if r["name"] == "preview")
    return PILImage.open(io.BytesIO(owner.client.get(url).get_data()))


def _assemble(runtime: Any, owner: Any) -> int:
    queued = requeue_volumes(runtime, timedelta(0), tenant_ids=[owner.tenant_id])
    runtime.jobs.drain()
    return queued


def test_a_cbct_sent_slice_by_slice_is_listed_once_with_its_three_planes(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    slices = synthetic.make_cbct_slices(14, shape=(96, 80), **AMELIA)
    _send(runtime, owner.tenant_id, slices[1:12:2] + slices[0:12:2])  # out of order, two held back
    assert len(_listed(owner, patient["id"])) == 12
    assert requeue_volumes(runtime, timedelta(minutes=5), tenant_ids=[owner.tenant_id]) == 0  # not quiet yet

    assert _assemble(runtime, owner) == 1
    (volume,) = _listed(owner, patient["id"])
    assert (volume["image_type"], volume["volume_slices"]) == ("cbct", 12)
    assert volume["sop_instance_uid"] == str(slices[6].SOPInstanceUID)  # the middle slice by position
    (thumbnail,) = volume["renditions"]
    assert (thumbnail["width"], thumbnail["height"]) == (200, 75)  # 80 + 80 + 96 wide, 96 high, fitted
    shown = PILImage.open(io.BytesIO(owner.client.get(thumbnail["url"]).get_data()))
    assert shown.size == (200, 75)
    detail = owner.get(f"/api/v1/images/{volume['id']}").get_json()
    sizes = {r["name"]: (r["width"], r["height"]) for r in detail["renditions"]}
    assert sizes == {"thumbnail": (200, 75), "preview": (256, 96), "full": (80, 96)}
    twelve = _preview(owner, volume["id"])
    assert _assemble(runtime, owner) == 0  # nothing new to draw

    _send(runtime, owner.tenant_id, slices[12:])  # late slices join the same volume
    assert _assemble(runtime, owner) == 1
    (again,) = _listed(owner, patient["id"])
    assert (again["id"], again["volume_slices"]) == (volume["id"], 14)
    fourteen = _preview(owner, volume["id"])
    assert fourteen.size == twelve.size == (256, 96)
    assert fourteen.tobytes() != twelve.tobytes()  # redrawn with the late slices


def test_a_few_ct_slices_stay_listed_one_by_one(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    _send(
        runtime, owner.tenant_id, synthetic.make_cbct_slices(MIN_VOLUME_SLICES - 1, shape=(48, 40), **AMELIA)
    )
    assert _assemble(runtime, owner) == 0
    listed = _listed(owner, patient["id"])
    assert len(listed) == MIN_VOLUME_SLICES - 1
    assert all(i["volume_slices"] is None for i in listed)


def test_slices_that_make_no_volume_stay_listed_and_are_not_tried_again(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    slices = synthetic.make_cbct_slices(MIN_VOLUME_SLICES, shape=(48, 40), **AMELIA)
    slices[2].RescaleIntercept = -1024  # one slice rescaled differently: no common window
    _send(runtime, owner.tenant_id, slices)
    assert _assemble(runtime, owner) == 1
    listed = _listed(owner, patient["id"])
    assert len(listed) == MIN_VOLUME_SLICES
    assert {i["volume_slices"] for i in listed} == {0}
    assert _assemble(runtime, owner) == 0
