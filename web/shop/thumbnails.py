"""Catalogue thumbnails drawn from the preview GLB of each family's default configuration.

A flat-shaded isometric SVG (painter's algorithm) needs no GPU and no browser. The default
design is an ordinary configuration, so the first customer who previews it (or a queued
build when a CAD worker runs) makes the thumbnail appear; until then a category icon shows.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import trimesh
from sqlalchemy import select

import configurator
from orders.commands.designs import save_configuration
from orders.context import AppContext
from orders.models import Artifact, ProductConfiguration

SIZE = 192
MAX_FACES = 1200
LIGHT = np.array([0.4, 0.8, 0.45]) / np.linalg.norm([0.4, 0.8, 0.45])
BASE_RGB = np.array([86, 118, 170])
_cache: dict[str, str] = {}
_lock = threading.Lock()


def default_glb(ctx: AppContext, family: configurator.Family) -> tuple[Path, str] | None:
    """(path, sha256) of the default design's preview, or None (asking for a build if queued)."""
    result = configurator.validate(family.key, family.default_raw())
    if result.config is None:
        return None
    with ctx.db.sessions() as s:
        row = s.scalar(
            select(ProductConfiguration).where(
                ProductConfiguration.config_hash == result.config.config_hash
            )
        )
        art = (
            None
            if row is None
            else s.scalar(
                select(Artifact).where(Artifact.configuration_id == row.id, Artifact.kind == "glb")
            )
        )
        found = None if art is None else (art.path, art.sha256)
    if found is None:
        _request_default_build(ctx, family)
        return None
    path = (ctx.settings.resolved_artifact_dir() / found[0]).resolve()
    return (path, found[1]) if path.is_file() else None


def _request_default_build(ctx: AppContext, family: configurator.Family) -> None:
    """Only with a real queue: an in-process build would hold the catalogue page for seconds."""
    if ctx.queue.backend != "rq":
        return
    from orders.commands.artifacts import request_build
    from orders.errors import NotMakeable

    with ctx.db.transaction() as s:
        config_id = save_configuration(s, family.key, family.default_raw()).id
    try:
        request_build(ctx, config_id)
    except NotMakeable:  # no machine here makes the default design: the category icon stays
        return


def thumbnail_svg(ctx: AppContext, family: configurator.Family) -> str | None:
    found = default_glb(ctx, family)
    if found is None:
        return None
    path, digest = found
    if digest not in _cache:
        svg = render_svg(trimesh.load_mesh(path))  # what load(path, force="mesh") wraps, typed
        with _lock:
            _cache[digest] = svg
    return _cache[digest]


def render_svg(mesh: trimesh.Trimesh, size: int = SIZE) -> str:
    """Isometric view (glTF Y-up), back faces culled, far faces painted first."""
    if len(mesh.faces) > MAX_FACES:
        mesh = mesh.simplify_quadric_decimation(face_count=MAX_FACES)
    yaw, pitch = math.radians(35), math.radians(30)
    rot_y = np.array(
        [[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]]
    )
    rot_x = np.array(
        [[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]]
    )
    view = rot_x @ rot_y
    verts = (mesh.vertices - mesh.bounds.mean(axis=0)) @ view.T
    normals = mesh.face_normals @ view.T
    tris = verts[mesh.faces]
    visible = normals[:, 2] > 0
    order = np.argsort(tris[:, :, 2].mean(axis=1))
    span = max(float(np.ptp(verts[:, 0])), float(np.ptp(verts[:, 1])), 1e-9)
    scale = (size * 0.86) / span
    shade = np.clip(0.2 + 0.8 * np.clip(mesh.face_normals @ LIGHT, 0, 1), 0, 1)
    polys = []
    for i in order:
        if not visible[i]:
            continue
        pts = " ".join(
            f"{size / 2 + x * scale:.1f},{size / 2 - y * scale:.1f}" for x, y, _ in tris[i]
        )
        r, g, b = (BASE_RGB * shade[i] + 40).clip(0, 255).astype(int)
        polys.append(f'<polygon points="{pts}" fill="rgb({r},{g},{b})"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f"{''.join(polys)}</svg>"
    )
