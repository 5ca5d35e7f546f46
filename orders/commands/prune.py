"""Anonymous previews pruned: a design nobody owns, saved, ordered or is building, with its files.

POST /api/preview stores a design with no owner and builds its files so a visitor can turn it
in 3D; nobody may ever come back for it. Once `[preview] keep_hours` (data/shop.toml) have
passed since it was stored and since its last build was asked for, it is deleted: the design
row, its artifact rows, its build records and its directory in the artifact store. A design
is kept while anyone holds on to it: a quote (a signed-in customer saved it, which is also how a
design gets into a cart), an order line, a build queued or running, or it is a family's default
design (the catalogue thumbnail).

Concurrency. Each design goes in a transaction of its own that first locks the row (PostgreSQL:
`FOR UPDATE SKIP LOCKED`, so a design someone is saving or ordering at this moment is skipped,
never waited for; SQLite: the write lock every transaction takes) and then checks the rules
again, so nothing claimed meanwhile is deleted. The store directory is moved aside *before* the
commit, while the row still holds the config hash: until then no new row for that hash can be
stored (the hash is unique) and no artifact row can point at the old one, so no artifact row is
ever left naming a file that is gone. If the commit fails the directory is moved back.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, String, delete, exists, literal, select

import configurator
from cad.store import LocalArtifactStore, key_prefix
from orders.adapters.store import store_for
from orders.models import Artifact, JobRecord, JobState, OrderLine, ProductConfiguration, Quote
from orders.queries.artifacts import dedupe_key
from orders.shop import preview_keeping

if TYPE_CHECKING:
    from orders.context import AppContext

log = logging.getLogger(__name__)
PC = ProductConfiguration
TRASH_PREFIX = ".prune-"  # <store root>/.prune-<unix seconds>-<uuid>: a directory on its way out
TRASH_GRACE_S = 3600  # one older than this was left by a pruner that died before removing it


@dataclass(frozen=True)
class PruneReport:
    """What a pass did: the config hashes deleted, and candidates left because someone held
    them at that moment (they are tried again next pass)."""

    pruned: tuple[str, ...]
    skipped: int


@cache
def _default_hashes() -> frozenset[str]:
    """Each family's default design: the catalogue draws its thumbnail from that one's preview."""
    out = set()
    for family in configurator.all_families():
        config = configurator.validate(family.key, family.default_raw()).config
        if config is not None:
            out.add(config.config_hash)
    return frozenset(out)


def _unclaimed(cutoff: datetime) -> list[ColumnElement[bool]]:
    """The rules for a prunable design, as SQL (checked when listed and again under the lock)."""
    job_key = literal(dedupe_key(""), String).concat(PC.config_hash)
    recent_or_active = (JobRecord.state.in_((JobState.QUEUED, JobState.STARTED))) | (
        JobRecord.created_at >= cutoff
    )
    return [
        PC.created_by_id.is_(None),
        PC.created_at < cutoff,
        PC.config_hash.not_in(sorted(_default_hashes())),
        ~exists().where(Quote.configuration_id == PC.id),
        ~exists().where(OrderLine.configuration_id == PC.id),
        ~exists().where(JobRecord.dedupe_key == job_key, recent_or_active),
    ]


def prune_previews(
    ctx: AppContext, *, now: datetime | None = None, limit: int | None = None
) -> PruneReport:
    """Delete every prunable anonymous design (at most `limit`, oldest first), rows and files."""
    keep = preview_keeping()
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=keep.keep_hours)
    store = store_for(ctx)
    _sweep_trash(store.root)
    query = select(PC.id, PC.config_hash).where(*_unclaimed(cutoff)).order_by(PC.id)
    with ctx.db.sessions() as s:
        candidates = s.execute(query if limit is None else query.limit(limit)).all()
    pruned: list[str] = []
    for config_id, digest in candidates:
        if _prune_one(ctx, store, config_id, digest, cutoff):
            pruned.append(digest)
    if pruned:
        log.info("pruned %d anonymous preview design(s)", len(pruned))
    return PruneReport(tuple(pruned), len(candidates) - len(pruned))


def _prune_one(
    ctx: AppContext, store: LocalArtifactStore, config_id: int, digest: str, cutoff: datetime
) -> bool:
    """One design in one transaction; False when it is gone or was claimed meanwhile."""
    aside: Path | None = None
    try:
        with ctx.db.transaction() as s:
            lock = select(PC.id).where(PC.id == config_id).with_for_update(skip_locked=True)
            if s.scalar(lock) is None:  # deleted already, or being saved or ordered right now
                return False
            still = select(PC.id).where(PC.id == config_id, *_unclaimed(cutoff))
            if s.scalar(still) is None:  # claimed between the listing and the lock
                return False
            s.execute(delete(Artifact).where(Artifact.configuration_id == config_id))
            s.execute(delete(JobRecord).where(JobRecord.dedupe_key == dedupe_key(digest)))
            s.execute(delete(PC).where(PC.id == config_id))
            s.flush()
            aside = _move_aside(store, digest)  # before the commit: see the module docstring
    except BaseException:
        if aside is not None:
            _move_back(store, digest, aside)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return True


def _design_dir(store: LocalArtifactStore, digest: str) -> Path:
    """The store's directory of one config hash (every builder version under it)."""
    return store.path(key_prefix(digest, "any").rsplit("/", 1)[0])


def _move_aside(store: LocalArtifactStore, digest: str) -> Path | None:
    source = _design_dir(store, digest)
    if not source.is_dir():
        return None
    target = store.root / f"{TRASH_PREFIX}{int(time.time())}-{uuid.uuid4().hex}"
    source.rename(target)  # atomic, same file system: the hash directory is there or it is not
    return target


def _move_back(store: LocalArtifactStore, digest: str, aside: Path) -> None:
    """The rows stayed (the commit failed): their files go back, unless a new build made the
    directory again meanwhile, whose files are as good."""
    try:
        aside.rename(_design_dir(store, digest))
    except OSError:
        shutil.rmtree(aside, ignore_errors=True)


def _sweep_trash(root: Path) -> None:
    """Directories a pruner moved aside and died before removing."""
    horizon = time.time() - TRASH_GRACE_S
    for path in root.glob(f"{TRASH_PREFIX}*"):
        stamp = path.name[len(TRASH_PREFIX) :].split("-", 1)[0]
        if stamp.isdigit() and int(stamp) < horizon:
            shutil.rmtree(path, ignore_errors=True)


_due: dict[str, float] = {}
_due_lock = threading.Lock()


def prune_when_due(
    ctx: AppContext, clock: Callable[[], float] = time.monotonic
) -> PruneReport | None:
    """Housekeeping: one pass (`batch_designs` at most) when `prune_every_minutes` have passed
    since this process's last pass on this database, else None. Loops call it every turn."""
    keep = preview_keeping()
    now = clock()
    with _due_lock:
        if now < _due.get(ctx.db.url, 0.0):
            return None
        _due[ctx.db.url] = now + keep.prune_every_minutes * 60
    return prune_previews(ctx, limit=keep.batch_designs)
