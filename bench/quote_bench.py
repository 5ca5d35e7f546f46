"""Quote truth bench: does the price quoted before CAD match what the slicer and CAD measure?

Run: ``.venv/bin/python bench/quote_bench.py [--n 160] [--seed 13] [--workers 2] [--smoke]``

Draws ``--n`` accepted, feasible designs at random across every family and process (fixed seed,
built fresh every run: no cache), builds each with CadQuery, exports STL and slices the FDM
ones with PrusaSlicer on the repo profiles, in ``--workers`` processes. Per family and process:

* time and grams: quoted before CAD (configurator.print_model via routing/pricing) / slicer,
  median, p5, p95, share within +-15 % and count outside +-25 % (target: >= 95 % within 15 %,
  none outside 25 %);
* price jump: the unit price quoted before CAD vs the one with measured metrics (what orders/
  prices once the CAD job has run), share within +-10 %;
* G-code files with a move outside the bed (cad.gcode_check; "n/a" if that module is absent);
* throughput: designs per minute through build + export + slice with the worker pool.

``--smoke`` runs 8 designs (one per family) with one worker: the same tables in well under a
minute of work.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import configurator.families  # noqa: E402,F401
from configurator import GeometryMetrics, MachineSpec, Process, feasible, quote  # noqa: E402
from configurator.materials import get_material  # noqa: E402
from configurator.model import Configuration  # noqa: E402
from configurator.pricebook import pricebook  # noqa: E402
from configurator.print_model import fdm_estimate  # noqa: E402
from configurator.registry import all_families, get_family  # noqa: E402
from configurator.routing import primary_minutes  # noqa: E402
from configurator.samples import random_config  # noqa: E402

SHOP = [
    MachineSpec("mk4", "Prusa MK4", Process.FDM, ("pla", "petg", "abs"), (250, 210, 220)),
    MachineSpec("form3", "Form 3", Process.RESIN, ("resin",), (145, 145, 185)),
    MachineSpec("vmc", "Mini mill", Process.CNC, ("aluminium_6061",), (400, 300, 250)),
    MachineSpec("co2", "CO2 laser", Process.LASER, ("acrylic", "plywood"), (600, 400, 6)),
]
FDM_BED_MM = (250.0, 210.0, 220.0)


def draw(n: int, seed: int) -> list[Configuration]:
    """``n`` distinct accepted designs this shop can make, round-robin over the families."""
    rng = random.Random(seed)
    families = all_families()
    out: dict[str, Configuration] = {}
    misses = 0
    while len(out) < n and misses < 50 * n:
        fam = families[len(out) % len(families)]
        cfg = random_config(fam, rng)
        if cfg is None or cfg.config_hash in out or not feasible(cfg, SHOP).ok:
            misses += 1
            continue
        out[cfg.config_hash] = cfg
    return list(out.values())


def make(canonical: str) -> dict[str, Any]:
    """Worker: build, export and (FDM) slice one design; exact metrics and slicer numbers."""
    from cad import export as ex
    from cad.build import build
    from cad.slicing import (
        SlicerUnavailable,
        SliceSettings,
        SlicingError,
        slice_checked,
        slicer_timeout_s,
    )

    cfg = Configuration.from_canonical_json(canonical)
    t0 = time.perf_counter()
    built = build(cfg)
    if not built.ok or built.shape is None:
        return {"error": f"build: {built.error}", "seconds": time.perf_counter() - t0}
    shape = built.shape
    bb = shape.BoundingBox()
    rec: dict[str, Any] = {
        "volume": shape.Volume(),
        "area": shape.Area(),
        "bbox": (bb.xlen, bb.ylen, bb.zlen),
    }
    if cfg.values["process"] == Process.FDM.value:
        mat = get_material(str(cfg.values["material"]))
        with tempfile.TemporaryDirectory(prefix="hunar-quote-bench-") as tmp:
            stl, gcode = Path(tmp) / "part.stl", Path(tmp) / "part.gcode"
            # placed and turned as cad/pipeline.py does: the first FDM machine it fits
            placement = SHOP[0].placement(rec["bbox"])
            settings = SliceSettings(
                mat.key, mat.density_g_cm3, FDM_BED_MM, rotate_deg=placement.rotate_deg
            )
            try:
                mesh = ex.shape_to_mesh(shape)
                ex.export_stl(mesh, stl)
                timeout = slicer_timeout_s(bb.zlen, len(mesh.faces))
                sliced, check = slice_checked(stl, gcode, settings, timeout)
            except (ex.ExportError, SlicingError, SlicerUnavailable) as exc:
                return {"error": f"slice: {exc}"[:300], "seconds": time.perf_counter() - t0}
            rec |= {"minutes": sliced.print_minutes, "grams": sliced.filament_g}
            rec["gcode_ok"] = check.ok
    rec["seconds"] = time.perf_counter() - t0
    return rec


def compare(cfg: Configuration, made: dict[str, Any]) -> dict[str, Any]:
    """Quoted (pre-CAD) vs measured: time and grams ratios (FDM) and the unit-price jump."""
    family = get_family(cfg.family_key)
    process = Process(cfg.values["process"])
    est = family.estimate(cfg.values)
    measured = GeometryMetrics(
        volume_mm3=made["volume"],
        area_mm2=made["area"],
        bbox_mm=tuple(made["bbox"]),
        print_minutes=made.get("minutes"),
        filament_g=made.get("grams"),
    )
    before = quote(cfg, 1, "standard").unit_price
    after = quote(cfg, 1, "standard", measured).unit_price
    row: dict[str, Any] = {"jump": float(before / after) - 1.0 if after else math.inf}
    if process is Process.FDM and "minutes" in made:
        mat = get_material(str(cfg.values["material"]))
        grams = fdm_estimate(est.volume_mm3, est.area_mm2, est.bbox_mm, 0.20, mat.density_g_cm3)
        row["time"] = primary_minutes(process, est, pricebook()) / made["minutes"]
        row["grams"] = grams.grams / made["grams"]
        row["gcode_ok"] = made.get("gcode_ok")
    return row


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _ratio_cells(xs: list[float]) -> str:
    if not xs:
        return f"{'-':>6} {'-':>6} {'-':>6} {'-':>6} {'-':>4}"
    within = 100 * sum(abs(x - 1) <= 0.15 for x in xs) / len(xs)
    outside = sum(abs(x - 1) > 0.25 for x in xs)
    return (
        f"{statistics.median(xs):6.2f} {_pct(xs, 0.05):6.2f} {_pct(xs, 0.95):6.2f} "
        f"{within:5.0f}% {outside:4d}"
    )


def report(rows: list[tuple[Configuration, dict[str, Any]]]) -> dict[str, list[float]]:
    """Print the per family x process table; return the pooled FDM ratios and jumps."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for cfg, row in rows:
        groups[(cfg.family_key, str(cfg.values["process"]))].append(row)
    groups[("ALL", "all")] = [row for _, row in rows]
    ratio = "median     p5    p95  ±15% >25%"
    print(
        f"{'family':13} {'process':7} {'n':>3} | time quoted/slicer {ratio} "
        f"| grams quoted/slicer {ratio} | price jump ±10% | off-bed G-code"
    )
    for (fam, proc), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] == "ALL", kv[0])):
        times = [r["time"] for r in rs if "time" in r]
        grams = [r["grams"] for r in rs if "grams" in r]
        jumps = [r["jump"] for r in rs]
        in10 = 100 * sum(abs(j) <= 0.10 for j in jumps) / len(jumps)
        checked = [r["gcode_ok"] for r in rs if r.get("gcode_ok") is not None]
        bed = f"{sum(not ok for ok in checked)}/{len(checked)}" if times else "-"
        print(
            f"{fam:13} {proc:7} {len(rs):3d} | {'':18} {_ratio_cells(times)} "
            f"| {'':19} {_ratio_cells(grams)} | {in10:14.0f}% | {bed:>14}"
        )
    every = groups[("ALL", "all")]
    return {
        "time": [r["time"] for r in every if "time" in r],
        "grams": [r["grams"] for r in every if "grams" in r],
        "jump": [r["jump"] for r in every],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=160, help="designs to draw (all families)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--workers", type=int, default=2, help="build+slice processes")
    ap.add_argument("--smoke", action="store_true", help="8 designs, 1 worker: a quick check")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.workers = len(all_families()), 1
    from cad.slicing import slicer_version

    version = slicer_version()
    if version is None:
        sys.exit("quote bench: prusa-slicer is not installed (make system-deps)")
    designs = draw(args.n, args.seed)
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        made = list(pool.map(make, [c.canonical_json() for c in designs]))
    wall = time.perf_counter() - t0
    failed = [(c, m) for c, m in zip(designs, made, strict=True) if "error" in m]
    rows = [(c, compare(c, m)) for c, m in zip(designs, made, strict=True) if "error" not in m]
    n_fdm = sum(1 for c in designs if c.values["process"] == Process.FDM.value)
    print(
        f"quote bench: {len(designs)} designs ({n_fdm} FDM), seed {args.seed}, {version}, "
        f"{args.workers} workers, {len(failed)} failed"
    )
    for cfg, m in failed:
        print(f"  failed: {cfg.family_key} {cfg.config_hash[:10]}: {m['error']}")
    pooled = report(rows)
    per_min = len(designs) / wall * 60
    fdm_s = [m["seconds"] for c, m in zip(designs, made, strict=True) if "minutes" in m]
    print(
        f"throughput: {per_min:.1f} designs/min with {args.workers} workers "
        f"({wall:.0f} s wall; FDM build+export+slice median {statistics.median(fdm_s or [0]):.1f} s)"
    )
    for key, limit in (("time", 0.15), ("grams", 0.15)):
        xs = pooled[key]
        if xs:
            within = sum(abs(x - 1) <= limit for x in xs) / len(xs)
            worst = max(abs(x - 1) for x in xs)
            verdict = "OK" if within >= 0.95 and worst <= 0.25 else "MISSED"
            print(
                f"target {key}: >= 95% within ±15%, none outside ±25%: "
                f"{within:.0%} within, worst {worst:.0%} off -> {verdict}"
            )


if __name__ == "__main__":
    main()
