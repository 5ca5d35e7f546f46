"""Hypothesis properties: user input never raises; canonical JSON round-trips; hashes are stable."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configurator import Configuration, all_families, feasible, get_family, quote, validate
from configurator.machines import MachineSpec
from configurator.processes import Process
from configurator.samples import edge_configs, random_raw, sample_configs

FAMILIES = [f.key for f in all_families()]
SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(
        ["", " ", "1e999", "nan", "-0", "0x10", "12 mm", "3 cm", "1,5", "true", "pla", "black"]
    ),
)
junk = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)


def _raw_for(key: str) -> st.SearchStrategy[dict]:
    names = list(get_family(key).param_names)
    return st.dictionaries(
        st.one_of(st.sampled_from(names), st.text(max_size=12)), junk, max_size=len(names) + 2
    )


@SETTINGS
@given(key=st.one_of(st.sampled_from(FAMILIES), st.text(max_size=10)), data=st.data())
def test_random_raw_input_never_raises(key: str, data: st.DataObject) -> None:
    raw = data.draw(_raw_for(key) if key in FAMILIES else st.dictionaries(st.text(), junk))
    res = validate(key, raw)
    assert res.ok == (res.config is not None) == (not res.errors)
    for err in res.errors:
        assert err.param and err.code and err.message
        assert err.message.isprintable()


@SETTINGS
@given(
    key=st.sampled_from(FAMILIES),
    seed=st.integers(0, 2**32 - 1),
    junk_rate=st.sampled_from([0.0, 0.1, 0.4]),
)
def test_mostly_valid_input_never_raises_and_accepted_configs_round_trip(
    key: str, seed: int, junk_rate: float
) -> None:
    raw = random_raw(get_family(key), random.Random(seed), junk_rate)
    res = validate(key, raw)
    if res.config is None:
        return
    cfg = res.config
    text = cfg.canonical_json()
    back = Configuration.from_canonical_json(text)
    assert back == cfg and back.canonical_json() == text and back.config_hash == cfg.config_hash
    # normalisation is idempotent: re-validating the normalised values gives the same design
    again = validate(key, dict(cfg.values))
    assert again.config == cfg
    # every accepted design can be priced and checked without raising
    q = quote(cfg, 1, "standard")
    assert q.total > 0 and q.metrics.volume_mm3 > 0 and min(q.metrics.bbox_mm) > 0
    assert feasible(cfg, []).ok is False


@SETTINGS
@given(key=st.sampled_from(FAMILIES), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_hash_stable_under_key_order_and_float_noise(
    key: str, seed: int, data: st.DataObject
) -> None:
    cfg = sample_configs(get_family(key), 1, seed=seed % 50)[0]
    items = list(cfg.values.items())
    data.draw(st.randoms()).shuffle(items)
    noisy = {}
    for name, value in items:
        if isinstance(value, float) and not isinstance(value, bool):
            noise = data.draw(st.sampled_from([1e-10, -1e-10, 3e-9, 0.0]))
            value = value + noise if data.draw(st.booleans()) else repr(value + noise)
        noisy[name] = value
    res = validate(key, noisy)
    assert res.config is not None, res.errors
    assert res.config.config_hash == cfg.config_hash


def test_float_noise_example() -> None:
    a = validate("enclosure", {"wall": 2.0000000001, "inner_length": "80"})
    b = validate("enclosure", {"inner_length": 80.0, "wall": "2"})
    assert a.config.config_hash == b.config.config_hash


def test_hash_equal_across_processes() -> None:
    configs = [c for f in all_families() for c in sample_configs(f, 5, seed=7)]
    payload = json.dumps([[c.family_key, dict(c.values)] for c in configs][::-1])
    script = (
        "import json, sys, configurator\n"
        "out = []\n"
        "for key, values in json.loads(sys.stdin.read()):\n"
        "    items = list(values.items())[::-1]\n"
        "    out.append(configurator.validate(key, dict(items)).config.config_hash)\n"
        "print(json.dumps(out[::-1]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=payload,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [c.config_hash for c in configs]


def test_hash_includes_family_and_version() -> None:
    cfg = validate("enclosure", {}).config
    other = Configuration(cfg.family_key, cfg.family_version + 1, cfg.values)
    assert other.config_hash != cfg.config_hash
    assert json.loads(cfg.canonical_json())["family"] == "enclosure"


@pytest.mark.parametrize(
    "bad", ["", "{}", "[1]", '{"family": 1, "version": 1, "values": {}}', "not json"]
)
def test_from_canonical_json_rejects_malformed(bad: str) -> None:
    from configurator.errors import ConfiguratorError

    with pytest.raises(ConfiguratorError):
        Configuration.from_canonical_json(bad)


@pytest.mark.parametrize("key", FAMILIES)
def test_sampled_configs_are_accepted_and_diverse(key: str) -> None:
    configs = sample_configs(get_family(key), 30, seed=1)
    assert len(configs) == 30
    assert len({c.config_hash for c in configs}) == 30
    for c in configs:
        assert validate(key, dict(c.values)).config == c
        assert c.derived is not None


def test_machine_spec_validates_itself() -> None:
    from configurator.errors import ConfiguratorError

    with pytest.raises(ConfiguratorError):
        MachineSpec("m", "M", Process.FDM, ("pla",), (0, 1, 1))


@pytest.mark.parametrize("key", FAMILIES)
def test_edge_configs_are_accepted_and_reach_range_ends(key: str) -> None:
    family = get_family(key)
    edges = edge_configs(family)
    assert len(edges) >= 5
    for c in edges:
        assert validate(key, dict(c.values)).config == c
    defaults = family.default_raw()
    assert any(
        c.values[n] != defaults[n] for c in edges for n in family.param_names if n != "colour"
    )
