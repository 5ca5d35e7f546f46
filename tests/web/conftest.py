"""Fixtures for the web tests; the helpers live in webshop_helpers.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from webshop_helpers import MakeShop, shop_factory  # noqa: E402


@pytest.fixture
def make_shop(db_factory: Any, tmp_path: Path) -> Iterator[MakeShop]:
    """Factory: a seeded shop app on a fresh database of the given backend."""
    yield from shop_factory(db_factory, tmp_path)
