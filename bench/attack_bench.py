"""Attack: tens of thousands of hostile requests against a running Hunar, on each deployment.

The rerun of issue 22's attack (about 45,000 requests per stack: ~21,000 hostile parameter
values, ~4,100 form posts, ~19,000 schemathesis cases, and sweeps of concurrency, IDOR,
authentication and files), on the two stacks of bench/soak_bench.py: `embedded` (gunicorn as
`hunar serve` runs it, SQLite, jobs in-process, rate limits on) and `postgres` (a fresh
PostgreSQL database, a private redis-server, RQ workers and the dispatcher).

Each stack is first warmed up with the soak's traffic (bench/soak_traffic.py: customers order,
the planner releases plans, operators start and finish prints), so there are other customers'
orders, designs and files to ask for, and job orders to press. Then the parts run
(bench/attack_parts.py, bench/attack_sweeps.py), and at the end the database is searched for
duplicate effects (soak_bench.duplicate_effects and attack_sweeps.extra_duplicates).

Per stack and part it prints the requests sent, the 2xx/3xx/4xx/5xx split, broken connections,
answers that show a Python traceback, and broken rules (an IDOR answered with anything but 404,
a route that answers without a session, a traversal that serves a file). Exits 1 on any 5xx,
traceback, broken connection, broken rule or duplicate effect.

    .venv/bin/python bench/attack_bench.py [--stack embedded|postgres|both] [--smoke]

``--smoke``: about 1,000 requests per stack after a 30 s warm-up (a minute or two each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import attack_sweeps as sweeps  # noqa: E402
from bench.attack_parts import Hits, Who, part_forms, part_params, part_schemathesis  # noqa: E402
from bench.load_harness import CSRF, Design, Recorder, build_palette, orderable_palette  # noqa: E402
from bench.load_stack import PASSWORD, Stack, start_bench_stack  # noqa: E402
from bench.soak_bench import create_staff, duplicate_effects  # noqa: E402
from bench.soak_traffic import Operator, Pace, Planner, Shopper, Tally, run_loop, sign_in  # noqa: E402

HEADER = "stack    | part         | requests |   2xx |   3xx |   4xx | 5xx | broken | traces"
PARTS = ("params", "schemathesis", "forms", "concurrency", "idor", "auth", "files")
CUSTOMERS = 6  # two shop in the warm-up; the attacker, two token holders, a victim
FAMILIES = ["bracket", "pipe_flange"]  # quick CAD


@dataclass(frozen=True)
class Size:
    params: int
    forms: int
    examples: int  # schemathesis max_examples per operation and mode
    burst: int
    warm_s: float


SMOKE = Size(params=400, forms=200, examples=5, burst=8, warm_s=30)
FULL = Size(params=21_000, forms=4_100, examples=600, burst=20, warm_s=150)


@dataclass
class Result:
    stack: str
    hits: Hits = field(default_factory=Hits)
    duplicates: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def app_rules() -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of the app's url_map, from an app on a throwaway database in a
    child process (its in-process job runner must not touch a stack's database)."""
    code = (
        "import json\nfrom web import create_app\napp = create_app()\n"
        "print(json.dumps([(r.endpoint, m, r.rule) for r in app.url_map.iter_rules() "
        "for m in sorted((r.methods or set()) - {'HEAD', 'OPTIONS'}) if r.endpoint != 'static']))"
    )
    tmp = Path(tempfile.mkdtemp(prefix="hunar-attack-map-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    env |= {"HUNAR_DATABASE_URL": f"sqlite:///{tmp / 'map.db'}", "HUNAR_VAR_DIR": str(tmp)}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=tmp, capture_output=True, text=True
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if out.returncode != 0:
        raise RuntimeError(f"reading the url_map failed: {out.stderr[-2000:]}")
    return sorted(tuple(r) for r in json.loads(out.stdout.strip().splitlines()[-1]))


def _accounts(db_url: str) -> tuple[str, str, list[str]]:
    """An admin and a victim (admin forms act on it), and API tokens for three customers."""
    from orders.commands.accounts import create_user, issue_token
    from orders.db import Database
    from orders.models import Role, User

    db = Database(db_url)
    try:
        with db.transaction() as s:
            create_user(s, "attack-admin@example.com", PASSWORD, Role.ADMIN, "Attack admin")
            victim = create_user(s, "victim@example.com", PASSWORD, Role.CUSTOMER, "Victim")
            s.flush()
            tokens = []
            for i in (2, 3, 4):
                user = s.scalars(sa.select(User).where(User.email == f"load-{i:04d}@example.com"))
                tokens.append(issue_token(s, user.one(), "attack"))
            return "attack-admin@example.com", str(victim.id), tokens
    finally:
        db.dispose()


def _ids(db_url: str, victim: str) -> dict[str, str]:
    """A real value for every URL argument the app's rules name."""
    from mes_bridge.job_order_ids import job_order_id
    from orders.models import Artifact, Assignment, Machine, Order, ProductConfiguration, Schedule

    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        one = conn.scalar
        cfg = one(sa.select(ProductConfiguration.config_hash).limit(1)) or "0" * 64
        sched = one(sa.select(Schedule.id, Schedule.version).order_by(Schedule.id.desc()))
        row = conn.execute(
            sa.select(Assignment.operation_id, Schedule.version)
            .join(Schedule, Schedule.id == Assignment.schedule_id)
            .where(Schedule.state == "released")
            .limit(1)
        ).first()
        ids = {
            "artifact_id": str(one(sa.select(sa.func.max(Artifact.id))) or 1),
            "order_id": str(one(sa.select(sa.func.max(Order.id))) or 1),
            "schedule_id": str(sched or 1),
            "machine_id": one(sa.select(Machine.id).order_by(Machine.id)) or "m",
            "job_order_id": job_order_id(*row) if row else "JO-1-v1",
            "config_hash": cfg,
        }
    engine.dispose()
    return ids | {"user_id": victim, "index": "0", "key": "bracket", "provider": "bank"}


def fresh_session(base_url: str) -> Any:
    """An anonymous cookie session and its CSRF token (the sign-up page's)."""
    client = httpx.Client(base_url=base_url, timeout=180, follow_redirects=False)
    page = client.get("/signup")
    found = CSRF.search(page.text)
    client.headers["X-CSRFToken"] = found.group(1) if found else ""
    return client, client.headers["X-CSRFToken"]


def warm_up(
    stack: Stack, emails: list[str], staff: Any, seconds: float
) -> tuple[Tally, list[Design]]:
    """The soak's traffic for a while: orders, designs, files, plans and job orders exist."""
    planner_email, operators = staff
    palette = orderable_palette(stack.base_url, build_palette(4, FAMILIES, seed=11), 2)
    rec, tally = Recorder(), Tally()
    pace = Pace(customer_s=5, planner_s=10, operator_s=3, solve_limit_s=2, new_design_share=0.1)
    roles: list[Any] = [Shopper(stack.base_url, e, palette, rec, tally, pace) for e in emails[:2]]
    roles += [Planner(stack.base_url, planner_email, rec, tally, pace)]
    roles += [Operator(stack.base_url, e, st, rec, tally, pace) for e, st in operators]
    stop = threading.Event()
    threads = [
        run_loop(f"warm{i}", r.cycle, 3 if isinstance(r, Operator) else 5, stop, tally, f"w{i}")
        for i, r in enumerate(roles)
    ]
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=300)
    for r in roles:
        r.close()
    if rec.count_5xx():
        tally.crashes.append(f"5xx in the warm-up: {rec.server_errors[:3]}")
    return tally, palette


def attack(stack: Stack, emails: list[str], size: Size, res: Result) -> None:
    rules = app_rules()
    staff = create_staff(stack.db_url)
    admin, victim, tokens = _accounts(stack.db_url)
    _progress(f"{res.stack}: warm-up {size.warm_s:g} s of soak traffic")
    tally, palette = warm_up(stack, emails, staff, size.warm_s)
    res.notes.append(
        f"warm-up: {len(tally.accepted)} orders, {tally.proposals} proposals, "
        f"plans {dict(tally.plans)}, presses {dict(tally.presses)}; crashes {tally.crashes[:2]}"
    )
    rec = Recorder()
    planner_email, operators = staff
    logins = {
        "customer": (emails[2], "/account"),
        "planner": (planner_email, "/planner/"),
        "operator": (operators[0][0], f"/operator/station/{operators[0][1][0]}"),
        "admin": (admin, "/admin/users"),
    }
    sessions = {role: sign_in(stack.base_url, rec, e, page) for role, (e, page) in logins.items()}
    csrf = {role: c.headers["X-CSRFToken"] for role, c in sessions.items()}
    ids = _ids(stack.db_url, victim)
    design = {"family": palette[0].family, "params": palette[0].params}
    saved = sessions["customer"].post("/api/configurations", json=design)
    if saved.status_code != 201:
        raise RuntimeError(f"the attacker's design was refused: {saved.text[:300]}")
    ids["config_id"] = str(saved.json()["id"])
    who = Who(stack.base_url, sessions, csrf, tokens, ids, design)
    hits, t0 = res.hits, time.monotonic()
    fresh = lambda: fresh_session(stack.base_url)  # noqa: E731
    doc = who.anon.get("/api/openapi.json").json()
    posts = [(e, r) for e, m, r in rules if m == "POST" and not r.startswith("/api/")]
    plain = [(m, r) for e, m, r in rules if "<" not in r]

    def concurrency() -> None:
        # the operator's session afresh: the forms may have ended it (a role change, say)
        who.sessions["operator"].close()
        op_email, op_stations = staff[1][0]
        page = f"/operator/station/{op_stations[0]}"
        who.sessions["operator"] = sign_in(stack.base_url, rec, op_email, page)
        who.csrf["operator"] = who.sessions["operator"].headers["X-CSRFToken"]
        res.notes.extend(sweeps.concurrency(hits, who, size.burst, fresh, op_stations))

    def step(name: str, fn: Callable[[], Any]) -> None:
        _progress(f"{res.stack}: {name}")
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the other parts still run; this one fails
            res.failures.append(f"part {name} crashed: {exc.__class__.__name__}: {exc}")
            res.notes.append(traceback.format_exc(limit=6))

    step("concurrency", concurrency)  # first: a plan the warm-up left to approve and release
    # schemathesis generates its cases in this process (CPU); the other parts mostly wait for
    # the server: run it alongside them
    fuzz = threading.Thread(
        target=step, args=("schemathesis", lambda: part_schemathesis(hits, who, size.examples))
    )
    fuzz.start()
    step("params", lambda: part_params(hits, who, doc, plain, size.params))
    step("forms", lambda: part_forms(hits, who, posts, size.forms, fresh))
    fuzz.join()
    step("idor", lambda: sweeps.idor(hits, who, stack.db_url, emails[2]))
    step("auth", lambda: sweeps.auth(hits, who, rules, fresh))
    step("files", lambda: sweeps.files(hits, who))
    res.seconds = time.monotonic() - t0
    time.sleep(5)  # the last jobs the bursts started
    res.duplicates = duplicate_effects(stack.db_url) | sweeps.extra_duplicates(stack.db_url)
    for c in [*sessions.values(), who.anon]:
        c.close()


def run_stack(kind: str, size: Size) -> Result:
    res = Result(kind)
    tmp = Path(tempfile.mkdtemp(prefix="hunar-attack-"))
    stack: Stack | None = None
    try:
        _progress(f"{kind}: starting the stack")
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(str(tmp / "hypothesis"))  # not .hypothesis in the cwd
        stack, emails = start_bench_stack(kind, tmp, CUSTOMERS)
        attack(stack, emails, size, res)
        _judge(res, stack.dead_processes())
        if res.failures and (tail := stack.log_tail("gunicorn", 2000)):
            res.notes.append(f"--- log gunicorn\n{tail}")
    except Exception as exc:  # noqa: BLE001 - the stack's failure is the result
        res.failures.append(f"the attack did not run: {exc.__class__.__name__}: {exc}")
    finally:
        if stack is not None:
            stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _judge(res: Result, dead: list[str]) -> None:
    h, dups = res.hits, {k: v for k, v in res.duplicates.items() if v}
    checks = [
        (not h.errors, f"{len(h.errors)} 5xx: {h.errors[:5]}"),
        (not h.traces, f"{len(h.traces)} tracebacks: {h.traces[:3]}"),
        (not h.broken, f"{len(h.broken)} broken connections: {h.broken[:3]}"),
        (not h.findings, f"{len(h.findings)} broken rules: {h.findings[:8]}"),
        (not dups, f"duplicate effects: {dups}"),
        (not dead, f"processes died: {dead}"),
    ]
    res.failures += [msg for ok, msg in checks if not ok]
    res.notes.append(
        "duplicate checks: " + ", ".join(f"{k} {v}" for k, v in res.duplicates.items())
    )


def print_table(results: list[Result]) -> None:
    print(HEADER)
    print("-" * len(HEADER))
    for r in results:
        total: Counter[int] = Counter()
        for part in PARTS:
            c = r.hits.statuses[part]
            total += c
            _row(r.stack, part, c, r.hits, part)
        _row(r.stack, "total", total, r.hits, None)
    for r in results:
        print(f"\n{r.stack} ({r.seconds / 60:.1f} min of attack):")
        for note in r.notes:
            print(f"  {note}")
        for f in r.hits.findings[:20]:
            print(f"  rule broken: {f}")
        print(
            f"{r.stack} verdict: "
            + ("PASS" if not r.failures else "FAIL: " + "; ".join(r.failures))
        )
    ok = all(not r.failures for r in results)
    print(
        "verdict: "
        + ("PASS" if ok else "FAIL: " + ", ".join(r.stack for r in results if r.failures))
    )


def _row(stack: str, part: str, c: Counter[int], hits: Hits, only: str | None) -> None:
    def band(lo: int) -> int:
        return sum(n for code, n in c.items() if lo <= code < lo + 100)

    traces = sum(1 for t in hits.traces if only is None or t.startswith(f"{only}:"))
    print(
        f"{stack:<8} | {part:<12} | {sum(c.values()):8d} | {band(200):5d} | {band(300):5d} | "
        f"{band(400):5d} | {band(500):3d} | {c[0]:6d} | {traces:6d}"
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--smoke", action="store_true", help="a small run (a minute or two each)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the parts' sizes (e.g. 0.25)"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    base = SMOKE if args.smoke else FULL
    size = Size(
        params=round(base.params * args.scale),
        forms=round(base.forms * args.scale),
        examples=max(1, round(base.examples * args.scale)),
        burst=base.burst,
        warm_s=base.warm_s,
    )
    kinds = ["embedded", "postgres"] if args.stack == "both" else [args.stack]
    results = [run_stack(k, size) for k in kinds]
    print(f"attack: {'smoke' if args.smoke else 'full'} size {size}, {os.cpu_count()} cores")
    print_table(results)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
