"""One load run from start to verdict: stack up, customers, CAD drain, invariants, table.

The invariants are checked in the database, not in what the customers were told: every
accepted idempotency key is exactly one order, no order is lost, every line is `cad_ready`
with artifact rows or `on_hold` with a recorded reason, the outbox is empty, and no request
got a 5xx or a broken connection.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.load_harness import (
    Outcome,
    Plan,
    Recorder,
    build_palette,
    orderable_palette,
    percentile,
    run_customers,
    split_orders,
)
from bench.load_stack import Stack, StackConfig, start_stack, worker_queue_depth


@dataclass(frozen=True)
class LoadConfig:
    customers: int = 200
    orders: int = 1000
    palette: int = 30
    families: list[str] | None = None
    drain_timeout_s: float = 1200
    stuck_after_s: float = 60  # no progress, nothing queued or running: stop waiting
    stack: StackConfig = field(default_factory=StackConfig)
    seed: int = 7
    invalid_share: float = 0.1  # of orders followed by invalid requests (4xx by field expected)


@dataclass
class LoadReport:
    rows: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        width = max(len(k) for k, _ in self.rows)
        lines = [f"{'measure'.ljust(width)} | value", "-" * (width + 40)]
        lines += [f"{k.ljust(width)} | {v}" for k, v in self.rows]
        lines.append("verdict: " + ("PASS" if not self.failures else "FAIL"))
        lines += [f"  - {f}" for f in self.failures]
        return "\n".join(lines)


class ConnectionSampler(threading.Thread):
    """Peak PostgreSQL connections to the load database (evidence for the pool size)."""

    def __init__(self, db_url: str, db_name: str) -> None:
        super().__init__(daemon=True, name="pg-sampler")
        self.engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        self.db_name, self.peak, self.stop_flag = db_name, 0, threading.Event()

    def run(self) -> None:
        q = sa.text("select count(*) from pg_stat_activity where datname = :d")
        while not self.stop_flag.wait(0.5):
            try:
                with self.engine.connect() as conn:
                    self.peak = max(self.peak, int(conn.scalar(q, {"d": self.db_name}) or 0) - 1)
            except sa.exc.OperationalError:
                continue

    def stop(self) -> int:
        self.stop_flag.set()
        self.join(timeout=5)
        self.engine.dispose()
        return self.peak


def _progress(engine: sa.Engine, redis_url: str) -> tuple[int, int, int]:
    """(lines still placed, active job records, pending enqueue outbox rows)."""
    with engine.connect() as conn:
        placed = conn.scalar(sa.text("select count(*) from order_lines where status = 'placed'"))
        jobs = conn.scalar(
            sa.text("select count(*) from job_records where state in ('queued', 'started')")
        )
        pending = conn.scalar(
            sa.text("select count(*) from outbox where kind = 'enqueue' and status = 'pending'")
        )
    return int(placed or 0), int(jobs or 0) + worker_queue_depth(redis_url), int(pending or 0)


def wait_for_drain(stack: Stack, timeout_s: float, stuck_after_s: float) -> tuple[float, str]:
    """Wait until no line waits for CAD and the queues and outbox are empty (bounded)."""
    engine = sa.create_engine(stack.db_url, poolclass=sa.pool.NullPool)
    t0 = last_change = time.monotonic()
    last: tuple[int, int, int] | None = None
    try:
        while True:
            state = _progress(engine, stack.redis_url)
            now = time.monotonic()
            if state == (0, 0, 0):
                return now - t0, "drained"
            if state != last:
                last, last_change = state, now
            if now - t0 > timeout_s:
                return now - t0, f"timed out (placed, active jobs, pending outbox) = {state}"
            if state[1] == 0 and state[2] == 0 and now - last_change > stuck_after_s:
                return now - t0, f"stuck: {state[0]} line(s) placed with no job queued or running"
            time.sleep(1)
    finally:
        engine.dispose()


def _db_facts(db_url: str) -> dict[str, Any]:
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    q = {
        "orders": "select count(*) from orders",
        "dup_keys": "select count(*) from (select 1 from orders group by customer_id, "
        "idempotency_key having count(*) > 1) d",
        "lines": "select count(*) from order_lines",
        "with_artifacts": "select count(*) from order_lines l where l.status = 'cad_ready' and "
        "exists (select 1 from artifacts a where a.configuration_id = l.configuration_id)",
        "with_reason": "select count(*) from order_lines where status = 'on_hold' and "
        "coalesce(trim(hold_reason), '') <> ''",
        # e-mails wait for an SMTP server, which this stack does not run: counted apart
        "outbox_pending": "select count(*) from outbox where status <> 'delivered' "
        "and kind <> 'email'",
        "emails_waiting": "select count(*) from outbox where status <> 'delivered' "
        "and kind = 'email'",
        "jobs_failed": "select count(*) from job_records where state = 'failed'",
        "designs_built": "select count(distinct configuration_id) from artifacts",
    }
    try:
        with engine.connect() as conn:
            facts: dict[str, Any] = {k: int(conn.scalar(sa.text(v)) or 0) for k, v in q.items()}
            facts["keys"] = dict(
                conn.execute(sa.text("select idempotency_key, id from orders")).tuples().all()
            )
            facts["line_states"] = dict(
                conn.execute(sa.text("select status, count(*) from order_lines group by status"))
                .tuples()
                .all()
            )
            facts["hold_reasons"] = [
                r
                for (r,) in conn.execute(
                    sa.text(
                        "select distinct hold_reason from order_lines where status = 'on_hold' limit 5"
                    )
                )
            ]
            facts["job_errors"] = [
                r
                for (r,) in conn.execute(
                    sa.text("select distinct error from job_records where state = 'failed' limit 5")
                )
            ]
    finally:
        engine.dispose()
    return facts


def _latency_rows(rec: Recorder) -> list[tuple[str, str]]:
    rows = []
    for label in sorted(rec.latencies):
        xs = rec.latencies[label]
        codes = ", ".join(f"{c}:{n}" for c, n in sorted(rec.statuses[label].items()))
        rows.append(
            (
                f"  {label}",
                f"n={len(xs)} p50 {percentile(xs, 50) * 1000:.0f} ms, "
                f"p95 {percentile(xs, 95) * 1000:.0f} ms, p99 {percentile(xs, 99) * 1000:.0f} ms"
                f" [{codes}]",
            )
        )
    return rows


def judge(
    cfg: LoadConfig, rec: Recorder, out: Outcome, facts: dict[str, Any], timing: dict[str, Any]
) -> LoadReport:
    """The invariants, and the table that shows them."""
    keys: dict[str, int] = facts["keys"]
    lost = sorted(k for k in out.accepted if k not in keys)
    mismatched = sorted(k for k, oid in out.accepted.items() if k in keys and keys[k] != oid)
    unknown = sorted(k for k in keys if k not in out.attempted_keys)
    missing = facts["lines"] - facts["with_artifacts"] - facts["with_reason"]
    fivexx = rec.count_5xx()
    rep = LoadReport(
        figures={
            **facts,
            **timing,
            "lost": len(lost),
            "missing": missing,
            "5xx": fivexx,
            "accepted": len(out.accepted),
        }
    )
    checks = [
        (
            facts["orders"] == len(out.accepted),
            f"orders persisted {facts['orders']} != keys accepted {len(out.accepted)}",
        ),
        (not lost, f"{len(lost)} accepted order(s) lost: {lost[:3]}"),
        (not unknown, f"{len(unknown)} order(s) under keys never sent: {unknown[:3]}"),
        (
            facts["dup_keys"] == 0 and not out.split_doubles and not mismatched,
            f"duplicates: {facts['dup_keys']} keys, split doubles {out.split_doubles[:3]}, "
            f"mismatched ids {mismatched[:3]}",
        ),
        (
            missing == 0,
            f"{missing} line(s) neither cad_ready with artifacts nor on hold with a "
            f"reason: states {facts['line_states']}",
        ),
        (fivexx == 0, f"{fivexx} 5xx: {rec.server_errors[:3]}"),
        (
            not rec.transport_errors,
            f"{len(rec.transport_errors)} transport errors: {rec.transport_errors[:3]}",
        ),
        (facts["outbox_pending"] == 0, f"{facts['outbox_pending']} outbox row(s) undelivered"),
        (
            out.invalid_refused_ok == out.invalid_sent,
            f"{out.invalid_sent - out.invalid_refused_ok}"
            " invalid request(s) not refused with a 4xx naming the field",
        ),
        (timing["drain"] == "drained", f"CAD drain: {timing['drain']}"),
        (not timing["dead"], f"processes died during the run: {timing['dead']}"),
    ]
    rep.failures = [msg for ok, msg in checks if not ok]
    rep.rows = [
        ("customers (concurrent)", str(cfg.customers)),
        ("palette (distinct designs)", f"{timing['palette']} ({facts['designs_built']} built)"),
        ("orders attempted (keys)", str(len(out.attempted_keys))),
        ("orders accepted / persisted", f"{len(out.accepted)} / {facts['orders']}"),
        ("double submits (same key, concurrent)", str(out.double_submits)),
        ("duplicates / lost", f"{facts['dup_keys'] + len(out.split_doubles)} / {len(lost)}"),
        ("order lines", str(facts["lines"])),
        (
            "lines with artifacts / with reason / missing",
            f"{facts['with_artifacts']} / {facts['with_reason']} / {missing}",
        ),
        ("line states", str(facts["line_states"])),
        ("hold reasons (sample)", "; ".join(str(r)[:80] for r in facts["hold_reasons"]) or "-"),
        ("failed job records", f"{facts['jobs_failed']} {facts['job_errors'][:2]}"),
        ("e-mails waiting (no SMTP in this stack)", str(facts["emails_waiting"])),
        ("invalid requests refused by field", f"{out.invalid_refused_ok} / {out.invalid_sent}"),
        ("5xx / transport errors", f"{fivexx} / {len(rec.transport_errors)}"),
        ("client-side problems", str(len(rec.problems))),
        ("peak PG connections (load db)", str(timing["peak_pg"])),
        ("load phase wall time", f"{timing['load_s']:.1f} s"),
        ("CAD drain after load", f"{timing['drain_s']:.1f} s ({timing['drain']})"),
        ("total wall time", f"{timing['total_s']:.1f} s"),
        ("latency per endpoint", ""),
        *_latency_rows(rec),
    ]
    return rep


def run_load(cfg: LoadConfig, tmp: Path | None = None) -> LoadReport:
    """Start a private stack, run the customers, drain CAD, judge, and tear everything down."""
    t0 = time.perf_counter()
    own_tmp = tmp is None  # a run leaves ~200 MB of CAD files and logs: remove what we made
    tmp = tmp or Path(tempfile.mkdtemp(prefix="hunar-load-"))
    stack, emails = start_stack(tmp, cfg.stack, cfg.customers)
    sampler = ConnectionSampler(stack.db_url, stack.db_name)
    try:
        candidates = build_palette(cfg.palette * 2, cfg.families, cfg.seed)
        palette = orderable_palette(stack.base_url, candidates, cfg.palette)
        plan = Plan(
            split_orders(cfg.customers, cfg.orders),
            invalid_share=cfg.invalid_share,
            seed=cfg.seed,
        )
        rec, out = Recorder(), Outcome()
        sampler.start()
        load_s = run_customers(stack.base_url, emails, palette, plan, rec, out)
        drain_s, drain = wait_for_drain(stack, cfg.drain_timeout_s, cfg.stuck_after_s)
        dead = stack.dead_processes()
        facts = _db_facts(stack.db_url)
        timing = {
            "palette": len(palette),
            "load_s": load_s,
            "drain_s": drain_s,
            "drain": drain,
            "peak_pg": sampler.stop(),
            "dead": dead,
            "total_s": time.perf_counter() - t0,
        }
        report = judge(cfg, rec, out, facts, timing)
        if report.failures:
            for name in ("gunicorn", "worker1", "dispatch"):
                report.figures[f"log:{name}"] = stack.log_tail(name, 2000)
        report.figures["problems"] = rec.problems[:10]
        return report
    finally:
        sampler.stop_flag.set()
        stack.stop()
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
