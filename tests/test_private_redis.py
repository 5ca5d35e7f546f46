"""Tests never touch a shared Redis: the session's redis-server is our own child process, every
test gets a database of its own on it, and no test module names the shared port or flushes
anything but that private server (two runs on one machine must not wipe each other's queues)."""

from __future__ import annotations

import re
from pathlib import Path

from private_services import PrivateRedis
from redis import Redis

TESTS = Path(__file__).resolve().parent
# Redis's default port (redis-py's, no connection made), where a shared server listens
SHARED_PORT = str(Redis().connection_pool.connection_kwargs["port"])
PLUMBING = TESTS / "private_services.py"  # the one module that starts and flushes private servers
FLUSH = re.compile(r"\bflush(db|all)\b", re.IGNORECASE)
# A literal loopback Redis URL: only the deliberately dead port 1 may be written down.
LOOPBACK_URL = re.compile(r"redis://(?:127\.0\.0\.1|localhost|\[::1\])(?::(\d+))?")


def _modules() -> list[Path]:
    here = Path(__file__).resolve()
    return sorted(p for p in TESTS.rglob("*.py") if p.resolve() != here)


def _offences(path: Path, name: str) -> list[str]:
    found = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{name}:{no}: {line.strip()}"
        if SHARED_PORT in line or "HUNAR_TEST_REDIS_URL" in line:
            found.append(f"{where}  (the shared Redis: use the `redis_url` fixture)")
        if path != PLUMBING and FLUSH.search(line):
            found.append(f"{where}  (flush only through PrivateRedis.flush)")
        for match in LOOPBACK_URL.finditer(line):
            if path != PLUMBING and match.group(1) != "1":
                found.append(f"{where}  (a fixed Redis URL: use the `redis_url` fixture)")
    return found


def test_no_test_module_names_the_shared_redis_or_flushes_it() -> None:
    modules = _modules()
    assert len(modules) > 50 and PLUMBING in modules
    assert [o for p in modules for o in _offences(p, str(p.relative_to(TESTS)))] == []


def test_the_checker_catches_what_it_must(tmp_path: Path) -> None:
    bad = tmp_path / "test_bad.py"
    bad.write_text(
        'URL = "redis://127.0.0.1:' + SHARED_PORT + '/3"\n'
        'OTHER = "redis://localhost/0"\n'
        "Redis.from_url(URL).flush" + "db()\n"
        'DEAD = "redis://127.0.0.1:1/0"\n'
    )
    found = _offences(bad, bad.name)
    assert [f.split(":")[1] for f in found] == ["1", "1", "2", "3"], found


def test_redis_url_is_a_database_of_our_own_on_our_own_server(
    redis_server: PrivateRedis, redis_url: str
) -> None:
    assert redis_url.startswith(f"redis://127.0.0.1:{redis_server.port}/")
    assert str(redis_server.port) != SHARED_PORT
    assert redis_server.proc is not None and redis_server.proc.poll() is None
    with Redis.from_url(redis_url) as conn:
        assert int(conn.info("server")["process_id"]) == redis_server.proc.pid, "our child"
        assert conn.dbsize() == 0, "handed out empty"
        conn.set("mine", "1")
    other = redis_server.fresh_db_url()
    assert other != redis_url
    with Redis.from_url(other) as conn:
        assert conn.get("mine") is None, "another test's database sees nothing of ours"
