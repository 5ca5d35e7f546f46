"""Fixtures for the cad tests; the factories live in cad_factories.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cad_factories import make_config, make_machines

from cad.store import LocalArtifactStore
from configurator.machines import MachineSpec
from configurator.model import Configuration


@pytest.fixture
def config_factory() -> Callable[..., Configuration]:
    return make_config


@pytest.fixture
def machines() -> list[MachineSpec]:
    return make_machines()


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")
