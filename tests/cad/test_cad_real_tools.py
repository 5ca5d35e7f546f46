"""Every family through the pipeline, each file checked by the tool that consumes it.

STEP re-imports through OCCT (volume within 0.1%), STL is watertight, 3MF loads in lib3mf
(the 3MF consortium's reader), DXF opens in ezdxf with closed profiles, GLB has <= 50k
faces, and on FDM the G-code from PrusaSlicer has layers and a time estimate.
"""

from __future__ import annotations

import re
from pathlib import Path

import cadquery as cq
import ezdxf
import lib3mf
import pytest
import trimesh
from cad_factories import make_config, make_machines

from cad.export import PREVIEW_MAX_FACES, dxf_open_endpoints
from cad.pipeline import PipelineResult, run_pipeline
from cad.slicing import SliceSettings, parse_gcode, slice_fdm, slicer_version
from cad.store import LocalArtifactStore

pytestmark = pytest.mark.slow  # every family through the real exporters and PrusaSlicer
CASES = {
    "enclosure": {"inner_length": 50, "inner_width": 36, "inner_height": 16, "vent_slots": 3},
    "bracket": {},
    "spur_gear": {},
    "device_stand": {},
    "drawer_tray": {"length": 90, "width": 60, "height": 20},
    "knob": {},
    "pipe_flange": {},
    "nameplate": {},
    "nameplate_fdm": {"process": "fdm", "material": "pla", "style": "raised", "thickness": 3},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[PipelineResult, Path]]:
    """One pipeline run per case (read-only afterwards: the runs are the slow part)."""
    assert slicer_version() is not None, "prusa-slicer must be installed (make installs it)"
    root = tmp_path_factory.mktemp("artifacts")
    store = LocalArtifactStore(root)
    out = {}
    for case, overrides in CASES.items():
        config = make_config(case.removesuffix("_fdm"), **overrides)
        result = run_pipeline(config, store, make_machines())
        assert result.ok, f"{case}: {result.failure}: {result.error}"
        out[case] = (result, root)
    return out


def _file(results: dict, case: str, kind: str) -> Path:
    result, root = results[case]
    record = result.artifact(kind)
    assert record is not None, f"{case} has no {kind} artifact"
    return root / record.relpath


@pytest.mark.parametrize("case", list(CASES))
def test_step_reimports_with_volume_within_0_1_percent(results: dict, case: str) -> None:
    shape = cq.importers.importStep(str(_file(results, case, "step"))).val()
    built = results[case][0].metadata["brep_volume_mm3"]
    assert shape.isValid()
    assert abs(shape.Volume() - built) <= 0.001 * built


@pytest.mark.parametrize("case", [c for c in CASES if c not in ("nameplate", "pipe_flange")])
def test_stl_is_watertight_and_3mf_loads_in_lib3mf(results: dict, case: str) -> None:
    mesh = trimesh.load(str(_file(results, case, "stl")), force="mesh")
    assert mesh.is_watertight and mesh.volume > 0
    model = lib3mf.get_wrapper().CreateModel()
    model.QueryReader("3mf").ReadFromFile(str(_file(results, case, "3mf")))
    objects = model.GetMeshObjects()
    assert objects.MoveNext()
    obj = objects.GetCurrentMeshObject()
    assert obj.GetTriangleCount() == len(mesh.faces)
    assert obj.IsManifoldAndOriented()


def test_laser_dxf_has_closed_profiles_and_svg_is_in_mm(results: dict) -> None:
    path = _file(results, "nameplate", "dxf")
    doc = ezdxf.readfile(str(path))
    kinds = {(e.dxf.layer, e.dxftype()) for e in doc.modelspace()}
    assert ("CUT", "CIRCLE") in kinds  # the mounting holes are cut
    assert {layer for layer, _ in kinds} == {"CUT", "ENGRAVE"}  # the text is engraved
    assert dxf_open_endpoints(path) == []
    svg = _file(results, "nameplate", "svg").read_text()
    assert re.search(r'width="150(\.0+)?mm"', svg)


def test_dxf_open_profile_is_detected(tmp_path: Path) -> None:
    doc = ezdxf.new()
    doc.modelspace().add_line((0, 0), (10, 0))
    doc.modelspace().add_line((10, 0), (10, 5))
    doc.saveas(tmp_path / "open.dxf")
    assert len(dxf_open_endpoints(tmp_path / "open.dxf")) == 2


@pytest.mark.parametrize("case", list(CASES))
def test_glb_preview_loads_with_at_most_50k_faces(results: dict, case: str) -> None:
    scene = trimesh.load(str(_file(results, case, "glb")))
    faces = sum(len(g.faces) for g in scene.geometry.values())
    assert 0 < faces <= PREVIEW_MAX_FACES


FDM_CASES = ["enclosure", "bracket", "spur_gear", "device_stand", "drawer_tray", "nameplate_fdm"]


@pytest.mark.parametrize("case", FDM_CASES)
def test_fdm_gcode_has_layers_and_time_estimate(results: dict, case: str) -> None:
    result, _ = results[case]
    minutes, grams, layers = parse_gcode(_file(results, case, "gcode"))
    assert layers > 3 and minutes > 0 and grams > 0
    assert result.metadata["slicer"].startswith("prusa-slicer 2.")
    assert result.metrics is not None and result.metrics.print_minutes == pytest.approx(
        minutes, abs=0.01
    )


def test_prusaslicer_reports_no_errors_on_the_stl(results: dict, tmp_path: Path) -> None:
    stl = _file(results, "bracket", "stl")
    sliced = slice_fdm(stl, tmp_path / "b.gcode", SliceSettings("petg", 1.27))
    assert sliced.layers > 0 and sliced.print_minutes > 0


def test_pipe_flange_on_cnc_gets_step_only_for_machining(results: dict) -> None:
    kinds = {a.kind for a in results["pipe_flange"][0].artifacts}
    assert kinds == {"glb", "step"}
