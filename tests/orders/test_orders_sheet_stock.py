"""Sheets consumed by laser jobs: a completed or scrapped laser job takes the whole sheets its
parts used (the pricing's rule: outline box times the nesting factor, as a share of the
material's sheet) from the stack of that material and thickness, once per floor event, each part
counted once, never below zero with the gap recorded. Stacks of other sheets are untouched.
Both engines."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest
from factories import released_plan
from sqlalchemy import func, select

from configurator.materials import materials
from configurator.pricebook import pricebook
from configurator.processes import Process
from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.stock import adjust, receive
from orders.context import AppContext
from orders.models import Event, MoveKind, Operation, StockItem, StockMove
from orders.queries.plans import current_release
from orders.queries.sheets import SheetNeed, sheet_need_of

CLERK = Actor("stores clerk")


def stack(ctx: AppContext, material: str, thickness: float, sheets: int, colour: str = "") -> int:
    with ctx.db.transaction() as s:
        items, _ = receive(
            s,
            kind="sheet",
            material=material,
            colour=colour,
            thickness_mm=thickness,
            sheets=sheets,
            location="rack",
            idempotency_key=uuid.uuid4().hex,
            actor=CLERK,
        )
        return items[0].id


def laser_job(ctx: AppContext) -> tuple[int, str, SheetNeed]:
    with ctx.db.sessions() as s:
        plan = current_release(s)
        assert plan is not None
        for a in plan.assignments:
            op = s.get_one(Operation, a.operation_id)
            need = sheet_need_of(s, op)
            if need is not None:
                return op.id, job_order_id(op.id, plan.version), need
    raise AssertionError("no laser job in the plan")


def sheets_left(ctx: AppContext, item_id: int) -> int:
    with ctx.db.sessions() as s:
        return s.get_one(StockItem, item_id).sheets_left


def event(job: str, kind: str, **kw: object) -> StatusEvent:
    return StatusEvent(job, kind, datetime.now(UTC), uuid.uuid4().hex, "button", **kw)  # type: ignore[arg-type]


def apply(ctx: AppContext, ev: StatusEvent) -> str:
    with ctx.db.transaction() as s:
        return apply_event(s, ev).code


def test_completion_and_scrap_take_whole_sheets_from_the_matching_stack_once(
    ctx: AppContext,
) -> None:
    released_plan(ctx, qty=20, family="nameplate")  # 150 x 50 mm clear acrylic, 3 mm
    op_id, job, need = laser_job(ctx)
    mat = materials()["acrylic"]
    assert mat.sheet_size_mm is not None
    nesting = pricebook().process[Process.LASER]["nesting_factor"]
    area = mat.sheet_size_mm[0] * mat.sheet_size_mm[1]
    assert (need.material, need.colour, need.thickness_mm) == ("acrylic", "clear", 3.0)
    assert need.share_per_unit == pytest.approx(150 * 50 * nesting / area, rel=0.02)
    n = need.parts_open  # the line's 20, or its first batch if the line was split
    assert 3 <= n <= 20
    mine = stack(ctx, "acrylic", 3, 10, "clear")
    others = [stack(ctx, "acrylic", 5, 10, "clear"), stack(ctx, "plywood", 3, 10, "natural")]
    assert apply(ctx, event(job, "started")) == "applied"
    assert apply(ctx, event(job, "scrapped", qty=2, reason="warped")) == "applied"
    assert sheets_left(ctx, mine) == 10 - math.ceil(need.share_per_unit * 2)  # one sheet started
    done = event(job, "completed")
    assert apply(ctx, done) == "applied"
    assert apply(ctx, done) == "duplicate"  # the same event again takes nothing
    after = 10 - math.ceil(need.share_per_unit * 2) - math.ceil(need.share_per_unit * (n - 2))
    assert sheets_left(ctx, mine) == after == 10 - 1 - 1  # the other parts fit on one more sheet
    assert apply(ctx, event(job, "scrapped", qty=1, reason="QC")) == "applied"
    assert sheets_left(ctx, mine) == after  # after completion that sheet was already counted
    assert [sheets_left(ctx, i) for i in others] == [10, 10]
    with ctx.db.sessions() as s:
        parts = s.scalar(select(func.sum(StockMove.parts)).where(StockMove.operation_id == op_id))
        assert parts == n  # every part once
        moves = s.scalars(
            select(StockMove).where(StockMove.item_id == mine, StockMove.kind == MoveKind.CONSUME)
        ).all()
        assert sorted(m.sheets for m in moves) == [-1, -1]
        assert all(m.note and job in m.note for m in moves)


def test_sheets_never_go_below_zero_and_the_gap_is_recorded(ctx: AppContext) -> None:
    released_plan(ctx, qty=4, family="nameplate")
    _, job, _ = laser_job(ctx)
    mine = stack(ctx, "acrylic", 3, 1, "")  # no colour recorded: any colour of it
    with ctx.db.transaction() as s:  # the last sheet went to a test cut
        adjust(s, mine, sheets=0, idempotency_key="count", actor=CLERK)
    assert apply(ctx, event(job, "started")) == "applied"
    assert apply(ctx, event(job, "completed")) == "applied"
    assert sheets_left(ctx, mine) == 0
    with ctx.db.sessions() as s:
        gap = s.scalars(select(StockMove).where(StockMove.kind == MoveKind.DISCREPANCY)).one()
        assert gap.item_id == mine and gap.note and "1 sheet(s) more" in gap.note
        assert s.scalar(select(Event.id).where(Event.to_state == "discrepancy")) is not None


def test_a_laser_job_without_a_recorded_stack_changes_no_stock(ctx: AppContext) -> None:
    released_plan(ctx, qty=2, family="nameplate")
    _, job, _ = laser_job(ctx)
    other = stack(ctx, "plywood", 3, 4, "natural")
    assert apply(ctx, event(job, "started")) == "applied"
    assert apply(ctx, event(job, "completed")) == "applied"
    assert sheets_left(ctx, other) == 4
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(StockMove).where(
            StockMove.kind == MoveKind.CONSUME)) == 0  # fmt: skip
