"""Rules added for accepted designs that cad/ built into unusable parts (/tmp/cad_rules_needed).

Enclosure: material around a corner boss's pilot hole (checked against the built solid) and
snap lid vs bosses. Spur gear: the no-undercut note is documented on the teeth parameter.
"""

from __future__ import annotations

import math
from typing import Any

import cadquery as cq
import pytest

from cad.build import build
from configurator import get_family
from configurator.families.enclosure import pilot_corner_material
from configurator.samples import sample_configs
from configurator.validation import validate

PILOT_CODE = "boss_pilot_wall_too_thin"
SNAP_CODE = "snap_lid_with_bosses"


def _codes(family: str, raw: dict[str, Any]) -> set[str]:
    return {e.code for e in validate(family, raw).errors}


def _rule(code: str) -> Any:
    return next(r for r in get_family("enclosure").rules if r.code == code)


def _view(**raw: Any) -> dict[str, Any]:
    """Defaults + raw, with the derived values the rules and cad/ see."""
    family = get_family("enclosure")
    res = validate("enclosure", raw)
    assert res.ok, res.errors
    return dict(family.view(dict(res.config.values)))


@pytest.mark.parametrize("family", ["enclosure", "spur_gear"])
def test_defaults_still_validate(family: str) -> None:
    assert validate(family, {}).ok


def test_snap_lid_with_bosses_is_refused_naming_both() -> None:
    res = validate("enclosure", {"lid": "snap", "bosses": True})
    assert [(e.param, e.code) for e in res.errors] == [("lid", SNAP_CODE)]
    assert "snap lid" in res.errors[0].message and "bosses" in res.errors[0].message


@pytest.mark.parametrize("lid,bosses", [("snap", False), ("screw", True), ("none", True)])
def test_other_lid_boss_combinations_are_not_refused_by_the_snap_rule(
    lid: str, bosses: bool
) -> None:
    assert SNAP_CODE not in _codes("enclosure", {"lid": lid, "bosses": bosses})


def test_pilot_rule_refuses_a_boss_tangent_in_a_strongly_rounded_corner() -> None:
    """The placement the CAD note assumed (boss tangent to the inner walls, (37, 22) for
    80 x 50, wall 2, r 20, boss 6, M3) puts the pilot hole outside the outer skin."""
    v = _view(corner_radius=20) | {"boss_x": 37.0, "boss_y": 22.0}
    expected = 20 - math.sqrt(2) * (20 - 2 - 3) - 2.5 / 2  # the note's formula
    assert pilot_corner_material(v) == pytest.approx(expected)
    message = _rule(PILOT_CODE).check(v)
    assert message is not None
    assert "corner radius 20 mm" in message and "M3" in message and "2 mm wall" in message
    assert _rule(PILOT_CODE).check(v | {"bosses": False}) is None


def test_pilot_rule_refuses_through_validate_when_the_boss_is_too_thin_for_the_screw() -> None:
    # a 4 mm boss on a diagonal in an r 20 corner leaves 2 + 2 - 0.5 - 1.65 = 1.85 < 2 mm
    raw = {"corner_radius": 20, "boss_diameter": 4, "screw": "m4"}
    res = validate("enclosure", raw)
    assert ("corner_radius", PILOT_CODE) in {(e.param, e.code) for e in res.errors}
    assert PILOT_CODE not in _codes("enclosure", raw | {"bosses": False, "lid": "none"})


def test_pilot_material_of_the_notes_example_matches_the_built_solid() -> None:
    """The note's example (defaults + corner_radius 20) is accepted: the configurator puts
    corner bosses on the diagonal, 0.5 mm into the inner arc, so the pilot keeps
    2 + 3 - 0.5 - 1.25 = 3.25 mm to the skin. Probe the built body along that diagonal."""
    raw = {"corner_radius": 20, "lid": "none", "vent_slots": 0, "cable_holes": 0}
    res = validate("enclosure", raw)
    assert res.ok, res.errors
    v = _view(**raw)
    left = pilot_corner_material(v)
    assert left == pytest.approx(3.25, abs=0.01) and left >= v["wall"]
    built = build(res.config)
    assert built.ok and built.shape is not None, built.error
    bx, by = v["boss_x"], v["boss_y"]
    cx, cy = v["outer_length"] / 2 - 20, v["outer_width"] / 2 - 20
    dist = math.hypot(bx - cx, by - cy)
    ux, uy = (bx - cx) / dist, (by - cy) / dist
    z = v["wall"] + v["inner_height"] / 2
    pilot_r = v["pilot_diameter"] / 2

    def solid_at(t: float) -> bool:
        return built.shape.isInside(cq.Vector(bx + ux * t, by + uy * t, z), 1e-4)

    assert not solid_at(pilot_r - 0.1)  # inside the pilot hole
    assert all(solid_at(pilot_r + f * left) for f in (0.05, 0.5, 0.95))
    assert not solid_at(pilot_r + left + 0.1)  # beyond the outer skin


def test_pilot_material_on_straight_walls_is_measured_to_the_nearer_wall() -> None:
    v = _view(corner_radius=0)
    assert v["boss_x"] == pytest.approx(40 - 2.5)
    assert pilot_corner_material(v) == pytest.approx(2 + 2.5 - 1.25)


def test_sample_configs_still_finds_enclosures_including_snap_lids() -> None:
    configs = sample_configs(get_family("enclosure"), 40, seed=1)
    assert len(configs) == 40
    lids = {c.values["lid"] for c in configs}
    assert lids == {"screw", "snap", "none"}
    assert all(not (c.values["lid"] == "snap" and c.values["bosses"]) for c in configs)


def test_spur_gear_teeth_help_documents_no_undercut_below_17() -> None:
    family = get_family("spur_gear")
    teeth = family.param("teeth")
    assert "17 teeth" in teeth.help and "undercut" in teeth.help
    assert teeth.min == 10  # the range is kept; few teeth are documented, not refused
    assert validate("spur_gear", {"teeth": 12, "hub": False}).ok
