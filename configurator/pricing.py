"""quote(): an itemised price in Decimal from geometry (measured or analytic) and the price book."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from configurator.errors import InvalidRequestError
from configurator.materials import Material, get_material
from configurator.model import Configuration, GeometryMetrics, RoutingStep
from configurator.pricebook import PriceBook, pricebook
from configurator.print_model import fdm_estimate
from configurator.processes import Process
from configurator.registry import get_family
from configurator.routing import cnc_stock_mm, scale_primary

DEFAULT_CURRENCY = "PKR"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class QuoteLine:
    """One priced line: a stable code, a label, the amount for the whole order, and how."""

    code: str
    label: str
    amount: Decimal
    detail: str = ""


@dataclass(frozen=True)
class Quote:
    """An itemised price. `source` says whether geometry was measured by cad/ or estimated."""

    family_key: str
    config_hash: str
    qty: int
    tier: str
    currency: str
    source: str
    lines: tuple[QuoteLine, ...]
    total: Decimal
    unit_price: Decimal
    metrics: GeometryMetrics
    routing: tuple[RoutingStep, ...]
    notes: tuple[str, ...] = ()

    def line(self, code: str) -> QuoteLine | None:
        return next((ln for ln in self.lines if ln.code == code), None)


def _d(x: float) -> Decimal:
    return Decimal(repr(round(x, 6)))


def _money(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def check_request(qty: object, tier: object, book: PriceBook) -> None:
    """Raise InvalidRequestError for a quantity or tier the caller should have validated."""
    if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
        raise InvalidRequestError(
            "qty", "invalid_quantity", f"quantity must be a whole number >= 1, got {qty!r}"
        )
    if tier not in book.tiers:
        raise InvalidRequestError(
            "tier", "unknown_tier", f"tier must be one of {', '.join(book.tiers)}, got {tier!r}"
        )


def material_cost_per_unit(
    mat: Material, process: Process, geo: GeometryMetrics, book: PriceBook
) -> tuple[Decimal, str]:
    """Material cost of one part and how it was computed."""
    c = book.process[process]
    if process is Process.LASER:
        t = geo.bbox_mm[2]
        sheet = mat.sheet(t)
        if sheet is not None and mat.sheet_size_mm:
            used = geo.bbox_mm[0] * geo.bbox_mm[1] * c["nesting_factor"]
            share = used / (mat.sheet_size_mm[0] * mat.sheet_size_mm[1])
            return _d(share) * sheet.cost_per_sheet, f"{share:.3f} of a {t:g} mm sheet"
    if process is Process.CNC:
        sx, sy, sz = cnc_stock_mm(geo.bbox_mm, book)
        kg = sx * sy * sz / 1e6 * mat.density_g_cm3
        return _d(kg) * mat.cost_per_kg, f"stock {sx:.0f}x{sy:.0f}x{sz:.0f} mm, {kg:.3f} kg"
    if process is Process.FDM:
        # the same filament whether the slicer measured it or print_model estimated it
        if geo.filament_g is not None:
            filament, how = geo.filament_g, "slicer"
        else:
            filament = fdm_estimate(
                geo.volume_mm3, geo.area_mm2, geo.bbox_mm, c["infill_fraction"], mat.density_g_cm3
            ).grams
            how = "estimated"
        grams = filament * (1 + c["waste_fraction"])
        return _d(grams / 1000) * mat.cost_per_kg, f"{grams:.1f} g ({how})"
    grams = (
        geo.volume_mm3
        / 1000
        * mat.density_g_cm3
        * c["fill_factor"]
        * (1 + c.get("waste_fraction", 0))
    )
    return _d(grams / 1000) * mat.cost_per_kg, f"{grams:.1f} g"


def _cost_lines(
    steps: list[RoutingStep], qty: int, mat_unit: Decimal, mat_how: str, book: PriceBook
) -> list[QuoteLine]:
    primary = steps[0]
    rate = book.rate(primary.process)
    post = [s for s in steps[1:] if s.process is Process.POST]
    handling = [s for s in steps[1:] if s.process in (Process.QC, Process.PACK)]
    post_cost = sum((_d(s.minutes / 60) * book.rate(s.process) for s in post), Decimal(0))
    hand_cost = sum((_d(s.minutes / 60) * book.rate(s.process) for s in handling), Decimal(0))
    setup = _d(primary.setup_minutes / 60) * rate
    return [
        QuoteLine("material", "Material", _money(mat_unit * qty), f"{mat_how} per unit x {qty}"),
        QuoteLine(
            "machine_time",
            "Machine time",
            _money(_d(primary.minutes / 60) * rate * qty),
            f"{primary.minutes:g} min {primary.process.value} per unit at {rate}/h",
        ),
        QuoteLine(
            "setup",
            "Setup",
            _money(setup),
            f"{primary.setup_minutes:g} min, amortised over {qty} units",
        ),
        QuoteLine(
            "post_processing",
            "Post-processing",
            _money(post_cost * qty),
            ", ".join(s.step for s in post) or "none",
        ),
        QuoteLine("qc_pack", "Inspection and packing", _money(hand_cost * qty), "per unit"),
    ]


def _adjustment_lines(subtotal: Decimal, qty: int, tier: str, book: PriceBook) -> list[QuoteLine]:
    discount = book.discount_for(qty)
    lines = []
    base = subtotal
    if discount:
        off = _money(-subtotal * discount)
        lines.append(
            QuoteLine(
                "quantity_break", "Quantity break", off, f"{float(discount * 100):g}% for {qty}+"
            )
        )
        base += off
    margin = _money(base * book.margin_fraction)
    lines.append(QuoteLine("margin", "Margin", margin, f"{float(book.margin_fraction * 100):g}%"))
    base += margin
    factor = book.tiers[tier].price_factor
    if factor != 1:
        lines.append(
            QuoteLine("lead_time", f"Lead time: {tier}", _money(base * (factor - 1)), f"x{factor}")
        )
        base += lines[-1].amount
    if base < book.min_order_value:
        lines.append(
            QuoteLine(
                "minimum_order", "Minimum order top-up", _money(book.min_order_value - base), ""
            )
        )
    return lines


def quote(
    config: Configuration,
    qty: int,
    tier: str,
    metrics: GeometryMetrics | None = None,
    *,
    currency: str = DEFAULT_CURRENCY,
    book: PriceBook | None = None,
    time_factor: float = 1.0,
) -> Quote:
    """Price `qty` units of `config` in `tier`. Uses cad/ metrics when given, else an estimate.

    ``time_factor`` scales the machine's run time by what the floor measured on finished jobs
    of this family (1.0 until enough jobs have run). Raises InvalidRequestError for qty < 1
    or an unknown tier (validate those in the form).
    """
    book = book or pricebook()
    check_request(qty, tier, book)
    family = get_family(config.family_key)
    geo = metrics or family.estimate(config.values)
    process = Process(config.values["process"])
    steps = scale_primary(family.routing(config, geo), time_factor)
    mat_unit, how = material_cost_per_unit(
        get_material(config.values["material"]), process, geo, book
    )
    lines = _cost_lines(steps, qty, mat_unit, how, book)
    lines += _adjustment_lines(sum((ln.amount for ln in lines), Decimal(0)), qty, tier, book)
    total = _money(sum((ln.amount for ln in lines), Decimal(0)))
    source = "measured" if metrics is not None else "analytic"
    note = (
        "priced from measured geometry (cad/)"
        if metrics is not None
        else "estimate: priced from an analytic geometry model, no CAD measurement yet"
    )
    if time_factor != 1.0:
        note += f"; machine time x{time_factor:.2f}, learned from finished jobs on the floor"
    return Quote(
        family_key=config.family_key,
        config_hash=config.config_hash,
        qty=qty,
        tier=tier,
        currency=currency,
        source=source,
        lines=tuple(lines),
        total=total,
        unit_price=_money(total / qty),
        metrics=geo,
        routing=tuple(steps),
        notes=(note,),
    )
