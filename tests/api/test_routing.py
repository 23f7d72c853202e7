"""Targets, routing rules, residency, dry runs and deliveries through a third-party (test) connector."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from bitewing_test_plugin.connector import MemoryVna

from bitewing.core.deliveries.services import deliver, requeue_due_deliveries
from bitewing.core.images.models import Image
from tests.api.helpers import assert_problem
from tests.api.imaging_helpers import register_patient, send

AMELIA = {"patient_id": "CH-1", "patient_name": "Chen^Amelia", "birth_date": "19860314"}


@pytest.fixture(autouse=True)
def _empty_vnas() -> None:
    MemoryVna.stored.clear()
    MemoryVna.failures.clear()
    MemoryVna.store_calls.clear()


@pytest.fixture
def fast_retries(runtime: Any) -> None:
    runtime.settings = dataclasses.replace(
        runtime.settings, delivery_backoff_seconds=0, delivery_max_attempts=3
    )


def target(client: Any, name: str | None = None, region: str = "US", **config: Any) -> dict[str, Any]:
    vna = name or f"vna-{uuid.uuid4().hex[:6]}"
    body = {"name": vna, "connector_type": "memory", "region": region, "config": {"vna": vna, **config}}
    response = client.post("/api/v1/targets", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rule(client: Any, name: str, targets: list[tuple[dict[str, Any], str]], **fields: Any) -> dict[str, Any]:
    actions = [{"target_id": t["id"], "role": role} for t, role in targets]
    response = client.post("/api/v1/routing-rules", json={"name": name, "actions": actions, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def location(client: Any, name: str, storage: str = "cloud") -> dict[str, Any]:
    return client.post("/api/v1/locations", json={"name": name, "storage_preference": storage}).get_json()


def held_by(vna: dict[str, Any]) -> set[str]:
    return set(MemoryVna.stored.get(vna["config"]["vna"], {}))


def test_connector_types_are_listed_with_their_configuration_fields(owner: Any) -> None:
    types = {t["name"]: t for t in owner.get("/api/v1/connector-types").get_json()}
    assert types["memory"]["secret_fields"] == ["api_key"]
    assert "vna" in types["memory"]["config_fields"]


def test_target_configuration_is_validated_and_secrets_never_returned(owner: Any, runtime: Any) -> None:
    body = assert_problem(
        owner.post(
            "/api/v1/targets",
            json={"name": "x", "connector_type": "memory", "region": "US", "config": {"nope": 1}},
        ),
        422,
    )
    assert set(body["errors"]["config"]) == {"nope", "vna"}
    body = assert_problem(
        owner.post(
            "/api/v1/targets", json={"name": "x", "connector_type": "pacsnet", "region": "US", "config": {}}
        ),
        422,
    )
    assert "memory" in body["errors"]["connector_type"][0]
    created = target(owner, api_key="s3cr3t-key")
    assert "api_key" not in created["config"]
    assert "s3cr3t" not in owner.get(f"/api/v1/targets/{created['id']}").get_data(as_text=True)
    from bitewing.core.routing.models import Target

    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        stored = uow.session.get(Target, uuid.UUID(created["id"]))
        assert "s3cr3t" not in (stored.secrets or "")
        assert stored.secrets
    renamed = owner.patch(f"/api/v1/targets/{created['id']}", json={"config": {"fail_times": 1}}).get_json()
    assert renamed["config"]["vna"] == created["config"]["vna"]
    test = owner.post(f"/api/v1/targets/{created['id']}/test").get_json()
    assert test["ok"] is True
    assert test["steps"]


def test_rules_refuse_unknown_and_foreign_targets(owner: Any, other_owner: Any) -> None:
    theirs = target(other_owner)
    body = assert_problem(
        owner.post("/api/v1/routing-rules", json={"name": "r", "actions": [{"target_id": theirs["id"]}]}), 404
    )
    assert body["errors"]["actions"]["0"]["target_id"] == ["no such target in this practice"]
    body = assert_problem(
        owner.post(
            "/api/v1/routing-rules", json={"name": "r", "actions": [{"target_id": str(uuid.uuid4())}]}
        ),
        404,
    )
    assert "actions" in body["errors"]
    mine = target(owner)
    body = assert_problem(
        owner.post(
            "/api/v1/routing-rules",
            json={
                "name": "r",
                "actions": [{"target_id": mine["id"]}],
                "conditions": {"dicom": [{"keyword": "PatientName", "pattern": "X*"}]},
            },
        ),
        422,
    )
    assert "keyword" in body["errors"]["conditions"]["dicom"]["0"]
    assert owner.get("/api/v1/routing-rules").get_json() == []


def test_data_residency_needs_an_audited_override(owner: Any) -> None:
    canada = target(owner, region="CA")
    body = assert_problem(
        owner.post(
            "/api/v1/routing-rules", json={"name": "to canada", "actions": [{"target_id": canada["id"]}]}
        ),
        422,
    )
    assert "outside the practice's region" in body["errors"]["actions"]["0"]["target_id"][0]
    assert_problem(
        owner.request("PUT", f"/api/v1/targets/{canada['id']}/residency-override", json={"reason": "short"}),
        422,
    )
    reason = "Signed data-processing agreement with the Canadian archive, 2026-11"
    response = owner.request(
        "PUT", f"/api/v1/targets/{canada['id']}/residency-override", json={"reason": reason}
    )
    assert response.get_json()["residency_override"] == "recorded"
    rule(owner, "to canada", [(canada, "primary")])
    audit = owner.get("/api/v1/audit-events?action=target.residency_override").get_json()
    assert audit[0]["details"]["reason"] == reason


def test_location_based_routing(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    clinic_a, clinic_b = location(owner, "Location A", "on_premise"), location(owner, "Location B", "cloud")
    on_prem, cloud = target(owner, "onprem-orthanc"), target(owner, "cloud-vna")
    rule(owner, "A on premise", [(on_prem, "primary")], conditions={"location_ids": [clinic_a["id"]]})
    rule(owner, "B in the cloud", [(cloud, "primary")], conditions={"location_ids": [clinic_b["id"]]})
    a = send(runtime, owner.tenant_id, location_id=clinic_a["id"], seed=1, **AMELIA)
    b = send(runtime, owner.tenant_id, location_id=clinic_b["id"], seed=2, **AMELIA)
    assert held_by(on_prem) == {a.sop_instance_uid}
    assert held_by(cloud) == {b.sop_instance_uid}


def test_primary_and_backup_fan_out_and_cbct_to_premium(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    main, backup, premium = target(owner, "main"), target(owner, "backup"), target(owner, "premium")
    rule(
        owner,
        "CBCT to premium",
        [(premium, "primary"), (backup, "backup")],
        conditions={"image_types": ["cbct"]},
    )
    rule(owner, "everything", [(main, "primary"), (backup, "backup")], is_default=True)
    intraoral = send(runtime, owner.tenant_id, "intraoral", **AMELIA)
    cbct = send(runtime, owner.tenant_id, "cbct", **AMELIA)
    assert held_by(main) == {intraoral.sop_instance_uid}
    assert held_by(premium) == {cbct.sop_instance_uid}
    assert held_by(backup) == {intraoral.sop_instance_uid, cbct.sop_instance_uid}
    deliveries = owner.get(f"/api/v1/deliveries?image_id={_image_id(owner, cbct.ingest_id)}").get_json()
    assert sorted((d["role"], d["state"]) for d in deliveries) == [
        ("backup", "delivered"),
        ("primary", "delivered"),
    ]


def _image_id(client: Any, ingest_id: Any) -> str:
    records = client.get("/api/v1/ingest?page_size=100").get_json()
    return next(r["image_id"] for r in records if r["id"] == str(ingest_id))


def test_patient_location_and_dicom_attribute_conditions(owner: Any, runtime: Any) -> None:
    north = location(owner, "North")
    register_patient(owner, primary_location_id=north["id"])
    vendor, north_vna, other = target(owner, "vendor"), target(owner, "north"), target(owner, "other")
    rule(
        owner,
        "vendor",
        [(vendor, "primary")],
        conditions={"dicom": [{"keyword": "Manufacturer", "pattern": "nobody*"}]},
    )
    rule(
        owner,
        "north patients",
        [(north_vna, "primary")],
        conditions={"patient_primary_location_ids": [north["id"]]},
    )
    rule(owner, "rest", [(other, "primary")], is_default=True)
    sent = send(runtime, owner.tenant_id, **AMELIA)
    assert held_by(north_vna) == {sent.sop_instance_uid}
    assert held_by(vendor) == held_by(other) == set()


def test_a_rule_on_the_devices_dicom_attributes_routes_its_images(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    vendor, other = target(owner, "vendor"), target(owner, "other")
    rule(
        owner,
        "synthetic sensors",
        [(vendor, "primary")],
        conditions={"dicom": [{"keyword": "Manufacturer", "pattern": "Bitewing Synth*"}]},
    )
    rule(owner, "rest", [(other, "primary")], is_default=True)
    sent = send(runtime, owner.tenant_id, **AMELIA)
    assert held_by(vendor) == {sent.sop_instance_uid}
    assert held_by(other) == set()


def test_dry_run_sends_nothing(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    sent = send(runtime, owner.tenant_id, **AMELIA)
    image_id = _image_id(owner, sent.ingest_id)
    vna = target(owner, "later")
    rule(owner, "all", [(vna, "primary")])
    (result,) = owner.get(f"/api/v1/routing/dry-run?image_id={image_id}").get_json()
    assert [(r["target_name"], r["rule_name"], r["refused"]) for r in result["routes"]] == [
        ("later", "all", None)
    ]
    assert len(owner.get("/api/v1/routing/dry-run?last=5").get_json()) == 1
    assert held_by(vna) == set()
    assert owner.get(f"/api/v1/deliveries?image_id={image_id}").get_json() == []


@pytest.mark.usefixtures("fast_retries")
def test_an_unreachable_vna_is_retried_until_it_answers(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    flaky = target(owner, "flaky", fail_times=2)
    rule(owner, "all", [(flaky, "primary")])
    sent = send(runtime, owner.tenant_id, **AMELIA)
    (delivery,) = owner.get("/api/v1/deliveries").get_json()
    assert (delivery["state"], delivery["attempts"]) == ("retrying", 1)
    assert "down" in delivery["last_error"]
    for _ in range(2):
        assert requeue_due_deliveries(runtime, tenant_ids=[owner.tenant_id]) == 1
        runtime.jobs.drain()
    (delivery,) = owner.get("/api/v1/deliveries").get_json()
    assert (delivery["state"], delivery["attempts"]) == ("delivered", 3)
    assert held_by(flaky) == {sent.sop_instance_uid}
    assert requeue_due_deliveries(runtime, tenant_ids=[owner.tenant_id]) == 0


@pytest.mark.usefixtures("fast_retries")
def test_permanent_failures_and_exhausted_retries_are_dead_letters_that_can_be_retried(
    owner: Any, runtime: Any
) -> None:
    register_patient(owner)
    refusing = target(owner, "refusing", permanent_failure=True)
    down = target(owner, "down", fail_times=10)
    rule(owner, "all", [(refusing, "primary"), (down, "backup")])
    send(runtime, owner.tenant_id, **AMELIA)
    for _ in range(3):
        requeue_due_deliveries(runtime, tenant_ids=[owner.tenant_id])
        runtime.jobs.drain()
    states = {d["target_id"]: d for d in owner.get("/api/v1/deliveries").get_json()}
    assert (states[refusing["id"]]["state"], states[refusing["id"]]["attempts"]) == ("dead", 1)
    assert (states[down["id"]]["state"], states[down["id"]]["attempts"]) == ("dead", 3)
    backlog = {b["target_name"]: b["counts"] for b in owner.get("/api/v1/deliveries/backlog").get_json()}
    assert backlog["down"] == {"dead": 1}
    owner.patch(f"/api/v1/targets/{down['id']}", json={"config": {"fail_times": 0}})
    MemoryVna.failures.clear()
    retried = owner.post(f"/api/v1/deliveries/{states[down['id']]['id']}/retry").get_json()
    assert retried["state"] == "retrying"
    runtime.jobs.drain()
    assert owner.get(f"/api/v1/deliveries?target_id={down['id']}").get_json()[0]["state"] == "delivered"
    cancelled = owner.post(f"/api/v1/deliveries/{states[refusing['id']]['id']}/cancel").get_json()
    assert cancelled["state"] == "cancelled"
    assert_problem(owner.post(f"/api/v1/deliveries/{states[down['id']]['id']}/cancel"), 409)


def _corrupt(runtime: Any, key: str) -> None:
    """Flip one byte in the middle of the stored object's file (bit rot, a bad disk, a meddling hand)."""
    path = runtime.object_store.root / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_stored_bytes_that_changed_since_they_were_recorded_are_never_sent(
    owner: Any, runtime: Any, fast_retries: None
) -> None:
    register_patient(owner)
    vna = target(owner, "busy-then-fine", fail_times=1)
    rule(owner, "all", [(vna, "primary")])
    send(runtime, owner.tenant_id, **AMELIA)
    (delivery,) = owner.get("/api/v1/deliveries").get_json()
    assert delivery["state"] == "retrying"
    image = owner.get(f"/api/v1/images/{delivery['image_id']}").get_json()
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        _corrupt(runtime, uow.session.get(Image, uuid.UUID(image["id"])).archive_key)

    requeue_due_deliveries(runtime, tenant_ids=[owner.tenant_id])
    runtime.jobs.drain()
    (dead,) = owner.get("/api/v1/deliveries").get_json()
    assert (dead["state"], dead["attempts"]) == ("dead", 2)
    assert "corrupt" in dead["last_error"] and "SHA-256" in dead["last_error"]
    assert held_by(vna) == set()


def test_delivering_twice_stores_once(owner: Any, runtime: Any) -> None:
    register_patient(owner)
    vna = target(owner, "once")
    rule(owner, "all", [(vna, "primary")])
    send(runtime, owner.tenant_id, **AMELIA)
    (delivery,) = owner.get("/api/v1/deliveries").get_json()
    assert deliver(runtime, tenant_id=str(owner.tenant_id), delivery_id=delivery["id"]) == "delivered"
    assert MemoryVna.store_calls[vna["config"]["vna"]] == 1


def test_another_tenants_deliveries_and_targets_are_invisible(
    owner: Any, other_owner: Any, runtime: Any
) -> None:
    register_patient(owner)
    vna = target(owner)
    rule(owner, "all", [(vna, "primary")])
    send(runtime, owner.tenant_id, **AMELIA)
    (delivery,) = owner.get("/api/v1/deliveries").get_json()
    assert other_owner.get("/api/v1/deliveries").get_json() == []
    assert_problem(other_owner.post(f"/api/v1/deliveries/{delivery['id']}/retry"), 404)
    assert_problem(other_owner.get(f"/api/v1/targets/{vna['id']}"), 404)
    assert_problem(other_owner.post(f"/api/v1/targets/{vna['id']}/test"), 404)


@pytest.mark.usefixtures("fast_retries")
def test_a_late_attempt_whose_claim_was_taken_back_leaves_the_new_attempt_alone(
    owner: Any, runtime: Any
) -> None:
    """Worker A claims, stalls past its lease; the sweeper takes the delivery back and worker B claims it.
    When A finally settles (here: with an error), B's attempt is untouched and B's outcome is recorded."""
    from bitewing.core.deliveries import services as deliveries
    from bitewing.core.plugins.connectors import ConnectorError

    register_patient(owner)
    rule(owner, "all", [(target(owner, "flaky", fail_times=1), "primary")])
    send(runtime, owner.tenant_id, **AMELIA)
    (delivery,) = owner.get("/api/v1/deliveries").get_json()
    assert delivery["state"] == "retrying"
    delivery_id, tenant = uuid.UUID(delivery["id"]), owner.tenant_id
    with runtime.db.unit_of_work(tenant) as uow:
        worker_a = deliveries._claim(uow, delivery_id)
    assert worker_a is not None
    runtime.settings = dataclasses.replace(runtime.settings, delivery_lease_seconds=0)
    working = runtime.jobs
    runtime.__dict__["jobs"] = HoldingRunner()  # the sweeper's re-queue is worker B's, run by hand below
    try:
        requeue_due_deliveries(runtime, tenant_ids=[tenant])
    finally:
        runtime.__dict__["jobs"] = working
    with runtime.db.unit_of_work(tenant) as uow:
        worker_b = deliveries._claim(uow, delivery_id)
    assert worker_b is not None and worker_b != worker_a
    late = ConnectorError("worker A's connection finally timed out")
    assert deliveries._settle(runtime, tenant, delivery_id, worker_a, error=late) == "sending"
    assert deliveries._settle(runtime, tenant, delivery_id, worker_b, error=None) == "delivered"
    (delivery,) = owner.get("/api/v1/deliveries").get_json()
    assert (delivery["state"], delivery["last_error"]) == ("delivered", None)


class HoldingRunner:
    """Keeps queued jobs instead of running them."""

    def enqueue(self, func: Any, **kwargs: Any) -> str:
        return "held"

    def close(self) -> None:
        """Nothing to stop."""
