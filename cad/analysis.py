"""Printability / manufacturability analysis of a built part's mesh (trimesh + shapely).

Measures what pricing and feasibility in ``configurator`` need (volume, area, bounding box,
mass) and what the shop needs to know before running the job (fit in each eligible
machine's envelope with the best orientation, minimum wall by ray sampling, FDM overhang
area, laser kerf and minimum feature). Every problem is a ``Finding`` value, never an
exception: a thin wall is a fact about the design, not a programming error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import trimesh

Severity = Literal["required", "advisory"]
Vec3 = tuple[float, float, float]

MIN_WALL_MM = {"fdm": 0.8, "resin": 0.5, "sls": 0.7, "cnc": 1.0, "laser": 0.0}
OVERHANG_DEG = 45.0
WALL_RAYS = 256
WALL_MESH_FACES = 12_000
DEFAULT_KERF_MM = 0.15


class MachineLike(Protocol):
    """The part of ``configurator.machines.MachineSpec`` analysis reads."""

    id: str
    build_volume_mm: tuple[float, float, float]


@dataclass(frozen=True)
class Finding:
    """One measured manufacturability fact; ``required`` blocks production, advisory warns."""

    code: str
    severity: Severity
    measured: float
    threshold: float
    location: Vec3 | None
    hint: str
    unit: str = "mm"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "measured": round(self.measured, 4),
            "threshold": round(self.threshold, 4),
            "location": None if self.location is None else [round(c, 3) for c in self.location],
            "hint": self.hint,
            "unit": self.unit,
        }


@dataclass(frozen=True)
class MachineFit:
    """Whether the part fits a machine and in which orientation (extents as placed)."""

    machine_id: str
    fits: bool
    orientation: str  # e.g. "bbox:z,x,y" = part's z axis along machine X, ...
    placed_extent_mm: Vec3
    envelope_mm: Vec3


@dataclass(frozen=True)
class LaserRules:
    """Laser limits; WHY: kerf eats material on every edge, so features need margin."""

    kerf_mm: float = DEFAULT_KERF_MM
    min_feature_mm: float | None = None  # default: max(2 x kerf, 1.0 mm)

    @property
    def feature_threshold(self) -> float:
        return self.min_feature_mm or max(2 * self.kerf_mm, 1.0)


@dataclass(frozen=True)
class Analysis:
    """Everything measured about one part, in millimetres and grams."""

    volume_mm3: float
    area_mm2: float
    bbox_mm: Vec3
    mass_g: float
    watertight: bool
    min_wall_mm: float | None
    overhang_area_mm2: float
    min_feature_mm: float | None
    fits: tuple[MachineFit, ...]
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "required")

    def to_dict(self) -> dict[str, Any]:
        return {
            "volume_mm3": round(self.volume_mm3, 3),
            "area_mm2": round(self.area_mm2, 3),
            "bbox_mm": [round(c, 3) for c in self.bbox_mm],
            "mass_g": round(self.mass_g, 3),
            "watertight": self.watertight,
            "min_wall_mm": None if self.min_wall_mm is None else round(self.min_wall_mm, 3),
            "overhang_area_mm2": round(self.overhang_area_mm2, 2),
            "min_feature_mm": None
            if self.min_feature_mm is None
            else round(self.min_feature_mm, 3),
            "fits": [f.__dict__ | {"fits": f.fits} for f in self.fits],
            "findings": [f.to_dict() for f in self.findings],
        }


def analyse(
    mesh: trimesh.Trimesh,
    process: str,
    machines: Sequence[MachineLike],
    density_g_cm3: float,
    laser: LaserRules | None = None,
    seed: int = 0,
    exact_volume_mm3: float | None = None,
) -> Analysis:
    """Measure ``mesh`` (mm, as built: Z up, base on the bed) for ``process`` and ``machines``.

    ``exact_volume_mm3`` (the B-rep volume) replaces the mesh volume, which facets shrink;
    the bounding box comes from the mesh, within the tessellation tolerance (<= 0.1 mm).
    """
    process = str(getattr(process, "value", process)).lower()
    findings: list[Finding] = []
    watertight = bool(mesh.is_watertight)
    if not watertight:
        findings.append(
            Finding(
                "NOT_WATERTIGHT",
                "required",
                float(len(mesh.faces)),
                0.0,
                None,
                "The mesh has open edges; the part cannot be sliced or priced reliably.",
                "faces",
            )
        )
    volume = float(abs(mesh.volume)) if watertight else float(mesh.convex_hull.volume)
    if exact_volume_mm3 is not None:
        volume = exact_volume_mm3
    extents = tuple(float(x) for x in mesh.extents)
    fits = tuple(fit_machine(mesh, m, process) for m in machines)
    findings += _fit_findings(fits, extents)

    wall, wall_at = (None, None) if process == "laser" else min_wall(mesh, seed=seed)
    if wall is not None:
        findings += _wall_findings(wall, wall_at, MIN_WALL_MM.get(process, 0.8))
    overhang, overhang_at = overhang_area(mesh) if process == "fdm" else (0.0, None)
    if overhang > 0:
        findings.append(
            Finding(
                "OVERHANG",
                "advisory",
                overhang,
                0.0,
                overhang_at,
                f"{overhang:.0f} mm² face down steeper than {OVERHANG_DEG:.0f}°: "
                "supports will be generated, or reorient the part.",
                "mm2",
            )
        )
    feature = None
    if process == "laser":
        feature, feature_findings = laser_findings(mesh, laser or LaserRules())
        findings += feature_findings
    return Analysis(
        volume_mm3=volume,
        area_mm2=float(mesh.area),
        bbox_mm=extents,  # type: ignore[arg-type]
        mass_g=volume * density_g_cm3 / 1000.0,
        watertight=watertight,
        min_wall_mm=wall,
        overhang_area_mm2=overhang,
        min_feature_mm=feature,
        fits=fits,
        findings=tuple(findings),
    )


def _orientations(mesh: trimesh.Trimesh) -> Iterable[tuple[str, Vec3]]:
    """The 6 axis-aligned orientations of the AABB, then of the minimum-volume OBB."""
    names = "xyz"
    aabb = mesh.extents
    for perm in itertools.permutations(range(3)):
        yield "bbox:" + ",".join(names[i] for i in perm), tuple(float(aabb[i]) for i in perm)
    try:
        _, obb = trimesh.bounds.oriented_bounds(mesh)
    except (ValueError, np.linalg.LinAlgError):
        return
    if np.prod(obb) < np.prod(aabb) * 0.98:
        for perm in itertools.permutations(range(3)):
            yield "obb:" + ",".join(names[i] for i in perm), tuple(float(obb[i]) for i in perm)


def fit_machine(mesh: trimesh.Trimesh, machine: MachineLike, process: str) -> MachineFit:
    """Best orientation in the envelope: fitting, then lowest Z (fewer FDM layers)."""
    env = tuple(float(x) for x in machine.build_volume_mm)
    best: tuple[float, str, Vec3] | None = None
    for name, ext in _orientations(mesh):
        ok = all(e <= v + 1e-6 for e, v in zip(ext, env, strict=True))
        if process == "laser" and name != "bbox:x,y,z":
            ok = ok and ext[2] <= 1e-6 + min(mesh.extents)  # a sheet part must lie flat
        if ok and (best is None or ext[2] < best[0]):
            best = (ext[2], name, ext)
    if best is None:
        return MachineFit(str(machine.id), False, "none", tuple(mesh.extents), env)  # type: ignore[arg-type]
    return MachineFit(str(machine.id), True, best[1], best[2], env)  # type: ignore[arg-type]


def _fit_findings(fits: Sequence[MachineFit], extents: Vec3) -> list[Finding]:
    if not fits or any(f.fits for f in fits):
        return []
    largest = max(max(f.envelope_mm) for f in fits)
    return [
        Finding(
            "NO_MACHINE_FIT",
            "required",
            max(extents),
            largest,
            None,
            "The part fits no eligible machine in any orientation; reduce its size or split it.",
        )
    ]


def min_wall(
    mesh: trimesh.Trimesh, rays: int = WALL_RAYS, seed: int = 0
) -> tuple[float | None, Vec3 | None]:
    """Wall thickness estimated by casting rays inward from sampled surface points.

    Rays that hit the far side at a grazing angle (edges, fillets) are discarded; the 2nd
    percentile of the rest is reported, so one unlucky sample cannot invent a thin wall.
    """
    work = mesh
    if len(mesh.faces) > WALL_MESH_FACES:
        work = mesh.simplify_quadric_decimation(face_count=WALL_MESH_FACES)
    points, face_idx = trimesh.sample.sample_surface(work, rays, seed=seed)
    normals = work.face_normals[face_idx]
    origins = points - normals * 1e-4
    locs, ray_idx, tri_idx = work.ray.intersects_location(origins, -normals, multiple_hits=False)
    if len(ray_idx) == 0:
        return None, None
    dist = np.linalg.norm(locs - origins[ray_idx], axis=1)
    facing = np.abs(np.einsum("ij,ij->i", work.face_normals[tri_idx], normals[ray_idx])) > 0.5
    if not facing.any():
        return None, None
    dist, ray_idx = dist[facing], ray_idx[facing]
    value = float(np.percentile(dist, 2))
    at = int(np.argmin(np.abs(dist - value)))
    return value, tuple(float(c) for c in points[ray_idx[at]])  # type: ignore[return-value]


def _wall_findings(wall: float, at: Vec3 | None, limit: float) -> list[Finding]:
    if limit <= 0:
        return []
    if wall < limit:
        return [
            Finding(
                "THIN_WALL",
                "required",
                wall,
                limit,
                at,
                f"Walls must be at least {limit} mm for this process; thicken the part here.",
            )
        ]
    if wall < 1.5 * limit:
        return [
            Finding(
                "THIN_WALL",
                "advisory",
                wall,
                1.5 * limit,
                at,
                "Wall is near the process minimum; it may print weak or warp.",
            )
        ]
    return []


def overhang_area(
    mesh: trimesh.Trimesh, degrees: float = OVERHANG_DEG
) -> tuple[float, Vec3 | None]:
    """Area facing down steeper than ``degrees`` from vertical, excluding the bed contact."""
    nz = mesh.face_normals[:, 2]
    down = nz < -math.cos(math.radians(degrees))
    zmin = mesh.bounds[0][2]
    on_bed = np.all(np.abs(mesh.triangles[:, :, 2] - zmin) < 1e-3, axis=1)
    mask = down & ~on_bed
    if not mask.any():
        return 0.0, None
    areas = mesh.area_faces[mask]
    at = mesh.triangles_center[mask][int(np.argmax(areas))]
    return float(areas.sum()), tuple(float(c) for c in at)  # type: ignore[return-value]


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
    region = Polygon()
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
