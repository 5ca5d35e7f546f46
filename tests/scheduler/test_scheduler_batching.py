"""Plate batching: packed parts never overlap, keep their margins, stay traceable."""

from __future__ import annotations

import itertools
import random

import pytest

from scheduler.batching import BatchReport, MaxRects, Part, PlateSpec, batch_parts


def _parts(n: int, seed: int = 1) -> list[Part]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        mat, col = rng.choice(["PLA", "PETG"]), rng.choice(["black", "white"])
        out.append(
            Part(
                f"p{k}",
                f"line-{k // 3}",
                "fdm",
                mat,
                col,
                rng.uniform(10, 90),
                rng.uniform(10, 60),
                rng.randint(20, 200),
            )
        )
    return out


def _check_geometry(report: BatchReport, plate: PlateSpec) -> None:
    m = plate.margin
    for pl in report.plates:
        ps = pl.placements
        for a in ps:
            assert a.x >= m - 1e-9 and a.y >= m - 1e-9
            assert a.x + a.width <= plate.width - m + 1e-9
            assert a.y + a.depth <= plate.depth - m + 1e-9
        for a, b in itertools.combinations(ps, 2):
            apart = (
                a.x + a.width + m <= b.x + 1e-9
                or b.x + b.width + m <= a.x + 1e-9
                or a.y + a.depth + m <= b.y + 1e-9
                or b.y + b.depth + m <= a.y + 1e-9
            )
            assert apart, (a, b)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_packing_is_sound_and_traceable(seed: int) -> None:
    parts = _parts(60, seed)
    plate = PlateSpec(250, 210, margin=5)
    r = batch_parts(parts, plate)
    _check_geometry(r, plate)
    placed = [pl for plate_ in r.plates for pl in plate_.placements]
    assert sorted(p.part_id for p in placed) == sorted(p.id for p in parts)
    lines = {p.id: p.order_line_id for p in parts}
    assert all(pl.order_line_id == lines[pl.part_id] for pl in placed)
    fam = {p.id: p.family for p in parts}
    for plate_ in r.plates:
        assert {fam[i] for i in plate_.part_ids} == {plate_.family}


def test_savings_are_reported_against_unbatched() -> None:
    parts = _parts(40)
    plate = PlateSpec(250, 210, margin=5, overhead_minutes=15, setup_minutes=20)
    r = batch_parts(parts, plate)
    assert r.setups_unbatched == 40 and r.setups_batched == len(r.plates) < 40
    assert r.setups_saved == 40 - len(r.plates)
    assert r.machine_minutes_saved == (40 - len(r.plates)) * (15 + 20)


def test_families_never_mix_and_oversize_parts_are_listed() -> None:
    a = Part("a", "l1", "fdm", "PLA", "red", 20, 20, 30)
    b = Part("b", "l2", "fdm", "PLA", "blue", 20, 20, 30)
    huge = Part("h", "l3", "fdm", "PLA", "red", 400, 20, 30)
    r = batch_parts([a, b, huge], PlateSpec(100, 100))
    assert len(r.plates) == 2 and r.unplaceable == ("h",)


def test_rotation_lets_a_long_part_fit() -> None:
    packer = MaxRects(50, 100)
    assert packer.insert(90, 40) == (0.0, 0.0, True)


def test_exact_fill_without_margin() -> None:
    parts = [Part(f"q{k}", "l", "fdm", "PLA", "red", 50, 50, 10) for k in range(4)]
    r = batch_parts(parts, PlateSpec(100, 100, margin=0))
    assert len(r.plates) == 1


def test_bad_part_dimensions_name_the_part() -> None:
    with pytest.raises(ValueError, match="part z"):
        Part("z", "l", "fdm", "PLA", "red", 0, 10, 5)


def test_plates_become_schedulable_jobs_with_their_family() -> None:
    from scheduler.batching import plate_job
    from scheduler.problem import Machine, Problem
    from scheduler.solve import solve
    from scheduler.validate import validate

    r = batch_parts(_parts(30), PlateSpec(250, 210))
    jobs = tuple(plate_job(pl, {"p1": 1.0, "p2": 1.5}, due=600) for pl in r.plates)
    assert jobs[0].operations[0].setup_family == r.plates[0].family
    assert dict(jobs[0].operations[0].eligible)["p1"] == r.plates[0].minutes
    p = Problem(jobs, (Machine("p1"), Machine("p2")))
    res = solve(p, "weighted_tardiness", time_limit_s=5)
    assert res.status.has_solution and validate(p, res.schedule) == []
