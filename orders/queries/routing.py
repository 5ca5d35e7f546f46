"""Routing arithmetic shared by planning and promises: setup families, eligible machine minutes, batches."""

from __future__ import annotations

import math

import configurator
from orders.models import Machine, MachineState
from orders.shop import shop_numbers

PRIMARY = {"fdm", "resin", "cnc", "laser"}


def setup_family(step: configurator.RoutingStep) -> str | None:
    """Process + material + colour: what a machine must be changed over for."""
    if step.process.value not in PRIMARY:
        return None
    req = step.requirements
    return f"{step.process.value}:{req.get('material', '')}:{req.get('colour', '')}"


def eligible_minutes(
    step: configurator.RoutingStep, qty: int, machines: list[Machine], fits: dict[str, bool]
) -> dict[str, int]:
    """Machine id -> minutes for the whole line on that machine (setup + qty × run time)."""
    material = step.requirements.get("material")
    out: dict[str, int] = {}
    for m in machines:
        if m.process != step.process.value or m.state != MachineState.UP:
            continue
        if step.process.value in PRIMARY and (
            material not in m.materials or not fits.get(m.id, True)
        ):
            continue
        out[m.id] = max(1, math.ceil((step.setup_minutes + step.minutes * qty) / m.speed_factor))
    return out


def chunks(step: configurator.RoutingStep, qty: int) -> list[int]:
    """Split a long primary step into batches that each fit a shift (at least one unit each)."""
    if step.process.value not in PRIMARY or step.minutes <= 0:
        return [qty]
    per_batch = max(
        1, int((shop_numbers().max_operation_minutes - step.setup_minutes) // step.minutes)
    )
    if per_batch >= qty:
        return [qty]
    full, rest = divmod(qty, per_batch)
    return [per_batch] * full + ([rest] if rest else [])
