"""The operator's view of deliveries: backlog per target, failures, retry from the command line."""

from __future__ import annotations

import dataclasses
from typing import Any

from bitewing_test_plugin.connector import MemoryVna

from tests.api.helpers import invoke_cli
from tests.api.imaging_helpers import register_patient, send
from tests.api.test_routing import AMELIA, rule, target


def test_backlog_list_and_retry_from_the_cli(owner: Any, runtime: Any) -> None:
    MemoryVna.failures.clear()
    runtime.settings = dataclasses.replace(runtime.settings, delivery_max_attempts=1)
    register_patient(owner)
    down = target(owner, "down-vna", permanent_failure=True)
    rule(owner, "all", [(down, "primary")])
    send(runtime, owner.tenant_id, **AMELIA)

    backlog = invoke_cli(runtime, "deliveries", "backlog", "--tenant", owner.slug)
    assert backlog.exit_code == 0, backlog.output
    assert "down-vna: dead 1" in backlog.output

    listed = invoke_cli(runtime, "deliveries", "list", "--tenant", owner.slug, "--state", "dead")
    assert "refuses everything" in listed.output
    delivery_id = listed.output.split()[0]

    owner.patch(f"/api/v1/targets/{down['id']}", json={"config": {"permanent_failure": False}})
    retried = invoke_cli(runtime, "deliveries", "retry", "--tenant", owner.slug, delivery_id)
    assert retried.exit_code == 0, retried.output
    assert retried.output.strip().endswith("delivered")
