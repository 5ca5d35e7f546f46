"""Integrity under concurrency (issue 22, defects 1-3): one floor event applies once however many
times it is delivered at once, one release moves a plan once, and only the released plan's job
orders start, scrap, open or go out. Concurrency runs on both engines with real threads."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from factories import make_configuration, make_shop, make_user, released_plan
from shared_helpers import at_once
from sqlalchemy import func, select

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.commands.accounts import create_user
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext
from orders.errors import DomainError, NotFound
from orders.models import (
    Event,
    JobRecord,
    JobState,
    Machine,
    MachineState,
    Operation,
    Order,
    OrderLine,
    OutboxMessage,
    OutboxStatus,
    Schedule,
    ScheduleState,
    User,
)
from orders.models.users import Role
from orders.queries.station import machine_of_job

P = Actor("planner")
N = 12


def _event(job: str, kind: str, event_id: str, **kw: Any) -> StatusEvent:
    return StatusEvent(
        job_order_id=job,
        kind=kind,
        at=datetime.now(UTC),
        event_id=event_id,
        source="button",
        **kw,
    )


def _first_print(ctx: AppContext, version: int) -> str:
    with ctx.db.sessions() as s:
        op = s.scalars(select(Operation).order_by(Operation.seq)).first()
        assert op is not None
        return job_order_id(op.id, version)


def _apply(ctx: AppContext, ev: StatusEvent) -> str:
    with ctx.db.transaction() as s:
        return apply_event(s, ev).code


def test_one_start_delivered_twelve_times_at_once_applies_once(ctx: AppContext) -> None:
    _, v = released_plan(ctx)
    start = _event(_first_print(ctx, v), "started", uuid.uuid4().hex)
    codes = at_once(N, lambda: _apply(ctx, start))
    assert sorted(codes) == ["applied"] + ["duplicate"] * (N - 1), codes
    with ctx.db.sessions() as s:
        applied = s.scalar(
            select(func.count()).where(
                Event.entity_type == "floor_event", Event.entity_id == start.event_id
            )
        )
        assert applied == 1


def test_one_scrap_delivered_at_once_makes_one_remake(ctx: AppContext) -> None:
    _, v = released_plan(ctx)
    job = _first_print(ctx, v)
    assert _apply(ctx, _event(job, "started", uuid.uuid4().hex)) == "applied"
    scrap = _event(job, "scrapped", uuid.uuid4().hex, qty=1, reason="warped")
    codes = at_once(N, lambda: _apply(ctx, scrap))
    assert codes.count("applied") == 1, codes
    with ctx.db.sessions() as s:
        op = s.scalars(select(Operation).order_by(Operation.seq)).first()
        assert op is not None and op.scrapped_qty == 1
        remakes = s.scalar(select(func.count()).where(OrderLine.parent_line_id.is_not(None)))
        assert remakes == 1


def test_two_different_scraps_at_once_lose_no_update(ctx: AppContext) -> None:
    _, v = released_plan(ctx)
    job = _first_print(ctx, v)
    assert _apply(ctx, _event(job, "started", uuid.uuid4().hex)) == "applied"
    scraps = iter([_event(job, "scrapped", uuid.uuid4().hex, qty=1) for _ in range(2)])
    lock = threading.Lock()

    def one() -> str:
        with lock:
            ev = next(scraps)
        return _apply(ctx, ev)

    assert at_once(2, one) == ["applied", "applied"]
    with ctx.db.sessions() as s:
        op = s.scalars(select(Operation).order_by(Operation.seq)).first()
        assert op is not None and op.scrapped_qty == 2
        assert s.scalar(select(func.count()).where(OrderLine.parent_line_id.is_not(None))) == 2


def test_machine_down_delivered_at_once_asks_for_one_plan(ctx: AppContext) -> None:
    _, v = released_plan(ctx)
    with ctx.db.sessions() as s:
        before = s.scalar(select(func.count()).select_from(Schedule))
        machine = s.scalars(select(Operation)).first()
    assert machine is not None
    with ctx.db.sessions() as s:
        plan = s.scalars(select(Schedule).where(Schedule.version == v)).one()
        machine_id = plan.assignments[0].machine_id
    down = StatusEvent(
        job_order_id="",
        kind="machine_down",
        at=datetime.now(UTC),
        event_id=uuid.uuid4().hex,
        source="button",
        machine_id=machine_id,
        reason="nozzle clog",
    )
    codes = at_once(N, lambda: _apply(ctx, down))
    assert codes.count("applied") == 1, codes
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Schedule)) == before + 1


def _second_plan(ctx: AppContext) -> int:
    sid = request_plan(ctx, "due_dates", 5, 14, P)
    with ctx.db.transaction() as s:
        approve(s, sid, P)
    return sid


def _release(ctx: AppContext, sid: int) -> int:
    with ctx.db.transaction() as s:
        return release(s, sid, P).version


def test_twelve_releases_at_once_release_once_and_supersede_once(ctx: AppContext) -> None:
    _, v1 = released_plan(ctx)
    sid = _second_plan(ctx)
    results = at_once(N, lambda: _release(ctx, sid))
    assert all(isinstance(r, int) for r in results), results
    with ctx.db.sessions() as s:
        moves = s.execute(
            select(Event.entity_id, Event.from_state, Event.to_state).where(
                Event.entity_type == "schedule", Event.to_state.in_(("released", "superseded"))
            )
        ).all()
        states = {r.version: r.state for r in s.scalars(select(Schedule))}
    assert sum(1 for m in moves if m.entity_id == str(sid) and m.to_state == "released") == 1
    assert sum(1 for m in moves if m.to_state == "superseded") == 1, moves
    assert states[v1] == ScheduleState.SUPERSEDED
    assert list(states.values()).count(ScheduleState.RELEASED) == 1


def test_a_superseded_job_order_neither_starts_nor_opens_nor_goes_out(ctx: AppContext) -> None:
    _, v1 = released_plan(ctx)
    old_job = _first_print(ctx, v1)
    v2 = _release(ctx, _second_plan(ctx))
    assert v2 != v1
    assert _apply(ctx, _event(old_job, "started", uuid.uuid4().hex)) == "superseded"
    assert (
        _apply(ctx, _event(old_job, "scrapped", uuid.uuid4().hex, qty=1, reason="x"))
        == "superseded"
    )
    with ctx.db.sessions() as s:
        with pytest.raises(NotFound):
            machine_of_job(s, old_job)
        old_rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"jo:JO-%-v{v1}:%"))
        ).all()
        assert old_rows, "the first release wrote job orders"
        assert all(r.status == OutboxStatus.DEAD for r in old_rows)
        assert all((r.last_error or "").startswith("withdrawn: plan v") for r in old_rows)
    new_job = _first_print(ctx, v2)
    assert _apply(ctx, _event(new_job, "started", uuid.uuid4().hex)) == "applied"


def test_twelve_sign_ups_with_one_address_make_one_account(ctx: AppContext) -> None:
    email = f"race-{uuid.uuid4().hex[:6]}@test.example"

    def sign_up() -> str:
        with ctx.db.transaction() as s:
            return create_user(s, email, "correct horse battery", Role.CUSTOMER).email

    results = at_once(N, sign_up)
    assert results.count(email) == 1, results
    assert all(isinstance(r, DomainError) for r in results if r != email), results
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.email == email)) == 1


def test_an_order_nobody_can_make_is_refused_by_the_service(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        for m in s.scalars(select(Machine)):
            m.state = MachineState.DOWN
    with ctx.db.transaction() as s, pytest.raises(DomainError, match="cannot be made"):
        place_order(s, user.id, [LineRequest(cfg.id, 2)], "k1", Actor("c", user.id), "PKR")
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0


def test_the_in_process_executor_records_a_failure_outside_the_job(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orders.adapters import queue as queue_module
    from orders.jobs import health_check

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("database is locked (simulated bookkeeping failure)")

    monkeypatch.setattr(queue_module, "execute", broken)
    ctx.settings.inprocess_jobs = "thread"
    record_id = ctx.queue.enqueue(health_check, 1, queue="cad")
    queue_module._background().submit(lambda: None).result(timeout=30)  # drain the executor
    with ctx.db.sessions() as s:
        record = s.get_one(JobRecord, record_id)
        assert record.state == JobState.FAILED
        assert "simulated bookkeeping failure" in (record.error or "")


def test_the_token_cap_holds_under_concurrent_requests_and_tokens_revoke(ctx: AppContext) -> None:
    from orders.commands.accounts import (
        MAX_TOKENS,
        issue_token,
        live_tokens,
        revoke_token,
        user_for_token,
    )

    with ctx.db.transaction() as s:
        user_id = make_user(s).id

    def issue() -> str:
        with ctx.db.transaction() as s:
            return issue_token(s, s.get_one(User, user_id), f"client {uuid.uuid4().hex[:6]}")

    results = at_once(MAX_TOKENS + 3, issue)
    made = [r for r in results if isinstance(r, str)]
    assert len(made) == MAX_TOKENS, results
    assert all(isinstance(r, DomainError) for r in results if not isinstance(r, str))
    with ctx.db.transaction() as s:
        first = live_tokens(s, user_id)[0]
        revoke_token(s, user_id, first.id)
        with pytest.raises(NotFound):
            revoke_token(s, user_id + 1000, live_tokens(s, user_id)[0].id)
    with ctx.db.sessions() as s:
        assert len(live_tokens(s, user_id)) == MAX_TOKENS - 1
        assert sum(user_for_token(s, clear) is not None for clear in made) == MAX_TOKENS - 1


@pytest.mark.parametrize(
    "email, name",
    [
        ("'; drop table orders; --@x.example", None),
        ("\U0001f600@x.example", None),
        ("nobody@localhost", None),
        ("ok@shop.example", "Ali\u202eevil"),
        ("ok@shop.example", "tab\there"),
    ],
)
def test_sign_up_refuses_bad_addresses_and_disguised_names(
    ctx: AppContext, email: str, name: str | None
) -> None:
    with ctx.db.transaction() as s, pytest.raises(DomainError) as err:
        create_user(s, email, "correct horse battery", Role.CUSTOMER, display_name=name)
    assert set(err.value.fields) <= {"email", "display_name"} and err.value.fields
