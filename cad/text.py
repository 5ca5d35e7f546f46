"""The one text engine for engraving: bidi runs, HarfBuzz shaping, glyph outlines as polygons.

WHY: CadQuery's ``Workplane.text()`` hands the string to OCCT, which does no shaping: Urdu came
out in typing order (backwards), every letter isolated, and letters DejaVu lacks as empty boxes.
Here the Unicode bidi algorithm (python-bidi) splits the text into directional runs in visual
order, each run is shaped by HarfBuzz with its direction, script and font, and the outlines come
from HarfBuzz too (no second font library). Latin text goes the same way, so there is one
engine; sizes and placement match the old OCCT text (em = text height, centred on the advance
width and on the line's ascender/descender).

Fonts are data, listed once in ``FONTS`` below: Latin DejaVu Sans Bold (Debian fonts-dejavu-core),
Arabic script Noto Naskh Arabic Bold (fonts-noto-core). A run takes the font of its script; a
character that font lacks falls back to the other. What the fonts cover is also stored for the
configurator's validation (``configurator/data/glyph_coverage.toml``, written by
``python -m cad.glyph_coverage``; a test compares it with the fonts).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import uharfbuzz as hb  # type: ignore[import-untyped]
from bidi import get_display  # type: ignore[import-untyped]
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import polygonize, unary_union


class FontMissing(RuntimeError):
    """A font file named in ``FONTS`` is not installed."""


@dataclass(frozen=True)
class FontSpec:
    """One engraving font: file, display name, the Debian package that installs it."""

    key: str
    name: str
    path: str
    package: str
    hb_script: str
    language: str


LATIN = FontSpec(
    "latin",
    "DejaVu Sans Bold",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "fonts-dejavu-core",
    "Latn",
    "en",
)
# Urdu is the shop's Arabic-script language: HarfBuzz is told "ur" so the result never depends
# on the process locale (Arabic text shapes the same apart from Urdu-specific locl forms).
ARABIC = FontSpec(
    "arabic",
    "Noto Naskh Arabic Bold",
    "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Bold.ttf",
    "fonts-noto-core",
    "Arab",
    "ur",
)
FONTS: dict[str, FontSpec] = {LATIN.key: LATIN, ARABIC.key: ARABIC}
FONT_NAMES = " + ".join(f.name for f in FONTS.values())
TOLERANCE_MM = 0.02  # largest chord error when curves are flattened to polylines
_ARABIC_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x08A0, 0x08FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)
_STRONG = ("L", "R", "AL")


@dataclass(frozen=True)
class Run:
    """Characters text[start:end] at one bidi level, shaped with one font."""

    start: int
    end: int
    level: int
    font: str

    @property
    def rtl(self) -> bool:
        return self.level % 2 == 1


@dataclass(frozen=True)
class PlacedGlyph:
    """A shaped glyph: font, glyph id, its cluster (index of the first character in the text)
    and its origin in mm, in visual order left to right."""

    font: str
    gid: int
    cluster: int
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    """Shaped text centred on the origin; ``glyphs`` and ``runs`` in visual order."""

    text: str
    size: float
    runs: tuple[Run, ...]
    glyphs: tuple[PlacedGlyph, ...]
    advance: float


@cache
def hb_font(key: str) -> Any:
    """The HarfBuzz font for ``FONTS[key]`` at its design units (scale = units per em)."""
    spec = FONTS[key]
    if not Path(spec.path).is_file():
        raise FontMissing(f"font {spec.name} missing at {spec.path} (install {spec.package})")
    return hb.Font(hb.Face(hb.Blob.from_file_path(spec.path)))


@cache
def cmap(key: str) -> frozenset[int]:
    """Code points the font maps to a glyph."""
    return frozenset(hb_font(key).face.unicodes)


def is_arabic(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _ARABIC_BLOCKS)


def bidi_levels(text: str) -> list[int]:
    """Resolved bidi embedding level per character (rules up to I2; L1 is applied here).

    WHY: python-bidi 0.6 (pinned) exposes the levels of its Rust core only in its debug output,
    one per UTF-8 byte; they are read from there and checked against the byte count, so a
    format change fails loudly instead of reordering text silently.
    """
    info = str(get_display(text, debug=True))
    block = info.split("levels:", 1)[1].split("]", 1)[0]
    per_byte = [int(n) for n in re.findall(r"Level\(\s*(\d+)", block)]
    if len(per_byte) != len(text.encode()):
        raise RuntimeError("python-bidi's level output changed; update cad/text.bidi_levels")
    levels, offset = [], 0
    for ch in text:
        levels.append(per_byte[offset])
        offset += len(ch.encode())
    base = _base_level(text)
    for i in range(len(text) - 1, -1, -1):  # L1: trailing white space takes the base level
        if not text[i].isspace():
            break
        levels[i] = base
    return levels


def _base_level(text: str) -> int:
    """P2/P3: the first strong character sets the paragraph direction."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in _STRONG:
            return 0 if kind == "L" else 1
    return 0


def _font_for(text: str, i: int, start: int, end: int, rtl: bool) -> str:
    """Font of the script of character i: a neutral (space, digit, punctuation) takes the
    script of the nearest strong character in its level run, else the run's direction."""
    order = [i, *range(i - 1, start - 1, -1), *range(i + 1, end)]
    want = next(
        (ARABIC.key if is_arabic(text[j]) else LATIN.key for j in order if _is_strong(text[j])),
        ARABIC.key if rtl else LATIN.key,
    )
    if ord(text[i]) in cmap(want):
        return want
    other = LATIN.key if want == ARABIC.key else ARABIC.key
    if ord(text[i]) in cmap(other):
        return other
    cp = ord(text[i])
    raise ValueError(f"the character U+{cp:04X} cannot be engraved: no font here draws it")


def _is_strong(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in _STRONG


def runs(text: str) -> list[Run]:
    """Runs of one level and one font, in visual order (bidi rule L2 on the runs)."""
    levels = bidi_levels(text)
    logical: list[Run] = []
    i = 0
    while i < len(text):
        end = i
        while end < len(text) and levels[end] == levels[i]:
            end += 1
        fonts = [_font_for(text, j, i, end, levels[i] % 2 == 1) for j in range(i, end)]
        s = i
        for j in range(i, end + 1):
            if j == end or fonts[j - i] != fonts[s - i]:
                logical.append(Run(s, j, levels[i], fonts[s - i]))
                s = j
        i = end
    if not logical:
        return []
    visual = list(logical)
    lowest_odd = min((r.level for r in visual if r.level % 2), default=None)
    if lowest_odd is None:
        return visual
    for level in range(max(r.level for r in visual), lowest_odd - 1, -1):
        k = 0
        while k < len(visual):
            if visual[k].level < level:
                k += 1
                continue
            m = k
            while m < len(visual) and visual[m].level >= level:
                m += 1
            visual[k:m] = visual[k:m][::-1]
            k = m
    return visual


def shape_run(text: str, run: Run) -> tuple[list[Any], list[Any]]:
    """HarfBuzz's glyph infos and positions for one run, with the whole text as context."""
    spec = FONTS[run.font]
    buf = hb.Buffer()
    buf.add_codepoints([ord(c) for c in text], run.start, run.end - run.start)
    buf.direction = "rtl" if run.rtl else "ltr"
    buf.script = spec.hb_script
    buf.language = spec.language
    hb.shape(hb_font(run.font), buf)
    return list(buf.glyph_infos), list(buf.glyph_positions)


def layout(text: str, size: float) -> Layout:
    """Shape ``text`` at font size ``size`` mm (1 em); centred on x by the advance width and on
    y by the ascender/descender of the fonts used, as OCCT placed its text."""
    placed: list[tuple[str, int, int, float, float]] = []
    pen = 0.0
    order = runs(text)
    for run in order:
        scale = size / hb_font(run.font).face.upem
        infos, positions = shape_run(text, run)
        for info, pos in zip(infos, positions, strict=True):
            x, y = pen + pos.x_offset * scale, pos.y_offset * scale
            placed.append((run.font, info.codepoint, info.cluster, x, y))
            pen += pos.x_advance * scale
    used = {r.font for r in order} or {LATIN.key}
    ext = [hb_font(k).get_font_extents("ltr") for k in used]
    upem = [hb_font(k).face.upem for k in used]
    asc = max(e.ascender / u for e, u in zip(ext, upem, strict=True)) * size
    desc = min(e.descender / u for e, u in zip(ext, upem, strict=True)) * size
    dx, dy = -pen / 2, -(asc + desc) / 2
    glyphs = tuple(PlacedGlyph(f, g, c, x + dx, y + dy) for f, g, c, x, y in placed)
    return Layout(text, size, tuple(order), glyphs, pen)


class _Pen:
    """fontTools-style pen: contours as point lists, curves flattened within ``tol`` units."""

    def __init__(self, tol: float) -> None:
        self.tol = tol
        self.contours: list[list[tuple[float, float]]] = []
        self.cur: list[tuple[float, float]] = []

    def moveTo(self, p: tuple[float, float]) -> None:  # noqa: N802 (pen protocol)
        self.closePath()
        self.cur = [p]

    def lineTo(self, p: tuple[float, float]) -> None:  # noqa: N802
        self.cur.append(p)

    def qCurveTo(self, *pts: tuple[float, float]) -> None:  # noqa: N802
        p0 = self.cur[-1]
        for c, p in _quad_segments(pts):
            self.cur.extend(_flatten(np.array([p0, c, p], dtype=float), self.tol))
            p0 = p

    def curveTo(self, *pts: tuple[float, float]) -> None:  # noqa: N802
        self.cur.extend(_flatten(np.array([self.cur[-1], *pts[-3:]], dtype=float), self.tol))

    def closePath(self) -> None:  # noqa: N802
        if len(self.cur) >= 3:
            self.contours.append(self.cur)
        self.cur = []

    endPath = closePath  # noqa: N815


def _quad_segments(
    pts: Sequence[tuple[float, float]],
) -> Iterator[tuple[tuple[float, float], tuple[float, float]]]:
    """TrueType implied on-curve points: (control, end) pairs of single quadratic segments."""
    *controls, end = pts
    for k, c in enumerate(controls):
        if k + 1 < len(controls):
            n = controls[k + 1]
            yield c, ((c[0] + n[0]) / 2, (c[1] + n[1]) / 2)
        else:
            yield c, end


def _flatten(ctrl: np.ndarray[Any, Any], tol: float) -> list[tuple[float, float]]:
    """Points after the first of a quadratic (3 points) or cubic (4) Bezier, in so many equal
    parameter steps that no chord strays more than ``tol`` from the curve (|B''| h^2 / 8)."""
    if len(ctrl) == 3:
        bend = float(np.linalg.norm(ctrl[0] - 2 * ctrl[1] + ctrl[2])) * 2
    else:
        d1 = ctrl[0] - 2 * ctrl[1] + ctrl[2]
        d2 = ctrl[1] - 2 * ctrl[2] + ctrl[3]
        bend = 6 * max(float(np.linalg.norm(d1)), float(np.linalg.norm(d2)))
    n = max(1, math.ceil(math.sqrt(bend / (8 * tol))))
    t = np.linspace(0, 1, n + 1)[1:, None]
    if len(ctrl) == 3:
        pts = (1 - t) ** 2 * ctrl[0] + 2 * (1 - t) * t * ctrl[1] + t**2 * ctrl[2]
    else:
        pts = (
            (1 - t) ** 3 * ctrl[0]
            + 3 * (1 - t) ** 2 * t * ctrl[1]
            + 3 * (1 - t) * t**2 * ctrl[2]
            + t**3 * ctrl[3]
        )
    return [(float(x), float(y)) for x, y in pts]


def _winding(pt: tuple[float, float], ring: np.ndarray[Any, Any]) -> int:
    """Winding number of ``ring`` (closed implicitly) around ``pt``."""
    a = ring - np.asarray(pt)
    b = np.roll(a, -1, axis=0)
    cross = a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]
    up = (a[:, 1] <= 0) & (b[:, 1] > 0) & (cross > 0)
    down = (a[:, 1] > 0) & (b[:, 1] <= 0) & (cross < 0)
    return int(up.sum() - down.sum())


@cache
def glyph_polygons(font: str, gid: int, tol_units: float) -> MultiPolygon:
    """A glyph's filled area in font units under the nonzero rule (TrueType: outer contours
    clockwise, holes counter-clockwise; overlapping components add up)."""
    pen = _Pen(tol_units)
    hb_font(font).draw_glyph_with_pen(gid, pen)
    pen.closePath()
    rings = [np.array(c, dtype=float) for c in pen.contours]
    if not rings:
        return MultiPolygon()
    lines = unary_union([LineString([*c, c[0]]) for c in pen.contours])
    filled = []
    for face in polygonize(lines):
        p = face.representative_point()
        if sum(_winding((p.x, p.y), r) for r in rings) != 0:
            filled.append(face)
    return _multi(unary_union(filled))


def _multi(geom: Any) -> MultiPolygon:
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and g.area > 0]
    return MultiPolygon([shapely.geometry.polygon.orient(p, 1.0) for p in polys])


def cluster_polygons(lay: Layout) -> list[tuple[tuple[str, int], MultiPolygon]]:
    """Each glyph cluster's outline in mm (its glyphs united), in visual order."""
    out: dict[tuple[str, int], list[Polygon]] = {}
    for g in lay.glyphs:
        scale = lay.size / hb_font(g.font).face.upem
        shape = glyph_polygons(g.font, g.gid, round(TOLERANCE_MM / scale, 6))
        moved = shapely.affinity.affine_transform(shape, [scale, 0, 0, scale, g.x, g.y])
        out.setdefault((g.font, g.cluster), []).extend(_multi(moved).geoms)
    return [(k, _multi(unary_union(v))) for k, v in out.items()]


def text_polygons(text: str, size: float) -> MultiPolygon:
    """The whole text's outline in mm, centred on the origin, overlaps united."""
    parts = [p for _, m in cluster_polygons(layout(text, size)) for p in m.geoms]
    return _multi(shapely.remove_repeated_points(unary_union(parts), 1e-4))
