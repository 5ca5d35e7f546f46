"""run_pipeline: cache hits rebuild nothing, failures are values, kill -9 never serves halves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cad_factories import make_config, make_machines

import cad.pipeline
from cad.build import BuildResult, build
from cad.pipeline import run_pipeline
from cad.store import LocalArtifactStore

SMALL_BRACKET = {"shelf_leg_length": 40, "wall_leg_length": 40, "width": 20, "holes_per_leg": 1}


def test_second_request_is_a_cache_hit_that_rebuilds_nothing(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting_build(config, builder_version=None) -> BuildResult:  # a spy, not a fake
        calls.append(config.config_hash)
        return build(config, builder_version)

    monkeypatch.setattr(cad.pipeline, "build", counting_build)
    config = make_config("knob")
    first = run_pipeline(config, store, make_machines())
    files_before = sorted(p for p in store.root.rglob("*") if p.is_file())
    start = time.perf_counter()
    second = run_pipeline(make_config("knob"), store, make_machines())
    elapsed = time.perf_counter() - start
    assert first.ok and not first.cache_hit
    assert second.ok and second.cache_hit
    assert calls == [config.config_hash]  # built exactly once
    assert second.artifacts == first.artifacts
    assert second.metrics == first.metrics
    assert sorted(p for p in store.root.rglob("*") if p.is_file()) == files_before
    assert elapsed < 1.0  # generous: the bench measures the real figure


def test_preview_is_published_first_and_progress_is_monotonic(store: LocalArtifactStore) -> None:
    seen: list[str] = []
    stages: list[tuple[str, float]] = []
    result = run_pipeline(
        make_config("bracket", **SMALL_BRACKET),
        store,
        make_machines(),
        progress=lambda s, f: stages.append((s, f)),
        on_artifact=lambda r: seen.append(r.kind),
    )
    assert result.ok
    assert seen[0] == "glb" and set(seen) == {"glb", "step", "stl", "3mf", "gcode"}
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [s for s, _ in stages][0] == "build"


def test_without_slicer_the_analytic_estimate_is_recorded(store: LocalArtifactStore) -> None:
    result = run_pipeline(
        make_config("bracket", **SMALL_BRACKET), store, make_machines(), use_slicer=False
    )
    assert result.ok and result.metadata["slicer"] == "analytic"
    assert result.artifact("gcode") is None
    assert result.metrics is not None and result.metrics.print_minutes > 0
    assert result.metrics.filament_g > 0


def test_metrics_and_findings_feed_pricing(store: LocalArtifactStore) -> None:
    result = run_pipeline(make_config("pipe_flange"), store, make_machines())
    assert result.ok and result.metrics is not None
    x, y, z = result.metrics.bbox_mm
    assert x == pytest.approx(165, abs=0.15) and z == pytest.approx(16, abs=0.01)  # facets
    assert result.analysis["mass_g"] == pytest.approx(
        result.metrics.volume_mm3 * 2.70 / 1000, rel=1e-3
    )
    assert [f["machine_id"] for f in result.analysis["fits"]] == ["haas"]  # eligible only


def test_part_too_big_for_every_machine_is_a_required_finding(store: LocalArtifactStore) -> None:
    config = make_config("drawer_tray", length=400, width=400, height=30)
    result = run_pipeline(config, store, make_machines())
    assert result.ok
    codes = {f["code"] for f in result.blocking_findings}
    assert "NO_MACHINE_FIT" in codes
    assert result.metadata["slicer"] == "analytic"  # no bed to slice it on: estimate instead


def test_geometry_failure_is_a_value_and_writes_no_manifest(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from OCP.Standard import Standard_ConstructionError

    from cad.build import Builder

    def broken(values):
        raise Standard_ConstructionError("gp_Dir() - input vector has zero norm")

    config = make_config("knob")
    monkeypatch.setattr("cad.build.get_builder", lambda key, v=None: Builder("knob", 1, broken))
    result = run_pipeline(config, store, make_machines())
    assert not result.ok and result.failure == "geometry"
    assert "Standard_ConstructionError" in (result.error or "")
    assert store.get_manifest(config.config_hash, "knob-b1") is None


_CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from cad_factories import make_config, make_machines
    from cad.pipeline import run_pipeline
    from cad.store import LocalArtifactStore
    run_pipeline(make_config("enclosure"), LocalArtifactStore({root!r}), make_machines())
    """
)


@pytest.mark.slow  # builder processes, one killed
def test_worker_killed_mid_build_serves_nothing_then_rebuilds_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    code = _CHILD.format(tests=str(Path(__file__).parent), root=str(root))
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not list(root.rglob("part.stl")):  # mid-build: preview and STL exist, G-code not
            assert child.poll() is None, "child finished before it could be killed"
            assert time.monotonic() < deadline, "child never reached the export stage"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    store = LocalArtifactStore(root)
    config = make_config("enclosure")
    assert store.get_manifest(config.config_hash, "enclosure-b1") is None
    result = run_pipeline(config, store, make_machines(), use_slicer=False)
    assert result.ok and not result.cache_hit
    manifest = store.get_manifest(config.config_hash, "enclosure-b1")
    assert manifest is not None and store.verify(manifest) == []
    assert len(store.unreferenced_runs(config.config_hash, "enclosure-b1")) == 1  # the killed run


@pytest.mark.slow  # two builder processes
def test_two_workers_building_the_same_design_at_once_leave_one_consistent_build(
    tmp_path: Path,
) -> None:
    root = tmp_path / "artifacts"
    code = _CHILD.format(tests=str(Path(__file__).parent), root=str(root))
    code = code.replace('make_config("enclosure")', 'make_config("pipe_flange")')
    children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    store = LocalArtifactStore(root)
    config = make_config("pipe_flange")
    manifest = store.get_manifest(config.config_hash, "pipe_flange-b1")
    assert manifest is not None and store.verify(manifest) == []
    assert len({a.relpath.rsplit("/", 2)[-2] for a in manifest.artifacts}) == 1  # one run served
    assert run_pipeline(config, store, make_machines()).cache_hit
