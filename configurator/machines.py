"""The shop's machines as plain values; orders/ turns database rows into these."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

from configurator.errors import ConfiguratorError
from configurator.processes import Process

Overflow = tuple[tuple[str, float, float], ...]


@functools.cache
def edge_margin_mm(process: Process) -> float:
    """Free border kept at each XY edge of a bed for ``process`` (data/placement.toml)."""
    text = resources.files("configurator").joinpath("data/placement.toml").read_text("utf-8")
    return float(tomllib.loads(text)["edge_margin_mm"].get(process.value, 0.0))


@dataclass(frozen=True)
class Placement:
    """How a part sits on a machine: as built (Z up), or turned 90 degrees about Z.

    ``extent_mm`` is the part's extent as placed; ``overflow`` the axes that do not fit
    the usable envelope as (axis, part_mm, usable_mm), empty when it fits.
    """

    turned: bool
    extent_mm: tuple[float, float, float]
    overflow: Overflow

    @property
    def fits(self) -> bool:
        return not self.overflow

    @property
    def rotate_deg(self) -> int:
        """The turn about Z the slicer must make to print the part as placed."""
        return 90 if self.turned else 0


def place(bbox_mm: tuple[float, float, float], usable_mm: tuple[float, float, float]) -> Placement:
    """The one placement rule: as built if it fits, else turned, else the nearer miss."""
    x, y, z = bbox_mm
    ux, uy, uz = usable_mm
    best: Placement | None = None
    for turned, (px, py) in ((False, (x, y)), (True, (y, x))):
        over = tuple((a, p, m) for a, p, m in (("X", px, ux), ("Y", py, uy)) if p > m + 1e-6)
        if z > uz + 1e-6:
            over += (("Z", z, uz),)
        candidate = Placement(turned, (px, py, z), over)
        if best is None or len(over) < len(best.overflow):
            best = candidate
    assert best is not None
    return best


@dataclass(frozen=True)
class MachineSpec:
    """One machine: its process, the materials it runs and its work envelope (X, Y, Z mm).

    For laser cutters Z is the thickest sheet it cuts. `speed_factor` > 1 means faster
    than the reference machine the process model assumes.
    """

    id: str
    name: str
    process: Process
    materials: tuple[str, ...]
    build_volume_mm: tuple[float, float, float]
    speed_factor: float = 1.0
    hourly_rate: Decimal = Decimal("1000")

    def __post_init__(self) -> None:
        if len(self.build_volume_mm) != 3 or any(v <= 0 for v in self.build_volume_mm):
            raise ConfiguratorError(f"machine {self.id}: build_volume_mm must be 3 positive mm")
        if self.speed_factor <= 0:
            raise ConfiguratorError(f"machine {self.id}: speed_factor must be > 0")
        if not isinstance(self.process, Process):
            raise ConfiguratorError(f"machine {self.id}: process must be a Process")

    @property
    def usable_mm(self) -> tuple[float, float, float]:
        """The envelope a part may occupy: the bed less the process's edge margin."""
        bx, by, bz = self.build_volume_mm
        m = 2 * edge_margin_mm(self.process)
        return (bx - m, by - m, bz)

    def placement(self, bbox_mm: tuple[float, float, float]) -> Placement:
        """Where a part of this bbox goes on this machine (see ``place``)."""
        return place(bbox_mm, self.usable_mm)

    def fits(self, bbox_mm: tuple[float, float, float]) -> bool:
        """True if a part of this bbox fits, allowing a 90° turn about Z."""
        return self.placement(bbox_mm).fits

    def overflow(self, bbox_mm: tuple[float, float, float]) -> list[tuple[str, float, float]]:
        """Axes that do not fit as (axis, part_mm, usable_mm), for the best XY orientation."""
        return list(self.placement(bbox_mm).overflow)
