"""Nameplate or sign with engraved or raised text, laser cut or FDM printed.

Geometry contract for cad/builders/nameplate.py (mm; plate centred on the origin, z up):
- plate width x height x thickness (z in [0, thickness]), vertical edges filleted with
  corner_radius (0 = sharp);
- text: `text` (already allow-listed and drawable), shaped (bidi order, Arabic joining) in
  DejaVu Sans Bold for Latin and Noto Naskh Arabic Bold for Arabic script, font size
  text_height, centred on the top face; "engraved" cuts text_depth into the top face, "raised"
  adds text_depth on top;
- mounting holes of hole_diameter at hole_positions [(x, y), ...].
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, ClassVar

from configurator.families._common import colour_param, material_param, process_param
from configurator.family import Family
from configurator.materials import get_material
from configurator.model import FieldError, GeometryMetrics
from configurator.params import Choice, Text, length
from configurator.processes import Process
from configurator.registry import register
from configurator.rules import Rule, fmt, min_wall_rule

V = Mapping[str, Any]
MARGIN_MM = 3.0
# Generous advance widths (em) for DejaVu Sans Bold, so the estimate errs on the wide side.
WIDE, NARROW = set("MWmw@%&"), set("iIl.,:;'!|() -")
ENGRAVE_MM2_PER_MIN = 600.0


def _hole_positions(v: V) -> list[tuple[float, float]]:
    inset = v["hole_diameter"] / 2 + MARGIN_MM + 0.3 * v["corner_radius"]
    x = round(v["width"] / 2 - inset, 3)
    y = round(v["height"] / 2 - inset, 3)
    if v["mount_holes"] == "2":
        return [(-x, 0.0), (x, 0.0)]
    if v["mount_holes"] == "4":
        return [(-x, -y), (x, -y), (-x, y), (x, y)]
    return []


# Centred text with ascenders and descenders (e.g. "gQ") spans more than the nominal text height;
# measured on DejaVu Sans Bold, the glyph box of mixed text reaches about 1.2 x the height.
GLYPH_SPAN = 1.25
# Noto Naskh Arabic Bold reaches 0.72 em below and 0.70 em above the centre line (all letters of
# U+0621..U+06D3 in every joining form, measured with cad/text.py).
ARABIC_GLYPH_SPAN = 1.45


@cache
def _glyph_data() -> dict[str, Any]:
    text = resources.files("configurator").joinpath("data/glyph_coverage.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def drawable() -> frozenset[int]:
    """Code points some engraving font draws (data/glyph_coverage.toml).

    WHY data: validation must stay pure (no HarfBuzz, no font files, no cad/ import), so the
    fonts' coverage is generated from the fonts (`python -m cad.glyph_coverage`) and stored;
    a test in tests/cad compares it with the installed fonts, so it cannot drift silently.
    """
    fonts = _glyph_data()["fonts"].values()
    return frozenset(cp for f in fonts for lo, hi in f["ranges"] for cp in range(lo, hi + 1))


@cache
def _arabic_advance_em() -> dict[str, float]:
    return {chr(int(k, 16)): float(v) for k, v in _glyph_data()["arabic_advance_em"].items()}


def is_arabic(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff"


def text_width_em(text: str) -> float:
    """Estimated advance of `text` in em: wide, narrow and ordinary Latin glyphs; an Arabic
    letter counts its widest joining form (an upper bound: joined words come out narrower)."""
    arabic = _arabic_advance_em()
    return sum(
        arabic[ch] if ch in arabic else 1.05 if ch in WIDE else 0.45 if ch in NARROW else 0.78
        for ch in text
    )


def glyph_span(text: str) -> float:
    """Height of the glyph box in em: Naskh's tall letters and deep tails need more."""
    return ARABIC_GLYPH_SPAN if any(is_arabic(ch) for ch in text) else GLYPH_SPAN


def _name(ch: str) -> str:
    """'X' (U+XXXX) for a letter, digit or symbol; only U+XXXX for anything else, so controls,
    bidi formatting and combining marks never reach a message raw."""
    code = f"U+{ord(ch):04X}"
    return f"'{ch}' ({code})" if unicodedata.category(ch)[0] in "LNS" else code


def undrawable_message(chars: list[str]) -> str:
    """Names the characters no engraving font draws (at most 8)."""
    named = ", ".join(_name(ch) for ch in chars[:8])
    if len(chars) == 1:
        return f"the character {named} cannot be engraved: no font here draws it"
    return f"the characters {named} cannot be engraved: no font here draws them"


@dataclass(frozen=True, kw_only=True)
class EngravingText(Text):
    """Text that must also be drawable: every character in the fonts' coverage.

    The allow-list (`Text`) says what input is acceptable; this says what can be cut. A
    character outside the coverage is refused here by name, never engraved as an empty box.
    """

    kind: ClassVar[str] = "text"

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        value, err = super().parse(raw)
        if not isinstance(raw, str):
            return value, err
        missing = sorted({ch for ch in raw if not ch.isspace() and ord(ch) not in drawable()})
        if missing and (err is None or err.code == "disallowed_characters"):
            # Replace the allow-list message only when every refused character is undrawable,
            # so a message never hides an allow-list refusal.
            if err is None or all(ord(ch) not in drawable() for ch in _refused(raw, self)):
                return self.error("cannot_engrave", f"{self.label}: {undrawable_message(missing)}")
        return value, err


def _refused(raw: str, param: Text) -> set[str]:
    """Characters the allow-list refuses (those a plain `Text` names), one by one."""
    return {ch for ch in raw if not ch.isspace() and Text.parse(param, ch)[1] is not None}


def derived(v: V) -> dict[str, Any]:
    holes = _hole_positions(v)
    hole_band = 2 * (v["hole_diameter"] + 0.3 * v["corner_radius"] + MARGIN_MM) if holes else 0.0
    return {
        "text_depth": 0.5 if v["process"] == "laser" else round(min(1.0, v["thickness"] * 0.4), 2),
        "hole_positions": holes,
        "text_width_estimate": round(text_width_em(v["text"]) * v["text_height"], 2),
        "text_room": round(v["width"] - 2 * MARGIN_MM - hole_band, 2),
    }


def _sheet(v: V) -> str | None:
    mat = get_material(v["material"])
    if v["process"] == "laser" and mat.sheet(v["thickness"]) is None:
        stocked = ", ".join(f"{t:g}" for t in mat.sheet_thicknesses)
        return (
            f"thickness {fmt(v['thickness'])} mm is not stocked in {mat.name}; choose {stocked} mm"
        )
    return None


def _raised(v: V) -> str | None:
    if v["style"] == "raised" and v["process"] == "laser":
        return "raised text is made on FDM only; choose engraved text for laser cutting"
    return None


def _fits(v: V) -> str | None:
    if v["text_width_estimate"] > v["text_room"]:
        return (
            f"text of {len(v['text'])} characters at {fmt(v['text_height'])} mm needs about "
            f"{fmt(v['text_width_estimate'])} mm but the width leaves {fmt(max(v['text_room'], 0))} mm "
            f"(margins and holes); shorten the text, lower the text height or widen the plate"
        )
    span = glyph_span(v["text"])
    if v["text_height"] * span > v["height"] - 2 * MARGIN_MM:
        return (
            f"text height {fmt(v['text_height'])} mm needs about "
            f"{fmt(v['text_height'] * span)} mm with ascenders and descenders, more than "
            f"the plate height {fmt(v['height'])} mm minus margins"
        )
    return None


def _text_min(v: V) -> str | None:
    need = 6.0 if v["process"] == "fdm" else 4.0
    if v["text_height"] < need:
        return f"text height {fmt(v['text_height'])} mm is below the {fmt(need)} mm minimum on {v['process'].upper()}"
    return None


def _corners(v: V) -> str | None:
    limit = min(v["width"], v["height"]) / 2 - 1
    if v["corner_radius"] > limit:
        return f"corner radius {fmt(v['corner_radius'])} mm must be at most {fmt(limit)} mm for this width and height"
    return None


def _holes(v: V) -> str | None:
    if not v["hole_positions"]:
        return None
    x, y = v["hole_positions"][-1]
    if x < v["hole_diameter"] or (v["mount_holes"] == "4" and y < v["hole_diameter"]):
        return f"{v['mount_holes']} mounting holes of {fmt(v['hole_diameter'])} mm do not fit this plate"
    return None


HOLES = ("mount_holes", "hole_diameter", "corner_radius", "width", "height")
RULES = (
    min_wall_rule("thickness"),
    Rule("thickness_not_stocked", ("thickness", "material", "process"), _sheet),
    Rule("raised_text_needs_fdm", ("style", "process"), _raised),
    Rule("text_too_small", ("text_height", "process"), _text_min),
    Rule("text_does_not_fit", ("text", "text_height", *HOLES), _fits),
    Rule("corner_radius_too_large", ("corner_radius", "width", "height"), _corners),
    Rule("holes_do_not_fit", HOLES, _holes),
)


def geometry(v: V) -> GeometryMetrics:
    w, h, t = v["width"], v["height"], v["thickness"]
    raised = v["text_depth"] if v["style"] == "raised" else 0.0
    volume = w * h * t
    area = 2 * w * h + 2 * (w + h) * t
    for _ in v["hole_positions"]:
        d = v["hole_diameter"]
        volume -= 3.1416 * d * d / 4 * t
        area += 3.1416 * d * t - 2 * 3.1416 * d * d / 4
    return GeometryMetrics(volume_mm3=volume, area_mm2=area, bbox_mm=(w, h, t + raised))


def engrave_minutes(v: V) -> float:
    """Laser raster time for the text; FDM prints text with the plate."""
    if v["process"] != "laser":
        return 0.0
    area_mm2: float = v["text_width_estimate"] * v["text_height"]
    return round(area_mm2 * 0.5 / ENGRAVE_MM2_PER_MIN, 2)


NAMEPLATE = register(
    Family(
        key="nameplate",
        name="Nameplate / sign",
        version=1,
        description="Door sign, desk nameplate or equipment label with engraved or raised text.",
        category="signs",
        processes=(Process.LASER, Process.FDM),
        preview_orbit="0deg 0deg auto",  # face-on: the text reads as engraved
        params=(
            EngravingText(name="text", label="Text", max_length=40, default="HUNAR", group="text"),
            length("text_height", "Text height", 4, 120, 0.5, 12, group="text"),
            Choice(
                name="style",
                label="Text style",
                options=("engraved", "raised"),
                default="engraved",
                group="text",
            ),
            length("width", "Width", 40, 600, 1, 150, group="size"),
            length("height", "Height", 15, 300, 1, 50, group="size"),
            length("thickness", "Thickness", 1.5, 10, 0.5, 3, group="size"),
            length("corner_radius", "Corner radius", 0, 50, 0.5, 3, group="size"),
            Choice(
                name="mount_holes",
                label="Mounting holes",
                options=("none", "2", "4"),
                default="2",
                group="mounting",
            ),
            length("hole_diameter", "Hole diameter", 2.5, 8, 0.5, 4, group="mounting"),
            process_param(Process.LASER, Process.FDM),
            material_param("acrylic", "plywood", "pla", "petg"),
            colour_param(),
        ),
        derived=derived,
        rules=RULES,
        geometry=geometry,
        extra_primary_minutes=engrave_minutes,
        max_qty=2000,
    )
)
