"""Printability / manufacturability analysis of a built part's mesh (trimesh + shapely).

Measures what pricing and feasibility in ``configurator`` need (volume, area, bounding box,
mass) and what the shop needs to know before running the job (fit in each eligible
machine's usable envelope as placed: as built or turned about Z; minimum wall by ray
sampling, FDM overhang area, laser kerf and minimum feature). Every problem is a ``Finding`` value, never an
exception: a thin wall is a fact about the design, not a programming error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import trimesh

from cad.findings import Finding, Severity, Vec3
from cad.laser import LaserRules, laser_findings, profile_polygons
from configurator.machines import Placement
from configurator.process_limits import min_wall_floors, process_floor_mm

__all__ = [
    "Analysis",
    "Finding",
    "LaserRules",
    "MachineFit",
    "Severity",
    "Vec3",
    "analyse",
    "fit_machine",
    "laser_findings",
    "min_wall",
    "overhang_area",
    "profile_polygons",
]


# The process floors live in configurator/data/process_limits.toml, read by validation too.
MIN_WALL_MM = min_wall_floors()
OVERHANG_DEG = 45.0
WALL_RAYS = 256
WALL_MESH_FACES = 12_000


class MachineLike(Protocol):
    """The part of ``configurator.machines.MachineSpec`` analysis reads."""

    @property
    def id(self) -> str: ...

    @property
    def usable_mm(self) -> tuple[float, float, float]: ...

    def placement(self, bbox_mm: tuple[float, float, float]) -> Placement: ...


@dataclass(frozen=True)
class MachineFit:
    """Whether the part fits a machine and in which orientation (extents as placed)."""

    machine_id: str
    fits: bool
    orientation: str  # "as built" | "turned 90 about Z" | "none"
    placed_extent_mm: Vec3
    envelope_mm: Vec3


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
    material_min_wall_mm: float | None = None,
) -> Analysis:
    """Measure ``mesh`` (mm, as built: Z up, base on the bed) for ``process`` and ``machines``.

    Walls below the process floor (``MIN_WALL_MM``: what the machine can physically make)
    are ``required`` findings; below the material's recommended minimum
    (``material_min_wall_mm``, default 1.5 x the floor) they are advisory.
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
    extents = _vec3(mesh.extents)
    fits = tuple(fit_machine(mesh, m, process) for m in machines)
    findings += _fit_findings(fits, extents)

    wall, wall_at = (None, None) if process == "laser" else min_wall(mesh, seed=seed)
    if wall is not None:
        floor = process_floor_mm(process)
        advised = material_min_wall_mm if material_min_wall_mm else 1.5 * floor
        findings += _wall_findings(wall, wall_at, floor, max(advised, floor))
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
        bbox_mm=extents,
        mass_g=volume * density_g_cm3 / 1000.0,
        watertight=watertight,
        min_wall_mm=wall,
        overhang_area_mm2=overhang,
        min_feature_mm=feature,
        fits=fits,
        findings=tuple(findings),
    )


def _vec3(values: npt.ArrayLike | None, order: Sequence[int] = (0, 1, 2)) -> Vec3:
    """Three coordinates of ``values`` as floats, taken in ``order``."""
    if values is None:  # trimesh has no extents for a mesh without vertices
        raise TypeError("no coordinates: the mesh is empty")
    arr = np.asarray(values)
    a, b, c = order
    return float(arr[a]), float(arr[b]), float(arr[c])


def fit_machine(mesh: trimesh.Trimesh, machine: MachineLike, process: str) -> MachineFit:
    """The part as placed by the one placement rule (``MachineSpec.placement``): as built,
    or turned 90 degrees about Z, inside the bed less its edge margin. The slicer makes the
    same turn, so what fits here is what is printed."""
    placed = machine.placement(_vec3(mesh.extents))
    orientation = "turned 90 about Z" if placed.turned else "as built"
    return MachineFit(
        str(machine.id),
        placed.fits,
        orientation if placed.fits else "none",
        _vec3(placed.extent_mm),
        _vec3(machine.usable_mm),
    )


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
            "The part, as built or turned about Z, fits no eligible machine; reduce its size or split it.",
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
    return value, _vec3(points[ray_idx[at]])


def _wall_findings(wall: float, at: Vec3 | None, floor: float, advised: float) -> list[Finding]:
    if floor <= 0:
        return []
    if wall < floor:
        return [
            Finding(
                "THIN_WALL",
                "required",
                wall,
                floor,
                at,
                f"The machine cannot make walls under {floor} mm; thicken the part here.",
            )
        ]
    if wall < advised:
        return [
            Finding(
                "THIN_WALL",
                "advisory",
                wall,
                advised,
                at,
                f"Below the {advised} mm recommended for this material; it may be weak.",
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
    return float(areas.sum()), _vec3(at)
