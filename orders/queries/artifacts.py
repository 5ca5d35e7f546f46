"""CAD builds as the order book sees them: request, follow, record, and serve artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.lookup import found
from orders.models import Artifact, JobRecord, JobState, ProductConfiguration, User

if TYPE_CHECKING:
    from orders.context import AppContext
from orders.queries.designs import can_see_design, design_artifact_path

DOWNLOAD_NAMES = {
    "step": "part.step",
    "stl": "part.stl",
    "3mf": "part.3mf",
    "dxf": "profile.dxf",
    "svg": "profile.svg",
    "glb": "preview.glb",
    "gcode": "part.gcode",
}


@dataclass(frozen=True)
class BuildStatus:
    state: str  # none | queued | building | ready | failed
    progress: float = 0.0
    stage: str = ""
    preview_artifact_id: int | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    error: str | None = None
    job_id: str | None = None


def dedupe_key(config_hash: str) -> str:
    return f"cad:{config_hash}"


def _latest_job(s: Session, config_hash: str) -> JobRecord | None:
    return s.scalars(
        select(JobRecord)
        .where(JobRecord.dedupe_key == dedupe_key(config_hash))
        .order_by(JobRecord.created_at.desc())
        .limit(1)
    ).first()


def build_status(ctx: AppContext, configuration_id: int) -> BuildStatus:
    """Where a design's CAD job is. The GLB is committed on its own about a second into the job,
    so `preview_artifact_id` is set while the state is still "queued"/"building": the page shows
    it then and keeps following the job until "ready" (findings and metrics come with that)."""
    with ctx.db.sessions() as s:
        row = found(s, ProductConfiguration, configuration_id, "configuration")
        arts = {
            a.kind: a
            for a in s.scalars(
                select(Artifact)
                .where(  # newest row per kind wins
                    Artifact.configuration_id == configuration_id
                )
                .order_by(Artifact.id)
            )
        }
        job = _latest_job(s, row.config_hash)
    preview = arts["glb"].id if "glb" in arts else None
    summary = arts["step"].meta if "step" in arts else {}
    done = BuildStatus(
        "ready",
        1.0,
        "done",
        preview,
        summary.get("findings", []),
        summary.get("metrics"),
        job_id=job.id if job else None,
    )
    if job is None:
        return done if "step" in arts else BuildStatus("none", preview_artifact_id=preview)
    stage = str(job.progress.get("stage", "")) if job.progress else ""
    frac = float(job.progress.get("fraction", 0.0)) if job.progress else 0.0
    if job.state == JobState.QUEUED:
        return BuildStatus("queued", 0.0, "queued", preview, job_id=job.id)
    if job.state == JobState.STARTED:
        return BuildStatus("building", frac, stage, preview, job_id=job.id)
    result = job.result or {}
    if job.state == JobState.FAILED or not result.get("ok", False):
        error = result.get("error") or job.error or "the build failed"
        return BuildStatus(
            "failed", 1.0, "failed", preview, result.get("findings", []), error=error, job_id=job.id
        )
    return done


def can_see(s: Session, user: User | None, configuration_id: int) -> bool:
    """Staff see every design; a customer sees designs they made, were quoted for or ordered."""
    return can_see_design(s, user, configuration_id)


def open_artifact(ctx: AppContext, artifact_id: int, user: User | None) -> tuple[Path, str, str]:
    """(absolute path, kind, download name) of an artifact the user may see; else NotFound."""
    with ctx.db.sessions() as s:
        path, kind = design_artifact_path(
            s, user, artifact_id, ctx.settings.resolved_artifact_dir()
        )
    return path, kind, DOWNLOAD_NAMES.get(kind, f"artifact.{kind}")
