"""Web shop speed on this machine: gunicorn (2 workers) on PostgreSQL, load from wrk.

Measures: quote API p95 at 50 concurrent clients, catalogue page requests/s, preview status of
a cached (already built) design, and time-to-preview of new designs with one in-process CAD
build per request. Prints a table with the issue's targets.

    .venv/bin/python bench/web_bench.py [--seconds 10] [--new-designs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("HUNAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENCLOSURE = {"inner_length": 80, "inner_width": 50, "inner_height": 30, "wall": 2.0}
P95_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("P95_MS %.3f\\nRPS %.1f\\nERRORS %d\\nNON2XX %d\\n",
    latency:percentile(95) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def bench_app():  # type: ignore[no-untyped-def]
    """gunicorn entry point: the normal app with rate limits off (one IP sends everything)."""
    from web import create_app

    app = create_app()
    app.config["HUNAR_RATE_LIMITS"] = {}
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_db() -> tuple[str, str]:
    from orders import migrate

    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    name = f"hunar_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(PG).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return name, url


def _drop_db(name: str) -> None:
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _seed(url: str, tmp: Path) -> str:
    from orders.context import AppContext
    from orders.models import Role
    from orders.seed import seed_shop
    from orders.services.accounts import create_user, issue_token
    from orders.settings import Settings

    ctx = AppContext.from_settings(Settings(database_url=url, var_dir=tmp / "var"))
    with ctx.db.transaction() as s:
        seed_shop(s)
        user = create_user(s, "bench@example.com", "bench password 123", Role.CUSTOMER)
        token = issue_token(s, user, "bench")
    ctx.close()
    return token


def _wrk(url: str, seconds: int, conns: int, lua: str, tmp: Path) -> dict[str, float]:
    script = tmp / f"{uuid.uuid4().hex[:6]}.lua"
    script.write_text(lua + P95_LUA)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    vals = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        if key in ("P95_MS", "RPS", "ERRORS", "NON2XX"):
            vals[key] = float(value)
    return vals


def _post_lua(path: str, body: str) -> str:
    return (
        f'wrk.method = "POST"\nwrk.path = "{path}"\nwrk.body = [[{body}]]\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )


def _wait_ready(
    client: httpx.Client, config_id: int, deadline_s: float = 300
) -> tuple[float, float]:
    """Seconds until the preview GLB can be fetched (what the page shows), and until the whole
    CAD job (exports, analysis, G-code) is done."""
    start = time.perf_counter()
    shown: float | None = None
    resp = client.post(f"/api/configurations/{config_id}/preview")
    while True:
        body = resp.json()
        if shown is None and body.get("preview_url"):
            client.get(body["preview_url"]).raise_for_status()
            shown = time.perf_counter() - start
        if body["state"] not in ("queued", "building", "none"):
            break
        if time.perf_counter() - start > deadline_s:
            raise TimeoutError(f"design {config_id} not built in {deadline_s} s")
        time.sleep(0.1)
        resp = client.get(f"/api/configurations/{config_id}/preview")
    if body["state"] != "ready":
        raise RuntimeError(f"build failed: {body}")
    done = time.perf_counter() - start
    return (shown if shown is not None else done), done


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def start_server(url: str, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    """gunicorn (2 sync workers) on embedded jobs (no Redis) against the bench database."""
    env = {
        **os.environ,
        "HUNAR_DATABASE_URL": url,
        "HUNAR_VAR_DIR": str(tmp / "var"),
        "HUNAR_ARTIFACT_DIR": str(tmp / "artifacts"),
        "HUNAR_SECRET_KEY": "bench",
    }
    env.pop("HUNAR_REDIS_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--threads",
            "1",
            "--timeout",
            "600",
            "--bind",
            f"127.0.0.1:{port}",
            "bench.web_bench:bench_app()",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def run(seconds: int, new_designs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="hunar-webbench-"))
    name, url = _make_db()
    token = _seed(url, tmp)
    port = _free_port()
    server = start_server(url, tmp, port)
    base = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, str, str, str]] = []
    try:
        client = httpx.Client(
            base_url=base, timeout=600, headers={"Authorization": f"Bearer {token}"}
        )
        for _ in range(300):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        body = json.dumps({"family": "enclosure", "params": ENCLOSURE, "quantity": 5})
        client.post("/api/quote", content=body, headers={"Content-Type": "application/json"})
        q = _wrk(base + "/api/quote", seconds, 50, _post_lua("/api/quote", body), tmp)
        rows.append(
            (
                "quote API p95 @50 clients",
                f"{q['P95_MS']:.1f} ms",
                "<= 50 ms",
                f"{q['RPS']:.0f} req/s, non-2xx {q['NON2XX']:.0f}",
            )
        )
        c = _wrk(base + "/", seconds, 50, "", tmp)
        rows.append(
            (
                "catalogue page",
                f"{c['RPS']:.0f} req/s",
                ">= 300 req/s",
                f"p95 {c['P95_MS']:.1f} ms, non-2xx {c['NON2XX']:.0f}",
            )
        )
        saved = client.post(
            "/api/configurations", json={"family": "enclosure", "params": ENCLOSURE}
        )
        cid = saved.json()["id"]
        first = _wait_ready(client, cid)
        cached = []
        for _ in range(50):
            t0 = time.perf_counter()
            st = client.post(f"/api/configurations/{cid}/preview").json()
            client.get(st["preview_url"])
            cached.append(time.perf_counter() - t0)
        rows.append(
            (
                "preview, cached design (status+GLB)",
                f"{_p95(cached) * 1000:.1f} ms p95",
                "<= 100 ms",
                f"n=50, median {statistics.median(cached) * 1000:.1f} ms",
            )
        )
        fresh = [first]
        for i in range(new_designs - 1):
            params = ENCLOSURE | {"inner_length": 81 + i, "inner_height": 31 + i}
            cid = client.post(
                "/api/configurations", json={"family": "enclosure", "params": params}
            ).json()["id"]
            fresh.append(_wait_ready(client, cid))
        glb, job = [f[0] for f in fresh], [f[1] for f in fresh]
        rows.append(
            (
                "preview, new design (GLB fetched)",
                f"{_p95(glb):.2f} s p95",
                "<= 2 s",
                f"n={len(glb)}, runs: " + ", ".join(f"{x:.1f}" for x in glb),
            )
        )
        rows.append(
            (
                "new design, whole CAD job",
                f"{_p95(job):.2f} s p95",
                "(for reference)",
                "STEP/STL/3MF, analysis, G-code: " + ", ".join(f"{x:.1f}" for x in job),
            )
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        _drop_db(name)
        shutil.rmtree(tmp, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)} | result          | target        | notes")
    print("-" * (width + 60))
    for m, r, t, n in rows:
        print(f"{m.ljust(width)} | {r.ljust(15)} | {t.ljust(13)} | {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--new-designs", type=int, default=3)
    args = parser.parse_args()
    run(args.seconds, args.new_designs)


if __name__ == "__main__":
    main()
