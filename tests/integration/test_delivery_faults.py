"""An unreachable VNA never loses an image: VNA outages and dead workers on the production stack.

The stack of ``test_vna_routing.py`` (DICOM listener in this process, real ``bitewing worker`` processes on a
dedicated Redis database, PostgreSQL as the app role, SeaweedFS), with fast retries. The sweeper is driven from
the test (`sweep_once`, what every worker runs every 15 s and the Helm CronJob runs), one pass at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bitewing.core.deliveries.models import Delivery, DeliveryState
from bitewing.core.jobs.sweep import sweep_once
from tests.conftest import PostgresDatabase, TenantClient
from tests.integration.test_vna_routing import (
    HOST,
    Stack,
    add_location,
    add_machine,
    add_patient,
    add_rule,
    deliveries,
    orthanc_sop_uids,
    orthanc_target,
    progress,
    wait_for,
    write_instances,
)
from tests.support import OrthancFactory, SeaweedFS

BATCH = 200
WORKERS = 4
"""Worker processes for the batch: a job spends much of its time waiting on PostgreSQL, S3 and the VNA."""


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, postgres_db: PostgresDatabase, seaweedfs: SeaweedFS
) -> Iterator[Stack]:
    """The stack with fast retries (1 s base, 4 s cap) and room for a long outage (40 attempts)."""
    stack = Stack(
        tmp_path_factory.mktemp("delivery-faults"),
        postgres_db,
        seaweedfs,
        seaweedfs.create_bucket(),
        redis_db=12,
        delivery_backoff_seconds="1",
        delivery_backoff_cap_seconds="4",
        delivery_max_attempts="40",
    )
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(autouse=True)
def _own_workers(stack: Stack) -> Iterator[None]:
    """Each test starts the workers it needs; they are stopped after it."""
    yield
    stack.stop_workers()


def backlog(client: TenantClient) -> dict[str, dict[str, int]]:
    """Deliveries by state, per target name."""
    response = client.get("/api/v1/deliveries/backlog")
    assert response.status_code == 200, response.get_json()
    return {b["target_name"]: b["counts"] for b in response.get_json()}


def sweep_until(stack: Stack, done: Any, what: str, timeout: float = 120) -> Any:
    """Run sweeper passes, each after the queues ran dry, until `done()` holds."""

    def one_pass() -> Any:
        wait_for(stack.queues_idle, "the queues to run dry", timeout=timeout)
        if result := done():
            return result
        sweep_once(stack.runtime)
        time.sleep(0.3)
        return None

    return wait_for(one_pass, what, timeout=timeout, interval=0)


# --- a VNA down while images arrive --------------------------------------------------------------------------


@pytest.mark.timeout(900)
def test_a_stopped_vna_gets_every_instance_exactly_once_and_holds_nothing_back(
    stack: Stack, orthanc_factory: OrthancFactory, tmp_path: Path
) -> None:
    owner = stack.owner()
    add_patient(owner)
    sensor = add_machine(owner, add_location(owner, "Location A", "on_premise"))
    primary, backup = orthanc_factory(aet="PRIMARY"), orthanc_factory(aet="BACKUP")
    to_primary = orthanc_target(owner, "Primary", primary)
    to_backup = orthanc_target(owner, "Backup", backup, timeout=5)
    add_rule(owner, "Everything", [(to_primary, "primary"), (to_backup, "backup")], is_default=True)
    sent = write_instances(tmp_path, "intraoral", BATCH)
    for _ in range(WORKERS):
        stack.start_worker()

    backup.stop()
    stack.send(sensor, list(sent.values()))

    # the primary gets everything while the backup is down: no delivery to it waits behind the backup
    wait_for(
        lambda: primary.count_instances() == BATCH and backlog(owner)["Primary"] == {"delivered": BATCH},
        f"the primary to hold {BATCH} instances, each delivery settled",
        timeout=480,
        detail=lambda: progress(owner),
    )
    during = backlog(owner)
    assert set(during["Backup"]) <= {"pending", "sending", "retrying"}, during
    waiting = deliveries(owner, target_id=to_backup["id"], state="retrying")
    assert waiting, "no delivery to the stopped backup is waiting for a retry"
    assert all("Cannot reach host" in d["last_error"] for d in waiting), waiting[0]["last_error"]
    assert {d["attempts"] for d in deliveries(owner, target_id=to_primary["id"])} == {1}

    backup.start()
    sweep_until(
        stack,
        lambda: backlog(owner)["Backup"] == {"delivered": BATCH},
        f"all {BATCH} deliveries to the backup",
        timeout=300,
    )
    for vna in (primary, backup):
        copies = orthanc_sop_uids(vna)
        assert vna.count_instances() == BATCH
        assert copies == Counter(set(sent)), "an instance is missing or stored twice"
    to_backup_states = {d["id"]: d for d in deliveries(owner, target_id=to_backup["id"])}
    assert {d["state"] for d in to_backup_states.values()} == {"delivered"}
    assert all(d["last_error"] is None for d in to_backup_states.values())
    # those that failed while it was down were retried: their failed attempts are counted
    assert all(to_backup_states[d["id"]]["attempts"] >= 2 for d in waiting)
    assert "dead" not in str(backlog(owner))


# --- a worker dies mid-delivery --------------------------------------------------------------------------------


class HoldingProxy:
    """A TCP proxy in front of a VNA: requests pass straight through, responses wait until `release()`.

    So the VNA has stored the instance while the worker that sent it is still waiting for the answer: the
    worst moment for that worker to die.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server = socket.create_server((HOST, 0))
        self.port = int(self.server.getsockname()[1])
        self.released = threading.Event()
        self.holding = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection((HOST, self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, response: bool) -> None:
        try:
            while data := source.recv(65536):
                if response and not self.released.is_set():
                    self.holding.set()
                    self.released.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        self.server.close()


def delivery_state(stack: Stack, tenant_id: uuid.UUID) -> DeliveryState | None:
    """The state of the tenant's only delivery row, read from the database (None before it exists)."""
    with stack.runtime.db.unit_of_work(tenant_id) as uow:
        return uow.session.scalar(select(Delivery.state))


def test_a_worker_killed_mid_delivery_is_replaced_and_the_instance_arrives_once(
    stack: Stack, orthanc_factory: OrthancFactory, tmp_path: Path
) -> None:
    owner = stack.owner()
    add_patient(owner)
    sensor = add_machine(owner, add_location(owner, "Location A", "on_premise"))
    vna = orthanc_factory(aet="VNA")
    proxy = HoldingProxy(vna.http_port)
    try:
        target = orthanc_target(owner, "VNA", vna, url=f"http://{HOST}:{proxy.port}", timeout=120)
        add_rule(owner, "Everything", [(target, "primary")], is_default=True)
        ((uid, path),) = write_instances(tmp_path, "intraoral", 1).items()
        doomed = stack.start_worker()
        stack.send(sensor, [path])

        # the VNA stored the instance; the worker is waiting for its answer with the delivery "sending"
        wait_for(
            proxy.holding.is_set, "the VNA to answer the upload", timeout=120, detail=lambda: progress(owner)
        )
        assert delivery_state(stack, owner.tenant_id) == DeliveryState.SENDING
        assert vna.count_instances() == 1

        stack.kill_worker(doomed)
        proxy.release()
        lease = 2
        stack.runtime.settings = dataclasses.replace(stack.runtime.settings, delivery_lease_seconds=lease)
        stack.start_worker(delivery_lease_seconds=str(lease))
        assert delivery_state(stack, owner.tenant_id) == DeliveryState.SENDING  # nobody took it yet

        (delivery,) = sweep_until(
            stack,
            lambda: [d for d in deliveries(owner) if d["state"] == "delivered"],
            "the delivery to be taken back from the dead worker and completed",
            timeout=60,
        )
    finally:
        proxy.close()

    assert vna.count_instances() == 1
    assert orthanc_sop_uids(vna) == Counter({uid: 1})
    assert delivery["remote_id"] == vna.find_instance(uid)
    assert delivery["last_error"] is None
    # the attempt the dead worker made counts: a poison instance that kills every worker must end as a dead
    # letter after `delivery_max_attempts`, not be taken back for ever
    assert delivery["attempts"] == 2, delivery
