"""Lost processing jobs are found again from the database and completed exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bitewing.core.imaging import synthetic
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.ingest.sweeper import requeue_stale_ingests
from tests.api.imaging_helpers import register_patient


class LosingRunner:
    """A job runner that accepts jobs and loses them, like a worker killed before it started."""

    def __init__(self) -> None:
        self.lost: list[dict[str, Any]] = []

    def enqueue(self, func: Any, **kwargs: Any) -> str:
        self.lost.append(kwargs)
        return "lost"

    def close(self) -> None:
        """Nothing to stop."""


def test_sweeper_requeues_received_instances_whose_job_was_lost(owner: Any, runtime: Any) -> None:
    patient = register_patient(owner)
    working_runner = runtime.jobs
    runtime.__dict__["jobs"] = LosingRunner()
    try:
        data = synthetic.to_bytes(
            synthetic.make_instance(
                "bitewing", patient_id="CH-1", patient_name="Chen^Amelia", birth_date="19860314"
            )
        )
        receipt = receive_instance(runtime, owner.tenant_id, data, Origin(IngestSource.UPLOAD))
        assert receipt.status == "received"
        assert runtime.jobs.lost
    finally:
        runtime.__dict__["jobs"] = working_runner
    assert owner.get(f"/api/v1/patients/{patient['id']}/images").get_json() == []
    assert requeue_stale_ingests(runtime, timedelta(minutes=5)) == 0
    assert requeue_stale_ingests(runtime, timedelta(0)) == 1
    runtime.jobs.drain()
    assert len(owner.get(f"/api/v1/patients/{patient['id']}/images").get_json()) == 1
    assert requeue_stale_ingests(runtime, timedelta(0)) == 0
    (record,) = owner.get("/api/v1/ingest").get_json()
    assert record["status"] == "processed"
