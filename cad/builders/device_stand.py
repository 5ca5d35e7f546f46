"""Device stand builder: wedge profile (XZ) extruded along +Y, lightening hole, cable tunnel.

Follows the geometry contract in ``configurator/families/device_stand.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cadquery as cq

from cad.build import register_builder

VERSION = 1


def _xz_prism(points: list[tuple[float, float]], y0: float, width: float) -> cq.Workplane:
    """Closed (x, z) polygon extruded over y in [y0, y0 + width] (XZ normal is -Y)."""
    return cq.Workplane("XZ").polyline(points).close().extrude(width).translate((0, y0 + width, 0))


def build_device_stand(v: Mapping[str, Any]) -> cq.Workplane:
    """Profile prism; hole and tunnel cut through."""
    w = v["width"]
    part = _xz_prism([tuple(p) for p in v["profile"]], 0.0, w)
    if v["profile_hole"] is not None:
        part = part.cut(_xz_prism([tuple(p) for p in v["profile_hole"]], -1.0, w + 2))
    if v["cable_slot"]:
        x0, x1 = v["cable_slot_x0"], v["cable_slot_x1"]
        sw, sh = v["cable_slot_width"], v["cable_slot_height"]
        tunnel = (
            cq.Workplane("XY", origin=((x0 + x1) / 2, w / 2, -1)).rect(x1 - x0, sw).extrude(sh + 1)
        )
        part = part.cut(tunnel)
    return part


register_builder("device_stand", VERSION, build_device_stand)
