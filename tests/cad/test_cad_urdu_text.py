"""Urdu and Arabic-script engraving reads correctly (issue 15, must-have 3).

The layout (cad/text.py) is compared with HarfBuzz's own shaping and python-bidi's visual
order; the built solid is checked where the letters are, not only that it is valid.
"""

from __future__ import annotations

from pathlib import Path

import cadquery as cq
import numpy as np
import pytest
import uharfbuzz as hb
from bidi import get_display
from cad_factories import make_config

from cad import glyph_coverage
from cad import text as shaping
from cad.build import build
from cad.builders.nameplate import build_nameplate
from configurator.families.nameplate import drawable
from configurator.registry import get_family

URDU = ["ہنر ورکشاپ", "پاکستان"]
MIXED = ["Hunar ہنر 2026", "ہنر 2026 Hunar", "پاکستان (Pvt) Ltd", "A (ب) C"]
SIZE = 12.0


def _reference(word: str) -> list[tuple[int, int, float]]:
    """HarfBuzz alone: (glyph id, cluster, x in mm) with direction rtl, centred like the layout."""
    font = shaping.hb_font(shaping.ARABIC.key)
    buf = hb.Buffer()
    buf.add_str(word)
    buf.direction, buf.script, buf.language = "rtl", "Arab", "ur"
    hb.shape(font, buf)
    scale = SIZE / font.face.upem
    out, pen = [], 0.0
    for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True):
        out.append((info.codepoint, info.cluster, pen + pos.x_offset * scale))
        pen += pos.x_advance * scale
    return [(g, c, x - pen / 2) for g, c, x in out]


def _isolated(ch: str) -> int:
    return shaping.layout(ch, SIZE).glyphs[0].gid


@pytest.mark.parametrize("word", URDU)
def test_glyph_order_is_harfbuzz_rtl_shaping(word: str) -> None:
    lay = shaping.layout(word, SIZE)
    got = [(g.gid, g.cluster, g.x) for g in lay.glyphs]
    want = _reference(word)
    assert [(g, c) for g, c, _ in got] == [(g, c) for g, c, _ in want]
    assert np.allclose([x for *_, x in got], [x for *_, x in want], atol=1e-9)
    assert {g.font for g in lay.glyphs} == {"arabic"}
    # right to left: the first logical letter is at the right end, the last at the left
    assert lay.glyphs[-1].cluster == 0 and lay.glyphs[0].cluster == len(word) - 1


def test_letters_join_and_forms_depend_on_position() -> None:
    word = "پاکستان"
    gids = {g.cluster: g.gid for g in shaping.layout(word, SIZE).glyphs}
    assert all(gids[i] != _isolated(word[i]) for i in range(6))
    assert gids[6] == _isolated("ن")  # after alef, which joins only to the right
    assert gids[1] == gids[5] and gids[0] != _isolated("پ")  # both alefs final
    word = URDU[0]
    gids = {g.cluster: g.gid for g in shaping.layout(word, SIZE).glyphs}
    joined, alone = (0, 1, 2, 6, 7, 8), (4, 5, 9)  # و ر and final پ follow non-joiners
    assert all(gids[i] != _isolated(word[i]) for i in joined)
    assert all(gids[i] == _isolated(word[i]) for i in alone)
    assert gids[2] != gids[5]  # the same letter ر: final form, then isolated


def test_heh_goal_has_an_outline() -> None:
    """U+06C1 was an empty box in DejaVu Sans Bold; Noto Naskh draws it."""
    (key, outline), *_ = shaping.cluster_polygons(shaping.layout("ہ", SIZE))
    assert key == ("arabic", 0) and outline.area > 5


@pytest.mark.parametrize("text", MIXED)
def test_mixed_text_runs_follow_bidi_visual_order(text: str) -> None:
    lay = shaping.layout(text, SIZE)
    visual = "".join(text[r.start : r.end][:: -1 if r.rtl else 1] for r in lay.runs)
    assert visual == get_display(text)
    assert [g.x for g in lay.glyphs] == sorted(g.x for g in lay.glyphs)
    for run in lay.runs:
        clusters = [g.cluster for g in lay.glyphs if run.start <= g.cluster < run.end]
        assert clusters == sorted(clusters, reverse=run.rtl)
        latin = not any(shaping.is_arabic(ch) for ch in text[run.start : run.end])
        assert run.rtl != latin or text[run.start : run.end].strip(" ()") == ""


def test_hunar_mixed_places_latin_left_and_urdu_rtl_at_the_right() -> None:
    lay = shaping.layout("Hunar ہنر 2026", SIZE)
    order = [g.cluster for g in lay.glyphs]
    assert order == [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 9, 8, 7, 6]
    assert [r.font for r in lay.runs] == ["latin", "latin", "arabic"]


def test_latin_matches_the_old_occt_text() -> None:
    """Measured on the v1 builder (CadQuery text, same font and size)."""
    for text, box in [
        ("HUNAR", (-23.077, -4.324, 23.938, 4.594)),
        ("gQ", (-8.856, -6.744, 8.792, 4.752)),
    ]:
        assert shaping.text_polygons(text, SIZE).bounds == pytest.approx(box, abs=0.02)


def test_curves_are_flat_within_tolerance() -> None:
    ctrl = np.array([[0.0, 0.0], [5.0, 9.0], [10.0, 0.0]])
    pts = np.array([ctrl[0], *shaping._flatten(ctrl, 0.02)])
    t = np.linspace(0, 1, 2001)[:, None]
    curve = (1 - t) ** 2 * ctrl[0] + 2 * (1 - t) * t * ctrl[1] + t**2 * ctrl[2]
    seg_a, seg_b = pts[:-1], pts[1:]
    d = seg_b - seg_a
    u = np.clip(((curve[:, None] - seg_a) * d).sum(-1) / (d * d).sum(-1), 0, 1)
    dist = np.linalg.norm(curve[:, None] - (seg_a + u[..., None] * d), axis=-1).min(axis=1)
    assert dist.max() <= 0.02 + 1e-9  # the bound is tight for a quadratic


def test_holes_are_holes() -> None:
    """Nonzero winding: 'o' has one counter, '8' two; they are holes, not filled."""
    for ch, holes in (("o", 1), ("8", 2), ("B", 2)):
        (_, outline), *_ = shaping.cluster_polygons(shaping.layout(ch, SIZE))
        assert sum(len(p.interiors) for p in outline.geoms) == holes


@pytest.mark.parametrize("word", URDU)
def test_engraved_solid_has_every_cluster_where_the_layout_puts_it(
    word: str, tmp_path: Path
) -> None:
    config = make_config("nameplate", text=word)
    result = build(config)
    assert result.ok and result.shape is not None, result.error
    v = dict(config.values) | dict(config.derived)
    solid, depth, t = result.shape, v["text_depth"], v["thickness"]
    assert solid.isValid() and len(solid.Solids()) == 1
    clusters = shaping.cluster_polygons(shaping.layout(word, v["text_height"]))
    drawn = [k for k, outline in clusters if not outline.is_empty]
    assert len(drawn) == len(word.replace(" ", ""))  # one body per glyph cluster
    outline = shaping.text_polygons(word, v["text_height"])
    xmin, ymin, xmax, ymax = outline.bounds
    assert -v["width"] / 2 < xmin and xmax < v["width"] / 2
    assert -v["height"] / 2 < ymin and ymax < v["height"] / 2
    removed = _plate_volume(v) - solid.Volume()
    assert removed == pytest.approx(outline.area * depth, rel=0.01)
    # mirrored correctly: the first logical letter is cut at the right end of the text
    centres = {k[1]: p.centroid.x for k, p in clusters if not p.is_empty}
    assert max(centres, key=lambda c: centres[c]) == 0
    first = dict(clusters)[("arabic", 0)].representative_point()
    assert not solid.isInside(cq.Vector(first.x, first.y, t - depth / 2))
    assert solid.isInside(cq.Vector(first.x, first.y, t - depth - 0.2))
    step = tmp_path / "plate.step"
    cq.exporters.export(cq.Workplane().add(solid), str(step))
    back = cq.importers.importStep(str(step)).val()
    assert back.isValid() and back.Volume() == pytest.approx(solid.Volume(), rel=1e-6)


def _plate_volume(v: dict[str, object]) -> float:
    """The same plate without text (the builder returns the bare plate for blank text)."""
    plate = build_nameplate({**v, "text": " "})
    return float(plate.val().Volume() if isinstance(plate, cq.Workplane) else plate.Volume())


def test_raised_urdu_on_fdm_builds() -> None:
    config = make_config("nameplate", text="پاکستان", process="fdm", material="pla", style="raised")
    result = build(config)
    assert result.ok and result.shape is not None and result.shape.isValid(), result.error


def test_coverage_data_is_what_the_fonts_draw() -> None:
    """configurator/data/glyph_coverage.toml is regenerated from the installed fonts."""
    assert glyph_coverage.COVERAGE_PATH.read_text("utf-8") == glyph_coverage.coverage_toml()
    fonts = set(glyph_coverage.coverage("latin")) | set(glyph_coverage.coverage("arabic"))
    assert drawable() == fonts


def test_everything_the_allow_list_accepts_is_drawable() -> None:
    param = next(p for p in get_family("nameplate").params if p.name == "text")
    for cp in range(0x20, 0x800):
        if param.parse(f"a{chr(cp)}")[1] is None:
            assert cp in drawable(), f"U+{cp:04X}"
            assert shaping.layout(f"a{chr(cp)}", SIZE).glyphs


def test_a_character_no_font_draws_is_refused_by_the_engine_too() -> None:
    with pytest.raises(ValueError, match=r"U\+10FFFD"):
        shaping.layout("a\U0010fffd", SIZE)
