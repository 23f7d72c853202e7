"""Sending synthetic X-rays through the ingest service in API tests."""

from __future__ import annotations

import uuid
from typing import Any

from bitewing.core.imaging import synthetic
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, Receipt, receive_instance


def send(
    runtime: Any,
    tenant_id: uuid.UUID,
    kind: str = "intraoral",
    *,
    seed: int = 0,
    location_id: Any = None,
    **attributes: Any,
) -> Receipt:
    """Receive one synthetic image (as an upload at `location_id` would) and wait for its processing."""
    data = synthetic.to_bytes(synthetic.make_instance(kind, seed=seed, **attributes))
    origin = Origin(IngestSource.UPLOAD, location_id=uuid.UUID(str(location_id)) if location_id else None)
    receipt = receive_instance(runtime, tenant_id, data, origin)
    runtime.jobs.drain()
    return receipt


def register_patient(client: Any, chart_number: str = "CH-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "chart_number": chart_number,
        "given_name": "Amelia",
        "family_name": "Chen",
        "birth_date": "1986-03-14",
        **overrides,
    }
    response = client.post("/api/v1/patients", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
