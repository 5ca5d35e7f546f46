"""The G-code motion check, the one placement rule and the slicer's failure classes.

The checker is tested on hand-written G-code (each motion mode it understands) and on real
PrusaSlicer output: a part that only fits turned is sliced turned and stays on the bed,
while the same part sliced without the turn (what the platform did before) is caught.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cadquery as cq
import pytest
from cad_factories import make_config, make_machines

from cad import export as ex
from cad import slicing
from cad.gcode_check import check_gcode
from cad.pipeline import run_pipeline
from cad.slicing import SlicerUnavailable, SliceSettings, slice_fdm, slicer_timeout_s
from cad.store import LocalArtifactStore
from configurator.feasibility import feasible
from configurator.machines import MachineSpec, edge_margin_mm, place
from configurator.model import Configuration
from configurator.processes import Process
from configurator.registry import all_families
from configurator.samples import edge_configs, sample_configs

BED = (250.0, 210.0, 210.0)


def _check(tmp_path: Path, text: str, bed: tuple[float, float, float] = BED):
    path = tmp_path / "t.gcode"
    path.write_text(text)
    return check_gcode(path, bed)


def test_moves_inside_the_bed_pass_and_the_extent_is_reported(tmp_path: Path) -> None:
    c = _check(tmp_path, "G28\nG1 Z0.3\nG1 X10 Y10 E1 ; comment X999\nG0 X240 Y200 Z20\n")
    assert c.ok and c.moves == 3
    assert c.extent_mm["X"] == (0.0, 240.0) and c.extent_mm["Z"] == (0.3, 20.0)


@pytest.mark.parametrize(
    ("gcode", "axis", "limit"),
    [
        ("G28\nG1 X251 Y10\n", "X", "beyond 250 mm"),
        ("G28\nG1 X10 Y-3 E2 ; purge line in front of the bed\n", "Y", "below 0 mm"),
        ("G28\nG1 Z211\n", "Z", "beyond 210 mm"),
        ("G28\nG91\nG1 X200\nG1 X60\n", "X", "beyond 250 mm"),  # relative moves add up
        ("G28\nG1 X100\nG92 X0\nG1 X-120\n", "X", "below 0 mm"),  # logical 0 = machine 100
        ("G28\nG20\nG1 X10\n", "X", "beyond 250 mm"),  # 10 inches
        ("G28\nG1 X245 Y100\nG3 X245 Y120 I0 J10\n", "X", "beyond 250 mm"),  # arc bulges out
    ],
)
def test_a_move_off_the_machine_is_named_with_its_line(
    tmp_path: Path, gcode: str, axis: str, limit: str
) -> None:
    c = _check(tmp_path, gcode)
    assert not c.ok and c.violations[0].axis == axis and c.violations[0].limit == limit
    assert f"line {c.violations[0].line}" in c.reason


def test_an_arc_inside_the_bed_passes_and_unknown_positions_are_not_guessed(
    tmp_path: Path,
) -> None:
    assert _check(tmp_path, "G28\nG1 X100 Y100\nG3 X110 Y100 I5 J0\n").ok
    assert _check(tmp_path, "G91\nG1 X-5\nG90\nG28\nG1 X5\n").ok  # before homing: unknown


def test_every_violation_is_counted_but_only_the_first_are_kept(tmp_path: Path) -> None:
    c = _check(tmp_path, "G28\n" + "G1 X300\n" * 50)
    assert c.violation_count == 50 and len(c.violations) == 20
    assert c.reason.endswith("and 47 more")


def test_a_file_without_moves_is_not_ok(tmp_path: Path) -> None:
    c = _check(tmp_path, "; nothing\nM104 S200\n")
    assert not c.ok and c.error == "no moves"


def test_placement_turns_a_part_only_when_it_must_and_keeps_the_fdm_edge_margin() -> None:
    margin = edge_margin_mm(Process.FDM)
    usable = (250 - 2 * margin, 210 - 2 * margin, 210)
    assert not place((100, 50, 10), usable).turned
    wide = place((150, 230, 10), usable)
    assert wide.fits and wide.turned and wide.rotate_deg == 90 and wide.extent_mm[0] == 230
    assert not place((245, 20, 10), usable).fits  # fits the bed, not the skirt around it
    printer = MachineSpec("p", "P", Process.FDM, ("pla",), BED)
    assert printer.usable_mm == usable and printer.overflow((245, 20, 10))[0][0] == "X"
    laser = MachineSpec("l", "L", Process.LASER, ("acrylic",), (600, 400, 10))
    assert laser.fits((600, 400, 3))  # no margin for the laser: its envelope is usable


def _stl(tmp_path: Path, x: float, y: float, z: float) -> Path:
    shape = cq.Workplane().box(x, y, z, centered=(True, True, False)).val()
    stl = tmp_path / "part.stl"
    ex.export_stl(ex.shape_to_mesh(shape), stl)
    return stl


def test_real_slice_of_a_part_that_fits_only_turned(tmp_path: Path) -> None:
    """200 x 236 mm fits the 250 x 210 bed only turned; the slicer turns it as placed."""
    stl = _stl(tmp_path, 100, 236, 1.0)
    turned = slice_fdm(stl, tmp_path / "t.gcode", SliceSettings("pla", 1.24, BED, rotate_deg=90))
    assert turned.layers == 5
    check = check_gcode(tmp_path / "t.gcode", BED)
    assert check.ok, check.reason
    assert check.extent_mm["Y"][1] <= BED[1] and check.extent_mm["X"][1] > 236
    slice_fdm(stl, tmp_path / "s.gcode", SliceSettings("pla", 1.24, BED, rotate_deg=0))
    straight = check_gcode(tmp_path / "s.gcode", BED)
    assert not straight.ok and {v.axis for v in straight.violations} == {"Y"}


def test_sliced_gcode_levels_the_bed_purges_on_it_and_names_the_printer(tmp_path: Path) -> None:
    slice_fdm(_stl(tmp_path, 20, 20, 2), tmp_path / "p.gcode", SliceSettings("pla", 1.24, BED))
    text = (tmp_path / "p.gcode").read_text()
    assert "\nG29 " in text and "; purge line" in text
    assert "; printer_model = HUNAR-GENERIC-FDM-0.4" in text
    assert check_gcode(tmp_path / "p.gcode", BED).ok


def test_pipeline_stores_only_checked_gcode_with_its_placement(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    result = run_pipeline(
        make_config("knob", process="fdm", material="pla"), store, make_machines()
    )
    assert result.ok, result.error
    gcode = result.artifact("gcode")
    assert gcode is not None and gcode.metadata["bed_check"]["moves"] > 0
    assert gcode.metadata["rotate_deg"] in (0, 90) and gcode.metadata["machine_id"]


def test_a_gcode_that_leaves_the_bed_is_never_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slicer that writes an off-bed move (forced here by a start G-code edit) fails the
    design with the checker's reason, and no G-code or manifest is stored."""
    bad = tmp_path / "printer.ini"
    lines = slicing.PRINTER_PROFILE.read_text().splitlines()
    start = "start_gcode = G28\\nG1 X10 Y-4 F3000 ; off the front edge"
    bad.write_text("\n".join(start if ln.startswith("start_gcode") else ln for ln in lines))
    monkeypatch.setattr(slicing, "PRINTER_PROFILE", bad)
    store = LocalArtifactStore(tmp_path / "store")
    config = make_config("knob", process="fdm", material="pla")
    result = run_pipeline(config, store, make_machines())
    assert not result.ok and result.failure == "slice"
    assert result.error is not None and "Y=-4 mm below 0 mm" in result.error
    assert store.get_manifest(config.config_hash, result.builder_version) is None


def test_slicer_timeout_and_kill_are_infrastructure_not_design(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert slicer_timeout_s(200, 400_000) > slicer_timeout_s(10, 2_000) >= 60
    stl = _stl(tmp_path, 20, 20, 2)
    assert slicing.slicer_version() is not None  # cached before subprocess is replaced

    def timeout(*a, **k):
        raise subprocess.TimeoutExpired("prusa-slicer", 1)

    monkeypatch.setattr(slicing.subprocess, "run", timeout)
    with pytest.raises(SlicerUnavailable, match="timed out"):
        slice_fdm(stl, tmp_path / "x.gcode", SliceSettings("pla", 1.24))

    def killed(*a, **k):
        return subprocess.CompletedProcess(a[0], -9, "", "")

    monkeypatch.setattr(slicing.subprocess, "run", killed)
    with pytest.raises(SlicerUnavailable, match="signal 9"):
        slice_fdm(stl, tmp_path / "x.gcode", SliceSettings("pla", 1.24))


def _sweep_designs(per_family: int = 2) -> list[Configuration]:
    """Per family: the largest feasible FDM edge design, then fixed-seed random ones."""
    shop = make_machines()
    picked: list[Configuration] = []
    for family in all_families():
        pool = edge_configs(family) + sample_configs(family, 12, seed=13)
        fdm = [c for c in pool if c.values.get("process") == "fdm" and feasible(c, shop).ok]
        fdm.sort(key=lambda c: -max(family.estimate(c.values).bbox_mm))
        picked += fdm[:per_family]
    return picked


@pytest.mark.slow
def test_sweep_every_sliced_design_stays_on_the_bed(tmp_path: Path) -> None:
    """The largest feasible FDM design of each family and a random one are built and sliced
    for real; each stored G-code is read back and stays inside the machine."""
    store = LocalArtifactStore(tmp_path / "store")
    designs = _sweep_designs()
    assert len({c.family_key for c in designs}) >= 5, "the sweep must cover most families"
    failures = []
    for config in designs:
        result = run_pipeline(config, store, make_machines())
        gcode = result.artifact("gcode")
        if not result.ok or gcode is None:
            failures.append((config.family_key, result.error or "no G-code"))
            continue
        check = check_gcode(store.path(gcode.relpath), gcode.metadata["machine_bed_mm"])
        if not check.ok:
            failures.append((config.family_key, check.reason))
    assert not failures, failures


def test_a_print_widened_on_one_side_by_support_is_moved_onto_the_bed(tmp_path: Path) -> None:
    """A 235 mm bracket lying on its side: support under one end widens the skirt there, so the
    centred print ran 1.3 mm off the bed. The whole print fits, so it is sliced again, moved by
    the overhang, and the stored G-code stays on the bed."""
    config = make_config(
        "bracket",
        shelf_leg_length=235,
        wall_leg_length=77,
        width=100,
        gusset=True,
        screw="m4",
        holes_per_leg=1,
        process="fdm",
        material="petg",
    )
    store = LocalArtifactStore(tmp_path / "store")
    result = run_pipeline(config, store, make_machines())
    assert result.ok, result.error
    gcode = result.artifact("gcode")
    assert gcode is not None
    check = check_gcode(store.path(gcode.relpath), BED)
    assert check.ok and check.extent_mm["X"][0] >= 0 and check.extent_mm["X"][1] <= BED[0]


def test_recentring_needs_a_print_that_fits_the_bed_at_all() -> None:
    from cad.gcode_check import GcodeCheck
    from cad.slicing import _recentre

    off = GcodeCheck(False, 10, extent_mm={"X": (-1.3, 245.9), "Y": (0, 205), "Z": (0.2, 110)})
    assert _recentre(off, BED) == pytest.approx((2.7, 2.5))
    wide = GcodeCheck(False, 10, extent_mm={"X": (-3, 250), "Y": (0, 205), "Z": (0.2, 110)})
    assert _recentre(wide, BED) is None
