"""Configurator bench: validate + feasibility + price on 10,000 random configurations.

Valid and invalid inputs across all families, no geometry (analytic pricing). Prints p50/p95/p99
per call in milliseconds. Target on the 2-core box: p95 <= 5 ms for the combined call.

    .venv/bin/python bench/configurator_bench.py [--n 10000] [--seed 1] [--smoke]

``--smoke`` runs 200 configurations (every family, valid and invalid): the same table in a second.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict

import configurator
from configurator import MachineSpec, Process, all_families, feasible, quote, validate
from configurator.samples import random_raw

SHOP = [
    MachineSpec("mk4-1", "Prusa MK4 #1", Process.FDM, ("pla", "petg", "abs"), (250, 210, 220)),
    MachineSpec("mk4-2", "Prusa MK4 #2", Process.FDM, ("pla", "petg"), (250, 210, 220)),
    MachineSpec("form3", "Form 3", Process.RESIN, ("resin",), (145, 145, 185)),
    MachineSpec("vmc", "Mini mill", Process.CNC, ("aluminium_6061",), (400, 300, 250)),
    MachineSpec("co2", "CO2 laser", Process.LASER, ("acrylic", "plywood"), (600, 400, 6)),
]
TARGET_P95_MS = 5.0


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(n: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    families = all_families()
    timings: dict[str, list[float]] = defaultdict(list)
    for i in range(n):
        fam = families[i % len(families)]
        raw = random_raw(fam, rng, junk_rate=rng.choice((0.0, 0.0, 0.05, 0.3)))
        qty = rng.choice((1, 5, 20, 100))
        tier = rng.choice(("economy", "standard", "express"))
        t0 = time.perf_counter()
        res = validate(fam.key, raw)
        t1 = time.perf_counter()
        timings["validate"].append((t1 - t0) * 1e3)
        if res.config is not None:
            feas = feasible(res.config, SHOP, qty)
            t2 = time.perf_counter()
            q = quote(res.config, qty, tier)
            t3 = time.perf_counter()
            assert q.total > 0 and isinstance(feas.ok, bool)
            timings["feasible"].append((t2 - t1) * 1e3)
            timings["quote"].append((t3 - t2) * 1e3)
            timings[f"all:{fam.key}"].append((t3 - t0) * 1e3)
        else:
            timings[f"all:{fam.key}"].append((t1 - t0) * 1e3)
        timings["all (validate+feasible+quote)"].append((time.perf_counter() - t0) * 1e3)
        timings["_valid"].append(1.0 if res.ok else 0.0)
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="200 configurations (a quick check)")
    args = ap.parse_args()
    if args.smoke:
        args.n = 200
    # warm caches (materials, price book) so the first call does not skew p99
    quote(validate("enclosure", {}).config, 1, "standard")
    t = time.perf_counter()
    timings = run(args.n, args.seed)
    wall = time.perf_counter() - t
    valid = statistics.fmean(timings.pop("_valid"))
    print(
        f"configurator bench: {args.n} configs, {valid:.0%} valid, {len(configurator.all_families())} families, "
        f"{wall:.1f} s wall"
    )
    print(f"{'call':34} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name in sorted(timings, key=lambda k: (k.startswith("all:"), k)):
        s = timings[name]
        print(
            f"{name:34} {len(s):6d} {_pct(s, 0.5):8.3f} {_pct(s, 0.95):8.3f} {_pct(s, 0.99):8.3f} {max(s):8.3f}"
        )
    p95 = _pct(timings["all (validate+feasible+quote)"], 0.95)
    verdict = "OK" if p95 <= TARGET_P95_MS else "MISSED"
    print(f"target p95 <= {TARGET_P95_MS} ms per combined call: {p95:.3f} ms -> {verdict}")


if __name__ == "__main__":
    main()
