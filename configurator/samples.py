"""Deterministic random configurations for sweeps, benches and property tests.

cad/ uses sample_configs() to build a spread of accepted designs of every family, which ties
the rules to real geometry.
"""

from __future__ import annotations

import random
import string
from typing import Any

from configurator.family import Family
from configurator.materials import get_material
from configurator.model import Configuration
from configurator.params import (
    Boolean,
    Choice,
    ColourParam,
    Integer,
    MaterialParam,
    Number,
    NumberChoice,
    Param,
    Text,
)
from configurator.processes import Process
from configurator.validation import validate

_TEXT_ALPHABET = string.ascii_letters + string.digits + " -.&#"
_JUNK: tuple[object, ...] = (
    "",
    " ",
    "abc",
    "1e400",
    "nan",
    "-5",
    "12 furlongs",
    None,
    True,
    [],
    {},
    1e308,
    -0.0,
    "<script>",
    "\x00",
)


def valid_value(p: Param, rng: random.Random) -> Any:
    """A value the parameter itself accepts (rules may still reject the combination)."""
    if isinstance(p, Number):
        steps = round((p.max - p.min) / p.step)
        return round(p.min + rng.randint(0, steps) * p.step, 6)
    if isinstance(p, Integer):
        return rng.randint(p.min, p.max)
    if isinstance(p, Choice | NumberChoice | MaterialParam):
        return rng.choice(p.options)
    if isinstance(p, Boolean):
        return rng.random() < 0.5
    if isinstance(p, Text):
        n = rng.randint(1, min(p.max_length, 16))
        return "".join(rng.choice(_TEXT_ALPHABET) for _ in range(n)).strip() or "A"
    return None  # colour: chosen after the material


def random_raw(family: Family, rng: random.Random, junk_rate: float = 0.0) -> dict[str, Any]:
    """Raw form data: mostly valid per-parameter values, with `junk_rate` garbage entries."""
    raw: dict[str, Any] = {}
    for p in family.params:
        if rng.random() < junk_rate:
            raw[p.name] = rng.choice(_JUNK)
        elif isinstance(p, ColourParam):
            continue
        else:
            raw[p.name] = valid_value(p, rng)
    mat = raw.get("material")
    if isinstance(mat, str) and mat in family.material_options():
        material = get_material(mat)
        proc = [p for p in material.processes if p.value in family.process_options()]
        if "process" in raw and isinstance(raw["process"], str) and proc and rng.random() < 0.9:
            raw["process"] = rng.choice(proc).value
        if "colour" not in raw:
            raw["colour"] = rng.choice(material.colours)
        if raw.get("process") == Process.LASER.value and material.sheets and rng.random() < 0.9:
            raw["thickness"] = rng.choice(material.sheet_thicknesses)
    if junk_rate and rng.random() < junk_rate:
        raw[rng.choice(("bogus", "Material ", "__class__"))] = 1
    return raw


def random_config(
    family: Family, rng: random.Random, max_tries: int = 2000
) -> Configuration | None:
    """One accepted random design (None if none found in `max_tries` draws)."""
    for _ in range(max_tries):
        res = validate(family.key, random_raw(family, rng))
        if res.config is not None:
            return res.config
    return None


def sample_configs(
    family: Family, n: int, seed: int = 0, max_tries: int = 200_000
) -> list[Configuration]:
    """Up to `n` distinct accepted configurations, reproducible for a seed (defaults first)."""
    rng = random.Random(f"{family.key}:{seed}")
    out: dict[str, Configuration] = {}
    first = validate(family.key, family.default_raw())
    if first.config is not None:
        out[first.config.config_hash] = first.config
    for _ in range(max_tries):
        if len(out) >= n:
            break
        # half the draws start from the defaults and change a few parameters: realistic designs
        raw = random_raw(family, rng)
        if rng.random() < 0.5:
            base = family.default_raw()
            for key in rng.sample(sorted(raw), k=min(3, len(raw))):
                base[key] = raw[key]
            if "material" in base and base["colour"] not in get_material(base["material"]).colours:
                base["colour"] = None
            raw = base
        res = validate(family.key, raw)
        if res.config is not None:
            out.setdefault(res.config.config_hash, res.config)
    return list(out.values())[:n]


def edge_configs(family: Family) -> list[Configuration]:
    """Accepted designs with one parameter at a range end or option (others default).

    The corners of the parameter space are where geometry breaks first; cad/ sweeps these too.
    """
    out: dict[str, Configuration] = {}
    for p in family.params:
        if isinstance(p, Number | Integer):
            candidates: list[Any] = [p.min, p.max]
        elif isinstance(p, Choice | NumberChoice | MaterialParam):
            candidates = list(p.options)
        elif isinstance(p, Boolean):
            candidates = [True, False]
        elif isinstance(p, Text):
            candidates = ["I", "W" * min(p.max_length, 8), "Dr. A. Khan - Room 12"]
        else:
            continue
        for value in candidates:
            raw = family.default_raw() | {p.name: value}
            raw["colour"] = None
            res = validate(family.key, raw)
            if res.config is not None:
                out.setdefault(res.config.config_hash, res.config)
    return list(out.values())
