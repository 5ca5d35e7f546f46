"""Scheduler bench: public instances vs best known values, side by side with PyJobShop.

Reads ``${HUNAR_SHARED_DIR:-<repo>/../shared}/bench``. Every schedule (ours and PyJobShop's) is
checked with ``scheduler.validate``. Examples:

    python bench/scheduler_bench.py --family jssp --only 'la0*' --time-limit 60 --workers 2
    python bench/scheduler_bench.py --family sdst --time-limit 20
    python bench/scheduler_bench.py --scale --time-limit 60
    python bench/scheduler_bench.py --smoke   # every table in seconds (below)

``--smoke`` runs the smallest instance of each family (ours and PyJobShop, 1 s each), then the
scale table on a 60-operation shop and the batching table on 30 parts.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scheduler.cpsat.objective import ObjectiveSpec  # noqa: E402
from scheduler.formats import read_any  # noqa: E402
from scheduler.generate import realistic_shop  # noqa: E402
from scheduler.solve import best_dispatch, solve  # noqa: E402
from scheduler.validate import compute_kpis, validate  # noqa: E402

FAMILIES = {
    "jssp": ("jssp", "*.txt"),
    "brandimarte": ("fjsp/brandimarte", "*.fjs"),
    "hurink_edata": ("fjsp/hurink_edata", "*.fjs"),
    "kacem": ("fjsp/kacem", "*.fjs"),
    "fattahi": ("fjsp/fattahi", "*.fjs"),
    "sdst": ("fjsp_sdst", "*.fjs"),
}


# --smoke: one small instance per family (both solvers run, both validated).
SMOKE_INSTANCES = {
    "jssp": "ft06",
    "brandimarte": "mk01",
    "hurink_edata": "la01",
    "kacem": "kacem1",
    "fattahi": "fattahi1",
    "sdst": "BrandimarteMk1",
}


def bench_dir() -> Path:
    base = os.environ.get("HUNAR_SHARED_DIR")
    root = Path(base) if base else (REPO / ".." / "shared")
    return (root / "bench").resolve()


def best_known(root: Path) -> dict[tuple[str, str], tuple[int, int]]:
    with open(root / "best_known.csv", newline="") as fh:
        return {
            (r["family"], r["instance"]): (int(r["lower_bound"]), int(r["upper_bound"]))
            for r in csv.DictReader(fh)
        }


def instances(root: Path, family: str | None, only: str | None) -> list[tuple[str, Path]]:
    out = []
    for fam, (folder, pattern) in FAMILIES.items():
        if family and fam != family:
            continue
        for path in sorted((root / folder).glob(pattern), key=_natural):
            if only and not fnmatch.fnmatch(path.stem, only):
                continue
            out.append((fam, path))
    return out


def _natural(p: Path) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.stem))


def run_instance(fam: str, path: Path, bks: dict, args) -> dict:
    problem = read_any(path)
    res = solve(problem, "makespan", time_limit_s=args.time_limit, workers=args.workers)
    ok = res.schedule is not None and not validate(problem, res.schedule)
    lb_ub = bks.get((fam, path.stem))
    ms = res.kpis.makespan if res.schedule else None
    row = {
        "family": fam,
        "instance": path.stem,
        "ops": len(problem.operations),
        "ours": ms,
        "lb": int(res.lower_bound) if res.lower_bound is not None else None,
        "status": res.status.value,
        "time": round(res.solve_seconds, 1),
        "valid": ok,
        "bks": lb_ub[1] if lb_ub else None,
        "gap": _gap(ms, lb_ub[1]) if lb_ub and ms else None,
    }
    if args.pyjobshop:
        from scheduler_pjs import solve_pyjobshop

        pjs = solve_pyjobshop(problem, args.time_limit, args.workers)
        row.update(
            {
                "pjs": int(pjs.makespan) if pjs.makespan is not None else None,
                "pjs_status": pjs.status,
                "pjs_time": round(pjs.seconds, 1),
                "pjs_valid": pjs.schedule is not None and not validate(problem, pjs.schedule),
                "pjs_gap": _gap(pjs.makespan, lb_ub[1]) if lb_ub and pjs.makespan else None,
            }
        )
    return row


def _gap(value: float | None, ref: int) -> float | None:
    return None if value is None else round(100.0 * (value - ref) / ref, 2)


COLS = (
    "family",
    "instance",
    "ops",
    "ours",
    "lb",
    "status",
    "time",
    "valid",
    "bks",
    "gap",
    "pjs",
    "pjs_status",
    "pjs_time",
    "pjs_valid",
    "pjs_gap",
)


def print_row(row: dict) -> None:
    print(" | ".join(f"{row.get(c, '')!s:>9}" for c in COLS), flush=True)


def summarise(rows: list[dict]) -> None:
    print("\nper family: mean gap to BKS % (ours / pyjobshop), proven optimal, sdst wins")
    for fam in dict.fromkeys(r["family"] for r in rows):
        rs = [r for r in rows if r["family"] == fam]
        ours = [r["gap"] for r in rs if r["gap"] is not None]
        pjs = [r["pjs_gap"] for r in rs if r.get("pjs_gap") is not None]
        opt = sum(r["status"] == "OPTIMAL" for r in rs)
        line = (
            f"{fam:>12}: n={len(rs)} ours mean={_mean(ours)} max={max(ours, default='-')} "
            f"pjs mean={_mean(pjs)} optimal={opt}/{len(rs)} "
            f"invalid={sum(not r['valid'] for r in rs)}"
        )
        both = [r for r in rs if r.get("pjs") is not None and r["ours"] is not None]
        if both:
            line += f" ours<=pjs on {sum(r['ours'] <= r['pjs'] for r in both)}/{len(both)}"
        print(line)


def _mean(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.2f}" if xs else "-"


def run_scale(args) -> None:
    problem = realistic_shop(args.scale_ops, args.scale_machines, seed=args.seed)
    t0 = time.perf_counter()
    base = best_dispatch(problem, ObjectiveSpec.parse("weighted_tardiness"))  # best of ATC/EDD
    t_base = time.perf_counter() - t0
    base_k = compute_kpis(problem, base)
    assert not validate(problem, base), "dispatch baseline invalid"
    res = solve(problem, "weighted_tardiness", time_limit_s=args.time_limit, workers=args.workers)
    valid = res.schedule is not None and not validate(problem, res.schedule)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wt = res.kpis.weighted_tardiness
    impr = 100.0 * (base_k.weighted_tardiness - wt) / max(base_k.weighted_tardiness, 1)
    print(f"scale {problem.name}: {len(problem.operations)} ops, {len(problem.machines)} machines")
    print("| metric | value |\n|---|---|")
    print(f"| dispatch baseline (best of ATC/EDD) time s | {t_base:.2f} |")
    print(f"| dispatch weighted tardiness | {base_k.weighted_tardiness} |")
    print(f"| CP-SAT first solution s (incl. model build) | {res.first_solution_seconds} |")
    print(f"| CP-SAT status @ {args.time_limit}s | {res.status.value} |")
    print(f"| CP-SAT weighted tardiness | {wt} |")
    print(f"| improvement vs dispatch % | {impr:.1f} |")
    print(f"| makespan dispatch / cp-sat | {base_k.makespan} / {res.kpis.makespan} |")
    print(f"| valid | {valid} |")
    plan = res.schedule if res.schedule is not None else base
    print(
        f"| capable-to-promise latency ms (3-step order, {len(problem.operations)} ops) | "
        f"{_promise_ms(problem, plan):.1f} |"
    )
    print(f"| peak RSS MB | {rss_mb:.0f} |")
    print(f"| total solve s | {res.solve_seconds} |")


def run_batching(args) -> None:
    """Plate batching savings on a seeded mix of small custom parts (250 x 210 mm plates)."""
    import random

    from scheduler.batching import Part, PlateSpec, batch_parts

    rng = random.Random(args.seed)
    parts = [
        Part(
            f"p{k}",
            f"line-{k // 2}",
            "fdm",
            rng.choice(("PLA", "PETG", "ABS")),
            rng.choice(("black", "white", "red", "grey")),
            rng.uniform(15, 120),
            rng.uniform(15, 90),
            rng.randint(20, 240),
        )
        for k in range(args.batch_parts)
    ]
    plate = PlateSpec(250, 210, margin=5, overhead_minutes=15, setup_minutes=20)
    t0 = time.perf_counter()
    r = batch_parts(parts, plate)
    secs = time.perf_counter() - t0
    print(
        f"| parts | plates | setups unbatched/batched | machine-h unbatched/batched | "
        f"saved h | pack s |\n|---|---|---|---|---|---|\n| {len(parts)} | {len(r.plates)} | "
        f"{r.setups_unbatched}/{r.setups_batched} | {r.minutes_unbatched / 60:.1f}/"
        f"{r.minutes_batched / 60:.1f} | {r.machine_minutes_saved / 60:.1f} | {secs:.2f} |"
    )


def _promise_ms(problem, plan) -> float:
    from scheduler.problem import Job, Operation
    from scheduler.promise import promise

    print_m = [m.id for m in problem.machines][:2]
    last_m = problem.machines[-1].id
    job = Job(
        "ctp",
        (
            Operation("ctp.0", "ctp", {m: 120 for m in print_m}),
            Operation("ctp.1", "ctp", {last_m: 15}),
        ),
        release=0,
        due=10_000,
    )
    r = promise(problem, plan, job)
    assert r.ok, r.diagnostics
    return r.seconds * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", help="fnmatch pattern on instance name, e.g. 'la0*'")
    ap.add_argument("--family", choices=sorted(FAMILIES))
    ap.add_argument("--no-pyjobshop", dest="pyjobshop", action="store_false")
    ap.add_argument("--scale", action="store_true", help="run the realistic-shop scale bench")
    ap.add_argument("--scale-ops", type=int, default=2000)
    ap.add_argument("--scale-machines", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batching", action="store_true", help="plate batching savings table")
    ap.add_argument("--batch-parts", type=int, default=300)
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="one small instance per family (1 s), then a small scale and batching table",
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if args.smoke:
        return run_smoke(args)
    if args.scale:
        run_scale(args)
        return 0
    if args.batching:
        run_batching(args)
        return 0
    root = bench_dir()
    if not root.is_dir():
        print(f"benchmark folder {root} not found (set HUNAR_SHARED_DIR)", file=sys.stderr)
        return 2
    run_table(root, instances(root, args.family, args.only), args)
    return 0


def run_table(root: Path, chosen: list[tuple[str, Path]], args) -> list[dict]:
    bks = best_known(root)
    print(f"time limit {args.time_limit}s, workers {args.workers}, bench {root}")
    print(" | ".join(f"{c:>9}" for c in COLS))
    rows = []
    for fam, path in chosen:
        row = run_instance(fam, path, bks, args)
        print_row(row)
        rows.append(row)
    summarise(rows)
    return rows


def run_smoke(args) -> int:
    """Every table at its smallest: a broken reader, solver, peer or printer fails it."""
    root = bench_dir()
    if not root.is_dir():
        print(f"benchmark folder {root} not found (set HUNAR_SHARED_DIR)", file=sys.stderr)
        return 2
    args.time_limit, args.pyjobshop = 1.0, True
    chosen = [x for fam, name in SMOKE_INSTANCES.items() for x in instances(root, fam, name)]
    missing = sorted(set(SMOKE_INSTANCES) - {fam for fam, _ in chosen})
    if missing:
        print(f"smoke instances missing under {root}: {missing}", file=sys.stderr)
        return 2
    rows = run_table(root, chosen, args)
    # ours must find a valid plan; PyJobShop may find none in 1 s (sdst), but what it finds
    # must pass our validate
    bad = [r["instance"] for r in rows if not r["valid"] or (r["pjs"] and not r["pjs_valid"])]
    print()
    args.scale_ops, args.scale_machines, args.time_limit = 60, 6, 2.0
    run_scale(args)
    print()
    args.batch_parts = 30
    run_batching(args)
    if bad:
        print(
            f"no valid schedule of ours, or an invalid one of PyJobShop's: {bad}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
