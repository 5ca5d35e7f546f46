"""Every accepted configuration builds in cad/: ties the configurator's rules to real geometry.

Hypothesis draws accepted designs of every family plus the edge designs (one parameter at a
range end); each must give a valid OCCT solid. Slow (CadQuery), so kept small per family.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from configurator import all_families, get_family
from configurator.samples import edge_configs, random_config

cad_build = pytest.importorskip(
    "cad.build", reason="cad/ package not importable", exc_type=ImportError
)
FAMILIES = [f.key for f in all_families()]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("key", FAMILIES)
def test_builder_registered_for_every_family(key: str) -> None:
    assert key in cad_build.registered_families()


@settings(
    max_examples=24, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(key=st.sampled_from(FAMILIES), seed=st.integers(0, 2**32 - 1))
@example(key="nameplate", seed=9999999)  # a glyph left as a loose island (fixed in cad/)
def test_random_accepted_design_builds(key: str, seed: int) -> None:
    cfg = random_config(get_family(key), random.Random(seed))
    assert cfg is not None
    result = cad_build.build(cfg)
    assert result.ok, (result.error, dict(cfg.values))


@pytest.mark.parametrize("key", FAMILIES)
def test_edge_designs_build(key: str) -> None:
    failures = []
    for cfg in edge_configs(get_family(key)):
        result = cad_build.build(cfg)
        if not result.ok:
            failures.append((result.error, dict(cfg.values)))
    assert not failures
