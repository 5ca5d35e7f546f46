"""Fixtures of the scheduler tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sched_helpers import BENCH


@pytest.fixture
def shared_bench() -> Path:
    """The public benchmarks: a missing folder fails the test loudly (no silent skip)."""
    if not BENCH.is_dir():
        pytest.fail(
            f"benchmark folder {BENCH} absent: clone beside ../shared or set HUNAR_SHARED_DIR"
        )
    return BENCH
