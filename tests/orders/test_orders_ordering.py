"""Placing orders and walking them through the lifecycle, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from factories import make_configuration, make_shop, make_user
from sqlalchemy import func, select

from orders.commands.audit import Actor, transition
from orders.commands.designs import save_configuration
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.errors import (
    DuplicateSubmission,
    IllegalTransition,
    InvalidConfiguration,
    InvalidQuantity,
    NotFound,
    UnknownFamily,
)
from orders.lifecycle import MAIN_PATH, Status
from orders.models import Event, Order, OrderLine, ProductConfiguration, Quote

CUR = "PKR"


def _counts(ctx: AppContext) -> dict[str, int]:
    with ctx.db.sessions() as s:
        return {
            m.__name__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Order, OrderLine, Quote, Event)
        }


def _setup(ctx: AppContext) -> tuple[int, int, Actor]:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        config = make_configuration(s)
        return user.id, config.id, Actor(user.email, user.id)


def _place(ctx: AppContext, cust: int, cfg: int, actor: Actor, key: str = "k1", qty: int = 2):  # type: ignore[no-untyped-def]
    with ctx.db.transaction() as s:
        res = place_order(s, cust, [LineRequest(cfg, qty, "standard")], key, actor, CUR)
        return res.order.id, res.created


def test_place_order_and_walk_the_whole_lifecycle(ctx: AppContext) -> None:
    cust, cfg, actor = _setup(ctx)
    order_id, created = _place(ctx, cust, cfg, actor)
    assert created
    with ctx.db.transaction() as s:
        order = s.get_one(Order, order_id)
        assert order.status == Status.PLACED and order.total > 0
        line = order.lines[0]
        assert line.quantity == 2 and line.status == Status.PLACED
        assert line.promised_ship_date is not None
        quote = s.get_one(Quote, line.quote_id)
        assert quote.source == "analytic" and {ln["code"] for ln in quote.lines["lines"]}
        for target in MAIN_PATH[3:]:
            transition(s, line, target, Actor("operator"))
            transition(s, order, target, Actor("operator"))
    with ctx.db.sessions() as s:
        trail = s.scalars(
            select(Event)
            .where(Event.entity_type == "order", Event.entity_id == str(order_id))
            .order_by(Event.id)
        ).all()
    assert [e.to_state for e in trail] == [st.value for st in MAIN_PATH]
    assert [e.from_state for e in trail] == [None, *[st.value for st in MAIN_PATH[:-1]]]
    assert trail[1].actor == actor.label and trail[1].actor_id == cust
    assert all(e.at is not None and e.at.tzinfo is not None for e in trail)


def test_same_idempotency_key_returns_the_same_order(ctx: AppContext) -> None:
    cust, cfg, actor = _setup(ctx)
    first = _place(ctx, cust, cfg, actor)
    before = _counts(ctx)
    again = _place(ctx, cust, cfg, actor)
    assert again == (first[0], False)
    assert _counts(ctx) == before


def test_reused_key_with_other_content_is_a_typed_error(ctx: AppContext) -> None:
    cust, cfg, actor = _setup(ctx)
    _place(ctx, cust, cfg, actor, qty=2)
    before = _counts(ctx)
    with pytest.raises(DuplicateSubmission, match="already used"):
        _place(ctx, cust, cfg, actor, qty=3)
    assert _counts(ctx) == before


@pytest.mark.parametrize("qty", [0, -1, True, 1.5, "2"])
def test_bad_quantity_is_rejected_and_nothing_written(ctx: AppContext, qty: object) -> None:
    cust, cfg, actor = _setup(ctx)
    before = _counts(ctx)
    with pytest.raises(InvalidQuantity, match="quantity"):
        _place(ctx, cust, cfg, actor, qty=qty)  # type: ignore[arg-type]
    assert _counts(ctx) == before


def test_failure_midway_rolls_back_everything(ctx: AppContext) -> None:
    """The second line fails after the first was priced: no order, line, quote or event remains."""
    cust, cfg, actor = _setup(ctx)
    before = _counts(ctx)
    with pytest.raises(NotFound), ctx.db.transaction() as s:
        lines = [LineRequest(cfg, 1), LineRequest(999_999, 1)]
        place_order(s, cust, lines, "k-mid", actor, CUR)
    assert _counts(ctx) == before


def test_illegal_transition_rolls_back_with_no_orphan_event(ctx: AppContext) -> None:
    cust, cfg, actor = _setup(ctx)
    order_id, _ = _place(ctx, cust, cfg, actor)
    before = _counts(ctx)
    with pytest.raises(IllegalTransition) as info, ctx.db.transaction() as s:
        order = s.get_one(Order, order_id)
        transition(s, order, Status.CAD_READY, actor)  # legal, writes an event ...
        transition(s, order, Status.SHIPPED, actor)  # ... then an illegal one
    assert "cad_ready" in str(info.value) and "shipped" in str(info.value)
    assert _counts(ctx) == before
    with ctx.db.sessions() as s:
        assert s.get_one(Order, order_id).status == Status.PLACED


def test_unknown_family_and_invalid_design_are_typed(ctx: AppContext) -> None:
    with pytest.raises(UnknownFamily, match="nosuch"), ctx.db.transaction() as s:
        save_configuration(s, "nosuch", {})
    with pytest.raises(InvalidConfiguration) as info, ctx.db.transaction() as s:
        save_configuration(s, "enclosure", {"wall": 0.1, "bogus": 1})
    assert {"wall", "bogus"} <= set(info.value.fields)
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProductConfiguration)) == 0


def test_same_design_is_stored_once(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        a = make_configuration(s, wall=2.0)
        b = make_configuration(s, wall="2.00")
        assert a.id == b.id


def test_concurrent_double_click_creates_one_order(ctx: AppContext) -> None:
    cust, cfg, actor = _setup(ctx)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def click() -> None:
        barrier.wait()
        try:
            results.append(_place(ctx, cust, cfg, actor, key="double"))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    _run_threads(click, 4)
    if ctx.db.engine.dialect.name == "postgresql":
        assert errors == []
    # SQLite serialises writers; a loser may see "database is locked" and retry client-side.
    assert len({r[0] for r in results}) == 1 and sum(r[1] for r in results) == 1
    assert _counts(ctx)["Order"] == 1


def _run_threads(fn: Callable[[], None], n: int) -> None:
    threads = [threading.Thread(target=fn) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
