"""Sending a stored CAD file: one code path for the shop page and the API (job packets link here)."""

from __future__ import annotations

from flask import send_file
from werkzeug.wrappers import Response

from orders.errors import NotFound
from orders.queries.designs import Viewer, design_artifact_path
from web.auth import hunar

INLINE_KINDS = {"glb": "model/gltf-binary"}


def send_artifact(viewer: Viewer, artifact_id: int) -> Response:
    """Files by artifact id only; the visibility check happens before any path is touched."""
    ctx = hunar()
    try:
        with ctx.db.sessions() as s:
            path, kind = design_artifact_path(
                s, viewer, artifact_id, ctx.settings.resolved_artifact_dir()
            )
    except ValueError as exc:  # a stored path the OS cannot name (NUL): not a file we serve
        raise NotFound(f"artifact {artifact_id} not found") from exc
    inline = kind in INLINE_KINDS
    resp = send_file(
        path,
        mimetype=INLINE_KINDS.get(kind, "application/octet-stream"),
        as_attachment=not inline,
        download_name=f"hunar-{artifact_id}.{kind}",
        max_age=3600,
    )
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp
