"""The anonymous preview (issue 14): declared in /api/openapi.json as it answers (202, 200, the
GLB, 304, 4xx, 429 with Retry-After), and safe against the pruner deleting its design mid-request.
No CAD runs here: a build is a few files written into the store as a finished build leaves them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from sqlalchemy import func, select
from webshop_helpers import ENCLOSURE, MakeShop, WebShop, shop_fixture  # noqa: F401

import configurator
from cad.store import ArtifactRecord, LocalArtifactStore
from orders.commands import prune
from orders.commands.artifacts import record_artifact, request_build
from orders.commands.designs import save_configuration
from orders.models import Artifact, JobRecord, JobState, ProductConfiguration
from orders.queries.artifacts import dedupe_key
from orders.shop import preview_keeping
from web.api import public_preview, views

OLD = timedelta(hours=preview_keeping().keep_hours + 1)
STRICT = {"anon_preview": (1, 300), "anon_preview_all": (100, 3600), "preview_poll": (4, 60)}


def _hash(params: dict[str, Any]) -> str:
    config = configurator.validate("enclosure", params).config
    assert config is not None
    return config.config_hash


def _stored(shop: WebShop, params: dict[str, Any], age: timedelta = timedelta(0)) -> int:
    """An anonymous design as the preview stores it, `age` ago."""
    with shop.ctx.db.transaction() as s:
        row = save_configuration(s, "enclosure", params)
        row.created_at = datetime.now(UTC) - age
        return row.id


def _built(shop: WebShop, config_id: int, digest: str, age: timedelta = timedelta(0)) -> None:
    """What a finished build leaves: the GLB and STEP in the store, their rows, its job record."""
    store = LocalArtifactStore(shop.ctx.settings.resolved_artifact_dir())
    src = store.root.parent / f"src-{uuid.uuid4().hex[:6]}"
    for kind, body in (("glb", b"glTF fake model"), ("step", b"ISO-10303-21;")):
        src.write_bytes(body)
        relpath, sha, size = store.put_file(digest, "v1", "run1", f"part.{kind}", src)
        with shop.ctx.db.transaction() as s:
            record_artifact(s, config_id, ArtifactRecord(kind, relpath, sha, size, "v1"))
    with shop.ctx.db.transaction() as s:
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
                created_at=datetime.now(UTC) - age,
            )
        )


def _rows(shop: WebShop, digest: str) -> list[int]:
    with shop.ctx.db.sessions() as s:
        return list(
            s.scalars(
                select(ProductConfiguration.id).where(ProductConfiguration.config_hash == digest)
            )
        )


def _dangling(shop: WebShop) -> list[str]:
    root = shop.ctx.settings.resolved_artifact_dir()
    with shop.ctx.db.sessions() as s:
        return [p for p in s.scalars(select(Artifact.path)) if not (root / p).is_file()]


@pytest.fixture
def no_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The build request is recorded, not run; and no prune pass is due unless a test says so."""
    asked: list[int] = []
    monkeypatch.setattr(views, "_start_build", lambda ctx, config_id: asked.append(config_id))
    monkeypatch.setattr(public_preview, "prune_when_due", lambda ctx: None)
    return asked


def test_the_document_declares_the_anonymous_preview(make_shop: MakeShop) -> None:
    spec = make_shop().app.test_client().get("/api/openapi.json").json
    paths = spec["paths"]
    start = paths["/api/preview"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DesignRequest"
    }
    ok = start["responses"]["202"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PublicPreview"}
    assert {"400", "401", "404", "413", "422", "429"} <= set(start["responses"])
    assert {} in start["security"]  # no credentials needed
    state = paths["/api/preview/{config_hash}"]["get"]
    model = paths["/api/preview/{config_hash}/model.glb"]["get"]
    for op in (start, state, model):
        retry = op["responses"]["429"]["headers"]["Retry-After"]
        assert retry["required"] and retry["schema"]["type"] == "integer"
    for op in (state, model):
        assert op["parameters"][0]["schema"]["pattern"] == "^[0-9a-f]{16,128}$"
        assert "404" in op["responses"]
    assert "model/gltf-binary" in model["responses"]["200"]["content"]
    shape = spec["components"]["schemas"]["PublicPreview"]
    assert set(shape["required"]) == set(shape["properties"]) and not shape["additionalProperties"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_answer_is_the_declared_one(
    make_shop: MakeShop, tmp_path: Path, no_builds: list[int], backend: str
) -> None:
    shop = make_shop(backend, limits={}, artifact_dir=tmp_path / "store")
    api = schemathesis.openapi.from_wsgi("/api/openapi.json", shop.app)
    spec = shop.app.test_client().get("/api/openapi.json").json
    anon = shop.app.test_client()

    def check(path: str, method: str, resp: Any, status: int) -> None:
        assert resp.status_code == status, resp.get_data(as_text=True)[:300]
        assert str(status) in spec["paths"][path][method]["responses"], (path, status)
        api[path][method.upper()].validate_response(resp)

    design = ENCLOSURE | {"inner_length": 66}
    digest = _hash(design)
    resp = anon.post("/api/preview", json={"family": "enclosure", "params": design})
    check("/api/preview", "post", resp, 202)
    assert resp.json["state"] == "queued" and resp.json["config_hash"] == digest
    assert len(no_builds) == 1
    check("/api/preview/{config_hash}", "get", anon.get(f"/api/preview/{digest}"), 200)
    _built(shop, _rows(shop, digest)[0], digest)
    public_preview._forget(shop.ctx, digest)
    ready = anon.get(f"/api/preview/{digest}")
    check("/api/preview/{config_hash}", "get", ready, 200)
    assert ready.json["state"] == "ready" and ready.json["preview_url"]
    model = anon.get(ready.json["preview_url"])
    check("/api/preview/{config_hash}/model.glb", "get", model, 200)
    assert model.data == b"glTF fake model" and model.headers["ETag"]
    again = anon.get(ready.json["preview_url"], headers={"If-None-Match": model.headers["ETag"]})
    check("/api/preview/{config_hash}/model.glb", "get", again, 304)
    unknown = _hash(ENCLOSURE | {"inner_length": 67})
    check("/api/preview/{config_hash}", "get", anon.get(f"/api/preview/{unknown}"), 200)
    for path in (f"/api/preview/{unknown}/model.glb", "/api/preview/ZZZ/model.glb"):
        check("/api/preview/{config_hash}/model.glb", "get", anon.get(path), 404)
    check("/api/preview/{config_hash}", "get", anon.get("/api/preview/ZZZ"), 404)
    missing = anon.post("/api/preview", json={"params": design})
    check("/api/preview", "post", missing, 422)
    assert "family" in missing.json["error"]["fields"]
    broken = anon.post("/api/preview", data="{", content_type="application/json")
    check("/api/preview", "post", broken, 400)
    unknown_family = anon.post("/api/preview", json={"family": "teapot"})
    check("/api/preview", "post", unknown_family, 404)
    bad_token = anon.post(
        "/api/preview", json={"family": "enclosure"}, headers={"Authorization": "Bearer nope"}
    )
    check("/api/preview", "post", bad_token, 401)


def test_rate_limited_answers_say_when_to_come_back(
    make_shop: MakeShop, no_builds: list[int]
) -> None:
    shop = make_shop(limits=STRICT)
    anon = shop.app.test_client()
    api = schemathesis.openapi.from_wsgi("/api/openapi.json", shop.app)
    first = anon.post("/api/preview", json={"family": "enclosure", "params": ENCLOSURE})
    assert first.status_code == 202
    digest = first.json["config_hash"]
    second = anon.post(
        "/api/preview", json={"family": "enclosure", "params": ENCLOSURE | {"wall": 3}}
    )
    limited = [second]
    for _ in range(3):  # the poll bucket (4 a minute) is spent by the two posts and these
        limited.append(anon.get(f"/api/preview/{digest}"))
    limited.append(anon.get(f"/api/preview/{digest}/model.glb"))
    ops = ["POST /api/preview"] + ["GET /api/preview/{config_hash}"] * 3
    ops.append("GET /api/preview/{config_hash}/model.glb")
    answered = [(op, r.status_code) for op, r in zip(ops, limited, strict=True)]
    assert answered[0] == ("POST /api/preview", 429)
    assert answered[-1][1] == 429 and answered[-2][1] == 429, answered
    for op, resp in zip(ops, limited, strict=True):
        if resp.status_code != 429:
            continue
        method, path = op.split(" ")
        api[path][method].validate_response(resp)
        assert resp.json["error"]["code"] == "rate_limited"
        assert int(resp.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_preview_racing_the_pruner_gets_a_new_design_not_an_error(
    make_shop: MakeShop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_builds: list[int],
    backend: str,
) -> None:
    """The pruner deletes the old design after the preview found it and before its build was
    asked for (as with RQ, where the request itself asks): the design is stored again, new."""
    shop = make_shop(backend, limits={}, artifact_dir=tmp_path / "store")
    design = ENCLOSURE | {"inner_length": 68}
    digest = _hash(design)
    old_id = _stored(shop, design, OLD)
    with shop.ctx.db.transaction() as s:  # its last build failed long ago: it is built again
        s.add(
            JobRecord(
                id=str(uuid.uuid4()),
                queue="cad",
                func="orders.jobs:build_artifacts",
                args=[old_id],
                dedupe_key=dedupe_key(digest),
                backend="inprocess",
                state=JobState.FAILED,
                created_at=datetime.now(UTC) - OLD,
            )
        )
    asked: list[int] = []

    def pruned_first(ctx: Any, config_id: int) -> None:
        if not asked:
            assert prune.prune_previews(ctx).pruned == (digest,)
            asked.append(config_id)
            request_build(ctx, config_id)  # the row is gone: NotFound
        asked.append(config_id)

    monkeypatch.setattr(views, "_start_build", pruned_first)
    resp = shop.app.test_client().post(
        "/api/preview", json={"family": "enclosure", "params": design}
    )
    assert resp.status_code == 202, resp.json
    assert resp.json["state"] == "queued" and resp.json["config_hash"] == digest
    (new_id,) = _rows(shop, digest)
    assert asked == [old_id, new_id]  # (SQLite may give the new row the old one's id)
    with shop.ctx.db.sessions() as s:
        stored = s.get_one(ProductConfiguration, new_id).created_at
    assert datetime.now(UTC) - stored < OLD / 2  # stored again just now, not the old row
    with shop.ctx.db.sessions() as s:  # the failed build went with the old design
        assert not s.scalar(select(func.count()).select_from(JobRecord))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_status_read_racing_the_pruner_says_none(
    make_shop: MakeShop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_builds: list[int],
    backend: str,
) -> None:
    shop = make_shop(backend, limits={}, artifact_dir=tmp_path / "store")
    design = ENCLOSURE | {"inner_length": 69}
    digest = _hash(design)
    _built(shop, _stored(shop, design, OLD), digest, OLD)
    real = public_preview._row_id

    def found_then_pruned(ctx: Any, config_hash: str) -> int | None:
        row_id = real(ctx, config_hash)
        assert prune.prune_previews(ctx).pruned == (digest,)
        return row_id

    monkeypatch.setattr(public_preview, "_row_id", found_then_pruned)
    resp = shop.app.test_client().get(f"/api/preview/{digest}")
    assert resp.status_code == 200 and resp.json["state"] == "none"
    monkeypatch.setattr(public_preview, "_row_id", real)
    assert shop.app.test_client().get(f"/api/preview/{digest}/model.glb").status_code == 404
    assert _dangling(shop) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_preview_endpoint_prunes_when_due(
    make_shop: MakeShop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_builds: list[int],
    backend: str,
) -> None:
    """Embedded mode runs no dispatcher: the endpoint that makes anonymous designs prunes."""
    shop = make_shop(backend, limits={}, artifact_dir=tmp_path / "store")
    monkeypatch.setattr(public_preview, "prune_when_due", prune.prune_when_due)  # the real one
    monkeypatch.setattr(prune, "_due", {})  # a fresh process: due at once
    old = ENCLOSURE | {"inner_length": 70}
    _built(shop, _stored(shop, old, OLD), _hash(old), OLD)
    store_dir = shop.ctx.settings.resolved_artifact_dir() / _hash(old)[:2] / _hash(old)[2:]
    assert store_dir.is_dir()
    anon = shop.app.test_client()
    fresh = ENCLOSURE | {"inner_length": 71}
    assert (
        anon.post("/api/preview", json={"family": "enclosure", "params": fresh}).status_code == 202
    )
    assert _rows(shop, _hash(old)) == [] and not store_dir.exists()
    assert len(_rows(shop, _hash(fresh))) == 1 and _dangling(shop) == []
    later = ENCLOSURE | {"inner_length": 72}
    _stored(shop, later, OLD)  # not due again within the hour: it waits for the next pass
    more = ENCLOSURE | {"inner_length": 73}
    assert (
        anon.post("/api/preview", json={"family": "enclosure", "params": more}).status_code == 202
    )
    assert len(_rows(shop, _hash(later))) == 1
