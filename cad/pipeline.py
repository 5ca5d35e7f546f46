"""The whole CAD job for one configuration: build, preview, export, analyse, slice, store.

``run_pipeline`` is what the RQ job ``orders.jobs.build_artifacts`` calls after loading the
configuration and machines; it returns values for the job to record. Failure contract:

* the design cannot be made (builder, export or slicer rejects it): ``ok=False`` with
  ``failure`` and ``error`` set. Deterministic: do NOT retry; put the line on hold.
* infrastructure trouble (disk full, store unreachable, the slicer timed out or was
  killed: ``SlicerUnavailable``): the exception propagates, so rq's ``Retry`` can try again. Nothing half-written is ever served, because the manifest
  that makes a build visible is written last, atomically.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cad import export as ex
from cad.analysis import Analysis, LaserRules, analyse
from cad.build import build, get_builder
from cad.slicing import (
    GCODE_OPTIONS_REV,
    SliceResult,
    SliceSettings,
    SlicingError,
    analytic_estimate,
    gcode_current,
    slice_checked,
    slicer_timeout_s,
    slicer_version,
)
from cad.store import ArtifactRecord, ArtifactStore, Manifest
from configurator.machines import MachineSpec
from configurator.materials import Material, get_material
from configurator.model import Configuration, GeometryMetrics
from configurator.processes import Process

Progress = Callable[[str, float], None]
ArtifactSink = Callable[[ArtifactRecord], None]
Failure = Literal["geometry", "export", "slice"]

PRINT_PROCESSES = frozenset({"fdm", "resin"})
DEFAULT_BED_MM = (250.0, 210.0, 210.0)


@dataclass(frozen=True)
class PipelineResult:
    """What the job records: artifacts (sha256, size), metrics, findings, or the failure."""

    ok: bool
    cache_hit: bool
    config_hash: str
    builder_version: str
    artifacts: tuple[ArtifactRecord, ...] = ()
    metrics: GeometryMetrics | None = None
    analysis: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    failure: Failure | None = None
    error: str | None = None
    seconds: float = 0.0

    def artifact(self, kind: str) -> ArtifactRecord | None:
        return next((a for a in self.artifacts if a.kind == kind), None)

    @property
    def blocking_findings(self) -> list[dict[str, Any]]:
        """Findings with severity "required": the line goes on hold with these reasons."""
        return [f for f in self.analysis.get("findings", []) if f["severity"] == "required"]


def process_of(config: Configuration) -> str:
    """The primary process a configuration was configured for ("fdm", "laser", ...)."""
    return str(config.values["process"])


def run_pipeline(
    config: Configuration,
    store: ArtifactStore,
    machines: Sequence[MachineSpec],
    material: Material | None = None,
    progress: Progress | None = None,
    on_artifact: ArtifactSink | None = None,
    use_slicer: bool = True,
) -> PipelineResult:
    """Produce (or find cached) every artifact ``config`` needs on its process.

    ``machines``: the eligible machines (others of a different process are ignored).
    ``on_artifact`` sees each record as soon as it is stored, so the job can publish the
    GLB preview before STEP/STL/G-code exist.
    """
    start = time.perf_counter()
    report = progress or (lambda stage, frac: None)
    builder = get_builder(config.family_key)
    version = builder.artifact_version
    cached = store.get_manifest(config.config_hash, version)
    if cached is not None and _served(cached):
        report("done", 1.0)
        return _from_manifest(cached, time.perf_counter() - start)

    material = material or get_material(str(config.values["material"]))
    process = process_of(config)
    eligible = [
        m
        for m in machines
        if str(m.process) == process and (not m.materials or material.key in m.materials)
    ]
    report("build", 0.05)
    built = build(config)
    base = PipelineResult(False, False, config.config_hash, version, metadata=built.metadata)
    if not built.ok or built.shape is None:
        return _failed(base, "geometry", built.error or "build failed", start)
    run = _Run(config, store, version, on_artifact)
    with tempfile.TemporaryDirectory(prefix="hunar-cad-") as tmp:
        work = Path(tmp)
        try:
            mesh = ex.shape_to_mesh(built.shape)
            faces = ex.export_glb(mesh, work / "preview.glb")
            run.put("glb", work / "preview.glb", {"faces": faces, "up": "Y"})
            report("preview", 0.25)
            _export_all(built.shape, mesh, process, work, run)
        except ex.ExportError as exc:
            return _failed(base, "export", str(exc), start)
        report("analysis", 0.6)
        laser = LaserRules(min_feature_mm=material.min_wall(Process(process)) or None)
        volume = built.shape.Volume()
        analysis = analyse(
            mesh,
            process,
            eligible,
            material.density_g_cm3,
            laser,
            exact_volume_mm3=volume,
            material_min_wall_mm=material.min_wall(Process(process)) or None,
        )
        sliced: SliceResult | None = None
        if process == "fdm":
            report("slice", 0.75)
            try:
                sliced = _slice(analysis, material, eligible, work, run, use_slicer)
            except SlicingError as exc:
                return _failed(base, "slice", str(exc), start)
        meta = dict(built.metadata) | {
            "build_seconds": round(built.seconds, 4),
            "brep_volume_mm3": round(volume, 4),
            "parts": len(built.shape.Solids()),
            "process": process,
            "material": material.key,
        }
        if sliced is not None:
            meta |= {
                "slicer": sliced.slicer,
                "print_minutes": round(sliced.print_minutes, 2),
                "filament_g": round(sliced.filament_g, 2),
                "layers": sliced.layers,
            }
        manifest = Manifest(
            config.config_hash,
            version,
            tuple(run.records),
            {"analysis": analysis.to_dict(), **meta},
        )
        store.put_manifest(manifest)  # LAST: this is what makes the build visible
    report("done", 1.0)
    return _from_manifest(manifest, time.perf_counter() - start, cache_hit=False)


class _Run:
    """One build attempt's uploads under a fresh run id."""

    def __init__(
        self, config: Configuration, store: ArtifactStore, version: str, sink: ArtifactSink | None
    ) -> None:
        self.config, self.store, self.version, self.sink = config, store, version, sink
        self.run_id = uuid.uuid4().hex[:16]
        self.records: list[ArtifactRecord] = []

    def put(self, kind: str, path: Path, metadata: dict[str, Any] | None = None) -> None:
        relpath, digest, size = self.store.put_file(
            self.config.config_hash, self.version, self.run_id, path.name, path
        )
        record = ArtifactRecord(kind, relpath, digest, size, self.version, metadata or {})
        self.records.append(record)
        if self.sink is not None:
            self.sink(record)


def _export_all(shape: Any, mesh: Any, process: str, work: Path, run: _Run) -> None:
    """STEP always; STL+3MF for printing; DXF+SVG for laser (a 2D profile)."""
    ex.export_step(shape, work / "part.step")
    run.put("step", work / "part.step")
    if process in PRINT_PROCESSES:
        ex.export_stl(mesh, work / "part.stl")
        run.put("stl", work / "part.stl", {"faces": len(mesh.faces)})
        ex.export_3mf(mesh, work / "part.3mf")
        run.put("3mf", work / "part.3mf")
    if process == "laser":
        engrave = ex.engraving(shape)
        ex.export_dxf(ex.section(shape), work / "profile.dxf", engrave)
        layers = ["CUT", "ENGRAVE"] if engrave is not None else ["CUT"]
        run.put("dxf", work / "profile.dxf", {"units": "mm", "layers": layers})
        ex.export_svg(work / "profile.dxf", work / "profile.svg")
        run.put("svg", work / "profile.svg", {"units": "mm"})


def _slice(
    analysis: Analysis,
    material: Material,
    machines: Sequence[MachineSpec],
    work: Path,
    run: _Run,
    use_slicer: bool,
) -> SliceResult:
    """Real slicer when installed (G-code checked, then stored), else the analytic estimate.

    The part is placed by the one placement rule (``MachineSpec.placement``) on the first
    machine it fits, and the slicer makes the same turn. Every G-code is read back by
    ``check_gcode`` before it is stored: a file with a move off the bed or above the
    gantry is never stored, and the design fails with the reason (the line goes on hold).
    """
    placed = [(m, m.placement(analysis.bbox_mm)) for m in machines]
    fitting = [(m, p) for m, p in placed if p.fits]
    bed = fitting[0][0].build_volume_mm if fitting else DEFAULT_BED_MM
    rotate = fitting[0][1].rotate_deg if fitting else 0
    settings = SliceSettings(material.key, material.density_g_cm3, bed, rotate_deg=rotate)
    if not (use_slicer and fitting and slicer_version() is not None):
        return analytic_estimate(
            analysis.volume_mm3, analysis.area_mm2, analysis.bbox_mm[2], settings
        )
    stl = work / "part.stl"
    faces = next((int(r.metadata.get("faces", 0)) for r in run.records if r.kind == "stl"), 0)
    timeout = slicer_timeout_s(analysis.bbox_mm[2], faces)
    result, check = slice_checked(stl, work / "part.gcode", settings, timeout)
    if not check.ok:
        raise SlicingError(check.reason)
    run.put(
        "gcode",
        work / "part.gcode",
        {
            "slicer": result.slicer,
            "print_minutes": round(result.print_minutes, 2),
            "filament_g": round(result.filament_g, 2),
            "layers": result.layers,
            "material": material.key,
            "machine_id": fitting[0][0].id,
            "machine_bed_mm": list(bed),
            "rotate_deg": rotate,
            "bed_check": {"moves": check.moves, "extent_mm": check.extent_mm},
            "gcode_rev": GCODE_OPTIONS_REV,
            "objects": list(result.objects),
        },
    )
    return result


def _served(m: Manifest) -> bool:
    """A cached build is served unless its G-code was sliced with older options (before object
    labels): the store key is the builder's version, which slicer options do not change, so such
    a build is made again and its manifest replaced, instead of passing as labelled."""
    return all(gcode_current(a.metadata) for a in m.artifacts if a.kind == "gcode")


def _failed(base: PipelineResult, failure: Failure, error: str, start: float) -> PipelineResult:
    return PipelineResult(
        False,
        False,
        base.config_hash,
        base.builder_version,
        metadata=base.metadata,
        failure=failure,
        error=error,
        seconds=time.perf_counter() - start,
    )


def _from_manifest(m: Manifest, seconds: float, cache_hit: bool = True) -> PipelineResult:
    a = m.metadata.get("analysis", {})
    metrics = GeometryMetrics(
        volume_mm3=a.get("volume_mm3", 0.0),
        area_mm2=a.get("area_mm2", 0.0),
        bbox_mm=tuple(a.get("bbox_mm", (0.0, 0.0, 0.0))),
        print_minutes=m.metadata.get("print_minutes"),
        filament_g=m.metadata.get("filament_g"),
    )
    meta = {k: v for k, v in m.metadata.items() if k != "analysis"}
    return PipelineResult(
        True,
        cache_hit,
        m.config_hash,
        m.builder_version,
        m.artifacts,
        metrics,
        a,
        meta,
        seconds=seconds,
    )
