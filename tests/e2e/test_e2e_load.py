"""The load harness at a small size: 20 concurrent customers place 40 orders against gunicorn
(2 workers) + PostgreSQL + a private Redis with 2 RQ workers, all real processes.

Afterwards, in the database: every accepted order exists exactly once (a third of the
customers double-submit under one idempotency key), nothing is lost, every line is cad_ready
with artifacts or on hold with a reason, the outbox is empty, and no request got a 5xx.
The full-size run (200 customers, 1,000 orders) is `bench/load_bench.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load_run import LoadConfig, run_load

SMALL_FAMILIES = ["enclosure", "nameplate", "bracket"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(400)
def test_small_load_keeps_every_invariant(tmp_path: Path) -> None:
    cfg = LoadConfig(
        customers=20,
        orders=40,
        palette=4,
        families=SMALL_FAMILIES,
        drain_timeout_s=240,
        stuck_after_s=30,
    )
    report = run_load(cfg, tmp_path)
    print(report.table())
    f = report.figures
    detail = report.table() + "\n" + "\n".join(str(v) for k, v in f.items() if k.startswith("log:"))
    assert not report.failures, detail
    assert f["accepted"] == f["orders"] == 40, detail
    assert f["dup_keys"] == 0 and f["lost"] == 0 and f["missing"] == 0, detail
    assert f["5xx"] == 0, detail
    assert f["lines"] == f["with_artifacts"] + f["with_reason"] > 0, detail
