"""Standard routing and the analytic process-time model.

Primary step minutes come from measured metrics when cad/ has them (slicer print time,
real volume), else from the family's analytic geometry estimate; FDM time then comes from
configurator.print_model, fitted to the slicer, so the price holds when the slicer reports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from configurator.model import Configuration, GeometryMetrics, RoutingStep
from configurator.pricebook import PriceBook, pricebook
from configurator.print_model import fdm_estimate
from configurator.processes import Process

if TYPE_CHECKING:
    from configurator.family import Family

PRIMARY_STEP_NAME = {
    Process.FDM: "print",
    Process.RESIN: "print",
    Process.CNC: "mill",
    Process.LASER: "cut",
}


def cnc_stock_mm(bbox: tuple[float, float, float], book: PriceBook) -> tuple[float, float, float]:
    """Stock block size for a milled part: bbox plus margin per side."""
    m = 2 * book.const(Process.CNC, "stock_margin_mm")
    return (bbox[0] + m, bbox[1] + m, bbox[2] + m)


def laser_perimeter_mm(metrics: GeometryMetrics) -> float:
    """Cut length from a plate's metrics: edge area / thickness (edges = area - 2 faces)."""
    t = metrics.bbox_mm[2]
    face = metrics.volume_mm3 / t
    return max(metrics.area_mm2 - 2 * face, 0.0) / t


def primary_minutes(process: Process, metrics: GeometryMetrics, book: PriceBook) -> float:
    """Run minutes per unit on the shaping machine (reference machine speed)."""
    x, y, z = metrics.bbox_mm
    c = book.process[process]
    if process is Process.FDM:
        if metrics.print_minutes is not None:
            return max(metrics.print_minutes, c["min_minutes"])
        minutes = fdm_estimate(
            metrics.volume_mm3, metrics.area_mm2, metrics.bbox_mm, c["infill_fraction"]
        ).minutes
    elif process is Process.RESIN:
        if metrics.print_minutes is not None:
            return max(metrics.print_minutes, c["min_minutes"])
        layers = math.ceil(z / c["layer_height_mm"])
        minutes = layers * c["seconds_per_layer"] / 60 / c["parts_per_plate"]
    elif process is Process.CNC:
        sx, sy, sz = cnc_stock_mm(metrics.bbox_mm, book)
        removed_cm3 = max(sx * sy * sz - metrics.volume_mm3, 0.0) / 1000
        minutes = (
            removed_cm3 / c["removal_cm3_per_min"] + metrics.area_mm2 / c["finish_mm2_per_min"]
        )
    else:
        speed = c["cut_mm_per_min_at_3mm"] * 3.0 / max(z, 0.5)
        minutes = laser_perimeter_mm(metrics) / speed
    return max(round(minutes, 2), c["min_minutes"])


def _post(name: str, minutes: float, **req: Any) -> RoutingStep:
    return RoutingStep(name, Process.POST, round(minutes, 2), dict(req))


def post_steps(family: Family, v: dict[str, Any], book: PriceBook) -> list[RoutingStep]:
    """Post operations implied by the process, material and colour, plus family extras."""
    pm = book.post_minutes
    proc = Process(v["process"])
    steps: list[RoutingStep] = []
    if proc is Process.RESIN:
        steps += [
            _post("support_removal", pm["support_removal"]),
            _post("wash_cure", pm["wash_cure"]),
        ]
    elif proc is Process.FDM and family.needs_supports(v):
        steps.append(_post("support_removal", pm["support_removal"]))
    elif proc is Process.CNC:
        steps.append(_post("deburr", pm["deburr"]))
        if str(v["colour"]).startswith("anodised"):
            steps.append(_post("anodise", pm["anodise"], colour=v["colour"]))
    elif proc is Process.LASER and v["material"] == "acrylic":
        steps.append(_post("peel_clean", pm["peel_clean"]))
    return steps + family.extra_steps(v)


def standard_routing(
    family: Family, config: Configuration, metrics: GeometryMetrics | None = None
) -> list[RoutingStep]:
    """Primary shaping step, post steps, QC and pack — minutes per unit."""
    book = pricebook()
    v = family.view(config.values)
    geo = metrics or family.geometry(v)
    proc = Process(v["process"])
    bbox = [round(d, 2) for d in geo.bbox_mm]
    req: dict[str, Any] = {"material": v["material"], "colour": v["colour"], "bbox_mm": bbox}
    if proc is Process.LASER:
        req["thickness_mm"] = bbox[2]
    primary = RoutingStep(
        PRIMARY_STEP_NAME[proc],
        proc,
        round(primary_minutes(proc, geo, book) + family.extra_primary_minutes(v), 2),
        req,
        setup_minutes=book.const(proc, "setup_minutes"),
    )
    diag = math.dist((0, 0, 0), geo.bbox_mm)
    qc = RoutingStep("qc", Process.QC, round(book.post_minutes["qc_base"] + diag / 150, 2))
    pack = RoutingStep("pack", Process.PACK, book.post_minutes["pack"])
    return [primary, *post_steps(family, v, book), qc, pack]


def scale_primary(steps: list[RoutingStep], factor: float) -> list[RoutingStep]:
    """The routing with the shaping step's run time scaled by a correction the shop floor
    taught (actual / estimated minutes of finished jobs); other steps stay as they are."""
    if factor == 1.0 or not steps:
        return steps
    first = steps[0]
    scaled = RoutingStep(
        first.step,
        first.process,
        round(first.minutes * factor, 2),
        first.requirements,
        first.setup_minutes,
    )
    return [scaled, *steps[1:]]
