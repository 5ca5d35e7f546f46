"""Object labels in the G-code: PrusaSlicer 2.5 runs with ``--gcode-label-objects``.

Klipper's EXCLUDE_OBJECT (through Moonraker's object processing) and OctoPrint's Cancel Objects
plugin can only name an object the G-code labels. The labels are comments: print time and
filament (the quote's numbers) stay what they were, and the bed check still reads the file. A
build cached before labels existed is built again, not served as if it were labelled.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import trimesh
from cad_factories import make_config, make_machines

from cad.gcode_check import check_gcode
from cad.pipeline import run_pipeline
from cad.slicing import GCODE_OPTIONS_REV, SliceSettings, object_labels, slice_fdm
from cad.store import LocalArtifactStore

pytestmark = pytest.mark.slow  # real PrusaSlicer runs

BED = (250.0, 210.0, 220.0)


def _cube(tmp_path: Path) -> Path:
    stl = tmp_path / "cube.stl"
    trimesh.creation.box((20.0, 15.0, 8.0)).apply_translation((10, 7.5, 4)).export(stl)
    return stl


def test_sliced_gcode_labels_its_object_and_still_passes_the_bed_check(tmp_path: Path) -> None:
    gcode = tmp_path / "cube.gcode"
    result = slice_fdm(_cube(tmp_path), gcode, SliceSettings("pla", 1.24, BED))
    text = gcode.read_text()
    assert result.objects == ("cube.stl id:0 copy 0",)
    assert object_labels(gcode) == result.objects
    starts = text.count("; printing object cube.stl id:0 copy 0")
    assert starts == result.layers  # every layer's moves are bracketed
    assert text.count("; stop printing object cube.stl id:0 copy 0") == starts
    assert "; gcode_label_objects = 1" in text
    assert check_gcode(gcode, BED).ok


def test_labels_change_neither_print_time_nor_filament(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stl, settings = _cube(tmp_path), SliceSettings("petg", 1.27, BED)
    labelled = slice_fdm(stl, tmp_path / "labelled.gcode", settings)
    real_run = subprocess.run

    def without_labels(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return real_run([c for c in cmd if c != "--gcode-label-objects"], **kw)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr("cad.slicing.subprocess.run", without_labels)
    plain = slice_fdm(stl, tmp_path / "plain.gcode", settings)
    assert plain.objects == () and labelled.objects  # the switch is what adds them
    assert (labelled.print_minutes, labelled.filament_g, labelled.layers) == (
        plain.print_minutes,
        plain.filament_g,
        plain.layers,
    )


def test_a_cached_build_sliced_without_labels_is_built_again(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    config = make_config("enclosure", inner_length=40, inner_width=30, inner_height=12)
    first = run_pipeline(config, store, make_machines())
    gcode = next(a for a in first.artifacts if a.kind == "gcode")
    assert gcode.metadata["gcode_rev"] == GCODE_OPTIONS_REV
    assert gcode.metadata["objects"] and object_labels(store.path(gcode.relpath))
    # what an older build left: the same key, its G-code without the revision (no labels)
    old = store.get_manifest(config.config_hash, first.builder_version)
    assert old is not None
    stale = {k: v for k, v in gcode.metadata.items() if k not in ("gcode_rev", "objects")}
    arts = tuple(replace(a, metadata=stale) if a.kind == "gcode" else a for a in old.artifacts)
    store.put_manifest(replace(old, artifacts=arts))
    again = run_pipeline(config, store, make_machines())
    assert not again.cache_hit  # not served as labelled
    fresh = next(a for a in again.artifacts if a.kind == "gcode")
    assert fresh.metadata["gcode_rev"] == GCODE_OPTIONS_REV and fresh.relpath != gcode.relpath
    assert run_pipeline(config, store, make_machines()).cache_hit  # current builds are served
