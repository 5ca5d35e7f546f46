"""Amending an order (issue 14): quantity and lead time change before CAD, re-priced and
re-promised like placing, refused once the design went to CAD, once per identical request
however many arrive at once; a held order amended or cancelled by its customer; the "ready to
ship" e-mail when the floor completes an order. Both engines, real threads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from factories import make_configuration, make_shop, make_user, released_plan
from shared_helpers import at_once
from sqlalchemy import func, select
from test_orders_fulfilment import finish_all

from orders.commands.amend import AmendRefused, amend_line
from orders.commands.audit import Actor
from orders.commands.fulfilment import cancel_order
from orders.commands.ordering import LineRequest, place_order
from orders.commands.production import hold_lines, mark_cad_ready
from orders.context import AppContext
from orders.errors import DomainError, NotFound
from orders.lifecycle import Status
from orders.models import Event, Order, OrderLine, OutboxMessage, Quote
from orders.queries.tracking import track_order

THIN_WALL = {
    "code": "THIN_WALL",
    "severity": "required",
    "hint": "Walls are too thin to print reliably; make them at least 1.2 mm",
    "measured": 0.8,
    "threshold": 1.2,
    "unit": "mm",
}


def placed(ctx: AppContext, qty: int = 2) -> tuple[int, int, int, int]:
    """(order id, line id, customer id, configuration id) of a fresh one-line placed order."""
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        order = place_order(
            s, user.id, [LineRequest(cfg.id, qty)], uuid.uuid4().hex, Actor("c", user.id), "PKR"
        ).order
        return order.id, order.lines[0].id, user.id, cfg.id


def amend(
    ctx: AppContext, oid: int, lid: int, uid: int, qty: object, tier: object = "standard"
) -> Any:
    with ctx.db.transaction() as s:
        return amend_line(s, oid, lid, qty, tier, Actor("c", uid), customer_id=uid)


def amended_events(ctx: AppContext, lid: int) -> list[Event]:
    with ctx.db.sessions() as s:
        query = select(Event).where(
            Event.entity_type == "order_line",
            Event.entity_id == str(lid),
            Event.to_state == "amended",
        )
        return list(s.scalars(query))


def mail_keys(ctx: AppContext, prefix: str) -> list[str]:
    with ctx.db.sessions() as s:
        keys = s.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "email"))
        return [k for k in keys if k.startswith(prefix)]


def test_amend_before_cad_reprices_repromises_and_records_old_to_new(ctx: AppContext) -> None:
    oid, lid, uid, _ = placed(ctx, qty=2)
    with ctx.db.sessions() as s:
        before = s.get_one(Order, oid).total
        old_quote = s.get_one(OrderLine, lid).quote_id
    done = amend(ctx, oid, lid, uid, 6, "express")
    assert done.changed and done.promised_ship_date is not None
    with ctx.db.sessions() as s:
        line, order = s.get_one(OrderLine, lid), s.get_one(Order, oid)
        quote = s.get_one(Quote, line.quote_id)
        assert (line.quantity, line.tier) == (6, "express")
        assert line.quote_id != old_quote and (quote.quantity, quote.tier) == (6, "express")
        assert line.unit_price == quote.unit_price
        assert line.promised_ship_date == quote.promised_ship_date
        assert order.total == quote.total == done.total and order.total > before
        assert line.status == Status.PLACED  # an amend is not a transition
    (ev,) = amended_events(ctx, lid)
    assert ev.payload["quantity"] == [2, 6] and ev.payload["tier"] == ["standard", "express"]
    assert ev.payload["order_total"] == [str(before), str(done.total)]
    assert ev.actor_id == uid
    assert len(mail_keys(ctx, f"mail:amended{ev.id}:order{oid}")) == 1
    with ctx.db.sessions() as s:
        story = [item.text for item in track_order(s, oid, uid).story]
    assert any("You changed line" in t and "quantity 2 → 6" in t for t in story), story


def test_a_repeated_identical_amend_changes_nothing(ctx: AppContext) -> None:
    oid, lid, uid, _ = placed(ctx)
    assert amend(ctx, oid, lid, uid, 3).changed
    again = amend(ctx, oid, lid, uid, 3)
    assert not again.changed
    assert len(amended_events(ctx, lid)) == 1


def test_concurrent_duplicate_amends_apply_once(ctx: AppContext) -> None:
    oid, lid, uid, _ = placed(ctx)
    results = at_once(4, lambda: amend(ctx, oid, lid, uid, 4, "economy"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.changed for r in results) == 1
    assert len(amended_events(ctx, lid)) == 1
    with ctx.db.sessions() as s:
        line = s.get_one(OrderLine, lid)
        quotes = s.scalar(select(func.count()).select_from(Quote).where(Quote.customer_id == uid))
    assert (line.quantity, line.tier) == (4, "economy")
    assert quotes == 2  # the order's first quote and the amend's, no more


def test_amend_is_refused_once_cad_is_done(ctx: AppContext) -> None:
    oid, lid, uid, cfg = placed(ctx)
    with ctx.db.transaction() as s:
        assert mark_cad_ready(s, cfg, None, {}, Actor.system("cad-worker")) == [lid]
    with pytest.raises(AmendRefused) as refused:
        amend(ctx, oid, lid, uid, 5)
    assert "line_id" in refused.value.fields and "contact us" in refused.value.message
    assert amended_events(ctx, lid) == []
    with ctx.db.sessions() as s:
        assert not track_order(s, oid, uid).lines[0].amendable


@pytest.mark.parametrize(
    ("qty", "tier", "field"),
    [(0, "standard", "quantity"), (10**6, "standard", "quantity"), (2, "ludicrous", "tier")],
)
def test_bad_quantity_or_tier_names_the_field(
    ctx: AppContext, qty: int, tier: str, field: str
) -> None:
    oid, lid, uid, _ = placed(ctx)
    with pytest.raises(DomainError) as bad:
        amend(ctx, oid, lid, uid, qty, tier)
    assert field in bad.value.fields


def test_only_the_customers_own_line(ctx: AppContext) -> None:
    oid, lid, uid, _ = placed(ctx)
    other, other_line, other_uid, _ = placed(ctx)
    with pytest.raises(NotFound):
        amend(ctx, oid, lid, other_uid, 3)  # someone else's order
    with pytest.raises(NotFound) as wrong_line:
        amend(ctx, oid, other_line, uid, 3)  # a line of another order
    assert "line_id" in wrong_line.value.fields


def test_no_promised_date_is_a_refusal_naming_the_tier(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    oid, lid, uid, _ = placed(ctx)
    monkeypatch.setattr("orders.commands.designs.promise_for", lambda *a, **k: None)
    with pytest.raises(DomainError) as refused:
        amend(ctx, oid, lid, uid, 7)
    assert "tier" in refused.value.fields
    with ctx.db.sessions() as s:
        assert s.get_one(OrderLine, lid).quantity == 2  # nothing half-written


def test_a_held_order_is_amended_or_cancelled_by_its_customer(ctx: AppContext) -> None:
    oid, lid, uid, cfg = placed(ctx)
    with ctx.db.transaction() as s:
        hold_lines(s, cfg, "CAD mesh failure: self-intersecting", Actor.system("cad-worker"))
    with ctx.db.sessions() as s:
        (ln,) = track_order(s, oid, uid).lines
    assert ln.status == Status.ON_HOLD and ln.amendable and not ln.needs_new_design
    assert ln.hold_why and "self-intersecting" not in ln.hold_why and ln.hold_todo
    assert amend(ctx, oid, lid, uid, 3).changed
    with ctx.db.transaction() as s:
        assert cancel_order(s, oid, Actor("c", uid), None, customer_id=uid).changed
    with ctx.db.sessions() as s:
        assert s.get_one(Order, oid).status == Status.CANCELLED


def test_a_design_hold_asks_for_a_new_design_not_an_amend(ctx: AppContext) -> None:
    oid, lid, uid, cfg = placed(ctx)
    reason = f"DFM: THIN_WALL: {THIN_WALL['hint']}"
    with ctx.db.transaction() as s:
        hold_lines(s, cfg, reason, Actor.system("cad-worker"), {"findings": [THIN_WALL]})
    with ctx.db.sessions() as s:
        t = track_order(s, oid, uid)
    (ln,) = t.lines
    assert ln.needs_new_design and not ln.amendable and t.cancellable
    assert "THIN_WALL" not in (ln.hold_why or "") and "too thin" in (ln.hold_why or "")
    assert "DFM" not in t.status_text
    with pytest.raises(AmendRefused) as refused:
        amend(ctx, oid, lid, uid, 3)
    assert "new design" in refused.value.message and "cancel" in refused.value.message
    with ctx.db.transaction() as s:
        assert cancel_order(s, oid, Actor("c", uid), "will redesign", customer_id=uid).changed


def test_ready_mail_once_when_the_floor_completes_the_order(ctx: AppContext) -> None:
    oid, version = released_plan(ctx, qty=2)
    finish_all(ctx, oid, version)
    with ctx.db.sessions() as s:
        order = s.get_one(Order, oid)
        assert order.status == Status.COMPLETED
        key = f"mail:ready:order{oid}:user{order.customer_id}"
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
    assert row.payload["subject"] == f"Order #{oid} is ready to ship"
    assert "ready to ship" in row.payload["body"]
    assert len(mail_keys(ctx, f"mail:ready:order{oid}:")) == 1
