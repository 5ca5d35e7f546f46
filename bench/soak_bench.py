"""Soak: an hour of mixed customer, planner and operator traffic, on each way Hunar is deployed.

Stacks (one after the other; `--minutes` applies to each):

- `embedded`: the default: gunicorn started as `hunar serve` starts it (2 sync workers recycled
  after ~1,000 requests, `web:create_app()`, rate limits on), a SQLite file in a temporary
  folder, jobs in-process (CAD and plan solves run in the web workers);
- `postgres`: the private stack of the load bench (bench/load_stack.py): a fresh PostgreSQL
  database, a private redis-server, gunicorn 2x4 threads, 2 RQ workers and `hunar dispatch`.

Traffic (bench/soak_traffic.py), from six threads at a modest pace: three customers (browse,
quote, save designs, order with idempotency keys; some orders sent twice at once or again
later), a planner (propose, approve, release every few minutes; some forms sent twice) and two
operators (bed clear, start, complete, scrap at their stations with the page's event id; some
presses sent twice at once or replayed), so orders flow through CAD, planning and the floor.

Every 30 s it samples the RSS of every gunicorn worker and RQ worker process, the 5xx so far
and the job records queued or started for over 10 minutes. At the end it counts duplicate
effects in the database (orders per idempotency key, floor events applied per event id, remake
lines per scrap, starts per operation, line states entered twice, proposals per propose form,
plans released at once, bed-clear confirmations per finished print) and what the clients saw
(one key or event answered with two different effects). RSS is "flat" when the least-squares
slope of the summed worker RSS after a 5-minute warm-up is under 50 MB/h; it is judged only on
a window of 10 minutes or more. Exits 1 if any stack fails.

    .venv/bin/python bench/soak_bench.py [--minutes 60] [--stack embedded|postgres|both] [--smoke]

``--smoke``: one minute per stack, faster pace (every role acts several times), two quick
families; the RSS slope is printed but not judged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load_harness import Recorder, build_palette, orderable_palette  # noqa: E402
from bench.load_stack import PASSWORD, Stack, start_bench_stack  # noqa: E402
from bench.soak_traffic import Operator, Pace, Planner, Shopper, Tally, run_loop  # noqa: E402

HEADER = (
    "stack    | minutes | requests | 5xx | stuck jobs >10 min | duplicate effects | "
    "worker RSS start->end MB (max) | RSS slope MB/h"
)
STUCK_AFTER = timedelta(minutes=10)
WARM_UP_S = 300.0
SLOPE_LIMIT_MB_H = 50.0
JUDGED_WINDOW_S = 600.0
CUSTOMERS = 3
PRINTERS = ("fdm", "resin")


@dataclass
class Sample:
    t: float  # seconds since traffic started
    rss_mb: float  # all worker processes together
    rss_max_mb: float  # the largest single worker
    procs: int
    fivexx: int
    stuck: int


@dataclass
class Result:
    stack: str
    minutes: float = 0.0
    requests: int = 0
    fivexx: int = 0
    transport: int = 0
    stuck: int = 0
    active_at_end: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rss_cells(self, warm_up_s: float) -> tuple[str, str, float | None]:
        """(start->end (max), slope text, slope or None when the window is too short)."""
        after = [s for s in self.samples if s.t >= warm_up_s] or self.samples[-1:]
        if not after:
            return "-", "-", None
        peak = max(s.rss_mb for s in self.samples)
        span = f"{after[0].rss_mb:.0f} -> {after[-1].rss_mb:.0f} ({peak:.0f})"
        slope = _slope_mb_h([(s.t, s.rss_mb) for s in after])
        window = after[-1].t - after[0].t
        if window < JUDGED_WINDOW_S:
            return span, f"{slope:+.0f} (not judged: {window / 60:.1f} min)", None
        return span, f"{slope:+.0f}", slope


def _slope_mb_h(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / var * 3600


def _progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _rss_pids(stack: Stack) -> list[int]:
    """gunicorn's workers (the master's children, whatever recycling made them) and the RQ
    worker processes (not their short-lived work horses)."""
    import psutil  # type: ignore[import-untyped]

    pids = []
    master = stack.procs.get("gunicorn")
    if master is not None and master.poll() is None:
        try:
            pids += [c.pid for c in psutil.Process(master.pid).children()]
        except psutil.NoSuchProcess:
            pass
    pids += [p.pid for n, p in stack.procs.items() if n.startswith("worker") and p.poll() is None]
    return pids


def _stuck_jobs(engine: sa.Engine) -> tuple[int, int]:
    """(job records queued or started for over 10 minutes, all active job records)."""
    from orders.models import JobRecord

    now = datetime.now(UTC)
    q = sa.select(JobRecord.state, JobRecord.created_at, JobRecord.started_at).where(
        JobRecord.state.in_(("queued", "started"))
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    stuck = sum(1 for _, created, started in rows if now - (started or created) > STUCK_AFTER)
    return stuck, len(rows)


class Sampler(threading.Thread):
    def __init__(self, stack: Stack, rec: Recorder, every_s: float, t0: float) -> None:
        super().__init__(daemon=True, name="soak-sampler")
        self.stack, self.rec, self.every_s, self.t0 = stack, rec, every_s, t0
        self.engine = sa.create_engine(stack.db_url, poolclass=sa.pool.NullPool)
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self.stop_flag = threading.Event()

    def sample(self) -> Sample:
        import psutil

        rss = []
        for pid in _rss_pids(self.stack):
            try:
                rss.append(psutil.Process(pid).memory_info().rss / 2**20)
            except psutil.NoSuchProcess:
                continue
        stuck, active = _stuck_jobs(self.engine)
        s = Sample(
            time.monotonic() - self.t0,
            sum(rss),
            max(rss, default=0.0),
            len(rss),
            self.rec.count_5xx(),
            stuck,
        )
        self.samples.append(s)
        _progress(
            f"t={s.t / 60:5.1f} min  RSS {s.rss_mb:.0f} MB in {s.procs} workers "
            f"(max {s.rss_max_mb:.0f})  5xx {s.fivexx}  active jobs {active}, stuck {stuck}"
        )
        return s

    def run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception as exc:  # noqa: BLE001 - a missed sample is noted, not fatal
                self.errors.append(f"{exc.__class__.__name__}: {exc}")
            if self.stop_flag.wait(self.every_s):
                return

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(timeout=60)
        self.engine.dispose()


def create_staff(db_url: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """A planner and two operators (printers; the benches and the rest) who need no password
    change; returns the planner's e-mail and each operator's e-mail and stations."""
    from orders.commands.accounts import create_user
    from orders.db import Database
    from orders.models import Machine, Role

    db = Database(db_url)
    try:
        with db.transaction() as s:
            machines = s.execute(sa.select(Machine.id, Machine.process).order_by(Machine.id)).all()
            printers = [m for m, p in machines if p in PRINTERS]
            others = [m for m, p in machines if p not in PRINTERS]
            ops = [("soak-printers@example.com", printers), ("soak-benches@example.com", others)]
            create_user(s, "soak-planner@example.com", PASSWORD, Role.PLANNER, "Soak planner")
            for email, stations in ops:
                create_user(s, email, PASSWORD, Role.OPERATOR, email.split("@")[0], stations)
    finally:
        db.dispose()
    return "soak-planner@example.com", ops


def duplicate_effects(db_url: str) -> dict[str, int]:
    """Effects in the database that happened more often than their request or event."""
    from mes_bridge.job_order_ids import parse_job_order
    from orders.models import Assignment, Event, Operation, Order, OrderLine, Schedule
    from orders.queries.station import PRINT_PROCESSES

    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            keyed = conn.execute(
                sa.select(sa.func.count())
                .select_from(Order)
                .group_by(Order.customer_id, Order.idempotency_key)
                .having(sa.func.count() > 1)
            ).all()
            floor = conn.execute(
                sa.select(Event.entity_id, Event.to_state, Event.payload, Event.at).where(
                    Event.entity_type == "floor_event"
                )
            ).all()
            clears = conn.execute(
                sa.select(Event.entity_id, Event.at).where(Event.entity_type == "bed_clear")
            ).all()
            line_states = conn.execute(
                sa.select(sa.func.count())
                .select_from(Event)
                .where(
                    Event.entity_type == "order_line",
                    Event.to_state.in_(("in_production", "qc", "completed")),
                )
                .group_by(Event.entity_id, Event.to_state)
                .having(sa.func.count() > 1)
            ).all()
            remakes = conn.scalar(
                sa.select(sa.func.count()).where(OrderLine.parent_line_id.is_not(None))
            )
            scrapped_qty = conn.scalar(sa.select(sa.func.sum(Operation.scrapped_qty)))
            schedules = conn.execute(sa.select(Schedule.params, Schedule.state)).all()
            # a print ends a bed-clear confirmation as the station counts it (_last_print)
            prints = conn.execute(
                sa.select(Assignment.machine_id, Operation.ended_at)
                .join(Operation, Operation.id == Assignment.operation_id)
                .join(Schedule, Schedule.id == Assignment.schedule_id)
                .where(
                    Operation.status == "done",
                    Operation.process.in_(PRINT_PROCESSES),
                    Schedule.state.in_(("released", "superseded")),
                )
            ).all()
    finally:
        engine.dispose()
    per_event = Counter(e.entity_id for e in floor)
    scraps = [e for e in floor if e.to_state == "scrapped"]
    net_starts: Counter[int] = Counter()
    for e in floor:
        parsed = parse_job_order(str((e.payload or {}).get("job_order_id") or ""))
        if parsed and e.to_state in ("started", "paused"):
            net_starts[parsed[0]] += 1 if e.to_state == "started" else -1
    forms = Counter(
        (p or {}).get("request_key") for p, _ in schedules if (p or {}).get("request_key")
    )
    timeline: dict[str, set[tuple[datetime, str]]] = defaultdict(set)
    for machine, ended in prints:
        if ended is not None:
            timeline[machine].add((ended, "print"))
    for machine, at in clears:
        timeline[machine].add((at, "clear"))
    clears_twice = 0
    for events in timeline.values():
        kinds = [k for _, k in sorted(events)]
        clears_twice += sum(1 for a, b in zip(kinds, kinds[1:], strict=False) if a == b == "clear")
    scrap_qty = sum(int((e.payload or {}).get("qty") or 0) for e in scraps)
    return {
        "orders per (customer, key) > 1": sum(n for (n,) in keyed) - len(keyed),
        "floor events applied per event id > 1": sum(n - 1 for n in per_event.values() if n > 1),
        "remake lines beyond scrap events": max(0, int(remakes or 0) - len(scraps)),
        "scrapped qty beyond scrap events": max(0, int(scrapped_qty or 0) - scrap_qty),
        "job orders started twice": sum(n - 1 for n in net_starts.values() if n > 1),
        "line states entered twice": len(line_states),
        "proposals per propose form > 1": sum(n - 1 for n in forms.values() if n > 1),
        "plans released at once > 1": max(0, sum(1 for _, st in schedules if st == "released") - 1),
        "bed clears without a print between": clears_twice,
    }


def run_stack(kind: str, minutes: float, smoke: bool) -> Result:
    res = Result(kind)
    pace = (
        Pace(
            customer_s=6,
            planner_s=12,
            operator_s=3,
            solve_limit_s=2,
            new_design_share=0.1,
            double_plan_share=0.6,  # a few planner cycles: make sure the double forms run
        )
        if smoke
        else Pace()
    )
    families = ["bracket", "pipe_flange"] if smoke else None
    tmp = Path(tempfile.mkdtemp(prefix="hunar-soak-"))
    stack: Stack | None = None
    stop = threading.Event()
    threads: list[threading.Thread] = []
    closers: list[Any] = []
    sampler: Sampler | None = None
    try:
        _progress(f"{kind}: starting the stack")
        stack, emails = start_bench_stack(kind, tmp, CUSTOMERS)
        planner_email, operators = create_staff(stack.db_url)
        candidates = build_palette(4 if smoke else 16, families, seed=11)
        palette = orderable_palette(stack.base_url, candidates, 2 if smoke else 10)
        rec, tally = Recorder(), Tally()
        shoppers = [Shopper(stack.base_url, e, palette, rec, tally, pace) for e in emails]
        planner = Planner(stack.base_url, planner_email, rec, tally, pace)
        staff = [Operator(stack.base_url, e, st, rec, tally, pace) for e, st in operators]
        closers += [*shoppers, planner, *staff]
        _progress(f"{kind}: up at {stack.base_url}; {minutes:g} min of traffic")
        t0 = time.monotonic()
        sampler = Sampler(stack, rec, 5 if smoke else 30, t0)
        sampler.start()
        for i, sh in enumerate(shoppers):
            threads.append(
                run_loop(f"customer{i}", sh.cycle, pace.customer_s, stop, tally, f"c{i}")
            )
        threads.append(run_loop("planner", planner.cycle, pace.planner_s, stop, tally, "p"))
        for i, op in enumerate(staff):
            threads.append(
                run_loop(f"operator{i}", op.cycle, pace.operator_s, stop, tally, f"o{i}")
            )
        end = t0 + minutes * 60
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            if stack.dead_processes():
                break
        stop.set()
        for t in threads:
            t.join(timeout=300)
        res.minutes = (time.monotonic() - t0) / 60
        sampler.stop()
        sampler.sample()  # the last one, after the traffic
        res.samples, dead = sampler.samples, stack.dead_processes()
        res.stuck = max(s.stuck for s in res.samples)
        res.active_at_end = _stuck_jobs(sampler.engine)[1]
        res.duplicates = duplicate_effects(stack.db_url)
        res.duplicates["seen by clients (one key/event, two effects)"] = len(tally.splits)
        res.requests = sum(sum(c.values()) for c in rec.statuses.values()) + len(
            rec.transport_errors
        )
        res.fivexx, res.transport = rec.count_5xx(), len(rec.transport_errors)
        _judge(res, tally, rec, dead, sampler.errors, smoke)
        if res.failures:
            for name in ("gunicorn", "worker1", "dispatch"):
                if tail := stack.log_tail(name, 1500):
                    res.notes.append(f"--- log {name}\n{tail}")
    finally:
        stop.set()
        if sampler is not None:
            sampler.stop_flag.set()
        for t in threads:
            t.join(timeout=30)
        for c in closers:
            c.close()
        if stack is not None:
            stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _judge(
    res: Result,
    tally: Tally,
    rec: Recorder,
    dead: list[str],
    sampler_errors: list[str],
    smoke: bool,
) -> None:
    warm = min(WARM_UP_S, res.minutes * 60 / 4)
    _, _, slope = res.rss_cells(warm)
    dups = {k: v for k, v in res.duplicates.items() if v}
    presses = Counter({k: v for k, v in tally.presses.items()})
    applied = sum(v for k, v in presses.items() if k.endswith(" applied"))
    checks = [
        (res.fivexx == 0, f"{res.fivexx} 5xx: {rec.server_errors[:3]}"),
        (res.transport == 0, f"{res.transport} broken connections: {rec.transport_errors[:3]}"),
        (res.stuck == 0, f"{res.stuck} job(s) queued or started for over 10 minutes"),
        (not dups, f"duplicate effects: {dups} {tally.splits[:3]}"),
        (slope is None or slope < SLOPE_LIMIT_MB_H, f"worker RSS grows {slope} MB/h"),
        (not dead, f"processes died: {dead}"),
        (not tally.crashes, f"traffic threads failed: {tally.crashes[:2]}"),
        (bool(tally.accepted), "no order was accepted: the traffic did not run"),
        (not sampler_errors, f"samples failed: {sampler_errors[:2]}"),
    ]
    res.failures = [msg for ok, msg in checks if not ok]
    res.notes += [
        f"orders accepted {len(tally.accepted)} (double submits {tally.order_doubles}, resent "
        f"{tally.order_resends}), new designs {tally.new_designs}",
        f"planner: proposals {tally.proposals} (double {tally.plan_doubles}), "
        + ", ".join(f"{k}: {v}" for k, v in sorted(tally.plans.items())),
        f"operators: presses applied {applied}, double {tally.press_doubles}, replayed "
        f"{tally.press_replays}, bed clears {tally.bed_clears}; "
        + ", ".join(f"{k}: {v}" for k, v in sorted(presses.items())),
        "status codes: "
        + ", ".join(
            f"{code}: {n}"
            for code, n in sorted(sum((c for c in rec.statuses.values()), Counter()).items())
        ),
        f"job records still active at the end: {res.active_at_end}",
        "duplicate checks: " + ", ".join(f"{k} {v}" for k, v in res.duplicates.items()),
    ]
    if smoke and not all(f"{a} applied" in presses for a in ("start", "complete")):
        res.notes.append("note: the floor did not start and complete a job in this short run")


def print_table(results: list[Result]) -> None:
    print(f"{HEADER}")
    print("-" * len(HEADER))
    for r in results:
        warm = min(WARM_UP_S, r.minutes * 60 / 4)
        span, slope, _ = r.rss_cells(warm)
        fivexx = f"{r.fivexx}" + (f" (+{r.transport} broken)" if r.transport else "")
        print(
            f"{r.stack:<8} | {r.minutes:7.1f} | {r.requests:8d} | {fivexx:>3} | "
            f"{r.stuck:18d} | {sum(r.duplicates.values()):17d} | {span:>30} | {slope}"
        )
    print(
        f"RSS: summed over gunicorn workers and RQ worker processes, sampled every 30 s (smoke: 5 s);"
        f" flat = slope < {SLOPE_LIMIT_MB_H:.0f} MB/h after {WARM_UP_S / 60:.0f} min of warm-up, "
        f"judged on {JUDGED_WINDOW_S / 60:.0f}+ min"
    )
    for r in results:
        print(f"\n{r.stack}:")
        for note in r.notes:
            print(f"  {note}")
        print(
            f"{r.stack} verdict: "
            + ("PASS" if not r.failures else "FAIL: " + "; ".join(r.failures))
        )
    ok = all(not r.failures for r in results)
    print(
        "verdict: "
        + ("PASS" if ok else "FAIL: " + ", ".join(r.stack for r in results if r.failures))
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=60.0, help="traffic per stack")
    parser.add_argument("--stack", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--smoke", action="store_true", help="one minute per stack")
    args = parser.parse_args()
    if args.smoke:
        args.minutes = 1.0
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C: `finally` cleans up
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    kinds = ["embedded", "postgres"] if args.stack == "both" else [args.stack]
    results = [run_stack(k, args.minutes, args.smoke) for k in kinds]
    print(f"soak: {args.minutes:g} min per stack, {os.cpu_count()} cores")
    print_table(results)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
