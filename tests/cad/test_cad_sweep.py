"""Hypothesis sweep: every configuration the configurator accepts builds into a valid solid.

Parameters are drawn from each family's own declarations (range, step, options), half the
time at their default so that the rules accept a useful share of examples. A rejected
example is fine (the configurator said no); an accepted one that fails to build, or builds
into something invalid or not watertight, is a bug in a builder or a missing rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import configurator.families  # noqa: F401
from cad.build import build
from cad.export import shape_to_mesh
from configurator.params import Boolean, Choice, Integer, MaterialParam, Number, NumberChoice, Text
from configurator.registry import all_families, get_family
from configurator.validation import validate

TEXT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -&.#ÄéçہنرکاArabic"


def _value(param: Any) -> st.SearchStrategy[Any]:
    if isinstance(param, Number):
        steps = round((param.max - param.min) / param.step)
        return st.integers(0, steps).map(lambda i: round(param.min + i * param.step, 6))
    if isinstance(param, Integer):
        return st.integers(param.min, param.max)
    if isinstance(param, Boolean):
        return st.booleans()
    if isinstance(param, Choice | NumberChoice | MaterialParam):
        return st.sampled_from(param.options)
    if isinstance(param, Text):
        return st.text(TEXT_ALPHABET, min_size=1, max_size=param.max_length).filter(str.strip)
    return st.just(None)  # colour: the material's first colour


def raw_configs(family_key: str) -> st.SearchStrategy[dict[str, Any]]:
    """Raw forms: each parameter at its default (2 in 3) or anywhere in its declared space."""
    family = get_family(family_key)
    fields = {
        p.name: st.just(None)
        if p.name == "colour"
        else st.one_of(st.just(p.default), st.just(p.default), _value(p))
        for p in family.params
    }
    return st.fixed_dictionaries(fields)


@pytest.mark.slow
@pytest.mark.parametrize("family_key", [f.key for f in all_families()])
def test_every_accepted_configuration_builds_a_valid_watertight_solid(family_key: str) -> None:
    accepted: list[int] = []

    @settings(
        max_examples=18,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(raw=raw_configs(family_key))
    def check(raw: dict[str, Any]) -> None:
        result = validate(family_key, raw)
        if not result.ok:
            return
        accepted.append(1)
        built = build(result.config)
        values = dict(result.config.values)
        assert built.ok, f"accepted but not buildable: {values}: {built.error}"
        assert built.shape is not None and built.shape.isValid(), values
        mesh = shape_to_mesh(built.shape)
        assert mesh.is_watertight, f"mesh not watertight: {values}"

    check()
    assert accepted, f"no example of {family_key} was accepted; the sweep tested nothing"
