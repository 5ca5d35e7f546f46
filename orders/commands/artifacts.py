"""Artifacts recorded and builds requested."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.errors import NotMakeable
from orders.lookup import found
from orders.models import Artifact, ProductConfiguration

if TYPE_CHECKING:
    from cad.store import ArtifactRecord
    from orders.context import AppContext
from orders.queries.artifacts import dedupe_key
from orders.queries.catalog import load_config
from orders.queries.designs import makeable


def check_makeable(session: Session, row: ProductConfiguration) -> None:
    """Raise NotMakeable, with feasibility's own reasons, unless some machine can make it.

    `fields` maps each parameter feasibility names (process, material, size) to its reasons.
    """
    verdict = makeable(session, load_config(row))
    if verdict.ok:
        return
    fields: dict[str, str] = {}
    for r in verdict.reasons:
        text = f"{r.code}: {r.message}"
        fields[r.param] = f"{fields[r.param]}; {text}" if r.param in fields else text
    why = "; ".join(r.message for r in verdict.reasons)
    raise NotMakeable(
        f"configuration {row.id} cannot be made by any machine in this shop, so it is not "
        f"built: {why}",
        fields=fields,
    )


def request_build(ctx: AppContext, configuration_id: int) -> str:
    """Enqueue the CAD job for a design once; a build already queued or running is reused.

    A design no machine of the shop can make is refused at once (NotMakeable, the reasons
    feasibility gives) and no job is enqueued.
    """
    with ctx.db.sessions() as s:
        row = found(s, ProductConfiguration, configuration_id, "configuration")
        check_makeable(s, row)
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
