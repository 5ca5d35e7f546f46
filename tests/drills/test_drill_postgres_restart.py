"""Fault drill: restart PostgreSQL under a running gunicorn. While the database is away every
page and API call gets a clean 503 with Retry-After (no stack trace, nothing half-written);
once it is back every request succeeds again without restarting gunicorn (pool pre-ping).

Real processes only: a private PostgreSQL cluster (initdb, pg_ctl) on its own port, migrated
by the code behind `hunar db upgrade`, the real `hunar serve` (gunicorn, two workers) and an
HTTP client. The cluster is removed in a finalizer whatever happens. Nothing is mocked."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from factories import make_settings, make_user
from private_services import PrivatePostgres, free_port, wait_until
from sqlalchemy import func, select

import configurator
from orders import migrate
from orders.commands.designs import save_configuration
from orders.context import AppContext
from orders.models import Order
from orders.seed import seed_shop

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"  # what factories.make_user sets
PAGES = ("/account", "/orders", "/cart", "/api/orders")


def _env(url: str, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    return env | {
        "HUNAR_DATABASE_URL": url,
        "HUNAR_VAR_DIR": str(root / "var"),
        "HUNAR_ARTIFACT_DIR": str(root / "artifacts"),
        "HUNAR_SECRET_KEY": "drill-secret",
    }


def _hunar(*args: str, env: dict[str, str], cwd: Path, **kw):  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-m", "orders.cli", *args], env=env, cwd=cwd, start_new_session=True, **kw
    )


def _seed(url: str, root: Path) -> tuple[str, int]:
    """The shop, one customer and one saved design (email, configuration id)."""
    ctx = AppContext.from_settings(make_settings(root, url))
    try:
        with ctx.db.transaction() as s:
            seed_shop(s)
            user = make_user(s)
            raw = {**configurator.get_family("enclosure").default_raw(), "inner_length": 91}
            return user.email, save_configuration(s, "enclosure", raw, user.id).id
    finally:
        ctx.close()


def _login(base: str, email: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=20)
    token = CSRF.search(client.get("/login").text)
    assert token, "no CSRF token on /login"
    resp = client.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    )
    assert resp.status_code == 302, resp.text[:300]
    token = CSRF.search(client.get("/account").text)
    assert token, "no CSRF token on /account"
    return client, token.group(1)


def _round(client: httpx.Client, csrf: str, config_id: int, key: str) -> list[httpx.Response]:
    """Every signed-in page and API call a customer makes, and one order placed."""
    out = [client.get(path) for path in PAGES]
    body = {"idempotency_key": key, "lines": [{"configuration_id": config_id, "quantity": 1}]}
    out.append(client.post("/api/orders", json=body, headers={"X-CSRFToken": csrf}))
    return out


def _assert_clean_503(resp: httpx.Response) -> None:
    where = f"{resp.request.method} {resp.request.url.path}"
    assert resp.status_code == 503, (where, resp.status_code, resp.text[:300])
    assert resp.headers.get("Retry-After") == "5", where
    assert "Traceback" not in resp.text and "psycopg" not in resp.text, (where, resp.text[:300])
    if resp.request.url.path.startswith("/api/"):
        assert resp.json()["error"]["code"] == "service_unavailable", where
    else:
        assert "try again" in resp.text and "<html" in resp.text.lower(), where


def _orders(url: str, root: Path) -> int:
    ctx = AppContext.from_settings(make_settings(root, url))
    try:
        with ctx.db.sessions() as s:
            return int(s.scalar(select(func.count(Order.id))) or 0)
    finally:
        ctx.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_restart_gives_clean_503_then_recovers_without_restarting_gunicorn(
    tmp_path: Path,
) -> None:
    pg = PrivatePostgres()
    server: subprocess.Popen[bytes] | None = None
    t0 = time.monotonic()
    try:
        pg.init()
        pg.start()
        print(f"\n[drill postgres] initdb + start {time.monotonic() - t0:.1f} s")
        url = pg.create_database("hunar")
        env = _env(url, tmp_path)
        migrate.upgrade(url)  # what `hunar db upgrade` runs (its CLI has its own test)
        email, config_id = _seed(url, tmp_path)
        print(f"[drill postgres] + migrate + seed {time.monotonic() - t0:.1f} s")
        port = free_port()
        with open(tmp_path / "gunicorn.log", "wb") as log:
            server = _hunar(
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _up(base, server), 60, "gunicorn to serve /healthz", step=0.3)
        client, csrf = _login(base, email)
        print(f"[drill postgres] + gunicorn up, signed in {time.monotonic() - t0:.1f} s")
        _drill(pg, client, csrf, config_id, url, tmp_path)
        assert server.poll() is None, "gunicorn must survive the restart"
    finally:
        try:
            _stop(server)
        finally:
            pg.destroy()


def _stop(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def _up(base: str, server: subprocess.Popen[bytes]) -> bool:
    assert server.poll() is None, "gunicorn exited; see gunicorn.log"
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _drill(
    pg: PrivatePostgres, client: httpx.Client, csrf: str, config_id: int, url: str, root: Path
) -> None:
    placed = 0
    for resp in _round(client, csrf, config_id, uuid.uuid4().hex):
        assert resp.status_code < 400, (resp.request.url.path, resp.status_code, resp.text[:300])
    placed += 1
    for mode in ("fast", "immediate"):  # a clean shutdown, then something like a crash
        pg.stop(mode)
        retry_key = uuid.uuid4().hex
        during = [r for _ in range(2) for r in _round(client, csrf, config_id, retry_key)]
        for resp in during:
            _assert_clean_503(resp)
        t0 = time.monotonic()
        pg.start()
        after = [r for _ in range(8) for r in _round(client, csrf, config_id, uuid.uuid4().hex)]
        recovered_s = time.monotonic() - t0
        bad = [(r.request.url.path, r.status_code) for r in after if r.status_code >= 400]
        assert not bad, f"after restart ({mode}): {bad}"
        retried = [_round(client, csrf, config_id, retry_key)[-1] for _ in range(2)]
        assert [r.status_code for r in retried] == [201, 200], "the client's retry is placed once"
        assert retried[0].json()["id"] == retried[1].json()["id"]
        placed += 8 + 1
        print(
            f"\n[drill postgres {mode}] during: {dict(Counter(r.status_code for r in during))}"
            f", after: {dict(Counter(r.status_code for r in after))}"
            f", {len(after)} requests in {recovered_s:.1f} s after start"
        )
    assert _orders(url, root) == placed, "every 201 is one order; no 503 left anything behind"
