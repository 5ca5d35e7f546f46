"""Load: concurrent simulated customers place orders against gunicorn + PostgreSQL + Redis.

Starts a private stack (fresh PostgreSQL database, private redis-server, gunicorn with 2
workers, 2 RQ workers, the outbox dispatcher), runs the customers, waits (bounded) for the
CAD queue to drain, checks every invariant in the database and prints a table. Exits 1 if any
invariant fails. Latencies on a small shared machine are noisy: compare runs on one machine.

    .venv/bin/python bench/load_bench.py [--customers 200] [--orders 1000] [--palette 30]
        [--families a,b] [--smoke]

``--smoke``: the same stack and checks with 3 customers placing 4 orders from 2 designs of two
quick families (bracket, pipe_flange), each order followed by invalid requests.
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
    parser.add_argument("--families", default="", help="Comma-separated (default: all).")
    parser.add_argument("--smoke", action="store_true", help="smallest run, same stack and checks")
    args = parser.parse_args()
    stuck_after_s, invalid_share = 60.0, 0.1
    if args.smoke:  # every order is followed by invalid requests, so that path runs too
        args.customers, args.orders, args.palette = 3, 4, 2
        args.families, args.drain_timeout, stuck_after_s = "bracket,pipe_flange", 300, 30.0
        invalid_share = 1.0
    stack = StackConfig(
        web_workers=args.web_workers, web_threads=args.web_threads, rq_workers=args.rq_workers
    )
    cfg = LoadConfig(
        customers=args.customers,
        orders=args.orders,
        palette=args.palette,
        families=args.families.split(",") if args.families else None,
        drain_timeout_s=args.drain_timeout,
        stuck_after_s=stuck_after_s,
        invalid_share=invalid_share,
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
