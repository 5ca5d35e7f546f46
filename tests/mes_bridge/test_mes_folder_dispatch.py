"""Hot folder writes atomically; the dispatcher retries only what is retryable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from mes_factories import make_job

from mes_bridge.dispatch import (
    Action,
    Backoff,
    InMemoryOutbox,
    OutboxItem,
    dispatch_once,
    run_until_drained,
)
from mes_bridge.packets import from_json
from mes_bridge.transports.base import (
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    TransportUnavailable,
)
from mes_bridge.transports.folder import FolderTransport


def packet(**kw) -> Packet:
    return Packet.from_job(make_job(**kw), {"part.gcode": b"G28\n"})


def test_folder_delivery_is_atomic_and_complete(tmp_path):
    p = packet()
    receipt = FolderTransport(tmp_path).deliver(p, "k1")
    job_dir = tmp_path / p.job.job_order_id
    assert receipt.peer_ref == str(job_dir)
    assert sorted(x.name for x in job_dir.iterdir()) == [
        "idempotency_key",
        "job.json",
        "job.xml",
        "part.gcode",
    ]
    assert from_json(json.loads((job_dir / "job.json").read_text())) == p.job
    assert [x.name for x in tmp_path.iterdir()] == [p.job.job_order_id]  # no temp dirs left


def test_folder_redelivery_is_duplicate_and_conflict_is_rejected(tmp_path):
    p = packet()
    folder = FolderTransport(tmp_path)
    folder.deliver(p, "k1")
    assert folder.deliver(p, "k1").duplicate
    with pytest.raises(DeliveryRejected, match="another packet"):
        folder.deliver(p, "k2")


def test_folder_rejects_path_traversal(tmp_path):
    p = Packet.from_job(make_job(), {"../evil.gcode": b"x"})
    with pytest.raises(DeliveryRejected, match="safe file name"):
        FolderTransport(tmp_path).deliver(p, "k")
    assert not (tmp_path.parent / "evil.gcode").exists()


def test_folder_start_is_at_most_once(tmp_path):
    p = packet()
    folder = FolderTransport(tmp_path)
    with pytest.raises(NotReady):
        folder.start(p.job.job_order_id)
    folder.deliver(p, "k")
    assert folder.start(p.job.job_order_id).sent
    assert not folder.start(p.job.job_order_id).sent
    (tmp_path / p.job.job_order_id / "state").write_text("Running")
    assert folder.read_state(p.job.job_order_id) is JobState.RUNNING


def test_missing_folder_is_unavailable(tmp_path):
    with pytest.raises(TransportUnavailable):
        FolderTransport(tmp_path / "nope").deliver(packet(), "k")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_dispatcher_keeps_failed_items_and_delivers_after_recovery(tmp_path):
    clock = Clock()
    outbox = InMemoryOutbox(clock)
    root = tmp_path / "hot"
    transports = {"press-1": FolderTransport(root)}
    packets = [packet() for _ in range(3)]
    for i, p in enumerate(packets):
        outbox.add(OutboxItem(f"m{i}", "press-1", p, f"key-{i}"))
        outbox.add(OutboxItem(f"s{i}", "press-1", p, f"start-{i}", Action.START))
    backoff = Backoff(base_s=10, factor=2, max_s=60)
    report = dispatch_once(outbox, transports, backoff=backoff, clock=clock)
    assert (report.delivered, report.retry_later) == (0, 6)
    assert outbox.pending(10) == []  # backing off
    assert outbox.waiting() == 6
    clock.now += timedelta(seconds=5)
    assert outbox.pending(10) == []
    root.mkdir()
    clock.now += timedelta(seconds=6)
    report = dispatch_once(outbox, transports, backoff=backoff, clock=clock)
    assert (report.delivered, report.retry_later) == (6, 0)
    assert outbox.waiting() == 0
    receipts = outbox.receipts()
    assert {receipts[f"s{i}"].peer_ref for i in range(3)} == {"sent"}
    assert all((root / p.job.job_order_id / "start").exists() for p in packets)


def test_start_before_delivery_waits_instead_of_being_lost(tmp_path):
    clock = Clock()
    outbox = InMemoryOutbox(clock)
    p = packet()
    outbox.add(OutboxItem("s", "f", p, "start", Action.START))
    outbox.add(OutboxItem("m", "f", p, "deliver"))
    transports = {"f": FolderTransport(tmp_path)}
    first = dispatch_once(outbox, transports, backoff=Backoff(base_s=1), clock=clock)
    # NotReady concerns that item only: the delivery behind it still goes out
    assert (first.delivered, first.retry_later) == (1, 1)
    assert set(outbox.receipts()) == {"m"}
    clock.now += timedelta(seconds=2)
    dispatch_once(outbox, transports, clock=clock)
    assert set(outbox.receipts()) == {"s", "m"}
    assert "not ready" in outbox.errors("s")[0]


def test_rejected_items_are_parked_not_retried(tmp_path):
    outbox = InMemoryOutbox()
    p = packet()
    FolderTransport(tmp_path).deliver(p, "other-key")
    outbox.add(OutboxItem("m", "f", p, "mine"))
    outbox.add(OutboxItem("x", "nowhere", p, "k"))
    report = run_until_drained(outbox, {"f": FolderTransport(tmp_path)}, deadline_s=5)
    assert report.rejected == 2 and report.delivered == 0
    parked = outbox.parked()
    assert "another packet" in parked["m"][0] and "no transport" in parked["x"][0]
    assert outbox.waiting() == 0


def test_outbox_refuses_duplicate_ids_and_double_delivery():
    outbox = InMemoryOutbox()
    item = OutboxItem("a", "t", packet(), "k")
    outbox.add(item)
    with pytest.raises(ValueError):
        outbox.add(item)
