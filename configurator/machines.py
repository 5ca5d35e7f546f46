"""The shop's machines as plain values; orders/ turns database rows into these."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from configurator.errors import ConfiguratorError
from configurator.processes import Process


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

    def fits(self, bbox_mm: tuple[float, float, float]) -> bool:
        """True if a part of this bbox fits, allowing a 90° turn about Z."""
        return not self.overflow(bbox_mm)

    def overflow(self, bbox_mm: tuple[float, float, float]) -> list[tuple[str, float, float]]:
        """Axes that do not fit as (axis, part_mm, machine_mm), for the best XY orientation."""
        x, y, z = bbox_mm
        bx, by, bz = self.build_volume_mm
        best: list[tuple[str, float, float]] | None = None
        for px, py in ((x, y), (y, x)):
            over = [(a, p, m) for a, p, m in (("X", px, bx), ("Y", py, by)) if p > m]
            if z > bz:
                over.append(("Z", z, bz))
            if best is None or len(over) < len(best):
                best = over
        return best or []
