"""Readers for the public benchmark formats: job shop text, ``.fjs``, ``.fjs`` + setup matrices.

Formats are described in ``shared/bench/README.md``. We parse tokens, not columns, since
whitespace varies between sources. Ids are ``J<i>``, ``J<i>.O<k>`` and ``M<m>`` (0-based).
"""

from __future__ import annotations

from pathlib import Path

from .problem import Job, Machine, Operation, Problem, SetupMatrix


class FormatError(ValueError):
    """The file does not follow the declared format (names the file and what was expected)."""


def read_jssp(path: str | Path) -> Problem:
    """``n_jobs n_machines`` then per job ``machine time`` pairs in route order (machines 0-based)."""
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    n_jobs, n_machines = int(lines[0][0]), int(lines[0][1])
    if len(lines) < 1 + n_jobs:
        raise FormatError(f"{path}: expected {n_jobs} job lines, found {len(lines) - 1}")
    jobs = []
    for j in range(n_jobs):
        vals = [int(t) for t in lines[1 + j]]
        ops = tuple(
            Operation(f"J{j}.O{k}", f"J{j}", {f"M{vals[2 * k]}": vals[2 * k + 1]})
            for k in range(len(vals) // 2)
        )
        jobs.append(Job(f"J{j}", ops))
    machines = tuple(Machine(f"M{m}") for m in range(n_machines))
    return Problem(tuple(jobs), machines, name=path.stem)


def _read_fjs_jobs(path: Path, toks: list[int]) -> tuple[int, int, list[Job], int]:
    try:
        return _fjs_jobs(path, toks)
    except IndexError as exc:
        raise FormatError(f"{path}: file ends inside the job lines") from exc


def _fjs_jobs(path: Path, toks: list[int]) -> tuple[int, int, list[Job], int]:
    n_jobs, n_machines = toks[0], toks[1]
    # header has a third, possibly fractional, field: skip by re-reading the first line
    first = path.read_text().splitlines()[0].split()
    pos = len(first)
    jobs = []
    for j in range(n_jobs):
        n_ops = toks[pos]
        pos += 1
        ops = []
        for k in range(n_ops):
            n_alt = toks[pos]
            pos += 1
            elig = {f"M{toks[pos + 2 * a] - 1}": toks[pos + 2 * a + 1] for a in range(n_alt)}
            pos += 2 * n_alt
            ops.append(Operation(f"J{j}.O{k}", f"J{j}", elig, setup_family=f"J{j}"))
        jobs.append(Job(f"J{j}", tuple(ops)))
    return n_jobs, n_machines, jobs, pos


def _header_tokens(path: Path) -> list[int]:
    first, *rest = path.read_text().splitlines()
    head = first.split()
    try:
        body = [int(t) for t in "\n".join(rest).split()]
    except ValueError as exc:
        raise FormatError(f"{path}: non-integer token ({exc})") from exc
    return [int(head[0]), int(head[1])] + [0] * (len(head) - 2) + body


def read_fjs(path: str | Path) -> Problem:
    """Flexible job shop ``.fjs`` (machines 1-based in the file). No setups."""
    path = Path(path)
    _, n_machines, jobs, _ = _read_fjs_jobs(path, _header_tokens(path))
    jobs = [
        Job(j.id, tuple(Operation(o.id, o.job_id, o.eligible) for o in j.operations)) for j in jobs
    ]
    return Problem(tuple(jobs), tuple(Machine(f"M{m}") for m in range(n_machines)), name=path.stem)


def read_fjs_sdst(path: str | Path) -> Problem:
    """``.fjs`` followed by one n_jobs x n_jobs setup matrix per machine: row i, column j is the
    setup on that machine when job j follows job i. Each job is its own setup family."""
    path = Path(path)
    toks = _header_tokens(path)
    n_jobs, n_machines, jobs, pos = _read_fjs_jobs(path, toks)
    need = n_machines * n_jobs * n_jobs
    rest = toks[pos:]
    if len(rest) != need:
        raise FormatError(f"{path}: expected {need} setup values, found {len(rest)}")
    setups = []
    for m in range(n_machines):
        base = m * n_jobs * n_jobs
        times = {
            f"J{i}": {f"J{j}": rest[base + i * n_jobs + j] for j in range(n_jobs)}
            for i in range(n_jobs)
        }
        setups.append(SetupMatrix(f"M{m}", times))
    machines = tuple(Machine(f"M{m}") for m in range(n_machines))
    return Problem(tuple(jobs), machines, setups={s.machine_id: s for s in setups}, name=path.stem)


def read_any(path: str | Path) -> Problem:
    """Pick the reader by folder/extension: ``fjsp_sdst/`` -> SDST, ``.fjs`` -> FJSP, else JSSP."""
    path = Path(path)
    if path.parent.name == "fjsp_sdst":
        return read_fjs_sdst(path)
    if path.suffix == ".fjs":
        return read_fjs(path)
    return read_jssp(path)
