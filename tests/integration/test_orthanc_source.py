"""An Orthanc that practices' machines already send to acts as a source: Bitewing pulls its new instances."""

from __future__ import annotations

import uuid
from typing import Any

from bitewing.core.imaging import synthetic
from bitewing.core.ingest.sources import MIN_POLL_INTERVAL, poll_source
from bitewing.core.jobs.sweep import sweep_once
from bitewing.core.routing.models import Target
from tests.api.imaging_helpers import register_patient


def test_new_instances_in_an_orthanc_source_are_pulled_once_and_not_sent_back(
    owner: Any, runtime: Any, orthanc_factory: Any
) -> None:
    orthanc = orthanc_factory(aet="SOURCE")
    patient = register_patient(owner)
    clinic = owner.post("/api/v1/locations", json={"name": "Source clinic"}).get_json()
    config = {"url": orthanc.url, "username": orthanc.username, "password": orthanc.password}
    source = owner.post(
        "/api/v1/targets",
        json={
            "name": "clinic orthanc",
            "connector_type": "orthanc",
            "region": "US",
            "config": config,
            "poll_source": True,
            "source_location_id": clinic["id"],
        },
    ).get_json()
    owner.post("/api/v1/routing-rules", json={"name": "all", "actions": [{"target_id": source["id"]}]})
    for seed in range(2):
        ds = synthetic.make_instance(
            "bitewing",
            seed=seed,
            shape=(256, 256),
            patient_id="CH-1",
            patient_name="Chen^Amelia",
            birth_date="19860314",
        )
        orthanc.upload(synthetic.to_bytes(ds))

    assert sweep_once(runtime).polls == 1
    runtime.jobs.drain()

    images = owner.get(f"/api/v1/patients/{patient['id']}/images").get_json()
    assert len(images) == 2
    records = owner.get("/api/v1/ingest").get_json()
    assert {(r["source"], r["location_id"]) for r in records} == {("orthanc", clinic["id"])}
    assert owner.get("/api/v1/deliveries").get_json() == []
    assert orthanc.count_instances() == 2
    pulled = owner.get(f"/api/v1/targets/{source['id']}").get_json()
    assert pulled["last_poll_error"] is None

    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        target = uow.session.get(Target, uuid.UUID(source["id"]))
        target.last_polled_at = target.last_polled_at - MIN_POLL_INTERVAL * 2
        uow.commit()
    assert poll_source(runtime, tenant_id=str(owner.tenant_id), target_id=source["id"]) == 0, (
        "cursor advanced"
    )
