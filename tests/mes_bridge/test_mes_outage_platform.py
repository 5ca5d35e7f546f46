"""Fault drill (issue 9), platform level: the MQTT broker and OctoPrint are down while a plan is
released; the job orders wait in the database outbox and, once both are back, the real
`hunar dispatch` delivers every one exactly once. Extra passes after recovery send nothing.

Real processes, nothing mocked: PostgreSQL (the shared server, a fresh database), a PRIVATE
Mosquitto (own port and data dir, so it may be stopped; the shared :1883 broker is never
touched), the session's real OctoPrint with its virtual printer (stopped and restarted on the
same port and basedir), PrusaSlicer for the G-code, `python -m orders.cli dispatch` as a
subprocess, and a paho subscriber (persistent session) standing in for the machines' gateway.

Machines: every FDM printer is an OctoPrint machine (so the printing step certainly goes there),
post-processing and QC keep MQTT, and the rest (packing, OPC UA, webhook, resin) use hot folders,
which stay up and prove that two transports being down does not hold back the others.

The MQTT contract checked here: the transport publishes each job order QoS 1 (PUBACK-confirmed)
on hunar/<site>/<machine>/jobs with its outbox idempotency key in the envelope; QoS 1 is
at-least-once on the wire and the machine's gateway (MqttJobListener) dedupes by that key.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import make_configuration, make_settings, make_shop, make_user
from mes_mosquitto_peer import MosquittoPeer, free_port
from mes_octoprint_peer import OctoPrintPeer, restart
from sqlalchemy import select

from mes_bridge.transports.mqtt import topic
from mes_bridge.transports.mqtt_listener import MqttJobListener
from mes_bridge.transports.octoprint import STARTED_FOLDER
from orders.adapters.floor_dispatch import request_start
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext
from orders.models import Machine, OutboxMessage, OutboxStatus

OUTAGE_PASSES = 2  # `hunar dispatch` runs while both peers are down
RECOVERY_BOUND_S = 60.0
PASS_LINE = re.compile(r"queued (\d+), delivered (\d+), retry later (\d+), rejected (\d+)")
SIZES = ((80, 50), (90, 56), (100, 60))  # inner length x width: three designs


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoPeer]:
    """Our own Mosquitto (persistence on): stopping it harms nobody else."""
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    peer = MosquittoPeer(free_port(), workdir)
    try:
        peer.start()
    except RuntimeError as exc:
        pytest.fail(f"private Mosquitto could not start: {exc}")
    yield peer
    peer.stop()


@pytest.fixture
def drill_ctx(
    db_factory,
    tmp_path: Path,
    artifact_cache: Path,  # type: ignore[no-untyped-def]
    broker: MosquittoPeer,
) -> Iterator[AppContext]:
    settings = make_settings(
        tmp_path,
        db_factory.url("postgresql"),
        artifact_dir=artifact_cache,
        site=f"drill{uuid.uuid4().hex[:8]}",
        mqtt_port=broker.port,
    )
    ctx = AppContext.from_settings(settings)
    yield ctx
    ctx.close()


def _point_machines(ctx: AppContext, octo: OctoPrintPeer, hot: Path) -> dict[str, str]:
    """FDM printers to the real OctoPrint, MQTT stations stay on MQTT, the rest to hot folders."""
    with ctx.db.transaction() as s:
        for m in s.scalars(select(Machine)):
            if m.process == "fdm":
                m.transport, m.transport_config = (
                    "octoprint",
                    {"url": octo.url, "api_key": octo.api_key},
                )
            elif m.transport != "mqtt" or m.process == "pack":
                m.transport, m.transport_config = "folder", {"path": str(hot / m.id)}
        return {m.id: m.transport for m in s.scalars(select(Machine))}


def _placed_built_and_approved(ctx: AppContext) -> int:
    """Three orders of three designs, CAD built and sliced in-process; an approved plan."""
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        for i, (length, width) in enumerate(SIZES):
            cfg = make_configuration(s, inner_length=length, inner_width=width)
            place_order(
                s, user.id, [LineRequest(cfg.id, 2)], f"drill-{i}", Actor("c", user.id), "PKR"
            )
    flush_enqueues(ctx)  # inprocess_jobs=sync: builds and slices right here
    sid = request_plan(ctx, "due_dates", 5, 14, Actor("planner"))
    with ctx.db.transaction() as s:
        approve(s, sid, Actor("planner"))
    return sid


def _release_with_one_start(ctx: AppContext, sid: int, transports: dict[str, str]) -> str:
    """Release (job orders written in the release transaction) and ask for one print start."""
    with ctx.db.transaction() as s:
        release(s, sid, Actor("planner"))
        octo_rows = [r for r in _rows_in(s) if transports[r.destination] == "octoprint"]
        assert octo_rows, "the plan sent nothing to an OctoPrint machine"
        job = _job_id(octo_rows[0])
        request_start(s, job, octo_rows[0].destination, octo_rows[0].transport)
    return job


def _job_id(row: OutboxMessage) -> str:
    payload = row.payload
    return str(payload["job"]["job_order_id"] if "job" in payload else payload["job_order_id"])


def _rows_in(session: Any) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == "job_order")
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def _rows(ctx: AppContext) -> list[OutboxMessage]:
    with ctx.db.sessions() as s:
        rows = _rows_in(s)
        s.expunge_all()
    return rows


def _dispatch(ctx: AppContext, cwd: Path) -> tuple[int, int, int, int]:
    """One real `hunar dispatch` process: (queued, delivered, retry later, rejected)."""
    st = ctx.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    env.update(
        HUNAR_DATABASE_URL=st.resolved_database_url(),
        HUNAR_VAR_DIR=str(st.var_dir),
        HUNAR_ARTIFACT_DIR=str(st.resolved_artifact_dir()),
        HUNAR_SECRET_KEY="drill",
        HUNAR_SITE=st.site,
        HUNAR_MQTT_HOST=st.mqtt_host,
        HUNAR_MQTT_PORT=str(st.mqtt_port),
        HUNAR_INPROCESS_JOBS="sync",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "orders.cli", "dispatch"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = PASS_LINE.search(proc.stdout)
    assert found, f"no pass report in: {proc.stdout!r} {proc.stderr[-1000:]!r}"
    q, d, r, x = (int(g) for g in found.groups())
    return q, d, r, x


def _recover(ctx: AppContext, cwd: Path) -> tuple[int, int]:
    """Dispatch until no job order is pending (bounded): (passes, delivered). Between passes
    it waits for the earliest retry time, which the outbox's backoff set during the outage."""
    passes = delivered = 0
    end = time.monotonic() + RECOVERY_BOUND_S
    while True:
        pending = [r for r in _rows(ctx) if r.status == OutboxStatus.PENDING]
        if not pending:
            return passes, delivered
        assert time.monotonic() < end, [(r.destination, r.last_error) for r in pending]
        wait = min(r.next_attempt_at for r in pending) - datetime.now(UTC)
        time.sleep(min(max(wait.total_seconds(), 0.0), 2.0))
        _, got, _, rejected = _dispatch(ctx, cwd)
        assert rejected == 0
        passes, delivered = passes + 1, delivered + got


def _octo_get(octo: OctoPrintPeer, path: str) -> Any:
    resp = httpx.get(f"{octo.url}{path}", headers={"X-Api-Key": octo.api_key}, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _octo_files(octo: OctoPrintPeer) -> list[dict[str, Any]]:
    """Every file OctoPrint holds (root and folders), as its REST API lists them."""
    out: list[dict[str, Any]] = []
    stack = list(_octo_get(octo, "/api/files/local?recursive=true")["files"])
    while stack:
        entry = stack.pop()
        if entry.get("type") == "folder":
            stack.extend(entry.get("children", []))
        else:
            out.append(entry)
    return out


def _cancel_print(octo: OctoPrintPeer) -> None:
    """Leave the shared virtual printer idle for the tests after this one."""
    if octo.proc.poll() is None:
        httpx.post(
            f"{octo.url}/api/job",
            json={"command": "cancel"},
            headers={"X-Api-Key": octo.api_key},
            timeout=10,
        )


@pytest.mark.slow
@pytest.mark.postgres
def test_outage_during_release_delivers_every_job_order_once(
    drill_ctx: AppContext, broker: MosquittoPeer, octoprint: OctoPrintPeer, tmp_path: Path
) -> None:
    ctx, hot = drill_ctx, tmp_path / "hot"
    sid = _placed_built_and_approved(ctx)
    kinds = _point_machines(ctx, octoprint, hot)
    site = ctx.settings.site
    jobs_filter = topic(site, "any", "jobs").replace("/any/", "/+/")  # every machine of the site
    listener = MqttJobListener(jobs_filter, f"gw-{site}", "127.0.0.1", broker.port)
    listener.start()
    try:
        broker.stop()
        octoprint.stop()
        started_job = _release_with_one_start(ctx, sid, kinds)
        backoff_s = _outage_passes_deliver_only_the_folders(ctx, tmp_path, kinds, hot)
        broker.start()
        restart(octoprint)
        t0 = time.monotonic()  # both peers answer again
        passes, delivered = _recover(ctx, tmp_path)
        recovery_s = time.monotonic() - t0
        for _ in range(2):  # later passes find nothing to send again
            assert _dispatch(ctx, tmp_path)[1:] == (0, 0, 0)
        rows = _rows(ctx)
        mqtt_ids = [_job_id(r) for r in rows if kinds[r.destination] == "mqtt"]
        raw = _assert_mqtt_exactly_once(listener, mqtt_ids)
        _assert_rows_delivered_once(rows, kinds)
        uploads = _assert_octoprint_once(octoprint, rows, kinds, started_job)
    finally:
        listener.stop()
        if octoprint.proc.poll() is not None:
            restart(octoprint)  # the session's OctoPrint must be up for the next tests
        _cancel_print(octoprint)
    print(
        f"\njob order rows {len(rows)} by transport "
        f"{dict(Counter(kinds[r.destination] for r in rows))}; largest backoff after the "
        f"outage passes {backoff_s:.1f} s; recovery {recovery_s:.1f} s in {passes} passes "
        f"({delivered} delivered); MQTT raw {raw} for {len(mqtt_ids)} ids; OctoPrint uploads "
        f"{uploads}; (transport, attempts): "
        f"{dict(Counter((kinds[r.destination], r.attempts) for r in rows))}"
    )


def _outage_passes_deliver_only_the_folders(
    ctx: AppContext, cwd: Path, transports: dict[str, str], hot: Path
) -> float:
    """While both peers are down: the hot folders get theirs, MQTT and OctoPrint rows wait.
    Returns the longest wait the outbox's backoff has set on a waiting row."""
    for n in range(1, OUTAGE_PASSES + 1):
        if n > 1:  # wait out the backoff the previous pass set, so this pass really tries
            due = max(r.next_attempt_at for r in _rows(ctx) if r.status == OutboxStatus.PENDING)
            time.sleep(max((due - datetime.now(UTC)).total_seconds(), 0.0) + 0.05)
        _, _, retry, rejected = _dispatch(ctx, cwd)
        assert retry > 0 and rejected == 0
    rows = _rows(ctx)
    for r in rows:
        kind = transports[r.destination]
        if kind == "folder":
            assert r.status == OutboxStatus.DELIVERED and r.attempts == 1, (r.id, r.last_error)
            continue
        assert r.status == OutboxStatus.PENDING and r.delivered_at is None, (r.id, r.status)
        assert r.attempts == OUTAGE_PASSES, (r.id, r.attempts, r.last_error)
        assert r.last_error and r.last_error.startswith("unavailable:"), r.last_error
    kinds = {transports[r.destination] for r in rows}
    assert kinds == {"mqtt", "octoprint", "folder"}, kinds
    for r in rows:  # each hot-folder job is a directory under its machine's folder
        if transports[r.destination] == "folder":
            assert Path(r.receipt["detail"]).parent == hot / r.destination, r.receipt
            assert (Path(r.receipt["detail"]) / "job.json").is_file(), r.receipt
    waits = [r.next_attempt_at for r in rows if r.status == OutboxStatus.PENDING]
    return (max(waits) - datetime.now(UTC)).total_seconds()


def _assert_mqtt_exactly_once(listener: MqttJobListener, mqtt_ids: list[str]) -> int:
    """The gateway hands each job order on once (it dedupes by idempotency key). No publish
    was in flight when the broker went down, so the wire carries no QoS 1 redelivery either:
    any raw duplicate here would be the platform sending a job order twice."""
    assert listener.wait_for(len(mqtt_ids), timeout_s=15), listener.received.by_key
    time.sleep(1.0)  # a late duplicate would arrive now
    got = listener.received
    keys = [k for k in got.by_key]
    ids = sorted(k.split(":")[1] for k in keys)
    assert ids == sorted(mqtt_ids)
    assert set(got.by_key.values()) == {1} and got.raw == len(mqtt_ids), got
    return got.raw


def _assert_rows_delivered_once(rows: list[OutboxMessage], transports: dict[str, str]) -> None:
    assert rows and {r.status for r in rows} == {OutboxStatus.DELIVERED}
    for r in rows:
        kind = transports[r.destination]
        assert r.delivered_at is not None and r.receipt, r.id
        # the peers were down before anything was sent, so no delivery met an earlier copy
        assert r.receipt["duplicate"] is False, (r.id, r.receipt)
        if kind == "mqtt":
            assert r.receipt["detail"].startswith("mid="), r.receipt
        want = 1 if kind == "folder" else OUTAGE_PASSES + 1  # failures + the delivery
        assert r.attempts == want, (r.id, kind, r.attempts, r.last_error)


def _assert_octoprint_once(
    octo: OctoPrintPeer, rows: list[OutboxMessage], transports: dict[str, str], started_job: str
) -> int:
    """Each job order's file uploaded once; only the one start asked for happened, once."""
    ids = {
        _job_id(r)
        for r in rows
        if transports[r.destination] == "octoprint" and r.payload["action"] == "deliver"
    }
    files = [f for f in _octo_files(octo) if f["name"].removesuffix(".gcode") in ids]
    names = Counter(f["name"].removesuffix(".gcode") for f in files)
    assert set(names) == ids and set(names.values()) == {1}, names
    for f in files:
        in_started = f["path"].startswith(f"{STARTED_FOLDER}/")
        assert in_started == (f["name"] == f"{started_job}.gcode"), f["path"]
        prints = f.get("prints") or {}
        assert prints.get("success", 0) + prints.get("failure", 0) <= 1, (f["path"], prints)
    job = _octo_get(octo, "/api/job")
    current = ((job.get("job") or {}).get("file") or {}).get("name")
    assert current == f"{started_job}.gcode", job
    start_rows = [r for r in rows if r.payload.get("action") == "start"]
    assert len(start_rows) == 1 and start_rows[0].receipt["detail"] == "sent", start_rows
    for r in rows:
        if transports[r.destination] == "octoprint" and r.payload["action"] == "deliver":
            assert r.receipt["detail"] == f"{_job_id(r)}.gcode", r.receipt
    return len(files)
