"""Fixtures for the planner console and operator station tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from floor_helpers import MakeFloor, floor_factory  # noqa: E402


@pytest.fixture
def make_floor(db_factory: Any, tmp_path: Path, artifact_cache: Path) -> Iterator[MakeFloor]:
    """Factory: a seeded app (planner + operator blueprints) on a fresh database."""
    yield from floor_factory(db_factory, tmp_path, artifact_cache)
