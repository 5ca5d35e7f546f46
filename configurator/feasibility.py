"""feasible(): can this shop make this configuration, and if not, which machine limits it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from configurator.machines import MachineSpec, edge_margin_mm
from configurator.materials import get_material
from configurator.model import Configuration, GeometryMetrics
from configurator.processes import Process
from configurator.registry import get_family


@dataclass(frozen=True)
class Reason:
    """Why an order cannot be made here; names the parameter, machine and dimension involved."""

    param: str
    code: str
    message: str
    machine_id: str | None = None
    dimension: str | None = None


@dataclass(frozen=True)
class Feasibility:
    """ok, the machines that can run the shaping step, and every reason against."""

    ok: bool
    reasons: list[Reason] = field(default_factory=list)
    machine_ids: tuple[str, ...] = ()


def _mm(bbox: tuple[float, float, float]) -> str:
    return " x ".join(f"{d:g}" for d in (round(b, 1) for b in bbox)) + " mm"


def _envelope_reasons(
    bbox: tuple[float, float, float], candidates: list[MachineSpec], process: Process
) -> list[Reason]:
    reasons = []
    for m in candidates:
        over = m.overflow(bbox)
        axes = ", ".join(f"{a} {p:g} > {lim:g} mm" for a, p, lim in over)
        margin = edge_margin_mm(m.process)
        if margin and any(a != "Z" for a, _, _ in over):
            axes += f" (the bed less {margin:g} mm at each edge for skirt and purge line)"
        reasons.append(
            Reason(
                "size",
                "exceeds_work_envelope",
                f"part {_mm(bbox)} does not fit {m.name} ({m.id}, {process.value}): {axes}",
                machine_id=m.id,
                dimension=over[0][0],
            )
        )
    return reasons


def feasible(
    config: Configuration,
    machines: Sequence[MachineSpec],
    qty: int = 1,
    metrics: GeometryMetrics | None = None,
) -> Feasibility:
    """Check process/material availability, work envelopes and the quantity limit.

    For a laser the envelope Z is the thickest sheet it cuts; the part's Z is its thickness.
    """
    family = get_family(config.family_key)
    process = Process(config.values["process"])
    material = get_material(config.values["material"])
    reasons: list[Reason] = []
    if qty < 1 or qty > family.max_qty:
        reasons.append(
            Reason(
                "qty",
                "quantity_out_of_range",
                f"quantity {qty} is outside 1–{family.max_qty} for {family.name}",
            )
        )
    on_process = [m for m in machines if m.process is process]
    with_material = [m for m in on_process if material.key in m.materials]
    fitting: list[MachineSpec] = []
    if not on_process:
        reasons.append(
            Reason(
                "process",
                "no_machine_for_process",
                f"this shop has no {process.value.upper()} machine",
            )
        )
    elif not with_material:
        names = ", ".join(m.name for m in on_process)
        reasons.append(
            Reason(
                "material",
                "material_not_offered",
                f"{material.name} is not offered on any {process.value.upper()} machine here ({names})",
            )
        )
    else:
        bbox = (metrics or family.estimate(config.values)).bbox_mm
        fitting = [m for m in with_material if m.fits(bbox)]
        if not fitting:
            reasons.extend(_envelope_reasons(bbox, with_material, process))
    return Feasibility(ok=not reasons, reasons=reasons, machine_ids=tuple(m.id for m in fitting))
