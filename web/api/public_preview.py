"""The 3D preview for visitors who have not signed in, keyed by config hash.

A design row is shared by everyone who configures the same parameters, so a visitor's preview
reuses the build any earlier request started. Only a request that would store a new design or
start a build counts against the strict `anon_preview` limits (per visitor and for everyone
together); following a build is a cached read. Nothing here names a customer, a row id or a
parameter the visitor did not send: the hash is a digest of the visitor's own values, so only
someone who typed a design can ask for its preview.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from orders.commands.artifacts import check_makeable
from orders.commands.designs import save_configuration
from orders.commands.prune import prune_when_due
from orders.context import AppContext
from orders.errors import NotFound
from orders.models import Artifact, ProductConfiguration
from orders.queries.artifacts import BuildStatus, build_status
from orders.queries.catalog import validate_or_raise
from web.ratelimit import check as rate_check

log = logging.getLogger(__name__)
HASH = re.compile(r"[0-9a-f]{16,128}")
STATUS_TTL_S = {"ready": 30.0, "failed": 2.0}  # anything else (a build under way): 0.5 s
_status: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()
MAX_CACHED = 2048


@dataclass(frozen=True)
class PreviewGlb:
    path: Path
    etag: str


def valid_hash(text: str) -> str:
    """The hash as sent when it looks like one; else NotFound (never a database query)."""
    if not HASH.fullmatch(text):
        raise NotFound("there is no preview for that design")
    return text


def _row_id(ctx: AppContext, config_hash: str) -> int | None:
    with ctx.db.sessions() as s:
        return s.scalar(
            select(ProductConfiguration.id).where(ProductConfiguration.config_hash == config_hash)
        )


def _current(ctx: AppContext, config_hash: str) -> BuildStatus | None:
    """The build of the design with this hash; None when there is no such design (also when
    the pruner deleted it between the two reads)."""
    row_id = _row_id(ctx, config_hash)
    if row_id is None:
        return None
    try:
        return build_status(ctx, row_id)
    except NotFound:
        return None


def start(
    ctx: AppContext,
    family_key: str,
    raw: Mapping[str, Any],
    run_build: Callable[[AppContext, int], None],
) -> dict[str, Any]:
    """Reuse the design's build, or store the design and start one under the strict limits.

    An old stored design may be pruned between its lookup and its build request (see
    `orders.commands.prune`): the design is then stored again, once, as new."""
    digest = validate_or_raise(family_key, raw).config_hash
    st = _current(ctx, digest)
    if st is not None and st.state not in ("none", "failed"):
        return _public(digest, st)
    rate_check("anon_preview")
    rate_check("anon_preview_all", shared=True)
    _housekeeping(ctx)
    try:
        built = _store_and_build(ctx, family_key, raw, run_build)
    except NotFound:  # pruned between its lookup and its build request: stored again, as new
        built = _store_and_build(ctx, family_key, raw, run_build)
    if built.state in ("none", "failed"):  # the build thread has not recorded its job yet
        built = BuildStatus("queued", 0.0, "queued", built.preview_artifact_id)
    _forget(ctx, digest)
    return _public(digest, built)


def _store_and_build(
    ctx: AppContext,
    family_key: str,
    raw: Mapping[str, Any],
    run_build: Callable[[AppContext, int], None],
) -> BuildStatus:
    with ctx.db.transaction() as s:
        row = save_configuration(s, family_key, raw)  # no owner: not "mine"
        check_makeable(s, row)  # a design no machine can make is refused, unbuilt
        row_id = row.id
    run_build(ctx, row_id)
    st = build_status(ctx, row_id)
    if _row_id(ctx, row.config_hash) != row_id:  # pruned, and on SQLite its id maybe reused
        raise NotFound("the design was pruned meanwhile")
    return st


def _housekeeping(ctx: AppContext) -> None:
    """Only this endpoint makes anonymous designs, so it also prunes the old ones when due (in
    every mode: embedded, where no dispatcher runs, and with Redis). A failure is logged: the
    visitor's preview does not depend on it."""
    try:
        report = prune_when_due(ctx)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("anonymous previews not pruned: %s", exc)
        return
    for digest in report.pruned if report else ():
        _forget(ctx, digest)


def status(ctx: AppContext, config_hash: str) -> dict[str, Any]:
    """Where the build of this design is, cached briefly (visitors poll it)."""
    digest = valid_hash(config_hash)
    key = (ctx.db.url, digest)
    now = time.monotonic()
    hit = _status.get(key)
    if hit is not None and now - hit[0] < STATUS_TTL_S.get(hit[1]["state"], 0.5):
        return hit[1]
    body = _public(digest, _current(ctx, digest) or BuildStatus("none"))
    with _lock:
        if len(_status) >= MAX_CACHED:
            _status.clear()
        _status[key] = (now, body)
    return body


def _forget(ctx: AppContext, digest: str) -> None:
    with _lock:
        _status.pop((ctx.db.url, digest), None)


def _public(digest: str, st: BuildStatus) -> dict[str, Any]:
    """The build's state without ids or metrics: the model's address and what DFM found."""
    url = f"/api/preview/{digest}/model.glb" if st.preview_artifact_id else None
    return {
        "config_hash": digest,
        "state": st.state,
        "progress": st.progress,
        "stage": st.stage,
        "preview_url": url,
        "findings": st.findings if st.state == "ready" else [],
        "error": "the preview could not be built" if st.state == "failed" else None,
    }


def glb(ctx: AppContext, config_hash: str) -> PreviewGlb:
    """The stored preview model of the design with this hash; else NotFound."""
    digest = valid_hash(config_hash)
    root = ctx.settings.resolved_artifact_dir().resolve()
    with ctx.db.sessions() as s:
        art = s.scalar(
            select(Artifact)
            .join(ProductConfiguration, ProductConfiguration.id == Artifact.configuration_id)
            .where(ProductConfiguration.config_hash == digest, Artifact.kind == "glb")
            .order_by(Artifact.id.desc())
            .limit(1)
        )
        found = None if art is None else (art.path, art.sha256)
    if found is None:
        raise NotFound("there is no preview for that design yet")
    try:
        path = (root / found[0]).resolve()
        ok = root in path.parents and path.is_file()
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise NotFound("there is no preview for that design yet")
    return PreviewGlb(path, found[1])
