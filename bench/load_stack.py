"""A private Hunar stack for load runs, started the way a deployment runs it.

A fresh PostgreSQL database on the shared server (dropped at the end), a private redis-server
(so RQ queue names never collide with anyone else's workers), `hunar db upgrade` and
`hunar seed` as subprocesses, gunicorn with the app factory, RQ workers (`hunar worker`) and
`hunar dispatch --loop`. Everything is configured only through `HUNAR_*` variables.
`start_embedded` is the small one (`hunar serve` on SQLite); `start_bench_stack` starts either
for the soak and attack benches.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "HUNAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "load test password 123"


def load_app():  # type: ignore[no-untyped-def]
    """gunicorn entry point: the normal app, without the per-IP login/sign-up limits.

    Every simulated customer comes from 127.0.0.1, so the per-address login limit (10/min)
    would refuse all but ten of them; per-user limits (quote, token) stay on.
    """
    from web import create_app

    app = create_app()
    limits = dict(app.config["HUNAR_RATE_LIMITS"])
    for bucket in ("login", "signup"):
        limits.pop(bucket, None)
    app.config["HUNAR_RATE_LIMITS"] = limits
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class StackConfig:
    web_workers: int = 2
    web_threads: int = 4
    rq_workers: int = 2
    dispatcher: bool = True


@dataclass
class Stack:
    """The running processes and where they live; `stop()` ends only what this stack started."""

    tmp: Path
    db_name: str
    db_url: str
    redis_url: str
    base_url: str
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.tmp / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def dead_processes(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def stop(self) -> None:
        for proc in self.procs.values():
            _terminate(proc)
        self.procs.clear()
        if self.db_name:  # an embedded stack's SQLite file goes with its folder
            drop_database(self.db_name)


def _terminate(proc: subprocess.Popen[bytes], grace_s: float = 20) -> None:
    """SIGTERM the process group we created (gunicorn/RQ children included), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def create_database() -> tuple[str, str]:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"hunar_load_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return name, make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _spawn(stack: Stack, name: str, args: list[str]) -> subprocess.Popen[bytes]:
    log = open(stack.tmp / "logs" / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        args,
        cwd=stack.tmp,
        env=stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    stack.procs[name] = proc
    return proc


def _gunicorn(stack: Stack, port: int, app: str, *flags: str) -> subprocess.Popen[bytes]:
    """gunicorn serving `app` on 127.0.0.1:`port`; `flags` are the stack's own settings."""
    argv = [sys.executable, "-m", "gunicorn", *flags, "--bind", f"127.0.0.1:{port}", app]
    return _spawn(stack, "gunicorn", argv)


def _hunar(stack: Stack, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "orders.cli", *args],
        cwd=stack.tmp,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"hunar {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def _wait_redis(port: int, deadline_s: float = 20) -> None:
    from redis import Redis

    client, start = Redis(port=port), time.monotonic()
    while True:
        try:
            client.ping()
            return
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() - start > deadline_s:
                raise RuntimeError(f"private redis-server on port {port} did not start") from None
            time.sleep(0.1)


def _wait_http(stack: Stack, deadline_s: float = 90) -> None:
    import httpx

    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if stack.dead_processes():
            break
        try:
            if httpx.get(stack.base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz:\n" + stack.log_tail("gunicorn"))


def _base_env(tmp: Path, db_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    env.update(
        {
            "HUNAR_DATABASE_URL": db_url,
            "HUNAR_REDIS_URL": redis_url,
            "HUNAR_VAR_DIR": str(tmp / "var"),
            "HUNAR_ARTIFACT_DIR": str(tmp / "artifacts"),
            "HUNAR_SECRET_KEY": uuid.uuid4().hex,
            "HUNAR_SITE": f"load-{uuid.uuid4().hex[:6]}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        }
    )
    return env


def start_stack(tmp: Path, cfg: StackConfig, customers: int) -> tuple[Stack, list[str]]:
    """Start everything, seed, create `customers` accounts; returns the stack and their e-mails."""
    (tmp / "logs").mkdir(parents=True, exist_ok=True)
    redis_port, web_port = free_port(), free_port()
    db_name, db_url = create_database()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    stack = Stack(
        tmp,
        db_name,
        db_url,
        redis_url,
        f"http://127.0.0.1:{web_port}",
        _base_env(tmp, db_url, redis_url),
    )
    try:
        _spawn(
            stack,
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp),
            ],
        )
        _wait_redis(redis_port)
        _hunar(stack, "db", "upgrade")
        _hunar(stack, "seed")
        emails = create_customers(db_url, customers)
        _gunicorn(
            stack,
            web_port,
            "bench.load_stack:load_app()",
            "--workers",
            str(cfg.web_workers),
            "--threads",
            str(cfg.web_threads),
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
            # the server keeps idle connections longer than the client (httpx: 5 s), so a client
            # never sends on a connection the server has just closed (a reset, not a server fault)
            "--keep-alive",
            "10",
        )
        for i in range(cfg.rq_workers):
            _spawn(stack, f"worker{i + 1}", [sys.executable, "-m", "orders.cli", "worker"])
        if cfg.dispatcher:
            _spawn(
                stack,
                "dispatch",
                [sys.executable, "-m", "orders.cli", "dispatch", "--loop", "--interval", "1"],
            )
        _wait_http(stack)
    except BaseException:
        stack.stop()
        raise
    return stack, emails


def start_embedded(tmp: Path) -> Stack:
    """gunicorn as `hunar serve` runs it, on a SQLite file, jobs in-process (no Redis)."""
    (tmp / "logs").mkdir(parents=True, exist_ok=True)
    port = free_port()
    db_url = f"sqlite:///{tmp / 'hunar.db'}"
    env = _base_env(tmp, db_url, "")
    env.pop("HUNAR_REDIS_URL", None)
    stack = Stack(tmp, "", db_url, "", f"http://127.0.0.1:{port}", env)
    try:
        _hunar(stack, "db", "upgrade")
        _hunar(stack, "seed")
        _gunicorn(
            stack,
            port,
            "web:create_app()",
            "--workers",
            "2",
            "--max-requests",
            "1000",
            "--max-requests-jitter",
            "100",
            "--access-logfile",
            "-",
        )
        _wait_http(stack)
    except BaseException:
        stack.stop()
        raise
    return stack


def start_bench_stack(kind: str, tmp: Path, customers: int) -> tuple[Stack, list[str]]:
    """The soak's and the attack's stack: `embedded` (SQLite, no Redis) or the PostgreSQL one,
    with `customers` accounts. The servers' own temporary files (a CAD job cut short at the end
    leaves its folder) go in `tmp/tmp`: the stacks copy this process's environment, so TMPDIR
    points there while they start and is put back after."""
    (tmp / "tmp").mkdir()
    saved, os.environ["TMPDIR"] = os.environ.get("TMPDIR"), str(tmp / "tmp")
    try:
        if kind != "embedded":
            return start_stack(tmp, StackConfig(), customers)
        stack = start_embedded(tmp)
        try:
            return stack, create_customers(stack.db_url, customers)
        except BaseException:
            stack.stop()  # the caller never got it, so cannot stop it
            raise
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved


def create_customers(db_url: str, n: int) -> list[str]:
    """Customer accounts made directly in the database (one argon2 hash, shared: it is slow)."""
    from orders.commands.accounts import create_user
    from orders.db import Database
    from orders.models import Role, User

    db, emails = Database(db_url), [f"load-{i:04d}@example.com" for i in range(n)]
    try:
        with db.transaction() as s:
            first = create_user(s, emails[0], PASSWORD, Role.CUSTOMER, "Load 0")
            rows: list[Any] = [
                User(
                    email=e,
                    password_hash=first.password_hash,
                    role=Role.CUSTOMER,
                    display_name=f"Load {i + 1}",
                )
                for i, e in enumerate(emails[1:])
            ]
            s.add_all(rows)
    finally:
        db.dispose()
    return emails


def worker_queue_depth(redis_url: str) -> int:
    """Jobs waiting or running on the RQ queues (what a drain waits for)."""
    from redis import Redis
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from orders.adapters.queue import QUEUES

    conn, total = Redis.from_url(redis_url), 0
    for name in QUEUES:
        q = Queue(name, connection=conn)
        total += q.count + StartedJobRegistry(name, connection=conn).count
    return total
