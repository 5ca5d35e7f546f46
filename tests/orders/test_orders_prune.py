"""Anonymous previews pruned (issue 14): an old design nobody owns, saved, ordered or is building
goes with its files and rows; anything someone holds stays, also when claimed mid-prune."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from factories import make_configuration, make_settings, make_shop, make_user
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from cad.store import ArtifactRecord, LocalArtifactStore
from orders.cli import main
from orders.commands import prune
from orders.commands.artifacts import record_artifact
from orders.commands.audit import Actor
from orders.commands.designs import save_design
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.models import Artifact, JobRecord, JobState, ProductConfiguration, Quote, User
from orders.queries.artifacts import dedupe_key
from orders.shop import preview_keeping

KEEP_H = preview_keeping().keep_hours
OLD = timedelta(hours=KEEP_H + 1)


@pytest.fixture
def pctx(backend: str, db_factory: Any, tmp_path: Path) -> Iterator[AppContext]:
    """A seeded shop with an artifact store of its own (the session's shared one is not pruned)."""
    context = AppContext.from_settings(make_settings(tmp_path, db_factory.url(backend)))
    with context.db.transaction() as s:
        make_shop(s)
    yield context
    context.close()


def _design(ctx: AppContext, age: timedelta = OLD, **params: Any) -> tuple[int, str]:
    """An anonymous design (as POST /api/preview stores it), stored `age` ago: (id, hash)."""
    with ctx.db.transaction() as s:
        row = make_configuration(s, "enclosure", **params)
        row.created_at = datetime.now(UTC) - age
        return row.id, row.config_hash


def _build(ctx: AppContext, config_id: int, digest: str, job_age: timedelta = OLD) -> Path:
    """What a finished build leaves: files and manifest in the store, artifact rows, the job
    record. Returns the design's directory in the store."""
    store = LocalArtifactStore(ctx.settings.resolved_artifact_dir())
    src = ctx.settings.resolved_artifact_dir().parent / f"src-{digest[:8]}"
    for kind in ("glb", "step"):
        src.write_bytes(f"{kind} of {digest}".encode())
        relpath, sha, size = store.put_file(digest, "v1", "run1", f"part.{kind}", src)
        with ctx.db.transaction() as s:
            record_artifact(s, config_id, ArtifactRecord(kind, relpath, sha, size, "v1"))
    with ctx.db.transaction() as s:
        s.add(
            JobRecord(
                id=str(uuid.uuid4()),
                queue="cad",
                func="orders.jobs:build_artifacts",
                args=[config_id],
                dedupe_key=dedupe_key(digest),
                backend="inprocess",
                state=JobState.FINISHED,
                result={"ok": True},
                created_at=datetime.now(UTC) - job_age,
            )
        )
    return store.root / digest[:2] / digest[2:]


def _count(ctx: AppContext, model: Any, *where: Any) -> int:
    with ctx.db.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _dangling(ctx: AppContext) -> list[str]:
    """Artifact rows whose file is not in the store (must always be none)."""
    root = ctx.settings.resolved_artifact_dir()
    with ctx.db.sessions() as s:
        paths = s.scalars(select(Artifact.path)).all()
    return [p for p in paths if not (root / p).is_file()]


def test_an_old_anonymous_preview_goes_with_its_rows_and_files(pctx: AppContext) -> None:
    old_id, old_hash = _design(pctx, inner_length=61)
    old_dir = _build(pctx, old_id, old_hash)
    young_id, young_hash = _design(pctx, timedelta(hours=KEEP_H - 1), inner_length=62)
    young_dir = _build(pctx, young_id, young_hash, job_age=timedelta(hours=KEEP_H - 1))
    assert old_dir.is_dir() and young_dir.is_dir()

    report = prune.prune_previews(pctx)

    assert report.pruned == (old_hash,) and report.skipped == 0
    assert _count(pctx, ProductConfiguration, ProductConfiguration.id == old_id) == 0
    assert _count(pctx, Artifact, Artifact.configuration_id == old_id) == 0
    assert _count(pctx, JobRecord, JobRecord.dedupe_key == dedupe_key(old_hash)) == 0
    assert not old_dir.exists()
    assert not list(pctx.settings.resolved_artifact_dir().glob(f"{prune.TRASH_PREFIX}*"))
    # the young one is untouched: row, artifacts, build record, files
    assert _count(pctx, Artifact, Artifact.configuration_id == young_id) == 2
    assert _count(pctx, JobRecord, JobRecord.dedupe_key == dedupe_key(young_hash)) == 1
    assert young_dir.is_dir() and _dangling(pctx) == []
    assert prune.prune_previews(pctx).pruned == ()  # a second pass finds nothing


def test_designs_someone_holds_on_to_are_kept(pctx: AppContext) -> None:
    with pctx.db.transaction() as s:
        customer = make_user(s)
        owner_id = customer.id
    owned = _design(pctx, inner_length=71)
    with pctx.db.transaction() as s:
        s.get_one(ProductConfiguration, owned[0]).created_by_id = owner_id
    saved = _design(pctx, inner_length=72)  # anonymous first, then saved by a customer (or carted)
    with pctx.db.transaction() as s:
        viewer = s.get_one(User, owner_id)
        row = s.get_one(ProductConfiguration, saved[0])
        save_design(s, viewer, "enclosure", {"inner_length": 72}, "PKR")
        assert row.created_by_id is None  # the anonymous row is the one saved
    ordered = _design(pctx, inner_length=73)
    with pctx.db.transaction() as s:
        place_order(
            s, owner_id, [LineRequest(ordered[0], 1)], "k-prune", Actor("c", owner_id), "PKR"
        )
        # the order line alone holds it (its quote gone, e.g. by a later cleanup)
        s.execute(delete(Quote).where(Quote.configuration_id == ordered[0]))
    queued, building = _design(pctx, inner_length=74), _design(pctx, inner_length=75)
    for (cid, digest), state in ((queued, JobState.QUEUED), (building, JobState.STARTED)):
        _build(pctx, cid, digest)
        with pctx.db.transaction() as s:
            s.execute(
                update(JobRecord)
                .where(JobRecord.dedupe_key == dedupe_key(digest))
                .values(state=state)
            )
    rebuilt = _design(pctx, inner_length=76)  # stored long ago, built again just now
    _build(pctx, *rebuilt, job_age=timedelta(minutes=5))
    default = _design(pctx, inner_length=80)  # the enclosure's default: the catalogue thumbnail
    gone = _design(pctx, inner_length=77)

    report = prune.prune_previews(pctx)

    assert report.pruned == (gone[1],)
    kept = (owned, saved, ordered, queued, building, rebuilt, default)
    assert (
        _count(pctx, ProductConfiguration, ProductConfiguration.id.in_([k[0] for k in kept])) == 7
    )
    assert _count(pctx, Quote, Quote.configuration_id == saved[0]) == 1
    assert _dangling(pctx) == []


def test_a_design_claimed_between_the_listing_and_the_lock_is_kept(
    pctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules are checked again under the row lock: a save that lands after the listing wins."""
    cid, digest = _design(pctx, inner_length=78)
    folder = _build(pctx, cid, digest)
    with pctx.db.transaction() as s:
        viewer = make_user(s)
        viewer_id = viewer.id
    real = prune._prune_one

    def saved_meanwhile(ctx: AppContext, *args: Any) -> bool:
        with ctx.db.transaction() as s:
            save_design(s, s.get_one(User, viewer_id), "enclosure", {"inner_length": 78}, "PKR")
        return real(ctx, *args)

    monkeypatch.setattr(prune, "_prune_one", saved_meanwhile)
    report = prune.prune_previews(pctx)
    assert report.pruned == () and report.skipped == 1
    assert _count(pctx, ProductConfiguration, ProductConfiguration.id == cid) == 1
    assert folder.is_dir() and _dangling(pctx) == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_design_being_saved_right_now_is_skipped_not_waited_for(pctx: AppContext) -> None:
    """PostgreSQL: a save still in its transaction holds the row (its foreign key), and the
    pruner skips it at once (SKIP LOCKED) instead of deleting it or waiting. (SQLite has one
    writer at a time, so there the pruner's transaction runs before or after the save.)"""
    cid, digest = _design(pctx, inner_length=79)
    folder = _build(pctx, cid, digest)
    with pctx.db.transaction() as s:
        viewer_id = make_user(s).id
    saver = Session(pctx.db.engine)
    try:
        viewer = saver.get_one(User, viewer_id)
        save_design(saver, viewer, "enclosure", {"inner_length": 79}, "PKR")  # flushed, open
        report = prune.prune_previews(pctx)
        assert report.pruned == () and report.skipped == 1
        saver.commit()
    finally:
        saver.close()
    assert prune.prune_previews(pctx).pruned == ()  # saved now: never a candidate again
    assert _count(pctx, Quote, Quote.configuration_id == cid) == 1
    assert folder.is_dir() and _dangling(pctx) == []


def test_a_failed_commit_puts_the_files_back(
    pctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files move aside before the commit; if it fails, rows and files stay together."""
    cid, digest = _design(pctx, inner_length=81)
    folder = _build(pctx, cid, digest)

    def refuse(session: Session) -> None:
        raise RuntimeError("the database went away at commit")

    event.listen(Session, "before_commit", refuse)
    try:
        with pytest.raises(RuntimeError):
            prune.prune_previews(pctx)
    finally:
        event.remove(Session, "before_commit", refuse)
    assert _count(pctx, ProductConfiguration, ProductConfiguration.id == cid) == 1
    assert _count(pctx, Artifact, Artifact.configuration_id == cid) == 2
    assert folder.is_dir() and _dangling(pctx) == []


def test_hunar_prune_and_the_dispatcher_prune(
    pctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "HUNAR_DATABASE_URL": pctx.db.url,
        "HUNAR_ARTIFACT_DIR": str(pctx.settings.resolved_artifact_dir()),
        "HUNAR_REDIS_URL": "",
    }
    first = _design(pctx, inner_length=82)
    folder = _build(pctx, *first)
    out = CliRunner().invoke(main, ["prune"], env=env)
    assert out.exit_code == 0, out.output
    assert "pruned: 1" in out.output and not folder.exists()
    # the dispatcher's pass prunes when due (a fresh process: due at once), then not again soon
    monkeypatch.setattr(prune, "_due", {})
    second = _design(pctx, inner_length=83)
    out = CliRunner().invoke(main, ["dispatch"], env=env)
    assert out.exit_code == 0, out.output
    assert "anonymous previews pruned 1" in out.output
    assert _count(pctx, ProductConfiguration, ProductConfiguration.id == second[0]) == 0
    third = _design(pctx, inner_length=84)
    assert CliRunner().invoke(main, ["dispatch"], env=env).exit_code == 0
    assert _count(pctx, ProductConfiguration, ProductConfiguration.id == third[0]) == 1
