"""A seeded generator of realistic made-to-order shops: stages of machines, flexible routings,
setup families (process + material + colour), due dates, calendars and frozen work in progress.

Used by the scale bench (2,000 operations on 40 machines) and, small, by tests.
"""

from __future__ import annotations

import random

from .problem import FrozenAssignment, Job, Machine, Operation, Problem, SetupMatrix, Window

STAGES = ("print", "post", "finish", "qc")
MATERIALS = ("PLA", "PETG", "ABS", "PA12")
COLOURS = ("black", "white", "grey", "red")


def realistic_shop(
    n_ops: int = 2000,
    n_machines: int = 40,
    seed: int = 1,
    frozen_share: float = 0.03,
    load: float = 0.85,
) -> Problem:
    """Jobs of 3-6 steps through the stages; each step runs on 2-3 machines of its stage.

    Setup families only matter on print machines (material/colour changes); machines have a
    nightly maintenance window and one random downtime; about ``frozen_share`` of the first
    steps are already running at time 0. Due dates are set so roughly ``load`` of the shop's
    capacity is needed to meet them, which makes tardiness a real trade-off.
    """
    rng = random.Random(seed)
    per_stage = _split(n_machines, len(STAGES))
    machines: list[Machine] = []
    stage_machines: dict[str, list[str]] = {}
    for stage, count in zip(STAGES, per_stage, strict=True):
        ids = [f"{stage}-{k}" for k in range(count)]
        stage_machines[stage] = ids
        for mid in ids:
            cal = [Window(d * 1440 + 1320, d * 1440 + 1380, "maintenance") for d in range(0, 30)]
            s = rng.randrange(1500, 6000)  # after any frozen work ends
            cal.append(Window(s, s + rng.randrange(60, 240), "downtime"))
            machines.append(Machine(mid, tuple(cal)))
    families = [f"fdm/{m}/{c}" for m in MATERIALS for c in COLOURS]
    setups = {}
    for mid in stage_machines["print"]:
        times = {a: {b: _changeover(a, b) for b in families} for a in families}
        setups[mid] = SetupMatrix(mid, times)
    jobs: list[Job] = []
    ops_made = 0
    j = 0
    total_work = 0
    while ops_made < n_ops:
        n = min(rng.randint(3, 6), n_ops - ops_made)
        fam = rng.choice(families)
        route = (
            ["print"] + [rng.choice(STAGES[1:3]) for _ in range(max(n - 2, 0))] + ["qc"][: n - 1]
        )
        ops = []
        for k, stage in enumerate(route):
            cands = rng.sample(
                stage_machines[stage], k=min(rng.randint(2, 3), len(stage_machines[stage]))
            )
            base = rng.randint(60, 480) if stage == "print" else rng.randint(10, 90)
            elig = {m: max(1, int(base * rng.uniform(0.85, 1.25))) for m in cands}
            ops.append(
                Operation(
                    f"j{j}.{k}", f"j{j}", elig, setup_family=fam if stage == "print" else None
                )
            )
            total_work += min(elig.values())
        release = rng.randrange(0, 2880)
        jobs.append(
            Job(
                f"j{j}",
                tuple(ops),
                release=release,
                weight=rng.choice((1, 1, 2, 3)),
                priority=0,
                due=0,
            )
        )
        ops_made += n
        j += 1
    horizon_guess = int(total_work / (n_machines * load))
    jobs = [_with_due(job, rng, horizon_guess) for job in jobs]
    jobs = _freeze_some(jobs, rng, frozen_share)
    return Problem(tuple(jobs), tuple(machines), setups, name=f"shop{n_ops}x{n_machines}s{seed}")


def _split(n: int, k: int) -> list[int]:
    """Print-heavy split of machines over stages."""
    weights = (0.4, 0.25, 0.2, 0.15)
    counts = [max(1, int(n * w)) for w in weights[:k]]
    counts[0] += n - sum(counts)
    return counts


def _changeover(a: str, b: str) -> int:
    if a == b:
        return 0
    _, ma, ca = a.split("/")
    _, mb, cb = b.split("/")
    return (30 if ma != mb else 0) + (15 if ca != cb else 0)


def _with_due(job: Job, rng: random.Random, horizon: int) -> Job:
    work = sum(o.min_duration for o in job.operations)
    due = job.release + work + rng.randrange(0, max(horizon, 1))
    return Job(job.id, job.operations, job.release, due, job.weight, job.priority)


def _freeze_some(jobs: list[Job], rng: random.Random, share: float) -> list[Job]:
    """First steps already running at time 0 on a distinct machine each (work in progress)."""
    used: set[str] = set()
    out = []
    for job in jobs:
        first = job.operations[0]
        free = [m for m in first.eligible if m not in used]
        if rng.random() < share and free:
            used.add(free[0])
            op = Operation(
                first.id,
                first.job_id,
                first.eligible,
                first.setup_family,
                FrozenAssignment(free[0], 0),
            )
            job = Job(job.id, (op,) + job.operations[1:], 0, job.due, job.weight, job.priority)
        out.append(job)
    return out
