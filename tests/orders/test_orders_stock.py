"""Material stock: spools and sheets received, loaded, weighed in and consumed; the released
plan reserving its grams; a start refused when the loaded spool cannot finish the job, naming a
spool that can; consumption on completion and scrap (clamped, the gap recorded); low-stock
alerts with a reorder suggestion; concurrent duplicates taking effect once. Both engines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from factories import make_shop, make_user, released_plan
from shared_helpers import at_once
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.station import press
from orders.commands.stock import adjust, consume, load_spool, receive, unload_spool
from orders.context import AppContext
from orders.errors import DomainError, NotFound
from orders.models import (
    Event,
    MoveKind,
    Operation,
    OperationStatus,
    Role,
    StockItem,
    StockMove,
)
from orders.queries.plans import current_release
from orders.queries.station import StationUser
from orders.queries.stock import (
    balances,
    floor_warnings,
    job_need,
    need_of,
    reservations,
    stock_rules,
)

CLERK = Actor("stores clerk")


def spools(ctx: AppContext, material: str, colour: str, grams: float, n: int = 1) -> list[int]:
    with ctx.db.transaction() as s:
        items, _ = receive(
            s,
            kind="spool",
            material=material,
            colour=colour,
            grams=grams,
            count=n,
            location="A1",
            idempotency_key=uuid.uuid4().hex,
            actor=CLERK,
        )
        return [i.id for i in items]


def load(ctx: AppContext, item_id: int, machine_id: str) -> Any:
    with ctx.db.transaction() as s:
        return load_spool(s, item_id, machine_id, CLERK).changed


def the_job(ctx: AppContext) -> tuple[int, str, str, Any]:
    """(operation id, job order id, printer, need) of the released plan's first print job."""
    with ctx.db.sessions() as s:
        plan = current_release(s)
        assert plan is not None
        for a in sorted(plan.assignments, key=lambda x: x.start):
            op = s.get_one(Operation, a.operation_id)
            need = need_of(s, op)
            if need is not None:
                return op.id, job_order_id(op.id, plan.version), a.machine_id, need
    raise AssertionError("no print job in the plan")


def grams_left(ctx: AppContext, item_id: int) -> float:
    with ctx.db.sessions() as s:
        return s.get_one(StockItem, item_id).grams_left


def press_as_admin(ctx: AppContext, job: str, action: str, **kw: Any) -> Any:
    with ctx.db.transaction() as s:
        admin = make_user(s, Role.ADMIN)
        return press(s, job, action, uuid.uuid4().hex, StationUser.load(s, admin.id), **kw)


def event(job: str, kind: str, **kw: Any) -> StatusEvent:
    return StatusEvent(job, kind, datetime.now(UTC), uuid.uuid4().hex, "button", **kw)


def test_receive_load_adjust_consume_and_their_refusals(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
    key = uuid.uuid4().hex
    with ctx.db.transaction() as s:
        first, created = receive(
            s, kind="spool", material="PLA", colour="Black", grams="1,000", count=2,
            idempotency_key=key, actor=CLERK,
        )  # fmt: skip
        assert created and [i.tare_g for i in first] == [stock_rules().spool_tare_g] * 2
    with ctx.db.transaction() as s:  # the same form again: the same two spools
        again, created = receive(
            s, kind="spool", material="pla", colour="black", grams=1000, count=2,
            idempotency_key=key, actor=CLERK,
        )  # fmt: skip
        assert not created and [i.id for i in again] == [i.id for i in first]
    a, b = (i.id for i in first)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"material": "unobtainium"}, "material"),
        ({"colour": "plaid"}, "colour"),
        ({"grams": "-5"}, "grams"),
        ({"grams": "lots"}, "grams"),
        ({"count": "0"}, "count"),
        ({"kind": "barrel"}, "kind"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ]
    for change, field in bad:
        args: dict[str, Any] = {
            "kind": "spool", "material": "pla", "colour": "black", "grams": 1000,
            "idempotency_key": uuid.uuid4().hex,
        } | change  # fmt: skip
        with pytest.raises(DomainError) as err, ctx.db.transaction() as s:
            receive(s, actor=CLERK, **args)
        assert field in err.value.fields, (change, err.value.fields)
    assert load(ctx, a, "fdm-mk4-01") and not load(ctx, a, "fdm-mk4-01")
    assert load(ctx, b, "fdm-mk4-01"), "loading b unloads a"
    with ctx.db.sessions() as s:
        assert s.get_one(StockItem, a).machine_id is None
        assert s.get_one(StockItem, b).machine_id == "fdm-mk4-01"
    with pytest.raises(DomainError) as err, ctx.db.transaction() as s:
        load_spool(s, a, "resin-01", CLERK)
    assert "machine_id" in err.value.fields or "machine" in err.value.message
    with pytest.raises(NotFound), ctx.db.transaction() as s:
        load_spool(s, 10**6, "fdm-mk4-01", CLERK)
    weigh = uuid.uuid4().hex
    for _ in range(2):  # a weigh-in of 750 g gross on a 250 g spool: 500 g left, once
        with ctx.db.transaction() as s:
            adjust(s, b, measured_g="750", idempotency_key=weigh, actor=CLERK)
    assert grams_left(ctx, b) == 500
    with pytest.raises(DomainError) as err, ctx.db.transaction() as s:
        consume(s, b, amount=501, idempotency_key="c1", actor=CLERK)
    assert "amount" in err.value.fields
    with ctx.db.transaction() as s:
        consume(s, b, amount=100, idempotency_key="c2", actor=CLERK)
        assert unload_spool(s, b, CLERK, "dry box").changed
    assert grams_left(ctx, b) == 400
    with ctx.db.transaction() as s:
        (sheet,), _ = receive(
            s, kind="sheet", material="acrylic", thickness_mm="3", sheets="10",
            idempotency_key=uuid.uuid4().hex, actor=CLERK,
        )  # fmt: skip
        adjust(s, sheet.id, sheets="8", idempotency_key=uuid.uuid4().hex, actor=CLERK)
        assert sheet.sheets_left == 8
    with pytest.raises(IntegrityError), ctx.db.transaction() as s:  # the CHECK holds
        s.get_one(StockItem, a).grams_left = -1
        s.flush()
    with ctx.db.sessions() as s:
        kinds = s.scalars(select(Event.to_state).where(Event.entity_type == "stock_item")).all()
    assert sorted(set(kinds)) == ["adjusted", "consumed", "loaded", "received", "unloaded"]


def test_start_refused_naming_a_spool_that_can_finish_it(ctx: AppContext) -> None:
    released_plan(ctx)
    op_id, job, printer, need = the_job(ctx)
    assert need.grams > 0 and need.material and need.colour
    wanted = stock_rules().with_margin(need.grams)
    other_colour = "white" if need.colour != "white" else "black"
    (wrong,) = spools(ctx, need.material, other_colour, 1000)
    (small,) = spools(ctx, need.material, need.colour, round(wanted - 1, 1))
    (big,) = spools(ctx, need.material, need.colour, wanted + 500)
    load(ctx, wrong, printer)
    refused = press_as_admin(ctx, job, "start")
    assert refused.code == "stock" and f"needs {need.material} {need.colour}" in refused.message
    assert f"Load spool #{big}" in refused.message, refused.message
    load(ctx, small, printer)
    refused = press_as_admin(ctx, job, "start")
    assert "cannot finish" in refused.message and f"spool #{big}" in refused.message
    with ctx.db.sessions() as s:
        warnings = floor_warnings(s)
        assert [w.job_order_id for w in warnings if w.machine_id == printer][:1] == [job]
        assert s.get_one(Operation, op_id).status == OperationStatus.RELEASED
    with ctx.db.transaction() as s:  # the big spool gone: no spool can
        s.get_one(StockItem, big).grams_left = 0
    refused = press_as_admin(ctx, job, "start")
    assert "No spool of" in refused.message
    with ctx.db.transaction() as s:
        s.get_one(StockItem, big).grams_left = wanted + 500
    load(ctx, big, printer)
    started = press_as_admin(ctx, job, "start")
    assert started.ok, started.message
    with ctx.db.sessions() as s:
        assert s.get_one(Operation, op_id).status == OperationStatus.RUNNING


def test_untracked_printer_starts_as_before(ctx: AppContext) -> None:
    released_plan(ctx)
    _, job, printer, need = the_job(ctx)
    spools(ctx, need.material, need.colour, 1)  # stock exists, but not on this printer
    assert press_as_admin(ctx, job, "start").ok


def test_completion_and_scrap_consume_from_the_loaded_spool_once(ctx: AppContext) -> None:
    released_plan(ctx, qty=4)
    op_id, job, printer, need = the_job(ctx)
    (spool,) = spools(ctx, need.material, need.colour, 5000)
    load(ctx, spool, printer)
    with ctx.db.sessions() as s:
        before = sum(r.need.grams for r in reservations(s))
        op = s.get_one(Operation, op_id)
        qty = op.quantity
        plan = current_release(s)
        assert plan is not None
        whole_job, _ = job_need(s, op, plan)  # a plate: every member's grams
    assert before >= whole_job >= need.grams > 0
    assert press_as_admin(ctx, job, "start").ok
    with ctx.db.transaction() as s:
        assert apply_event(s, event(job, "scrapped", qty=1, reason="spaghetti")).ok
    per_unit = need.grams_per_unit
    assert grams_left(ctx, spool) == pytest.approx(5000 - per_unit, abs=0.2)
    with ctx.db.sessions() as s:
        assert need_of(s, s.get_one(Operation, op_id)).parts_open == qty - 1  # type: ignore[union-attr]
    with ctx.db.transaction() as s:
        done = event(job, "completed")
        assert apply_event(s, done).ok
        assert apply_event(s, done).code == "duplicate"
    assert grams_left(ctx, spool) == pytest.approx(5000 - whole_job, abs=0.5)
    with ctx.db.transaction() as s:  # scrap after completion: that plastic was already counted
        assert apply_event(s, event(job, "scrapped", qty=1, reason="QC")).ok
    assert grams_left(ctx, spool) == pytest.approx(5000 - whole_job, abs=0.5)
    with ctx.db.sessions() as s:
        assert op_id not in {r.need.operation_id for r in reservations(s)}
        parts = s.scalar(select(func.sum(StockMove.parts)).where(StockMove.operation_id == op_id))
        assert parts == qty


def test_consumption_never_goes_below_zero_and_records_the_gap(ctx: AppContext) -> None:
    released_plan(ctx)
    _, job, printer, need = the_job(ctx)
    (spool,) = spools(ctx, need.material, need.colour, 5000)
    load(ctx, spool, printer)
    assert press_as_admin(ctx, job, "start").ok
    with ctx.db.transaction() as s:  # someone cut the spool: a weigh-in says 1 g is left
        tare = s.get_one(StockItem, spool).tare_g
        adjust(s, spool, measured_g=tare + 1, idempotency_key="w", actor=CLERK)
    with ctx.db.transaction() as s:
        assert apply_event(s, event(job, "completed")).ok
    assert grams_left(ctx, spool) == 0
    with ctx.db.sessions() as s:
        gaps = s.scalars(select(StockMove).where(StockMove.kind == MoveKind.DISCREPANCY)).all()
        assert gaps and all(g.note and "more than recorded" in g.note for g in gaps)
        assert s.scalar(select(Event.id).where(Event.to_state == "discrepancy")) is not None


def test_low_stock_alert_suggests_whole_spools(ctx: AppContext) -> None:
    released_plan(ctx)
    _, _, _, need = the_job(ctx)
    spools(ctx, need.material, need.colour, 1)
    rules = stock_rules()
    with ctx.db.sessions() as s:
        mine = next(
            b for b in balances(s) if (b.material, b.colour) == (need.material, need.colour)
        )
    assert mine.level == "short" and mine.reserved_g >= need.grams
    expected = -(-(mine.reserved_g + mine.demand_g + rules.low_stock_spare_g - 1) // 1000)
    assert mine.reorder_spools == expected >= 1
    spools(ctx, need.material, need.colour, mine.reserved_g + mine.demand_g + 5000)
    with ctx.db.sessions() as s:
        mine = next(
            b for b in balances(s) if (b.material, b.colour) == (need.material, need.colour)
        )
    assert mine.level == "ok" and mine.reorder_spools == 0


def test_concurrent_duplicate_load_and_weigh_in_take_effect_once(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
    (spool,) = spools(ctx, "pla", "black", 1000)

    def load_once() -> bool:
        return load(ctx, spool, "fdm-mk4-02")

    results = at_once(2, load_once)
    assert sorted(results) == [False, True], results

    def weigh() -> Any:
        with ctx.db.transaction() as s:
            return adjust(s, spool, measured_g=900, idempotency_key="scale-1", actor=CLERK).changed

    assert sorted(at_once(2, weigh)) == [False, True]

    def receive_form() -> bool:
        with ctx.db.transaction() as s:
            items, created = receive(
                s, kind="spool", material="pla", colour="red", grams=750,
                idempotency_key="delivery-7", actor=CLERK,
            )  # fmt: skip
            return created

    assert sorted(at_once(2, receive_form)) == [False, True]
    with ctx.db.sessions() as s:
        moves = s.scalars(select(StockMove.kind).where(StockMove.item_id == spool)).all()
        reds = s.scalars(select(StockItem.id).where(StockItem.colour == "red")).all()
    assert sorted(moves) == ["adjust", "load", "receive"] and len(reds) == 1
    assert grams_left(ctx, spool) == 900 - stock_rules().spool_tare_g


@pytest.mark.parametrize("backend", ["sqlite"])
def test_hunar_stock_cli(ctx: AppContext) -> None:
    from click.testing import CliRunner

    from orders.cli import main

    with ctx.db.transaction() as s:
        make_shop(s)
    env = {
        "HUNAR_DATABASE_URL": ctx.settings.resolved_database_url(),
        "HUNAR_VAR_DIR": str(ctx.settings.var_dir),
    }
    run = CliRunner()
    bad = run.invoke(main, ["stock", "receive", "spool", "pla", "--colour", "plaid"], env=env)
    assert bad.exit_code == 1 and "colour" in bad.output
    args = ["stock", "receive", "spool", "pla", "--colour", "red", "--grams", "1000", "--key", "k"]
    assert "received #1" in run.invoke(main, args, env=env).output
    assert "already received as #1" in run.invoke(main, args, env=env).output
    assert "loaded on" in run.invoke(main, ["stock", "load", "1", "fdm-mk4-01"], env=env).output
    adj = run.invoke(main, ["stock", "adjust", "1", "--measured", "650"], env=env)
    assert "#1: 400 g left" in adj.output, adj.output
    listed = run.invoke(main, ["stock", "list"], env=env).output
    assert "#1 spool pla red: 400 g, on fdm-mk4-01" in listed
    assert "unloaded" in run.invoke(main, ["stock", "unload", "1"], env=env).output
    missing = run.invoke(main, ["stock", "load", "99", "fdm-mk4-01"], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output
