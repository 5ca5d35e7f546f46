"""Private Redis and PostgreSQL instances: own port, own data directory, and safe to kill or
flush. The test session's Redis is one of these (tests/conftest.py: `redis_server`, `redis_url`);
the fault drills start more of their own. Shared servers are never touched.

A missing binary fails loudly, naming the Debian package that provides it.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from redis import Redis


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(pred, timeout: float, what: str, step: float = 0.1) -> float:  # type: ignore[no-untyped-def]
    """Poll `pred` until true; returns the seconds it took, fails naming `what` on timeout."""
    start = time.monotonic()
    while not pred():
        assert time.monotonic() - start < timeout, f"timed out after {timeout} s waiting for {what}"
        time.sleep(step)
    return time.monotonic() - start


class PrivateRedis:
    """A throw-away redis-server without persistence: a restart loses everything, like a crash.

    Runs as our child (`--daemonize no`) and, where `setpriv` exists, dies with the process
    that started it, so even a killed test run leaves no server behind.
    """

    def __init__(self, workdir: Path, port: int | None = None, databases: int = 16) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: apt-get install redis-server"
        self.binary, self.workdir, self.databases = binary, workdir, databases
        self.port = port or free_port()
        self._port_chosen = port is not None  # a port we picked may be taken by the time we bind
        self.proc: subprocess.Popen[bytes] | None = None
        self._next_db = itertools.count(1)  # db 0 is left for ad-hoc use (url() default)
        workdir.mkdir(parents=True, exist_ok=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with Redis.from_url(self.url(), socket_connect_timeout=0.5, socket_timeout=1) as conn:
                return bool(conn.ping())
        except Exception:  # noqa: BLE001 - not up (yet)
            return False

    def _ours_answers(self) -> bool:
        """Our process answers on the port (not some other server that took the port first)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return True  # exited: stop waiting, start() reports it
        try:
            with Redis.from_url(self.url(), socket_connect_timeout=0.5, socket_timeout=1) as conn:
                return int(conn.info("server")["process_id"]) == self.proc.pid
        except Exception:  # noqa: BLE001 - not up (yet)
            return False

    def start(self) -> None:
        """Start on the same port every time; waits until it answers PING."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        for _attempt in range(3):
            if self._launch():
                self._port_chosen = True  # restarts come back on this port
                return
            log = (self.workdir / "redis.log").read_text(errors="replace")[-1500:]
            assert not self._port_chosen, f"redis-server on port {self.port} exited:\n{log}"
            self.port = free_port()  # lost the race for the port we picked: pick another
        raise AssertionError(f"private redis-server did not start:\n{log}")

    def _launch(self) -> bool:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--databases",
            str(self.databases),
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
        ]
        setpriv = shutil.which("setpriv")
        if setpriv:  # SIGTERM to the server when its parent dies, however it dies
            cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
        with open(self.workdir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self._ours_answers, 15, f"private redis-server on port {self.port}")
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no goodbye to the clients, nothing saved."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        wait_until(lambda: not self.ping(), 5, "the private redis to go away")

    def stop(self) -> None:
        """Shut down for good (SIGTERM, then SIGKILL); safe to call twice or if never started."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def fresh_db_url(self) -> str:
        """The URL of a database no other test of this session has had: each number is handed
        out once (the server starts with enough of them), so nothing needs flushing."""
        db = next(self._next_db)
        if db >= self.databases:
            raise RuntimeError(
                f"all {self.databases - 1} private Redis databases are used: raise the count"
            )
        return self.url(db)

    def flush(self, db: int | str) -> None:
        """Empty one database of this private server (a db number or one of our URLs): only for
        tests that simulate a broker losing its data."""
        url = db if isinstance(db, str) else self.url(db)
        assert url.startswith(f"redis://127.0.0.1:{self.port}/"), f"{url} is not this server's"
        with Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10) as conn:
            conn.flushdb()


def _pg_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    assert which, (
        "PostgreSQL server binaries (initdb, pg_ctl) are missing: apt-get install postgresql"
    )
    return Path(which).parent


class PrivatePostgres:
    """A private PostgreSQL cluster (initdb) on its own port and socket directory.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
    and lives in a directory it can reach (pytest's tmp dirs are root-only, mode 0700).
    """

    def __init__(self, port: int | None = None) -> None:
        self.bindir = _pg_bindir()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hunar-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "sock"
        self.sockets.mkdir()
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / cmd[0]), *cmd[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{cmd[0]} failed: {done.stdout}\n{done.stderr}"
        return done

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def start(self) -> None:
        # fsync=off survives a killed server (the OS keeps the pages), not a lost machine;
        # synchronous_commit stays on: an acknowledged commit must survive `-m immediate`.
        opts = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "pg.log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects clients and shuts down cleanly; `immediate` is like a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        argv = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True).returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def destroy(self) -> None:
        """Stop (if running) and remove everything; safe to call on any path out of a test."""
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
