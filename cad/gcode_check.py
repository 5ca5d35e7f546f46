"""A G-code motion check: every move stays on the bed and under the printer's height.

WHY its own parser: the slicer's own bounds checking does not cover what we add around the
part (start G-code purge line, skirt, support), and a file that drives the nozzle into the
frame damages a printer. So every G-code the platform writes is read back, move by move,
before it is stored or sent; a file that fails is never stored and its line goes on hold.

Understood: G0/G1 linear moves, G2/G3 arcs (I/J centre form, sampled), G90/G91 absolute and
relative positioning, G92 position set, G28 homing (to the machine origin), G20/G21 units.
Extrusion (E) is not checked. Positions not yet known (before homing) are not checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOLERANCE_MM = 0.05  # slicer rounding: coordinates are written to 3 decimals
MAX_VIOLATIONS = 20
_WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")
_AXES = ("X", "Y", "Z")


@dataclass(frozen=True)
class Violation:
    """One move that leaves the machine: where in the file, and which limit it broke."""

    line: int
    axis: str
    value_mm: float
    limit: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.axis}={self.value_mm:g} mm {self.limit} ({self.text})"


@dataclass(frozen=True)
class GcodeCheck:
    """The verdict on one file; ``extent_mm`` is the range each axis was driven over."""

    ok: bool
    moves: int
    violations: list[Violation] = field(default_factory=list)
    violation_count: int = 0
    extent_mm: dict[str, tuple[float, float]] = field(default_factory=dict)
    error: str | None = None

    @property
    def reason(self) -> str:
        """One line for a hold reason or a log."""
        if self.error:
            return f"G-code unreadable: {self.error}"
        if self.ok:
            return "G-code stays inside the machine"
        more = self.violation_count - 3
        shown = "; ".join(str(v) for v in self.violations[:3])
        return f"G-code leaves the machine: {shown}" + (f" and {more} more" if more > 0 else "")


class _Machine:
    """The parser's state: position, modes, and what it found."""

    def __init__(self, bed_mm: Sequence[float]) -> None:
        bx, by, bz = (float(v) for v in bed_mm)
        self.limits = {"X": (0.0, bx), "Y": (0.0, by), "Z": (0.0, bz)}
        self.pos: dict[str, float | None] = dict.fromkeys(_AXES)
        self.offset = dict.fromkeys(_AXES, 0.0)  # G92: machine = logical + offset
        self.relative = False
        self.scale = 1.0
        self.moves = 0
        self.violations: list[Violation] = []
        self.count = 0
        self.seen: dict[str, list[float]] = {}

    def visit(self, lineno: int, text: str, point: dict[str, float]) -> None:
        """Check one reached point (machine coordinates) against the limits."""
        for axis, value in point.items():
            lo, hi = self.limits[axis]
            span = self.seen.setdefault(axis, [value, value])
            span[0], span[1] = min(span[0], value), max(span[1], value)
            if value < lo - TOLERANCE_MM:
                self._flag(lineno, axis, value, f"below {lo:g} mm", text)
            elif value > hi + TOLERANCE_MM:
                self._flag(lineno, axis, value, f"beyond {hi:g} mm", text)

    def _flag(self, lineno: int, axis: str, value: float, limit: str, text: str) -> None:
        self.count += 1  # every one is counted; the first few are kept to show
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(Violation(lineno, axis, round(value, 3), limit, text[:80]))

    def target(self, words: dict[str, float]) -> dict[str, float]:
        """Where a move ends, in machine coordinates, for the axes it names or knows."""
        out: dict[str, float] = {}
        for axis in _AXES:
            if axis in words:
                value = words[axis] * self.scale
                base = self.pos[axis]
                if self.relative:
                    if base is None:
                        continue
                    out[axis] = base + value
                else:
                    out[axis] = value + self.offset[axis]
            elif self.pos[axis] is not None:
                out[axis] = self.pos[axis]  # type: ignore[assignment]
        return out


def _words(code: str) -> dict[str, float]:
    return {k: float(v) for k, v in _WORD.findall(code)}


def _arc_points(
    start: dict[str, float], end: dict[str, float], words: dict[str, float], clockwise: bool
) -> Iterable[dict[str, float]]:
    """Points along an I/J arc in XY, so an arc that bulges past the bed is caught."""
    if not {"X", "Y"} <= start.keys() or "I" not in words and "J" not in words:
        return [end]
    cx, cy = start["X"] + words.get("I", 0.0), start["Y"] + words.get("J", 0.0)
    r = math.hypot(start["X"] - cx, start["Y"] - cy)
    a0 = math.atan2(start["Y"] - cy, start["X"] - cx)
    a1 = math.atan2(end.get("Y", start["Y"]) - cy, end.get("X", start["X"]) - cx)
    sweep = (a0 - a1) if clockwise else (a1 - a0)
    sweep = sweep % (2 * math.pi) or 2 * math.pi
    steps = max(4, int(sweep / (math.pi / 36)))
    sign = -1.0 if clockwise else 1.0
    points = []
    for i in range(1, steps + 1):
        a = a0 + sign * sweep * i / steps
        points.append(end | {"X": cx + r * math.cos(a), "Y": cy + r * math.sin(a)})
    return points


def _line(m: _Machine, lineno: int, raw: str) -> None:
    code = raw.split(";", 1)[0].strip().upper()
    if not code:
        return
    head = code.split(None, 1)[0]
    if head == "G90":
        m.relative = False
    elif head == "G91":
        m.relative = True
    elif head == "G21":
        m.scale = 1.0
    elif head == "G20":
        m.scale = 25.4
    elif head == "G28":
        named = [a for a in _AXES if a in code[3:]] or list(_AXES)
        for axis in named:  # homing: the machine origin, logical offset cleared
            m.pos[axis], m.offset[axis] = 0.0, 0.0
    elif head == "G92":
        for axis, value in _words(code[3:]).items():
            if axis in m.pos and m.pos[axis] is not None:
                m.offset[axis] = m.pos[axis] - value * m.scale  # type: ignore[operator]
    elif head in ("G0", "G1", "G00", "G01", "G2", "G3", "G02", "G03"):
        words = _words(code[len(head) :])
        end = m.target(words)
        start = {a: v for a, v in m.pos.items() if v is not None}
        points = (
            _arc_points(start, end, words, head in ("G2", "G02"))
            if head in ("G2", "G3", "G02", "G03")
            else [end]
        )
        for point in points:
            m.visit(lineno, raw.strip(), point)
        for axis, value in end.items():
            m.pos[axis] = value
        m.moves += 1


def check_gcode(path: Path, bed_mm: Sequence[float]) -> GcodeCheck:
    """Read ``path`` and check every move against a (X, Y, Z) machine of ``bed_mm``."""
    m = _Machine(bed_mm)
    try:
        with path.open(encoding="ascii", errors="replace") as fh:
            for lineno, raw in enumerate(fh, 1):
                _line(m, lineno, raw)
    except (OSError, ValueError) as exc:
        return GcodeCheck(False, m.moves, error=f"{exc.__class__.__name__}: {exc}")
    if m.moves == 0:
        return GcodeCheck(False, 0, error="no moves")
    extent = {a: (round(lo, 3), round(hi, 3)) for a, (lo, hi) in m.seen.items()}
    return GcodeCheck(not m.count, m.moves, m.violations, m.count, extent)
