"""Analysis on parts with known answers: thin walls, overhangs, envelopes, laser features."""

from __future__ import annotations

import cadquery as cq
import pytest
from cad_factories import make_machines

from cad.analysis import LaserRules, analyse, laser_findings, min_wall, overhang_area
from cad.export import shape_to_mesh
from configurator.machines import MachineSpec
from configurator.processes import Process


def _mesh(wp: cq.Workplane):
    return shape_to_mesh(wp.val())


def _fdm(envelope=(250.0, 210.0, 220.0)) -> list[MachineSpec]:
    return [MachineSpec("m", "M", Process.FDM, ("pla",), envelope)]


def test_volume_area_bbox_and_mass_of_a_block() -> None:
    a = analyse(_mesh(cq.Workplane().box(20, 10, 5)), "fdm", _fdm(), density_g_cm3=1.24)
    assert a.volume_mm3 == pytest.approx(1000, rel=1e-6)
    assert a.area_mm2 == pytest.approx(2 * (200 + 100 + 50), rel=1e-6)
    assert a.bbox_mm == pytest.approx((20, 10, 5))
    assert a.mass_g == pytest.approx(1.24, rel=1e-6)
    assert a.watertight and a.findings == ()


def test_thin_wall_is_found_where_it_is() -> None:
    cup = cq.Workplane().box(40, 40, 20).faces(">Z").shell(-0.5)  # 0.5 mm walls
    wall, at = min_wall(_mesh(cup))
    assert wall == pytest.approx(0.5, abs=0.05)
    a = analyse(_mesh(cup), "fdm", _fdm(), 1.24)
    thin = [f for f in a.findings if f.code == "THIN_WALL"]
    assert thin and thin[0].severity == "required" and thin[0].threshold == 0.8
    assert thin[0].location is not None


def test_thick_part_has_no_wall_finding() -> None:
    a = analyse(_mesh(cq.Workplane().box(30, 30, 30)), "fdm", _fdm(), 1.24)
    assert a.min_wall_mm == pytest.approx(30, abs=0.5)
    assert not [f for f in a.findings if f.code == "THIN_WALL"]


def test_overhang_area_of_a_t_shape_excludes_the_bed() -> None:
    stem = cq.Workplane().box(10, 10, 20, centered=(True, True, False))
    top = cq.Workplane().workplane(offset=20).box(30, 10, 5, centered=(True, True, False))
    area, at = overhang_area(_mesh(stem.union(top)))
    assert area == pytest.approx(30 * 10 - 10 * 10, rel=1e-6)
    assert at is not None and at[2] == pytest.approx(20)


def test_fit_is_the_one_placement_rule_as_built_or_turned_about_z() -> None:
    """Analysis places parts as feasibility and the slicer do: Z up, a 90 degree turn about
    Z allowed, inside the bed less the FDM edge margin; never laid on its side."""
    bar = cq.Workplane().box(20, 230, 10, centered=(True, True, False))
    fit = analyse(_mesh(bar), "fdm", _fdm(), 1.24).fits[0]
    assert fit.fits and fit.orientation == "turned 90 about Z"
    assert fit.placed_extent_mm == pytest.approx((230, 20, 10), abs=0.1)
    assert fit.envelope_mm == (238.0, 198.0, 220.0)
    rod = cq.Workplane().box(20, 20, 300, centered=(True, True, False))  # too tall upright
    no = analyse(_mesh(rod), "fdm", _fdm((320, 200, 200)), 1.24)
    assert not no.fits[0].fits and no.fits[0].orientation == "none"
    assert [f.code for f in no.blocking] == ["NO_MACHINE_FIT"]


def test_laser_min_feature_finds_a_narrow_web() -> None:
    plate = (
        cq.Workplane()
        .box(60, 30, 3)
        .faces(">Z")
        .workplane()
        .pushPoints([(-10, 0), (10, 0)])
        .rect(19.2, 10)
        .cutThruAll()
    )  # two slots separated by a 0.8 mm web
    width, findings = laser_findings(_mesh(plate), LaserRules(kerf_mm=0.15, min_feature_mm=1.5))
    assert width == pytest.approx(0.8, abs=0.05)
    feature = [f for f in findings if f.code == "MIN_FEATURE"]
    assert feature and feature[0].severity == "required"
    assert feature[0].location is not None and abs(feature[0].location[0]) < 1.0
    assert any(f.code == "KERF" for f in findings)


def test_laser_plate_with_wide_features_passes() -> None:
    plate = cq.Workplane().box(80, 40, 3).faces(">Z").workplane().hole(10)
    a = analyse(_mesh(plate), "laser", [m for m in make_machines() if m.process == "laser"], 1.18)
    assert a.min_feature_mm == pytest.approx(10, abs=0.1)
    assert not a.blocking
