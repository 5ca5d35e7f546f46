"""Helpers shared by family modules (parameter shorthands, common geometry)."""

from __future__ import annotations

import math

from configurator.model import GeometryMetrics, RoutingStep
from configurator.params import Choice, ColourParam, MaterialParam
from configurator.pricebook import pricebook
from configurator.processes import Process

# ISO metric screws: (pilot hole for self-tapping into plastic, clearance hole, head diameter) mm
SCREWS: dict[str, tuple[float, float, float]] = {
    "m2": (1.6, 2.4, 3.8),
    "m2.5": (2.1, 2.9, 4.5),
    "m3": (2.5, 3.4, 5.5),
    "m4": (3.3, 4.5, 7.0),
    "m5": (4.2, 5.5, 8.5),
    "m6": (5.0, 6.6, 10.0),
}


def process_param(*processes: Process) -> Choice:
    """The manufacturing process choice; the first is the default."""
    return Choice(
        name="process",
        label="Process",
        options=tuple(p.value for p in processes),
        default=processes[0].value,
        group="material",
        help="How the part is made.",
    )


def material_param(default: str, *options: str) -> MaterialParam:
    return MaterialParam(options=(default, *options), default=default, help="Material of the part.")


def colour_param() -> ColourParam:
    return ColourParam(help="Must be in the chosen material's palette; blank = first colour.")


def box_metrics(x: float, y: float, z: float, volume: float | None = None) -> GeometryMetrics:
    """Metrics of a solid block, or of a part with that bbox and a known volume."""
    vol = x * y * z if volume is None else volume
    return GeometryMetrics(volume_mm3=vol, area_mm2=2 * (x * y + x * z + y * z), bbox_mm=(x, y, z))


def cylinder_volume(d: float, h: float) -> float:
    return math.pi * d * d / 4 * h


def assemble_step(note: str) -> RoutingStep:
    """A manual assembly post step (e.g. fit the lid)."""
    return RoutingStep(
        "assemble", Process.POST, pricebook().post_minutes["assemble"], {"note": note}
    )
