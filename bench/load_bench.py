"""Load: concurrent simulated customers place orders against gunicorn + PostgreSQL + Redis.

Starts a private stack (fresh PostgreSQL database, private redis-server, gunicorn with 2
workers, 2 RQ workers, the outbox dispatcher), runs the customers, waits (bounded) for the
CAD queue to drain, checks every invariant in the database and prints a table. Exits 1 if any
invariant fails. Latencies on a small shared machine are noisy: compare runs on one machine.

    .venv/bin/python bench/load_bench.py [--customers 200] [--orders 1000] [--palette 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load_run import LoadConfig, run_load  # noqa: E402
from bench.load_stack import StackConfig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--palette", type=int, default=30, help="Distinct designs to draw from.")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=1200, help="Seconds.")
    args = parser.parse_args()
    stack = StackConfig(
        web_workers=args.web_workers, web_threads=args.web_threads, rq_workers=args.rq_workers
    )
    cfg = LoadConfig(
        customers=args.customers,
        orders=args.orders,
        palette=args.palette,
        drain_timeout_s=args.drain_timeout,
        stack=stack,
    )
    report = run_load(cfg)
    print(
        f"gunicorn {args.web_workers} workers x {args.web_threads} threads, "
        f"{args.rq_workers} RQ workers, PostgreSQL + private Redis"
    )
    print(report.table())
    if report.failures:
        for key, value in report.figures.items():
            if key.startswith("log:") or key == "problems":
                print(f"--- {key}\n{value}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
