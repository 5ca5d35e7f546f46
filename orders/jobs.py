"""Queue job functions. Each takes `(ctx, *ids, job_record_id)`, loads its rows and records
its outcome, so running it twice is safe. They are enqueued with `ctx.queue.enqueue(...)`."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from orders.adapters.queue import execute
from orders.context import worker_context

if TYPE_CHECKING:
    from orders.context import AppContext


def run_queued(record_id: str, path: str, *ids: int | str) -> Any:
    """The RQ entry point: the worker's context, then the job through `queue.execute`."""
    return execute(record_id, path, *ids, ctx=worker_context())


def health_check(ctx: AppContext, *_ids: int | str, job_record_id: str) -> dict[str, Any]:
    """Prove that a worker can take a job, reach the database and report back."""
    with ctx.db.sessions() as s:
        s.execute(text("select 1"))
    return {"host": socket.gethostname(), "pid": os.getpid(), "record": job_record_id}


def warm_up() -> None:
    """Import CadQuery, OCCT and trimesh now (about 4 s per process), not in the first build:
    the web app calls it on start when its jobs run in-process, as RQ workers preload them."""
    import cad.builders  # noqa: F401
    import cad.pipeline  # noqa: F401
    import configurator.families  # noqa: F401


def build_artifacts(
    ctx: AppContext, configuration_id: int, *, job_record_id: str
) -> dict[str, Any]:
    """Build, export, analyse and slice one design; record its files; move its order lines.

    Safe to run twice: the store is keyed by config hash + builder version (a cache hit rebuilds
    nothing) and artifact rows are upserted. Geometry failures put the lines on hold and are not
    retried; disk and database trouble and a slicer that timed out or was killed raise
    `InfrastructureError`, which RQ retries.
    """
    from sqlalchemy.exc import OperationalError

    from cad.pipeline import run_pipeline
    from cad.slicing import SlicerUnavailable
    from configurator.feasibility import feasible
    from orders.adapters.queue import InfrastructureError, report_progress
    from orders.adapters.store import store_for
    from orders.commands.artifacts import record_artifact
    from orders.commands.audit import Actor
    from orders.commands.production import hold_lines
    from orders.models import ProductConfiguration
    from orders.queries.catalog import load_config
    from orders.queries.shop_state import machine_specs

    with ctx.db.sessions() as s:
        row = s.get(ProductConfiguration, configuration_id)
        if row is None:
            return {"ok": False, "error": f"configuration {configuration_id} does not exist"}
        config, machines = load_config(row), machine_specs(s)
        every = machine_specs(s, up_only=False)  # one that is only down for now still counts
    verdict = feasible(config, every, 1)
    if not verdict.ok:  # a machine left the shop after the build was asked for: no CAD
        reason = "no machine can make it: " + "; ".join(r.message for r in verdict.reasons)
        with ctx.db.transaction() as s:
            held = hold_lines(s, configuration_id, reason, Actor.system("cad-worker"))
        return {"ok": False, "error": reason, "held_lines": held}

    def sink(rec: Any) -> None:  # the preview is visible before the full set exists
        if rec.kind == "glb":
            with ctx.db.transaction() as s:
                record_artifact(s, configuration_id, rec)

    try:
        result = run_pipeline(
            config,
            store_for(ctx),
            machines,
            on_artifact=sink,
            progress=lambda st, fr: report_progress(ctx, job_record_id, st, fr),
        )
        with ctx.db.transaction() as s:
            return _record_outcome(s, configuration_id, result)
    except (OSError, OperationalError, SlicerUnavailable) as exc:
        raise InfrastructureError(f"{exc.__class__.__name__}: {exc}") from exc


def _record_outcome(s: Any, configuration_id: int, result: Any) -> dict[str, Any]:
    from orders.commands.artifacts import record_artifact
    from orders.commands.audit import Actor
    from orders.commands.production import hold_lines, mark_cad_ready

    actor = Actor.system("cad-worker")
    findings = result.analysis.get("findings", [])
    if not result.ok:
        reason = f"CAD {result.failure} failure: {result.error}"
        held = hold_lines(s, configuration_id, reason, actor)
        return {"ok": False, "error": reason, "held_lines": held}
    m = result.metrics
    metrics = {
        "volume_mm3": m.volume_mm3,
        "area_mm2": m.area_mm2,
        "bbox_mm": list(m.bbox_mm),
        "print_minutes": m.print_minutes,
        "filament_g": m.filament_g,
    }
    summary = {"metrics": metrics, "findings": findings, **result.metadata}
    for rec in result.artifacts:
        record_artifact(s, configuration_id, rec, summary if rec.kind == "step" else None)
    blocking = result.blocking_findings
    if blocking:
        reason = "DFM: " + "; ".join(
            f"{f['code']}: {f.get('hint') or f.get('message', '')}" for f in blocking
        )
        held = hold_lines(s, configuration_id, reason, actor, {"findings": blocking})
        return {"ok": True, "cache_hit": result.cache_hit, "held_lines": held, "findings": findings}
    fits = {f["machine_id"]: bool(f["fits"]) for f in result.analysis.get("fits", [])}
    moved = mark_cad_ready(s, configuration_id, result.metrics, fits, actor)
    return {
        "ok": True,
        "cache_hit": result.cache_hit,
        "ready_lines": moved,
        "artifacts": len(result.artifacts),
        "seconds": round(result.seconds, 3),
    }


def plan_schedule(ctx: AppContext, schedule_id: int, *, job_record_id: str) -> dict[str, Any]:
    """Solve one pending proposal (the `plan` queue); the result is stored on the schedule row."""
    from orders.adapters.queue import report_progress
    from orders.commands.planning import solve_proposal

    report_progress(ctx, job_record_id, "solve", 0.1)
    with ctx.db.transaction() as s:
        return solve_proposal(s, schedule_id)
