"""Every bench keeps running: each `bench/*.py` script at its smoke size, as a subprocess.

A bench that no longer runs (a route put behind login, a renamed module, a peer that moved)
fails here instead of when someone next wants a figure for the README. Each smoke run walks
the code paths of the full run (servers started, peers compared, tables printed) at the
smallest size, on its own fresh database (a PostgreSQL database it creates and drops, or a
SQLite file in a temporary folder) and, where it needs Redis, a private redis-server.

Like the role x route matrix, the list is declared: a new file in `bench/` fails
`test_every_bench_file_is_declared` until it is added to BENCHES (with its smoke arguments and
the table header it prints) or to HELPERS (a module the benches import).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


@dataclass(frozen=True)
class Smoke:
    """How to run one bench small, and the table header lines its output must contain."""

    headers: tuple[str, ...]  # regular expressions, each matched against a whole line
    args: tuple[str, ...] = ("--smoke",)
    shared: bool = False  # reads the public benchmarks (HUNAR_SHARED_DIR)
    slow: bool = False  # servers, a browser and whole CAD jobs: a minute or more
    postgres: bool = False
    timeout_s: int = 600


BENCHES: dict[str, Smoke] = {
    "configurator_bench.py": Smoke((r"call\s+n\s+p50 ms\s+p95 ms\s+p99 ms.*",)),
    "mes_bench.py": Smoke((r"\| transport \| packets \| delivered \| received \|.*",)),
    "fleet_bench.py": Smoke((r"\| measure \| result \| target \| notes \|",)),
    "scheduler_bench.py": Smoke(
        (
            r"\s*family \|\s+instance \|\s+ops \|\s+ours \|.*\|\s+pjs \|.*",
            r"\| metric \| value \|",
            r"\| parts \| plates \|.*",
        ),
        shared=True,
    ),
    "cad_bench.py": Smoke(
        (
            r"family\s+n cold med s cold p95 s preview s pipeline s.*",
            r"queue run \(private Redis.*cfg/min peak RSS MB",
        ),
        slow=True,  # three RQ worker processes, each importing CadQuery
    ),
    "outage_bench.py": Smoke(
        (r"\| seed \| plan \| ops cut \| backup overloads \|.*", r"verdict: PASS.*")
    ),
    "planner_bench.py": Smoke((r"measure\s+n\s+median s\s+p95 s\s+max s\s+target",)),
    "web_bench.py": Smoke(
        (r"measure\s+\| result\s+\| target\s+\| notes",), slow=True, postgres=True
    ),
    "preview_bench.py": Smoke(
        (r"design\s+\| GLB recorded \| GLB fetched \| page shows it \|.*",),
        slow=True,
        postgres=True,
    ),
    "load_bench.py": Smoke((r"measure\s+\| value", r"verdict: PASS"), slow=True, postgres=True),
    "soak_bench.py": Smoke(
        (
            r"stack\s+\| minutes \| requests \| 5xx \| stuck jobs >10 min \| duplicate effects \|.*",
            r"verdict: PASS",
        ),
        slow=True,  # two stacks, a minute of traffic each
        postgres=True,
        timeout_s=900,
    ),
    "attack_bench.py": Smoke(
        (
            r"stack\s+\| part\s+\| requests \|\s+2xx \|\s+3xx \|\s+4xx \| 5xx \|.*",
            r"verdict: PASS",
        ),
        slow=True,  # two stacks, a warm-up of soak traffic and about 1,000 requests each
        postgres=True,
        timeout_s=900,
    ),
    "quote_bench.py": Smoke(
        (
            r"family\s+process\s+n \| time quoted/slicer median\s+p5\s+p95.*\| off-bed G-code",
            r"throughput: [0-9.]+ designs/min with 1 workers.*",
        ),
        slow=True,  # CadQuery builds and PrusaSlicer runs
    ),
}

# Modules the benches (and tests/e2e) import; they are run through the benches above.
HELPERS: dict[str, str] = {
    "load_harness.py": "simulated customers (load_bench.py, tests/e2e/test_e2e_load.py)",
    "load_run.py": "one load run from stack to verdict (load_bench.py, tests/e2e)",
    "load_stack.py": "the private gunicorn/PostgreSQL/Redis/RQ stack of a load run",
    "scheduler_pjs.py": "PyJobShop side of scheduler_bench.py",
    "http_load.py": "closed-loop HTTP client of web_bench.py when wrk is not installed",
    "soak_traffic.py": "customers, planner and operators of soak_bench.py",
    "attack_parts.py": "hostile values, form posts and schemathesis cases of attack_bench.py",
    "attack_sweeps.py": "concurrency, IDOR, authentication and file sweeps of attack_bench.py",
}


def shared_dir() -> Path:
    """Where the benches read the public benchmarks: what scheduler_bench.py reads."""
    base = os.environ.get("HUNAR_SHARED_DIR")
    return Path(base) if base else REPO.parent / "shared"


def test_every_bench_file_is_declared() -> None:
    files = {p.name for p in BENCH.glob("*.py")}
    undeclared = sorted(files - set(BENCHES) - set(HELPERS))
    assert not undeclared, (
        f"bench/{undeclared} not declared: add a smoke run to BENCHES in {__file__} "
        "(a bench) or a line to HELPERS (a module the benches import)"
    )
    assert not set(BENCHES) & set(HELPERS)
    gone = sorted((set(BENCHES) | set(HELPERS)) - files)
    assert not gone, f"declared but not in bench/: {gone}"


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_helpers_are_not_benches(name: str) -> None:
    """A helper that grows a command line is a bench and needs a smoke run of its own."""
    assert "__main__" not in (BENCH / name).read_text(), (
        f"bench/{name} runs as a script: move it to BENCHES with its smoke arguments"
    )


def _smoke_params() -> list[object]:
    params = []
    for name, smoke in sorted(BENCHES.items()):
        marks = [pytest.mark.timeout(smoke.timeout_s + 120)]
        marks += [pytest.mark.slow] if smoke.slow else []
        marks += [pytest.mark.postgres] if smoke.postgres else []
        params.append(pytest.param(name, smoke, id=name.removesuffix(".py"), marks=marks))
    return params


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout_s: int) -> tuple[int, str, str]:
    """Run a bench; past the time limit, Ctrl-C it first (its `finally` blocks stop servers and
    drop databases), then kill what is left of its process group."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        pytest.fail(f"{cmd} still running after {timeout_s} s\n{out[-3000:]}\n{err[-3000:]}")


@pytest.mark.parametrize(("name", "smoke"), _smoke_params())
def test_bench_runs_at_smoke_size(name: str, smoke: Smoke, tmp_path: Path) -> None:
    if smoke.shared and not (shared_dir() / "bench").is_dir():
        pytest.fail(f"{name} reads {shared_dir() / 'bench'}: set HUNAR_SHARED_DIR")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    # a short path: Chromium's singleton socket must fit a Unix socket name (108 bytes)
    scratch = Path(tempfile.mkdtemp(prefix="hunar-smoke-"))
    try:
        _smoke(name, smoke, cwd, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _smoke(name: str, smoke: Smoke, cwd: Path, scratch: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    for keep in ("HUNAR_TEST_POSTGRES_URL",):  # where the test services are, if moved
        if keep in os.environ:
            env[keep] = os.environ[keep]
    env["HUNAR_SHARED_DIR"] = str(shared_dir())
    env["TMPDIR"] = str(scratch)  # whatever a bench leaves behind shows up here
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [sys.executable, str(BENCH / name), *smoke.args]
    t0 = time.monotonic()
    code, out, err = _run(cmd, cwd, env, smoke.timeout_s)
    took = time.monotonic() - t0
    detail = f"$ {' '.join(cmd)}  ({took:.0f} s, exit {code})\n{out[-4000:]}\n{err[-4000:]}"
    print(detail)
    assert code == 0, detail
    lines = out.splitlines()
    for header in smoke.headers:
        assert any(re.fullmatch(header, line) for line in lines), f"no line /{header}/\n{detail}"
    assert not list(cwd.iterdir()), (
        f"{name} wrote into its working directory: {list(cwd.iterdir())}"
    )
    left = sorted(p.name for p in scratch.iterdir())
    assert not left, f"{name} left temporary files behind: {left}"


class _Answer(BaseHTTPRequestHandler):
    """200 with a small JSON body, for GET and POST; silent."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a load generator hangs up mid-answer when its time is up


@pytest.mark.parametrize("keep_alive", [True, False], ids=["keep-alive", "close"])
@pytest.mark.parametrize("gen", ["python", "wrk"])
def test_web_bench_load_generators(gen: str, keep_alive: bool, tmp_path: Path) -> None:
    """Both of web_bench's load generators against a tiny server, with keep-alive and with a
    new connection per request (what gunicorn's sync workers do): the smoke run above only
    takes the one installed on this machine."""
    if gen == "wrk":
        assert shutil.which("wrk"), (
            "wrk is not installed: `make system-deps` installs it (Debian wrk)"
        )
    from bench.web_bench import measure_load

    handler = type(
        "Answer", (_Answer,), {"protocol_version": "HTTP/1.1" if keep_alive else "HTTP/1.0"}
    )
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        got = measure_load(base, "/api/quote", 1, 4, gen, tmp_path, '{"family": "knob"}')
        plain = measure_load(base, "/", 1, 4, gen, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    for r in (got, plain):
        assert r["RPS"] > 10 and r["NON2XX"] == 0 and r["ERRORS"] == 0, r
        assert 0 < r["P50_MS"] <= r["P95_MS"] <= r["P99_MS"], r
