"""Load-shedding bench: a week with two outage blocks a day, planned with and without them.

The shop is the scale generator's (`scheduler.generate.realistic_shop`). Its print machines
alternate between the grid alone and a shared UPS (30 minutes); its post-processing stage runs
on a generator that carries only part of their draw. Three plans are compared on the same
outage calendar:

* blind: the dispatch baseline on the problem without outages (what a plan that ignores
  load-shedding would release);
* aware dispatch and aware CP-SAT: the problem with load-shedding windows and backup limits.

Counted against the outage calendar: operations cut (an operation on a machine no backup
carries, overlapping its outage), backup overloads (minutes-long windows where the machines on a
backup draw more than it gives), weighted tardiness, and whether the plan validates.

    .venv/bin/python bench/outage_bench.py            # 3 seeds, 600 ops x 20 machines, 30 s
    .venv/bin/python bench/outage_bench.py --smoke    # 1 seed, 120 ops x 12 machines, 5 s
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.dispatch import dispatch  # noqa: E402
from scheduler.generate import realistic_shop  # noqa: E402
from scheduler.power import power_violations  # noqa: E402
from scheduler.problem import Machine, PowerLimit, Problem, Window  # noqa: E402
from scheduler.schedule import Schedule  # noqa: E402
from scheduler.solve import solve  # noqa: E402
from scheduler.validate import compute_kpis, validate  # noqa: E402

DAY = 1440
BLOCKS = ((8 * 60, 120), (18 * 60, 120))  # 08:00-10:00 and 18:00-20:00, every day
UPS_MINUTES = 30
DRAW_W = {"print": 250, "post": 1200}


def outages(days: int) -> list[Window]:
    return [
        Window(d * DAY + s, d * DAY + s + n, "load-shedding")
        for d in range(days)
        for s, n in BLOCKS
    ]


def with_outages(problem: Problem, days: int) -> Problem:
    """Grid-only print machines stop; UPS ones stop after 30 min; post runs on a generator."""
    cuts = outages(days)
    machines, ups, gen = [], {}, {}
    for k, m in enumerate(problem.machines):
        stage = m.id.split("-")[0]
        extra: list[Window] = []
        if stage == "print" and k % 2 == 0:
            extra = cuts
        elif stage == "print":
            ups[m.id] = DRAW_W["print"]
            extra = [Window(w.start + UPS_MINUTES, w.end, w.reason) for w in cuts]
        elif stage == "post":
            gen[m.id] = DRAW_W["post"]
        machines.append(Machine(m.id, m.calendar + tuple(extra), m.initial_family, m.name))
    limits = [
        PowerLimit(
            "ups",
            max(1, 2 * DRAW_W["print"]),
            ups,
            tuple(Window(w.start, w.start + UPS_MINUTES) for w in cuts),
        ),
        PowerLimit("generator", max(1, len(gen) * DRAW_W["post"] // 2), gen, tuple(cuts)),
    ]
    return Problem(
        problem.jobs,
        tuple(machines),
        problem.setups,
        problem.horizon,
        problem.now,
        problem.origin,
        problem.name,
        tuple(p for p in limits if p.draws),
    )


def cut_ops(aware: Problem, schedule: Schedule) -> int:
    """Operations that overlap a load-shedding window of their machine (the print is cut)."""
    windows = {m.id: [w for w in m.calendar if w.reason == "load-shedding"] for m in aware.machines}
    return sum(
        1
        for a in schedule.assignments
        if any(a.start < w.end and w.start < a.end for w in windows.get(a.machine_id, ()))
    )


def row(name: str, aware: Problem, schedule: Schedule | None, took: float) -> list[str]:
    if schedule is None:
        return [name, "-", "-", "-", "no plan", f"{took:.1f}"]
    wt = compute_kpis(aware, schedule).weighted_tardiness
    over = len(power_violations(aware, schedule.assignments))
    valid = "yes" if not validate(aware, schedule) else "no"
    return [name, str(cut_ops(aware, schedule)), str(over), str(wt), valid, f"{took:.1f}"]


def run_seed(seed: int, n_ops: int, n_machines: int, limit_s: float) -> list[list[str]]:
    blind = realistic_shop(n_ops, n_machines, seed, frozen_share=0.0)
    aware = with_outages(blind, 30)
    rows = []
    t0 = time.perf_counter()
    rows.append(row("blind dispatch", aware, dispatch(blind, "atc"), time.perf_counter() - t0))
    t0 = time.perf_counter()
    rows.append(row("aware dispatch", aware, dispatch(aware, "atc"), time.perf_counter() - t0))
    t0 = time.perf_counter()
    result = solve(aware, "weighted_tardiness", time_limit_s=limit_s, workers=2, seed=seed)
    rows.append(row("aware CP-SAT", aware, result.schedule, time.perf_counter() - t0))
    return [[str(seed), *r] for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="1 seed, 120 ops x 12 machines, 5 s")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--ops", type=int, default=600)
    ap.add_argument("--machines", type=int, default=20)
    ap.add_argument("--limit", type=float, default=30.0, help="CP-SAT seconds per seed")
    args = ap.parse_args()
    if args.smoke:
        args.seeds, args.ops, args.machines, args.limit = 1, 120, 12, 5.0
    head = ["seed", "plan", "ops cut", "backup overloads", "weighted tardiness", "valid", "s"]
    print(f"{args.ops} ops x {args.machines} machines, two 2-hour outages a day")
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    ok = True
    for seed in range(1, args.seeds + 1):
        for r in run_seed(seed, args.ops, args.machines, args.limit):
            print("| " + " | ".join(r) + " |")
            if r[1].startswith("aware"):
                ok = ok and r[2] == "0" and r[3] == "0" and r[5] == "yes"
    print(f"\nverdict: {'PASS' if ok else 'FAIL'} (aware plans: 0 ops cut, 0 overloads, valid)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
