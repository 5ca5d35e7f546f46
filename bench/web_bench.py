"""Web shop speed on this machine: gunicorn on PostgreSQL, load from wrk (or a built-in client).

Measures: quote API latency at 50 concurrent clients, catalogue page requests/s, preview status
of a cached (already built) design, and time-to-preview of new designs with one in-process CAD
build per request. Prints a table with the issue's targets, and exits 1 if any request failed
(a non-2xx answer, a broken connection, or a preview the page could not fetch).

The server is what `hunar serve` runs (2 sync gunicorn workers) unless --workers,
--worker-class and --threads say otherwise; rate limits are off (one address sends everything).
The preview is fetched as the page fetches it: the customer who owns the design is signed in
through the login form (a cookie session; API writes carry the page's CSRF token), since
`/files/<id>` is for signed-in users only.

Load comes from wrk when it is installed (Debian package `wrk`), else from the built-in
closed-loop client (`bench/http_load.py`); the table says which. Figures on a shared 2-core
machine are noisy: the load generator runs on the same cores, so compare runs on one machine.
The "server CPU" rows give the CPU time per request of gunicorn's processes and of the
PostgreSQL backends (psutil), and the requests/s those would allow on all cores: the ceiling
that no worker class or count can pass. The table also prints the machine's load average.
`--new-designs 0` runs the load phases only (for comparing serving setups).

    .venv/bin/python bench/web_bench.py [--seconds 10] [--new-designs 3] [--clients 50]
        [--workers 2] [--worker-class sync] [--threads 1] [--load-gen auto|wrk|python] [--smoke]

``--smoke`` is every step at its smallest: 2 s of load per phase, 5 cached previews, 1 new design.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("HUNAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENCLOSURE = {"inner_length": 80, "inner_width": 50, "inner_height": 30, "wall": 2.0}
EMAIL = "bench@example.com"
PASSWORD = secrets.token_urlsafe(
    16
)  # made per run: the bench customer lives in a throwaway database
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HEADER = "measure"  # the table's first column title (the smoke test looks for it)
P95_LUA = """
done = function(summary, latency, requests)
  io.write(string.format(
    "P50_MS %.3f\\nP95_MS %.3f\\nP99_MS %.3f\\nRPS %.1f\\nERRORS %d\\nNON2XX %d\\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


@dataclass(frozen=True)
class Serving:
    """How gunicorn serves the app in this run."""

    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1

    def describe(self) -> str:
        threads = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"gunicorn {self.workers} {self.worker_class} workers{threads}"


def bench_app():  # type: ignore[no-untyped-def]
    """gunicorn entry point: the normal app with rate limits off (one IP sends everything).

    With HUNAR_BENCH_READY_DIR set, the worker imports CadQuery before it serves (the app
    would do it in a background thread, competing with the first measured requests) and then
    leaves a file named after its pid there, so the bench starts once every worker is warm.
    """
    from web import create_app

    app = create_app()
    app.config["HUNAR_RATE_LIMITS"] = {}
    ready = os.environ.get("HUNAR_BENCH_READY_DIR")
    if ready:
        from orders.jobs import warm_up

        warm_up()
        (Path(ready) / str(os.getpid())).touch()
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
    try:
        migrate.upgrade(url)
    except BaseException:
        _drop_db(name)
        raise
    return name, url


def _drop_db(name: str) -> None:
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _seed(url: str, tmp: Path) -> None:
    from orders.commands.accounts import create_user
    from orders.context import AppContext
    from orders.models import Role
    from orders.seed import seed_shop
    from orders.settings import Settings

    ctx = AppContext.from_settings(Settings(database_url=url, var_dir=tmp / "var"))
    with ctx.db.transaction() as s:
        seed_shop(s)
        create_user(s, EMAIL, PASSWORD, Role.CUSTOMER)
    ctx.close()


def _sign_in(client: httpx.Client) -> None:
    """Sign in through the login form, as the shop page does; API writes then carry the page's
    CSRF token (a cookie session, like the browser's)."""
    page = client.get("/login")
    token = CSRF.search(page.text)
    if token is None:
        raise RuntimeError(f"no login form at /login ({page.status_code})")
    resp = client.post(
        "/login", data={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD}
    )
    if resp.status_code != 302:
        raise RuntimeError(f"sign-in failed: {resp.status_code} {resp.text[:200]}")
    account = client.get("/account")
    found = CSRF.search(account.text)
    if account.status_code != 200 or found is None:
        raise RuntimeError(f"no CSRF token on /account ({account.status_code})")
    client.headers["X-CSRFToken"] = found.group(1)


def measure_load(
    base: str, path: str, seconds: int, conns: int, gen: str, tmp: Path, body: str = ""
) -> dict[str, float]:
    """P50/P95/P99 (ms), RPS, ERRORS and NON2XX of `conns` closed-loop clients for `seconds`
    (a JSON POST when `body` is given), from wrk or the built-in client (`gen`)."""
    keys = ("P50_MS", "P95_MS", "P99_MS", "RPS", "ERRORS", "NON2XX")
    if gen == "wrk":
        lua = (
            f'wrk.method = "POST"\nwrk.path = "{path}"\nwrk.body = [[{body}]]\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            if body
            else ""
        )
        script = tmp / f"{uuid.uuid4().hex[:6]}.lua"
        script.write_text(lua + P95_LUA)
        threads = min(2, conns)
        cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "-s", str(script), base + path]
        before = _children_cpu()
        out = subprocess.run(
            cmd, capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
        vals = {"GEN_CPU_S": _children_cpu() - before}
        for line in out.splitlines():
            key, _, value = line.partition(" ")
            if key in keys:
                vals[key] = float(value)
        if not set(keys) <= set(vals):
            raise RuntimeError(f"wrk printed no figures:\n{out}")
        return vals
    from bench.http_load import run_load

    headers = {"Content-Type": "application/json"} if body else None
    before = time.process_time()
    r = run_load(base + path, seconds, conns, "POST" if body else "GET", body.encode(), headers)
    figures = (
        r.percentile_ms(50),
        r.percentile_ms(95),
        r.percentile_ms(99),
        r.rps,
        float(len(r.errors)),
        float(r.non2xx),
    )
    return dict(zip(keys, figures, strict=True)) | {"GEN_CPU_S": time.process_time() - before}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds used by the server (gunicorn's processes) and by the PostgreSQL backends
    of the bench database: a cost per request that a busy machine disturbs far less than
    requests/s (it still inflates it somewhat). None where it cannot be read (no psutil, or
    PostgreSQL on another host)."""

    def __init__(self, server: subprocess.Popen[bytes], db_url: str) -> None:
        self.server, self.db_url = server, db_url
        self.local_pg = make_url(db_url).host in ("127.0.0.1", "localhost", None)

    def sample(self) -> tuple[float, float | None] | None:
        try:
            import psutil
        except ImportError:
            return None
        try:
            root = psutil.Process(self.server.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return None
        app = sum(_cpu(p) for p in procs)
        if not self.local_pg:
            return app, None
        engine = sa.create_engine(self.db_url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                pids = conn.scalars(
                    sa.text(
                        "select pid from pg_stat_activity where datname = current_database() "
                        "and pid <> pg_backend_pid()"
                    )
                ).all()
        finally:
            engine.dispose()
        return app, sum(_cpu(psutil.Process(pid)) for pid in pids if psutil.pid_exists(pid))


def _cpu(proc: Any) -> float:
    try:
        t = proc.cpu_times()
        return float(t.user + t.system)
    except Exception:  # noqa: BLE001 - a process that just ended used what it used
        return 0.0


def cpu_note(
    before: tuple[float, float | None] | None,
    after: tuple[float, float | None] | None,
    r: dict[str, float],
    seconds: int,
) -> str:
    """'CPU/request: app a + PostgreSQL b = c ms (2 cores: <= N/s), load generator g ms'."""
    n = r["RPS"] * seconds
    if before is None or after is None or n <= 0:
        return "CPU/request: not measured (psutil missing?)"
    app = (after[0] - before[0]) / n * 1000
    pg = None if before[1] is None or after[1] is None else (after[1] - before[1]) / n * 1000
    total = app + (pg or 0.0)
    cores = os.cpu_count() or 1
    ceiling = cores / total * 1000 if total > 0 else float("inf")
    pg_text = f" + PostgreSQL {pg:.2f}" if pg is not None else " (PostgreSQL not local)"
    return (
        f"CPU/request: app {app:.2f}{pg_text} = {total:.2f} ms "
        f"({cores} cores: <= {ceiling:.0f}/s), load generator {r['GEN_CPU_S'] / n * 1000:.2f} ms"
    )


def _fetch_preview(client: httpx.Client, url: str) -> None:
    """GET the GLB as the page does; anything but the file itself is a failure."""
    resp = client.get(url)
    if resp.status_code != 200 or resp.headers.get("content-type") != "model/gltf-binary":
        raise RuntimeError(
            f"preview {url}: {resp.status_code} {resp.headers.get('content-type')} "
            f"{resp.headers.get('location', '')}"
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
        resp.raise_for_status()
        body = resp.json()
        if shown is None and body.get("preview_url"):
            _fetch_preview(client, body["preview_url"])
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


_T0 = time.monotonic()


def _progress(text: str) -> None:
    """Where a long run is (stderr, so the table on stdout stays clean)."""
    print(f"[{time.monotonic() - _T0:6.1f} s] {text}", file=sys.stderr, flush=True)


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def start_server(
    url: str, tmp: Path, port: int, serving: Serving | None = None, warm: bool = False
) -> subprocess.Popen[bytes]:
    """gunicorn (2 sync workers unless told) on embedded jobs (no Redis) against the bench
    database; its log goes to `tmp/gunicorn.log`. `warm`: workers import CadQuery before they
    serve and say so in `tmp/ready` (see `bench_app`)."""
    serving = serving or Serving()
    env = {
        **os.environ,
        "HUNAR_DATABASE_URL": url,
        "HUNAR_VAR_DIR": str(tmp / "var"),
        "HUNAR_ARTIFACT_DIR": str(tmp / "artifacts"),
        "HUNAR_SECRET_KEY": "bench",
    }
    env.pop("HUNAR_REDIS_URL", None)
    env.pop("HUNAR_BENCH_READY_DIR", None)
    if warm:
        (tmp / "ready").mkdir(exist_ok=True)
        env["HUNAR_BENCH_READY_DIR"] = str(tmp / "ready")
    log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(serving.workers),
                "--worker-class",
                serving.worker_class,
                "--threads",
                str(serving.threads),
                "--timeout",
                "600",
                "--bind",
                f"127.0.0.1:{port}",
                "bench.web_bench:bench_app()",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (its workers too), SIGKILL if it lingers."""
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    except ProcessLookupError:
        pass


def wait_up(
    base: str,
    server: subprocess.Popen[bytes],
    tmp: Path,
    workers: int = 0,
    deadline_s: float = 180,
) -> None:
    """Until /healthz answers and (with `workers`) that many workers have warmed up."""
    start = time.monotonic()
    ready = tmp / "ready"
    while time.monotonic() - start < deadline_s and server.poll() is None:
        try:
            warm = len(list(ready.iterdir())) if ready.is_dir() else 0
            if warm >= workers and httpx.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    log = (tmp / "gunicorn.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"gunicorn did not answer /healthz:\n{log}")


def preview_rows(
    client: httpx.Client, new_designs: int, cached_n: int
) -> list[tuple[str, str, str, str]]:
    """The preview rows: a first design built and fetched as the page does, its cached status
    and GLB `cached_n` times, then `new_designs - 1` more new designs."""
    rows: list[tuple[str, str, str, str]] = []
    saved = client.post("/api/configurations", json={"family": "enclosure", "params": ENCLOSURE})
    saved.raise_for_status()
    cid = saved.json()["id"]
    first = _wait_ready(client, cid)
    _progress(f"first design built: GLB {first[0]:.1f} s, whole job {first[1]:.1f} s")
    cached = []
    for _ in range(cached_n):
        t0 = time.perf_counter()
        st = client.post(f"/api/configurations/{cid}/preview")
        st.raise_for_status()
        _fetch_preview(client, st.json()["preview_url"])
        cached.append(time.perf_counter() - t0)
    rows.append(
        (
            "preview, cached design (status+GLB)",
            f"{_p95(cached) * 1000:.1f} ms p95",
            "<= 100 ms",
            f"n={cached_n}, median {statistics.median(cached) * 1000:.1f} ms",
        )
    )
    fresh = [first]
    for i in range(new_designs - 1):
        params = ENCLOSURE | {"inner_length": 81 + i, "inner_height": 31 + i}
        made = client.post("/api/configurations", json={"family": "enclosure", "params": params})
        made.raise_for_status()
        fresh.append(_wait_ready(client, made.json()["id"]))
        _progress(f"design {i + 2} built")
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
    return rows


def _load_gen(choice: str) -> str:
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if choice == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk), use --load-gen python")
    return choice


def run(
    seconds: int,
    new_designs: int,
    clients: int = 50,
    serving: Serving | None = None,
    load_gen: str = "auto",
    cached_n: int = 50,
) -> int:
    serving = serving or Serving()
    gen = _load_gen(load_gen)
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="hunar-webbench-"))
    rows: list[tuple[str, str, str, str]] = []
    failures: list[str] = []
    name = ""
    server: subprocess.Popen[bytes] | None = None
    try:
        name, url = _make_db()
        _seed(url, tmp)
        _progress("database migrated and seeded")
        port = _free_port()
        server = start_server(url, tmp, port, serving, warm=True)
        base = f"http://127.0.0.1:{port}"
        wait_up(base, server, tmp, serving.workers)
        _progress(f"{serving.describe()} up, CadQuery imported")
        with httpx.Client(base_url=base, timeout=600) as client:
            _sign_in(client)
            body = json.dumps({"family": "enclosure", "params": ENCLOSURE, "quantity": 5})
            client.post(
                "/api/quote", content=body, headers={"Content-Type": "application/json"}
            ).raise_for_status()
            # unmeasured warm-up: every worker compiles its templates and fills its caches
            measure_load(base, "/api/quote", 1, clients, gen, tmp, body)
            measure_load(base, "/", 1, clients, gen, tmp)
            _progress("warmed up; measuring")
            meter = CpuMeter(server, url)
            cpu0 = meter.sample()
            q = measure_load(base, "/api/quote", seconds, clients, gen, tmp, body)
            cpu1 = meter.sample()
            rows.append(
                (
                    f"quote API p95 @{clients} clients",
                    f"{q['P95_MS']:.1f} ms",
                    "<= 50 ms",
                    f"{q['RPS']:.0f} req/s, p50 {q['P50_MS']:.1f} ms, p99 {q['P99_MS']:.1f} ms, "
                    f"non-2xx {q['NON2XX']:.0f}, errors {q['ERRORS']:.0f}",
                )
            )
            rows.append(("  quote, server CPU", "", "", cpu_note(cpu0, cpu1, q, seconds)))
            c = measure_load(base, "/", seconds, clients, gen, tmp)
            cpu2 = meter.sample()
            rows.append(
                (
                    "catalogue page",
                    f"{c['RPS']:.0f} req/s",
                    ">= 300 req/s",
                    f"p95 {c['P95_MS']:.1f} ms, non-2xx {c['NON2XX']:.0f}, errors {c['ERRORS']:.0f}",
                )
            )
            rows.append(("  catalogue, server CPU", "", "", cpu_note(cpu1, cpu2, c, seconds)))
            for label, r in (("quote", q), ("catalogue", c)):
                if r["NON2XX"] or r["ERRORS"]:
                    failures.append(f"{label} load: {r}")
            if new_designs > 0:
                rows += preview_rows(client, new_designs, cached_n)
    finally:
        if server is not None:
            stop_server(server)
        if name:
            _drop_db(name)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{serving.describe()}, rate limits off, PostgreSQL, jobs in-process; load from {gen}")
    print(
        f"machine: {os.cpu_count()} cores, load average (1 min) {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after: a busy machine means noisy figures"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{HEADER.ljust(width)} | result          | target        | notes")
    print("-" * (width + 60))
    for m, r, t, n in rows:
        print(f"{m.ljust(width)} | {r.ljust(15)} | {t.ljust(13)} | {n}")
    for f in failures:
        print(f"FAILED: {f}")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="load per phase")
    parser.add_argument(
        "--new-designs", type=int, default=3, help="0: the load phases only (serving comparisons)"
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--load-gen", default="auto", choices=("auto", "wrk", "python"))
    parser.add_argument(
        "--smoke", action="store_true", help="every step at its smallest (2 s per load phase)"
    )
    args = parser.parse_args()
    cached_n = 50
    if args.smoke:
        args.seconds, args.new_designs, cached_n = 2, 1, 5
    serving = Serving(args.workers, args.worker_class, args.threads)
    return run(args.seconds, args.new_designs, args.clients, serving, args.load_gen, cached_n)


if __name__ == "__main__":
    sys.exit(main())
