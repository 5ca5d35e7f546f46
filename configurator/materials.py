"""Materials library loaded from data/materials.toml (data only, parsed with tomllib)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from configurator.errors import DataFileError
from configurator.process_limits import process_floor_mm
from configurator.processes import Process


@dataclass(frozen=True)
class Sheet:
    """A stocked sheet thickness and what one full sheet costs."""

    thickness_mm: float
    cost_per_sheet: Decimal


@dataclass(frozen=True)
class Material:
    """One material: density, cost, allowed processes, palette and per-process minimum wall."""

    key: str
    name: str
    density_g_cm3: float
    cost_per_kg: Decimal
    allowable_stress_mpa: float
    processes: tuple[Process, ...]
    colours: tuple[str, ...]
    min_wall_mm: MappingProxyType[Process, float]
    sheet_size_mm: tuple[float, float] | None = None
    sheets: tuple[Sheet, ...] = ()

    def min_wall(self, process: Process) -> float:
        """Minimum wall for this material on `process` (0 if the process is not listed).

        Never below the process floor (data/process_limits.toml): DFM holds any wall under
        it, so validation must not accept one.
        """
        proc = Process(process)
        if proc not in self.min_wall_mm:
            return 0.0
        return max(float(self.min_wall_mm[proc]), process_floor_mm(proc.value))

    def sheet(self, thickness_mm: float) -> Sheet | None:
        """The stocked sheet of this thickness, if any."""
        for s in self.sheets:
            if abs(s.thickness_mm - thickness_mm) < 1e-6:
                return s
        return None

    @property
    def sheet_thicknesses(self) -> tuple[float, ...]:
        return tuple(s.thickness_mm for s in self.sheets)


def _need(doc: dict[str, Any], key: str, where: str) -> Any:
    if key not in doc:
        raise DataFileError(f"materials.toml [{where}] lacks {key!r}")
    return doc[key]


def _parse(key: str, doc: dict[str, Any]) -> Material:
    processes = tuple(Process(p) for p in _need(doc, "processes", key))
    walls = {Process(p): float(v) for p, v in _need(doc, "min_wall_mm", key).items()}
    if set(walls) != set(processes):
        raise DataFileError(f"materials.toml [{key}] min_wall_mm must cover exactly its processes")
    sheets = tuple(
        Sheet(float(s["thickness_mm"]), Decimal(str(s["cost_per_sheet"])))
        for s in doc.get("sheets", ())
    )
    size = doc.get("sheet_size_mm")
    return Material(
        key=key,
        name=str(_need(doc, "name", key)),
        density_g_cm3=float(_need(doc, "density_g_cm3", key)),
        cost_per_kg=Decimal(str(_need(doc, "cost_per_kg", key))),
        allowable_stress_mpa=float(_need(doc, "allowable_stress_mpa", key)),
        processes=processes,
        colours=tuple(str(c) for c in _need(doc, "colours", key)),
        min_wall_mm=MappingProxyType(walls),
        sheet_size_mm=(float(size[0]), float(size[1])) if size else None,
        sheets=sheets,
    )


def parse_materials(text: str) -> dict[str, Material]:
    """Parse a materials TOML document (exposed so tests can feed variants)."""
    doc = tomllib.loads(text)
    return {key: _parse(key, body) for key, body in doc.items()}


@cache
def materials() -> MappingProxyType[str, Material]:
    """The shipped materials library, keyed by material key (loaded once)."""
    text = resources.files("configurator").joinpath("data/materials.toml").read_text("utf-8")
    return MappingProxyType(parse_materials(text))


def get_material(key: str) -> Material:
    """Look up a material by key; KeyError for an unknown key (programmer error)."""
    return materials()[key]


def materials_for(process: Process) -> list[Material]:
    """Materials that can run on `process`, sorted by key."""
    return sorted((m for m in materials().values() if process in m.processes), key=lambda m: m.key)
