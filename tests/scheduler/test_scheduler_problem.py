"""Self-validating dataclasses and the benchmark readers."""

from __future__ import annotations

import pytest
from sched_helpers import BENCH, chain, machines, needs_bench, op

from scheduler.formats import FormatError, read_fjs, read_fjs_sdst, read_jssp
from scheduler.problem import FrozenAssignment, Job, Machine, Problem, ProblemError, Window


def test_duplicate_operation_ids_are_rejected_naming_the_id() -> None:
    j1 = Job("a", (op("x", "a", {"m": 1}),))
    j2 = Job("b", (op("x", "b", {"m": 1}),))
    with pytest.raises(ProblemError, match="duplicate id 'x'"):
        Problem((j1, j2), machines("m"))


def test_operation_listed_under_the_wrong_job_is_rejected() -> None:
    with pytest.raises(ProblemError, match="operation\\[x\\].job_id"):
        Job("a", (op("x", "b", {"m": 1}),))


def test_inverted_window_and_bad_types_are_rejected() -> None:
    with pytest.raises(ProblemError, match="window"):
        Window(10, 5)
    with pytest.raises(ProblemError, match="must be an int"):
        op("x", "a", {"m": 1.5})
    with pytest.raises(ProblemError, match="release"):
        chain("a", [{"m": 1}], release=-1)


def test_frozen_machine_must_be_eligible() -> None:
    with pytest.raises(ProblemError, match="not eligible"):
        op("x", "a", {"m": 1}, frozen=FrozenAssignment("n", 0))


def test_unknown_after_reference_is_rejected() -> None:
    j = Job("a", (op("x", "a", {"m": 1}, after=("ghost",)),))
    with pytest.raises(ProblemError, match="ghost"):
        Problem((j,), machines("m"))


def test_calendar_windows_are_sorted_and_merged() -> None:
    m = Machine("m", (Window(30, 40), Window(0, 10), Window(5, 12)))
    assert [(w.start, w.end) for w in m.calendar] == [(0, 12), (30, 40)]


def test_predecessors_follow_route_plus_after_links() -> None:
    a = chain("a", [{"m": 1}, {"m": 1}])
    b = Job("b", (op("b.0", "b", {"m": 1}, after=("a.1",)),))
    p = Problem((a, b), machines("m"))
    assert p.predecessors() == {"a.0": [], "a.1": ["a.0"], "b.0": ["a.1"]}


@needs_bench
def test_read_jssp_ft06() -> None:
    p = read_jssp(BENCH / "jssp" / "ft06.txt")
    assert len(p.jobs) == 6 and len(p.machines) == 6
    assert len(p.operations) == 36
    assert dict(p.jobs[0].operations[0].eligible) == {"M2": 1}


@needs_bench
def test_read_fjs_mk01_machines_are_zero_based() -> None:
    p = read_fjs(BENCH / "fjsp" / "brandimarte" / "mk01.fjs")
    assert (len(p.jobs), len(p.machines), len(p.operations)) == (10, 6, 55)
    assert dict(p.jobs[0].operations[0].eligible) == {"M0": 5, "M2": 4}


@needs_bench
def test_read_fjs_sdst_setup_matrix_orientation() -> None:
    p = read_fjs_sdst(BENCH / "fjsp_sdst" / "BrandimarteMk1.fjs")
    assert len(p.setups) == 6
    # first matrix (machine 0), row J0: "0 2 4 2 4 3 4 3 1 1"; row J1 starts "4 0"
    assert p.setup_time("M0", "J0", "J1") == 2
    assert p.setup_time("M0", "J1", "J0") == 4
    assert p.setup_time("M0", "J3", "J3") == 0


def test_sdst_reader_rejects_a_truncated_matrix(tmp_path) -> None:
    f = tmp_path / "tiny.fjs"
    f.write_text("2 1 1\n1 1 1 3\n1 1 1 4\n0 1\n1\n")
    with pytest.raises(FormatError, match="expected 4 setup values"):
        read_fjs_sdst(f)


def test_fjs_reader_rejects_a_truncated_job_line(tmp_path) -> None:
    f = tmp_path / "cut.fjs"
    f.write_text("2 1 1\n1 1 1 3\n2 1 1\n")
    with pytest.raises(FormatError, match="ends inside the job lines"):
        read_fjs(f)
