"""FDM slicing through the PrusaSlicer CLI, with an analytic estimate when it is absent.

WHY a real slicer: print time and filament grams drive the price and the schedule, and a
slicer's numbers are what the printer will actually do. Per-material settings live in
``cad/profiles/<material>.ini`` (plus ``printer_fdm.ini``); the bed comes from the machine.
The ``slicer`` field of every result says which source produced the numbers.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from cad.gcode_check import GcodeCheck, check_gcode
from configurator.print_model import fdm_estimate

PROFILE_DIR = Path(__file__).parent / "profiles"
PRINTER_PROFILE = PROFILE_DIR / "printer_fdm.ini"
SLICER_BINARY = "prusa-slicer"
SLICER_TIMEOUT_BASE_S = 60.0  # start-up and model load, generous for a loaded 2-core host
SLICER_TIMEOUT_PER_LAYER_S = 0.5  # slicing and G-code generation grow with the layer count
SLICER_TIMEOUT_PER_KFACE_S = 1.0  # ... and with the mesh's triangle count (thousands)
SLICER_TIMEOUT_MAX_S = 1800.0
ANALYTIC = "analytic"

_TIME_RE = re.compile(r"^; estimated printing time \(normal mode\) = (.+)$", re.M)
_GRAMS_RE = re.compile(r"^; (?:total )?filament used \[g\] = ([0-9.]+)", re.M)
_PART_RE = re.compile(r"(\d+)([dhms])")
# PrusaSlicer 2.5's ``--gcode-label-objects`` is a switch (2.6 made it octoprint/firmware): it
# brackets each object's moves with "; printing object <name> id:<n> copy <n>" comments, which
# OctoPrint's Cancel Objects plugin reads and Moonraker's object processing turns into
# EXCLUDE_OBJECT_DEFINE / EXCLUDE_OBJECT_START for Klipper. 2.5 writes no EXCLUDE_OBJECT_* itself.
_LABEL_RE = re.compile(r"^; printing object (.+)$", re.M)
# The revision of the options G-code is sliced with; a cached build whose G-code carries another
# revision (or none: sliced before object labels) is built again, never served (``gcode_current``).
GCODE_OPTIONS_REV = 2
_UNIT_MIN = {"d": 1440.0, "h": 60.0, "m": 1.0, "s": 1 / 60}


class SlicingError(Exception):
    """The slicer rejected the part or produced unusable G-code: a fact about the design."""


class SlicerUnavailable(Exception):
    """The slicer could not do its work (timed out, killed, missing): infrastructure
    trouble, retried by the queue; never a reason to put a valid order on hold."""


@dataclass(frozen=True)
class SliceSettings:
    """Inputs that vary per job: material profile, filament density and the bed."""

    material: str  # profile name: cad/profiles/<material>.ini
    density_g_cm3: float
    bed_mm: tuple[float, float, float] = (250.0, 210.0, 210.0)
    infill: float = 0.20
    rotate_deg: int = 0  # the turn about Z decided by ``MachineSpec.placement``
    center_mm: tuple[float, float] | None = None  # default: the bed's centre


@dataclass(frozen=True)
class SliceResult:
    """Print time and filament for one part; ``gcode`` is None for the analytic estimate."""

    slicer: str  # "prusa-slicer 2.5.0" | "analytic"
    print_minutes: float
    filament_g: float
    layers: int
    gcode: Path | None
    objects: tuple[str, ...] = ()  # the object labels the G-code carries


def profile_path(material: str) -> Path:
    """The ``.ini`` for a material key (e.g. "pla", "PETG"); raises if the repo has none."""
    path = PROFILE_DIR / f"{material.strip().lower()}.ini"
    if not path.is_file():
        known = sorted(p.stem for p in PROFILE_DIR.glob("*.ini") if p != PRINTER_PROFILE)
        raise SlicingError(f"no slicer profile for material {material!r}; known: {known}")
    return path


@functools.lru_cache(maxsize=1)
def slicer_version() -> str | None:
    """``"prusa-slicer 2.5.0"`` when the binary runs, else None (then: analytic fallback)."""
    exe = shutil.which(SLICER_BINARY)
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"PrusaSlicer-([0-9][0-9.]*)", out)
    return f"prusa-slicer {m.group(1)}" if m else "prusa-slicer unknown"


def parse_duration_minutes(text: str) -> float:
    """'1d 2h 3m 4s' -> minutes."""
    parts = _PART_RE.findall(text)
    if not parts:
        raise SlicingError(f"unreadable print time {text!r}")
    return sum(int(n) * _UNIT_MIN[u] for n, u in parts)


def parse_gcode(gcode: Path) -> tuple[float, float, int]:
    """(print minutes, filament grams, layer count) from PrusaSlicer's G-code comments."""
    text = gcode.read_text(errors="replace")
    t = _TIME_RE.search(text)
    g = _GRAMS_RE.search(text)
    if t is None or g is None:
        raise SlicingError(f"G-code {gcode.name} lacks a time or filament estimate")
    return parse_duration_minutes(t.group(1)), float(g.group(1)), text.count(";LAYER_CHANGE")


def object_labels(gcode: Path) -> tuple[str, ...]:
    """The objects the G-code labels ("part.stl id:0 copy 0"), each once, in print order."""
    found = _LABEL_RE.findall(gcode.read_text(errors="replace"))
    return tuple(dict.fromkeys(name.strip() for name in found))


def gcode_current(metadata: dict[str, object]) -> bool:
    """True when a stored G-code was sliced with today's options (object labels included)."""
    return metadata.get("gcode_rev") == GCODE_OPTIONS_REV


def slicer_timeout_s(height_mm: float, faces: int, layer_height_mm: float = 0.2) -> float:
    """How long a slice may take: it grows with layers and triangles, so a big valid part
    is not cut off by a limit sized for a small one."""
    layers = max(1.0, height_mm / layer_height_mm)
    budget = (
        SLICER_TIMEOUT_BASE_S
        + SLICER_TIMEOUT_PER_LAYER_S * layers
        + SLICER_TIMEOUT_PER_KFACE_S * faces / 1000
    )
    return min(budget, SLICER_TIMEOUT_MAX_S)


def slice_fdm(
    stl: Path, out_gcode: Path, settings: SliceSettings, timeout_s: float = SLICER_TIMEOUT_BASE_S
) -> SliceResult:
    """Slice with PrusaSlicer. ``SlicingError``: the slicer rejects the part;
    ``SlicerUnavailable``: missing, timed out or killed (retry, don't blame the design)."""
    version = slicer_version()
    if version is None:
        raise SlicerUnavailable(f"{SLICER_BINARY} is not installed")
    bx, by, bz = settings.bed_mm
    cx, cy = settings.center_mm or (bx / 2, by / 2)
    cmd = [
        SLICER_BINARY,
        "--loglevel",
        "1",
        "--load",
        str(PRINTER_PROFILE),
        "--load",
        str(profile_path(settings.material)),
        "--export-gcode",
        "--gcode-label-objects",
        "--output",
        str(out_gcode),
        "--bed-shape",
        f"0x0,{bx:g}x0,{bx:g}x{by:g},0x{by:g}",
        "--center",
        f"{cx:g},{cy:g}",
        "--rotate",
        f"{settings.rotate_deg:g}",
        "--max-print-height",
        f"{bz:g}",
        "--filament-density",
        f"{settings.density_g_cm3:g}",
        "--fill-density",
        f"{round(settings.infill * 100)}%",
        str(stl),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise SlicerUnavailable(f"slicer timed out after {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise SlicerUnavailable(f"slicer could not start: {exc}") from exc
    if proc.returncode < 0:  # killed by a signal (OOM killer, shutdown): not the design
        raise SlicerUnavailable(f"slicer killed by signal {-proc.returncode}")
    errors = [ln for ln in proc.stderr.splitlines() if "[error]" in ln or "[fatal]" in ln]
    if proc.returncode != 0 or errors or not out_gcode.is_file():
        detail = "; ".join(errors) or proc.stderr.strip()[-500:] or proc.stdout.strip()[-500:]
        raise SlicingError(f"slicer exit {proc.returncode}: {detail}")
    minutes, grams, layers = parse_gcode(out_gcode)
    if layers == 0:
        raise SlicingError("slicer produced G-code without layers")
    return SliceResult(version, minutes, grams, layers, out_gcode, object_labels(out_gcode))


def slice_checked(
    stl: Path, out_gcode: Path, settings: SliceSettings, timeout_s: float
) -> tuple[SliceResult, GcodeCheck]:
    """Slice, then read the G-code back (``check_gcode``). The slicer centres the part, but
    what it adds around it is not symmetric (support under one side widens the skirt there):
    when the whole print would fit the bed yet sits off it, it is sliced once more, moved by
    the overhang. The caller stores the G-code only if the returned check is ok."""
    result = slice_fdm(stl, out_gcode, settings, timeout_s)
    check = check_gcode(out_gcode, settings.bed_mm)
    shift = _recentre(check, settings.bed_mm)
    if check.ok or shift is None:
        return result, check
    bx, by, _ = settings.bed_mm
    cx, cy = settings.center_mm or (bx / 2, by / 2)
    moved = replace(settings, center_mm=(cx + shift[0], cy + shift[1]))
    result = slice_fdm(stl, out_gcode, moved, timeout_s)
    return result, check_gcode(out_gcode, settings.bed_mm)


def _recentre(check: GcodeCheck, bed_mm: tuple[float, float, float]) -> tuple[float, float] | None:
    """The XY move that centres the print's extent on the bed, if the extent fits at all."""
    if check.error or "X" not in check.extent_mm or "Y" not in check.extent_mm:
        return None
    (x0, x1), (y0, y1) = check.extent_mm["X"], check.extent_mm["Y"]
    if (
        x1 - x0 > bed_mm[0]
        or y1 - y0 > bed_mm[1]
        or check.extent_mm.get("Z", (0, 0))[1] > bed_mm[2]
    ):
        return None
    return (bed_mm[0] - x0 - x1) / 2, (bed_mm[1] - y0 - y1) / 2


def analytic_estimate(
    volume_mm3: float, area_mm2: float, height_mm: float, settings: SliceSettings
) -> SliceResult:
    """FDM time and filament when no G-code is written: the same calibrated model the quote
    uses before CAD (``configurator.print_model``, fitted against this slicer and profile), on
    the built solid's exact volume, area and height."""
    est = fdm_estimate(
        volume_mm3, area_mm2, (0.0, 0.0, height_mm), settings.infill, settings.density_g_cm3
    )
    return SliceResult(ANALYTIC, est.minutes, est.grams, est.layers, None)
