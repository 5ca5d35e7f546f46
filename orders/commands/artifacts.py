"""Artifacts recorded and builds requested."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.lookup import found
from orders.models import Artifact, ProductConfiguration

if TYPE_CHECKING:
    from cad.store import ArtifactRecord
    from orders.context import AppContext
from orders.queries.artifacts import dedupe_key


def request_build(ctx: AppContext, configuration_id: int) -> str:
    """Enqueue the CAD job for a design once; a build already queued or running is reused."""
    with ctx.db.sessions() as s:
        row = found(s, ProductConfiguration, configuration_id, "configuration")
        key = dedupe_key(row.config_hash)
    return ctx.queue.enqueue("build_artifacts", configuration_id, queue="cad", dedupe_key=key)


def record_artifact(
    s: Session, configuration_id: int, rec: ArtifactRecord, extra: dict[str, Any] | None = None
) -> Artifact:
    """Insert or update the row for one stored file (unique per design, kind and builder)."""
    row = s.scalars(
        select(Artifact).where(
            Artifact.configuration_id == configuration_id,
            Artifact.kind == rec.kind,
            Artifact.builder_version == rec.builder_version,
        )
    ).first()
    if row is None:
        row = Artifact(
            configuration_id=configuration_id, kind=rec.kind, builder_version=rec.builder_version
        )
        s.add(row)
    row.path, row.sha256, row.bytes = rec.relpath, rec.sha256, rec.bytes
    row.meta = {**rec.metadata, **(extra or {})}
    s.flush()
    return row
