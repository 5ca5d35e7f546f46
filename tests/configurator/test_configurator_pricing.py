"""quote(): itemised Decimal lines, analytic vs measured, quantity breaks, tiers, setup."""

from __future__ import annotations

from decimal import Decimal

import pytest

from configurator import GeometryMetrics, InvalidRequestError, quote, validate
from configurator.pricebook import pricebook


def _cfg(key: str = "enclosure", **raw: object):
    res = validate(key, raw)
    assert res.ok, res.errors
    return res.config


def test_lines_are_decimal_and_sum_to_total() -> None:
    q = quote(_cfg(), 25, "standard")
    assert all(isinstance(ln.amount, Decimal) for ln in q.lines)
    assert sum(ln.amount for ln in q.lines) == q.total
    assert {"material", "machine_time", "setup", "post_processing", "margin", "quantity_break"} <= {
        ln.code for ln in q.lines
    }
    assert q.currency == "PKR" and q.total == q.total.quantize(Decimal("0.01"))
    assert q.unit_price == (q.total / 25).quantize(Decimal("0.01"))


def test_analytic_source_is_declared() -> None:
    q = quote(_cfg(), 1, "standard")
    assert q.source == "analytic" and "estimate" in q.notes[0]


def test_measured_metrics_are_used_and_declared() -> None:
    cfg = _cfg()
    est = quote(cfg, 1, "standard")
    m = GeometryMetrics(
        volume_mm3=est.metrics.volume_mm3,
        area_mm2=est.metrics.area_mm2,
        bbox_mm=est.metrics.bbox_mm,
        print_minutes=300.0,
        filament_g=80.0,
    )
    meas = quote(cfg, 1, "standard", m)
    assert meas.source == "measured"
    assert meas.line("machine_time").amount == Decimal("2250.00")  # 300 min at 450/h
    assert "slicer" in meas.line("material").detail
    assert meas.total > est.total


def test_setup_is_amortised_so_unit_price_falls_with_quantity() -> None:
    cfg = _cfg("pipe_flange")
    prices = [quote(cfg, n, "standard").unit_price for n in (1, 5, 10, 50, 200)]
    assert prices == sorted(prices, reverse=True) and prices[0] > prices[-1]
    setup = quote(cfg, 1, "standard").line("setup").amount
    assert quote(cfg, 50, "standard").line("setup").amount == setup


def test_quantity_breaks_apply() -> None:
    cfg = _cfg()
    assert quote(cfg, 9, "standard").line("quantity_break") is None
    brk = quote(cfg, 50, "standard").line("quantity_break")
    assert brk is not None and brk.amount < 0 and "10%" in brk.detail


def test_tiers_order_prices() -> None:
    cfg = _cfg("knob")
    e, s, x = (quote(cfg, 20, t).total for t in ("economy", "standard", "express"))
    assert e < s < x


def test_minimum_order_value() -> None:
    q = quote(
        _cfg("knob", diameter=12, height=10, shaft_diameter=3, shaft_depth=5, grip="smooth"),
        1,
        "economy",
    )
    assert q.total >= pricebook().min_order_value


def test_currency_is_a_parameter() -> None:
    assert quote(_cfg(), 1, "standard", currency="USD").currency == "USD"


def test_laser_material_is_priced_per_sheet() -> None:
    q = quote(_cfg("nameplate", material="acrylic", thickness=5), 10, "standard")
    assert "of a 5 mm sheet" in q.line("material").detail


def test_cnc_material_is_priced_by_stock_block() -> None:
    q = quote(_cfg("pipe_flange"), 1, "standard")
    assert "stock 171x171x22 mm" in q.line("material").detail


def test_anodised_colour_adds_post_step() -> None:
    plain = quote(_cfg("pipe_flange"), 1, "standard")
    anod = quote(_cfg("pipe_flange", colour="anodised_black"), 1, "standard")
    assert "anodise" in anod.line("post_processing").detail
    assert anod.line("post_processing").amount > plain.line("post_processing").amount


def test_bigger_parts_cost_more() -> None:
    small = quote(_cfg(inner_length=40, inner_width=30), 1, "standard").total
    big = quote(_cfg(inner_length=200, inner_width=150, inner_height=80), 1, "standard").total
    assert big > 2 * small


@pytest.mark.parametrize(
    ("qty", "tier", "field"),
    [
        (0, "standard", "qty"),
        (-3, "standard", "qty"),
        (True, "standard", "qty"),
        (1, "overnight", "tier"),
    ],
)
def test_invalid_request_raises_typed_error(qty: object, tier: str, field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        quote(_cfg(), qty, tier)  # type: ignore[arg-type]
    assert info.value.field == field


def test_routing_has_process_kinds_and_requirements() -> None:
    steps = quote(_cfg("knob"), 1, "standard").routing
    assert [s.step for s in steps] == ["print", "support_removal", "wash_cure", "qc", "pack"]
    assert steps[0].process.value == "resin" and steps[0].requirements["material"] == "resin"
    assert steps[0].setup_minutes > 0
