"""Plate batching: merge compatible parts (same process, material, colour) onto build plates.

Footprints are packed with a self-written MaxRects packer (best short side fit, 90 degree
rotation allowed), stdlib only to keep the scheduler pure. Every placement keeps its part and
order-line id so each printed part stays traceable. The report compares setups and
machine-minutes against printing the same parts one per plate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .problem import Job, Operation

Rect = tuple[float, float, float, float]  # x, y, width, depth of a free area
Spot = tuple[float, float, bool]  # x, y, rotated of a placed footprint


@dataclass(frozen=True)
class Part:
    """One part to print. ``print_minutes`` excludes the per-plate overhead (heat, level, cool)."""

    id: str
    order_line_id: str
    process: str
    material: str
    colour: str
    width: float
    depth: float
    print_minutes: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.depth <= 0:
            raise ValueError(f"part {self.id}: width and depth must be > 0")
        if self.print_minutes < 0:
            raise ValueError(f"part {self.id}: print_minutes must be >= 0")

    @property
    def family(self) -> str:
        return f"{self.process}/{self.material}/{self.colour}"


@dataclass(frozen=True)
class PlateSpec:
    width: float
    depth: float
    margin: float = 5.0  # spacing between parts and to the plate edge, mm
    overhead_minutes: int = 15  # per plate: heat-up, levelling, cool-down, removal
    setup_minutes: int = 20  # changeover before each plate (material/colour/plate swap)


@dataclass(frozen=True)
class Placement:
    part_id: str
    order_line_id: str
    x: float
    y: float
    width: float
    depth: float
    rotated: bool


@dataclass(frozen=True)
class Plate:
    id: str
    family: str
    placements: tuple[Placement, ...]
    minutes: int

    @property
    def part_ids(self) -> tuple[str, ...]:
        return tuple(p.part_id for p in self.placements)


@dataclass(frozen=True)
class BatchReport:
    plates: tuple[Plate, ...]
    unplaceable: tuple[str, ...]  # parts larger than an empty plate
    setups_unbatched: int
    setups_batched: int
    minutes_unbatched: int
    minutes_batched: int

    @property
    def setups_saved(self) -> int:
        return self.setups_unbatched - self.setups_batched

    @property
    def machine_minutes_saved(self) -> int:
        return self.minutes_unbatched - self.minutes_batched


class MaxRects:
    """MaxRects bin with best-short-side-fit; coordinates include the spacing margin."""

    def __init__(self, width: float, depth: float) -> None:
        self.free: list[Rect] = [(0.0, 0.0, width, depth)]

    def insert(self, w: float, h: float) -> Spot | None:
        best: tuple[float, float, float, float, bool] | None = None
        for fx, fy, fw, fh in self.free:
            for rw, rh, rot in ((w, h, False), (h, w, True)):
                if rw <= fw and rh <= fh:
                    score = (min(fw - rw, fh - rh), max(fw - rw, fh - rh))
                    if best is None or score < (best[0], best[1]):
                        best = (score[0], score[1], fx, fy, rot)
        if best is None:
            return None
        _, _, x, y, rot = best
        rw, rh = (h, w) if rot else (w, h)
        self._split(x, y, rw, rh)
        return x, y, rot

    def _split(self, x: float, y: float, w: float, h: float) -> None:
        out: list[Rect] = []
        for fx, fy, fw, fh in self.free:
            if x >= fx + fw or x + w <= fx or y >= fy + fh or y + h <= fy:
                out.append((fx, fy, fw, fh))
                continue
            if x > fx:
                out.append((fx, fy, x - fx, fh))
            if x + w < fx + fw:
                out.append((x + w, fy, fx + fw - x - w, fh))
            if y > fy:
                out.append((fx, fy, fw, y - fy))
            if y + h < fy + fh:
                out.append((fx, y + h, fw, fy + fh - y - h))
        self.free = [
            r
            for i, r in enumerate(out)
            if not any(j != i and _contains(o, r) and (o != r or j < i) for j, o in enumerate(out))
        ]


def _contains(a: Rect, b: Rect) -> bool:
    return (
        a[0] <= b[0] and a[1] <= b[1] and a[0] + a[2] >= b[0] + b[2] and a[1] + a[3] >= b[1] + b[3]
    )


_Bin = tuple[MaxRects, list[Placement], list[Part]]  # packer, placements, parts on one plate


def _first_fit(bins: list[_Bin], w: float, h: float) -> tuple[_Bin, Spot] | None:
    for b in bins:
        spot = b[0].insert(w, h)
        if spot is not None:
            return b, spot
    return None


def batch_parts(parts: list[Part], plate: PlateSpec) -> BatchReport:
    """Group parts by family, pack largest first into as few plates as the packer finds."""
    m = plate.margin
    groups: dict[str, list[Part]] = {}
    for p in parts:
        groups.setdefault(p.family, []).append(p)
    plates: list[Plate] = []
    unplaceable: list[str] = []
    for fam, members in sorted(groups.items()):
        bins: list[_Bin] = []
        for p in sorted(members, key=lambda p: (-p.width * p.depth, p.id)):
            # each footprint grows by one margin; the usable plate shrinks by one margin, so
            # parts end up >= margin apart and >= margin from every edge.
            w, h = p.width + m, p.depth + m
            found = _first_fit(bins, w, h)
            if found is not None:
                target, spot = found
            else:
                packer = MaxRects(plate.width - m, plate.depth - m)
                new_spot = packer.insert(w, h)
                if new_spot is None:
                    unplaceable.append(p.id)
                    continue
                target, spot = (packer, [], []), new_spot
                bins.append(target)
            _, placed, inside = target
            x, y, rot = spot
            pw, pd = (p.depth, p.width) if rot else (p.width, p.depth)
            placed.append(Placement(p.id, p.order_line_id, x + m, y + m, pw, pd, rot))
            inside.append(p)
        for k, (_, placed, inside) in enumerate(bins):
            minutes = plate.overhead_minutes + sum(p.print_minutes for p in inside)
            plates.append(Plate(f"{fam}#{k + 1}", fam, tuple(placed), minutes))
    placed_parts = [p for p in parts if p.id not in set(unplaceable)]
    unbatched = sum(
        plate.overhead_minutes + plate.setup_minutes + p.print_minutes for p in placed_parts
    )
    batched = sum(pl.minutes + plate.setup_minutes for pl in plates)
    return BatchReport(
        tuple(plates), tuple(unplaceable), len(placed_parts), len(plates), unbatched, batched
    )


def plate_job(
    plate: Plate,
    printers: Mapping[str, float],
    release: int = 0,
    due: int | None = None,
    weight: int = 1,
) -> Job:
    """One print job for a plate: eligible on ``printers`` (machine id -> speed factor, 1.0 =
    nominal), setup family = the plate's process/material/colour. The job id names the plate;
    its parts and order lines stay listed on ``plate.placements``."""
    job_id = f"plate:{plate.id}"
    eligible = {m: max(1, math.ceil(plate.minutes * f)) for m, f in printers.items()}
    op = Operation(f"{job_id}.print", job_id, eligible, setup_family=plate.family)
    return Job(job_id, (op,), release=release, due=due, weight=weight)
