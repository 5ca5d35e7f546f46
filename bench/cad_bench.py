"""CAD pipeline bench: per family cold build+export, GLB preview latency, cache-hit latency.

Run: ``.venv/bin/python bench/cad_bench.py [--per-family N] [--families a,b]``

* cold build+export = build() + tessellation + STEP + STL + GLB for a configuration never
  built before in this process (warm interpreter; slicing excluded), target median <= 1.0 s;
* preview = run_pipeline start until the GLB artifact is stored;
* cache hit = run_pipeline for a configuration already complete in the store, target <= 20 ms.

``--queue`` adds throughput with 1 and 2 real RQ workers against a private redis-server
(started on a free port for the run, keeping nothing on disk) and the peak RSS of one worker
after ``--rss-builds`` builds with and without ``--max-jobs`` recycling. The job is the bench's
own ``bench_job`` (run_pipeline without the database); ``orders.jobs.build_artifacts`` adds a
few row writes on top of it.

``--smoke`` walks every section (queue included) at the smallest size: two families, one
design each; in the queue section, 2 forking workers and a SimpleWorker recycled after 1 job.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import configurator.families  # noqa: E402,F401
from cad import export as ex  # noqa: E402
from cad.build import build  # noqa: E402
from cad.pipeline import run_pipeline  # noqa: E402
from cad.store import LocalArtifactStore  # noqa: E402
from configurator.machines import MachineSpec  # noqa: E402
from configurator.model import Configuration  # noqa: E402
from configurator.params import Boolean, Choice, Integer, MaterialParam, Number, NumberChoice  # noqa: E402
from configurator.processes import Process  # noqa: E402
from configurator.registry import all_families, get_family  # noqa: E402
from configurator.validation import validate  # noqa: E402

MACHINES = [
    MachineSpec("mk4", "Prusa MK4", Process.FDM, ("pla", "petg", "abs"), (250, 210, 220)),
    MachineSpec("form3", "Form 3", Process.RESIN, ("resin",), (145, 145, 185)),
    MachineSpec("haas", "Haas mill", Process.CNC, ("aluminium_6061",), (500, 400, 300)),
    MachineSpec("co2", "CO2 laser", Process.LASER, ("acrylic", "plywood"), (600, 400, 10)),
]


def _draw(param: Any, rng: random.Random) -> Any:
    if rng.random() < 0.6:
        return param.default
    if isinstance(param, Number):
        steps = round((param.max - param.min) / param.step)
        return round(param.min + rng.randint(0, steps) * param.step, 6)
    if isinstance(param, Integer):
        return rng.randint(param.min, param.max)
    if isinstance(param, Boolean):
        return rng.random() < 0.5
    if isinstance(param, Choice | NumberChoice | MaterialParam):
        return rng.choice(param.options)
    return param.default


def sample_configs(family_key: str, n: int, seed: int = 7) -> list[Configuration]:
    """``n`` distinct accepted configurations (the default first), deterministic per seed."""
    family = get_family(family_key)
    rng = random.Random(seed)
    out: dict[str, Configuration] = {}
    first = validate(family_key, family.default_raw())
    if first.ok:
        out[first.config.config_hash] = first.config
    for _ in range(400 * n):
        if len(out) >= n:
            break
        raw = {p.name: _draw(p, rng) for p in family.params}
        raw["colour"] = None
        result = validate(family_key, raw)
        if result.ok:
            out.setdefault(result.config.config_hash, result.config)
    return list(out.values())


def cold_build_export(config: Configuration, work: Path) -> float:
    """Seconds for build + tessellation + STEP + STL + GLB (no analysis, no slicing)."""
    start = time.perf_counter()
    built = build(config)
    if not built.ok:
        raise RuntimeError(f"{config.family_key} failed to build: {built.error}")
    mesh = ex.shape_to_mesh(built.shape)
    ex.export_step(built.shape, work / "p.step")
    ex.export_stl(mesh, work / "p.stl")
    ex.export_glb(mesh, work / "p.glb")
    return time.perf_counter() - start


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def bench_family(family_key: str, n: int, root: Path) -> dict[str, Any]:
    configs = sample_configs(family_key, n)
    store = LocalArtifactStore(root / family_key)
    cold, preview, full, hits = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            cold.append(cold_build_export(config, Path(tmp)))
    for config in configs:  # a fresh store, so these are cold pipeline runs
        t0 = time.perf_counter()
        marks: dict[str, float] = {}
        result = run_pipeline(
            config,
            store,
            MACHINES,
            use_slicer=False,
            on_artifact=lambda r, m=marks, t=t0: m.setdefault(r.kind, time.perf_counter() - t),
        )
        assert result.ok and not result.cache_hit, result.error
        full.append(time.perf_counter() - t0)
        preview.append(marks["glb"])
    for _ in range(5):
        for config in configs:
            t0 = time.perf_counter()
            result = run_pipeline(config, store, MACHINES)
            hits.append(time.perf_counter() - t0)
            assert result.cache_hit
    return {
        "family": family_key,
        "n": len(configs),
        "cold_med": statistics.median(cold),
        "cold_p95": _p95(cold),
        "preview_med": statistics.median(preview),
        "pipeline_med": statistics.median(full),
        "hit_med_ms": statistics.median(hits) * 1000,
        "hit_p95_ms": _p95(hits) * 1000,
    }


# --- queue section: a private Redis, real RQ worker processes -------------------------------

SMOKE_FAMILIES = "bracket,pipe_flange"


@contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of our own on a free port (nothing saved), so no shared queue is touched."""
    import socket
    import subprocess

    from redis import Redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="cadbench-redis-") as tmp:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    Redis.from_url(url).ping()
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"private redis-server on port {port} did not start"
                        ) from None
                    time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def bench_job(canonical_json: str, root: str) -> dict[str, Any]:
    """The RQ job the bench enqueues: one cold pipeline run (no slicing) plus the worker's RSS."""
    import os

    import psutil

    config = Configuration.from_canonical_json(canonical_json)
    start = time.perf_counter()
    result = run_pipeline(config, LocalArtifactStore(root), MACHINES, use_slicer=False)
    return {
        "ok": result.ok,
        "seconds": time.perf_counter() - start,
        "pid": os.getpid(),
        "rss_mb": psutil.Process().memory_info().rss / 1e6,
    }


def rq_worker_main(queue_name: str, simple: bool, max_jobs: int | None, redis_url: str) -> None:
    """A worker process with cad preloaded, so forked work horses do not re-import CadQuery."""
    from redis import Redis
    from rq import Queue, SimpleWorker, Worker

    conn = Redis.from_url(redis_url)
    cls = SimpleWorker if simple else Worker
    worker = cls([Queue(queue_name, connection=conn)], connection=conn)
    worker.work(burst=True, max_jobs=max_jobs, logging_level="WARNING")


def run_queue(
    configs: list[Configuration],
    workers: int,
    simple: bool,
    redis_url: str,
    max_jobs: int | None = None,
) -> dict[str, Any]:
    """Enqueue every config, run ``workers`` burst workers (respawned when --max-jobs recycles
    them) until the queue is drained; throughput from first job start to last job end."""
    import subprocess
    import uuid

    from redis import Redis
    from rq import Queue

    conn = Redis.from_url(redis_url)
    conn.ping()  # a missing Redis must fail loudly
    name = f"cadbench-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, connection=conn)
    env = {**__import__("os").environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rq-worker", name]
    cmd += ["--redis-url", redis_url]
    cmd += ["--simple"] if simple else []
    cmd += ["--max-jobs", str(max_jobs)] if max_jobs else []
    with tempfile.TemporaryDirectory() as root:
        jobs = [
            queue.enqueue(
                "cad_bench.bench_job", c.canonical_json(), root, job_timeout=120, result_ttl=600
            )
            for c in configs
        ]
        procs = [subprocess.Popen(cmd, env=env) for _ in range(workers)]
        while procs:
            for p in list(procs):
                if p.poll() is not None:
                    procs.remove(p)
                    if queue.count > 0:  # recycled by --max-jobs: start a fresh worker
                        procs.append(subprocess.Popen(cmd, env=env))
            time.sleep(0.2)
    for job in jobs:
        job.refresh()
    results = [j.return_value() for j in jobs]
    failed = sum(1 for r in results if not (r and r["ok"]))
    starts = [j.started_at for j in jobs if j.started_at]
    ends = [j.ended_at for j in jobs if j.ended_at]
    span = (max(ends) - min(starts)).total_seconds()
    queue.delete(delete_jobs=True)
    rss = [r["rss_mb"] for r in results if r]
    return {
        "n": len(configs),
        "failed": failed,
        "per_min": len(configs) / span * 60,
        "peak_rss_mb": max(rss),
        "last_rss_mb": rss[-1] if rss else 0.0,
    }


def queue_section(
    keys: list[str], per_family: int, rss_builds: int, recycle_after: int = 50, smoke: bool = False
) -> None:
    """Throughput with 1 and 2 workers, and worker RSS after ``rss_builds`` builds.

    The smoke run keeps one row per code path (worker processes cost an import of CadQuery
    each): 2 forking workers, and 1 SimpleWorker recycled by --max-jobs (a respawn)."""
    pool = [
        c
        for k in keys
        for c in sample_configs(k, max(per_family, rss_builds // len(keys) + 1), seed=11)
    ]
    tput = pool[: per_family * len(keys)]
    print()
    print(
        f"{'queue run (private Redis, cold, no slicing)':52} {'n':>4} {'fail':>4} {'cfg/min':>8} {'peak RSS MB':>11}"
    )
    runs = [
        ("1 worker, fork per job (cad preloaded)", tput, 1, False, None),
        ("2 workers, fork per job (cad preloaded)", tput, 2, False, None),
        (f"1 SimpleWorker, {rss_builds} builds, no recycling", pool[:rss_builds], 1, True, None),
        (
            f"1 SimpleWorker, {rss_builds} builds, --max-jobs {recycle_after}",
            pool[:rss_builds],
            1,
            True,
            recycle_after,
        ),
    ]
    if smoke:
        runs = [runs[1], runs[3]]
    failed = 0
    with private_redis() as redis_url:
        for label, configs, workers, simple, max_jobs in runs:
            r = run_queue(configs, workers, simple, redis_url, max_jobs)
            failed += r["failed"]
            print(
                f"{label:52} {r['n']:>4} {r['failed']:>4} {r['per_min']:>8.1f} {r['peak_rss_mb']:>11.0f}",
                flush=True,
            )
    if failed:
        raise SystemExit(f"{failed} queued build(s) failed")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-family", type=int, default=6)
    parser.add_argument("--families", default="")
    parser.add_argument("--queue", action="store_true", help="also run the RQ section")
    parser.add_argument("--rss-builds", type=int, default=200)
    parser.add_argument("--max-jobs-recycle", type=int, default=50, help="RSS row's --max-jobs")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"smallest run of every section ({SMOKE_FAMILIES}, 1 design each; --queue with "
        "2 forking workers, and 2 builds on a SimpleWorker recycled after 1)",
    )
    parser.add_argument("--rq-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--simple", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--max-jobs", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rq_worker:
        rq_worker_main(args.rq_worker, args.simple, args.max_jobs, args.redis_url)
        return
    if args.smoke:
        args.families, args.per_family, args.queue = SMOKE_FAMILIES, 1, True
        args.rss_builds, args.max_jobs_recycle = 2, 1
    keys = args.families.split(",") if args.families else [f.key for f in all_families()]
    build(sample_configs(keys[0], 1)[0])  # warm-up: imports, fonts, OCCT statics
    header = (
        f"{'family':14} {'n':>3} {'cold med s':>10} {'cold p95 s':>10} {'preview s':>9} "
        f"{'pipeline s':>10} {'hit med ms':>10} {'hit p95 ms':>10}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="cadbench-") as root:
        for key in keys:
            r = bench_family(key, args.per_family, Path(root))
            print(
                f"{r['family']:14} {r['n']:>3} {r['cold_med']:>10.3f} {r['cold_p95']:>10.3f} "
                f"{r['preview_med']:>9.3f} {r['pipeline_med']:>10.3f} {r['hit_med_ms']:>10.2f} "
                f"{r['hit_p95_ms']:>10.2f}",
                flush=True,
            )
    print("targets: cold build+STEP/STL/GLB median <= 1.0 s per family; cache hit <= 20 ms")
    print("pipeline = build, exports, analysis (no slicing: use_slicer=False)")
    if args.queue:
        queue_section(keys, args.per_family, args.rss_builds, args.max_jobs_recycle, args.smoke)
    else:
        print("queue throughput / worker RSS: run with --queue (starts a private redis-server)")


if __name__ == "__main__":
    main()
