"""Laser-cut profile checks: kerf and minimum feature width of the cut outline (shapely).

The profile is the mesh's XY section at mid-height; a feature is "narrower than w" when
eroding or dilating the outline by w/2 changes its topology (a web splits, holes merge, a
slot or hole closes). Bisection on w gives the narrowest feature and where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import trimesh

from cad.findings import Finding, Vec3

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

DEFAULT_KERF_MM = 0.15


@dataclass(frozen=True)
class LaserRules:
    """Laser limits; WHY: kerf eats material on every edge, so features need margin."""

    kerf_mm: float = DEFAULT_KERF_MM
    min_feature_mm: float | None = None  # default: max(2 x kerf, 1.0 mm)

    @property
    def feature_threshold(self) -> float:
        return self.min_feature_mm or max(2 * self.kerf_mm, 1.0)


def profile_polygons(mesh: trimesh.Trimesh, z: float | None = None) -> list[Any]:
    """Shapely polygons (holes included) of the XY section at ``z`` (default mid-height).

    Segments from ``mesh_plane`` are polygonised and XOR-ed so nested rings become holes
    (no graph library needed).
    """
    from shapely.geometry import LineString, Polygon
    from shapely.ops import polygonize

    zc = float(mesh.bounds[:, 2].mean()) if z is None else z
    segs = trimesh.intersections.mesh_plane(mesh, [0, 0, 1], [0, 0, zc])
    if len(segs) == 0:
        return []
    lines = [LineString(np.round(s[:, :2], 6)) for s in segs]
    region: BaseGeometry = Polygon()
    rings = [Polygon(p.exterior) for p in polygonize(lines)]  # polygonize adds holes itself
    for ring in sorted(rings, key=lambda p: -p.area):
        region = region.symmetric_difference(ring)
    return list(getattr(region, "geoms", [region])) if not region.is_empty else []


def laser_findings(mesh: trimesh.Trimesh, rules: LaserRules) -> tuple[float | None, list[Finding]]:
    """Minimum feature (web or slot/hole width) of the cut profile versus kerf and limit."""
    from shapely.ops import unary_union

    polys = profile_polygons(mesh)
    if not polys:
        return None, [
            Finding(
                "NO_PROFILE",
                "required",
                0.0,
                0.0,
                None,
                "The part has no cuttable profile at mid-height.",
            )
        ]
    shape = unary_union(polys)
    span = float(max(mesh.extents[:2]))
    width, at = _min_feature(shape, span)
    limit = rules.feature_threshold
    out = [
        Finding(
            "KERF",
            "advisory",
            rules.kerf_mm,
            width / 2 if width else 0.0,
            None,
            f"Offset the cut path outward by {rules.kerf_mm / 2:.3f} mm (half the kerf) "
            "so the part keeps its nominal size.",
        )
    ]
    if width is not None and width < limit:
        out.append(
            Finding(
                "MIN_FEATURE",
                "required",
                width,
                limit,
                at,
                f"A web, slot or hole is {width:.2f} mm wide; the laser needs at least "
                f"{limit:.2f} mm. Widen it or remove it.",
            )
        )
    return width, out


def _topology(shape: Any) -> tuple[int, int]:
    """(number of pieces, number of holes) of a shapely (multi)polygon."""
    if shape.is_empty:
        return 0, 0
    parts = list(getattr(shape, "geoms", [shape]))
    return len(parts), sum(len(p.interiors) for p in parts)


def _vanishes(shape: Any, w: float) -> Any | None:
    """The region that changes when features narrower than ``w`` collapse, or None.

    Eroding by w/2 cuts webs narrower than w (pieces split/vanish, holes merge); dilating
    by w/2 closes slots and holes narrower than w (holes vanish, pieces merge).
    """
    before = _topology(shape)
    eroded = shape.buffer(-w / 2, join_style=2)
    if _topology(eroded) != before:
        return shape.difference(eroded.buffer(w / 2, join_style=2))
    dilated = shape.buffer(w / 2, join_style=2)
    if _topology(dilated) != before:
        return dilated.buffer(-w / 2, join_style=2).difference(shape)
    return None


def _min_feature(shape: Any, span: float) -> tuple[float | None, Vec3 | None]:
    """Bisection on the width at which some web splits/vanishes or some hole closes."""
    lo, hi = 0.0, span
    if _vanishes(shape, hi) is None:
        return None, None
    for _ in range(14):
        mid = (lo + hi) / 2
        if _vanishes(shape, mid) is None:
            lo = mid
        else:
            hi = mid
    lost = _vanishes(shape, hi)
    c = lost.centroid if lost is not None and not lost.is_empty else shape.centroid
    return hi, (float(c.x), float(c.y), 0.0)
