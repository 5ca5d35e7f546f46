"""Fault drill: Redis dies (SIGKILL, no persistence) while customers place orders, then comes
back on the same port. Every order is answered without a 5xx and stored exactly once; the
CAD requests written meanwhile wait in the outbox (pending) and the real `hunar dispatch`
hands them to the queue after the restart; CAD jobs the dead broker took with it are found
and queued again, so every order line ends up with a live RQ job.

Real processes: a private redis-server (killed and restarted), PostgreSQL (the shared server,
a fresh database), the Flask app through its test client (in-process, so the drill can watch
each request), and `hunar dispatch` as a subprocess. Nothing is mocked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from factories import make_settings
from flask.testing import FlaskClient
from private_services import PrivateRedis, wait_until
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import func, select

from orders.adapters.outbox import LOST_GRACE_S
from orders.commands.accounts import create_user
from orders.context import AppContext
from orders.models import (
    JobRecord,
    JobState,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    ProductConfiguration,
    Role,
)
from orders.seed import seed_shop
from web import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"
BEFORE, DURING, AFTER = 2, 5, 2  # orders placed with Redis up, down, and back
PACE_S = 0.6  # between orders in the outage: the first CAD request is retried (2 s backoff)


@dataclass
class Attempt:
    key: str
    phase: str
    statuses: list[int]
    order_ids: set[int]


def _signed_in(client: FlaskClient, email: str) -> str:
    token = CSRF.search(client.get("/login").get_data(as_text=True))
    assert token, "no CSRF token on /login"
    resp = client.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    token = CSRF.search(client.get("/account").get_data(as_text=True))
    assert token, "no CSRF token on /account"
    return token.group(1)


class Customer:
    """One signed-in customer placing orders through the web API, each one sent twice (a
    client retrying with the same idempotency key, as after a timeout)."""

    def __init__(self, client: FlaskClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf
        self.attempts: list[Attempt] = []

    def design(self, inner_length: int) -> int:
        params = {"inner_length": inner_length, "inner_width": 50, "inner_height": 30, "wall": 2.0}
        resp = self.client.post(
            "/api/configurations",
            json={"family": "enclosure", "params": params},
            headers={"X-CSRFToken": self.csrf},
        )
        assert resp.status_code == 201, resp.json
        return int(resp.json["id"])  # type: ignore[index]

    def browse(self, config_id: int) -> dict[str, int]:
        """What a customer does besides ordering: price a design, ask for its 3D preview."""
        params = {"inner_length": 70, "inner_width": 50, "inner_height": 30, "wall": 2.0}
        quote = self.client.post(
            "/api/quote",
            json={"family": "enclosure", "params": params},
            headers={"X-CSRFToken": self.csrf},
        )
        preview = self.client.post(
            f"/api/configurations/{config_id}/preview", headers={"X-CSRFToken": self.csrf}
        )
        return {
            "quote": quote.status_code,
            "preview": preview.status_code,
            "account": self.client.get("/account").status_code,
        }

    def order(self, config_id: int, phase: str) -> Attempt:
        key = uuid.uuid4().hex
        body = {"idempotency_key": key, "lines": [{"configuration_id": config_id, "quantity": 1}]}
        attempt = Attempt(key, phase, [], set())
        for _ in range(2):
            resp = self.client.post("/api/orders", json=body, headers={"X-CSRFToken": self.csrf})
            attempt.statuses.append(resp.status_code)
            if resp.status_code < 300:
                attempt.order_ids.add(int(resp.json["id"]))  # type: ignore[index]
        self.attempts.append(attempt)
        return attempt


def _outbox(ctx: AppContext) -> list[OutboxMessage]:
    with ctx.db.sessions() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "enqueue")))


def _dispatch(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    with open(cwd / "dispatch.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "orders.cli", "dispatch", "--loop", "--interval", "0.5"],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.slow
@pytest.mark.postgres
def test_redis_restart_while_ordering_loses_nothing_and_dispatch_catches_up(
    db_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    redis = PrivateRedis(tmp_path / "redis")
    url = db_factory.url("postgresql")
    app = create_app(make_settings(tmp_path, url, redis_url=redis.url()))
    ctx: AppContext = app.extensions["hunar"]
    dispatcher: subprocess.Popen[bytes] | None = None
    try:
        redis.start()
        with ctx.db.transaction() as s:
            seed_shop(s)
            email = create_user(
                s, f"c-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, Role.CUSTOMER
            ).email
        client = app.test_client()
        shopper = Customer(client, _signed_in(client, email))
        designs = [shopper.design(60 + i) for i in range(BEFORE + DURING + AFTER)]
        outage = _place_through_a_crash(shopper, designs, redis)
        _signed_in(app.test_client(), email)  # signing in works too (rate limits fall back)
        _assert_waiting_in_outbox(ctx, outage)
        t_up = time.monotonic()
        redis.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
        env |= {
            "HUNAR_DATABASE_URL": url,
            "HUNAR_REDIS_URL": redis.url(),
            "HUNAR_VAR_DIR": str(tmp_path / "var"),
            "HUNAR_SECRET_KEY": "test-secret",
            "HUNAR_ARTIFACT_DIR": str(tmp_path / "artifacts"),
        }
        dispatcher = _dispatch(env, tmp_path)
        bound = max(_backoff_bound(ctx), LOST_GRACE_S) + 20
        wait_until(
            lambda: _all_delivered(ctx),
            bound,
            f"dispatch to deliver the outbox ({bound:.0f} s)",
            step=0.25,
        )
        delivered = time.monotonic() - t_up
        wait_until(
            lambda: not _lines_without_a_live_job(ctx, redis),
            bound,
            f"dispatch to queue the lost jobs again ({bound:.0f} s)",
            step=0.25,
        )
        requeued = time.monotonic() - t_up
        for i in range(AFTER):  # the shop takes orders again, CAD requests go straight out
            a = shopper.order(designs[BEFORE + DURING + i], "after")
            assert a.statuses == [201, 200], a
        assert shopper.browse(designs[-1]) == {"quote": 200, "preview": 202, "account": 200}
        assert _all_delivered(ctx) and not _lines_without_a_live_job(ctx, redis)
        _assert_each_key_once(ctx, BEFORE + DURING + AFTER)
        _report(shopper.attempts, _outbox(ctx), delivered, requeued)
    finally:
        try:
            if dispatcher is not None:
                dispatcher.kill()  # a loop with nothing left to do; SIGKILL is fine
                dispatcher.wait(20)
        finally:
            redis.kill()
            ctx.close()


def _place_through_a_crash(
    shopper: Customer, designs: list[int], redis: PrivateRedis
) -> list[Attempt]:
    """Orders flow from a thread while Redis is killed under them; returns the outage ones."""
    down = threading.Event()
    done: list[Attempt] = []

    def place() -> None:
        for i, cid in enumerate(designs[: BEFORE + DURING]):
            done.append(shopper.order(cid, "during" if down.is_set() else "before"))
            if i + 1 == BEFORE:
                down.wait(30)
            elif down.is_set():
                time.sleep(PACE_S)  # a steady trickle, long enough for outbox retries to back off

    placer = threading.Thread(target=place, name="placer", daemon=True)
    placer.start()
    wait_until(lambda: len(done) >= BEFORE, 60, "orders before the outage")
    redis.kill()
    down.set()
    placer.join(120)
    assert not placer.is_alive(), "the placer hung while Redis was down"
    browsing = shopper.browse(designs[-1])  # a design nobody ordered yet: its preview is new
    print(f"\n[drill redis] browsing during the outage: {browsing}")
    assert browsing == {"quote": 200, "preview": 503, "account": 200}, browsing
    outage = [a for a in done if a.phase == "during"]
    assert len(outage) == DURING
    for a in done:  # every answer clean; a retry with the same key returns the same order
        assert a.statuses == [201, 200] and len(a.order_ids) == 1, a
    return outage


def _assert_waiting_in_outbox(ctx: AppContext, outage: list[Attempt]) -> None:
    ids = {oid for a in outage for oid in a.order_ids}
    _assert_each_key_once(ctx, BEFORE + DURING)
    waiting = [m for m in _outbox(ctx) if int(m.idempotency_key.rsplit("order", 1)[1]) in ids]
    assert len(waiting) == DURING, waiting
    for m in waiting:  # nothing lost, nothing pretended: pending with the broker's error
        assert m.status == OutboxStatus.PENDING and m.attempts >= 1, (m.status, m.attempts)
        assert m.last_error and "Connection" in m.last_error, m.last_error
    assert max(m.attempts for m in waiting) >= 2, "later requests retried the due messages"


def _assert_each_key_once(ctx: AppContext, expected: int) -> None:
    """No loss, no duplicates: one order per idempotency key, as many as were answered."""
    with ctx.db.sessions() as s:
        keys = Counter(s.scalars(select(Order.idempotency_key)))
        assert s.scalar(select(func.count(Order.id))) == expected == len(keys), keys
        assert all(n == 1 for n in keys.values()), keys


def _backoff_bound(ctx: AppContext) -> float:
    from datetime import UTC, datetime

    latest = max(m.next_attempt_at for m in _outbox(ctx))
    return max(0.0, (latest - datetime.now(UTC)).total_seconds())


def _all_delivered(ctx: AppContext) -> bool:
    return all(m.status == OutboxStatus.DELIVERED for m in _outbox(ctx))


def _lines_without_a_live_job(ctx: AppContext, redis: PrivateRedis) -> list[str]:
    """Designs on order lines lacking exactly one queued JobRecord whose RQ job is in Redis."""
    missing = []
    with Redis.from_url(redis.url()) as conn, ctx.db.sessions() as s:
        queued = set(Queue("cad", connection=conn).job_ids)
        hashes = set(
            s.scalars(
                select(ProductConfiguration.config_hash).join(
                    OrderLine, OrderLine.configuration_id == ProductConfiguration.id
                )
            )
        )
        for h in hashes:
            live = s.scalars(
                select(JobRecord.id).where(
                    JobRecord.dedupe_key == f"cad:{h}", JobRecord.state == JobState.QUEUED
                )
            ).all()
            if len(live) != 1 or not Job.exists(live[0], conn) or live[0] not in queued:
                missing.append(h)
    return missing


def _report(
    attempts: list[Attempt], outbox: list[OutboxMessage], delivered: float, requeued: float
) -> None:
    by_phase = Counter(a.phase for a in attempts)
    codes = {
        p: dict(Counter(c for a in attempts if a.phase == p for c in a.statuses)) for p in by_phase
    }
    print(
        f"\n[drill redis] orders {dict(by_phase)}; status codes {codes}; outbox delivered "
        f"{sum(m.status == OutboxStatus.DELIVERED for m in outbox)}/{len(outbox)}, max attempts "
        f"{max(m.attempts for m in outbox)}; outbox delivered {delivered:.1f} s after the restart, "
        f"lost jobs queued again {requeued:.1f} s after the restart"
    )
