"""Validation and DFM agree on walls: what the configurator accepts, DFM does not hold.

A fixed-seed sweep draws raw designs per family (each parameter: half the time its default,
else anywhere in the declared space or at the thin end of its range, where walls and teeth
are thinnest), keeps those `validate` accepts, builds them with `cad.build.build` and analyses
them with `cad.analysis.analyse` exactly as the CAD job does. A Required THIN_WALL on an
accepted design is a rule missing from the family (or a floor read from two places).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from cad_factories import make_machines

import cad.builders  # noqa: F401  (registers the builders)
import configurator.families  # noqa: F401
from cad.analysis import analyse
from cad.build import build
from cad.export import shape_to_mesh
from configurator.families.spur_gear import tooth_wall
from configurator.materials import get_material, materials
from configurator.params import Boolean, Choice, Integer, MaterialParam, Number, NumberChoice
from configurator.process_limits import process_floor_mm
from configurator.processes import Process
from configurator.registry import all_families, get_family
from configurator.validation import validate

SEED = 14
DRAWS = {"spur_gear": 60}
DEFAULT_DRAWS = 30
THIN_STEPS = 3


def _value(param: Any, rng: random.Random) -> Any:
    mode = rng.randrange(4)
    if mode < 2:
        return param.default
    if isinstance(param, Number):
        steps = round((param.max - param.min) / param.step)
        i = rng.randint(0, min(THIN_STEPS, steps)) if mode == 3 else rng.randint(0, steps)
        return round(param.min + i * param.step, 6)
    if isinstance(param, Integer):
        return rng.randint(param.min, param.max)
    if isinstance(param, NumberChoice):
        return rng.choice(param.options[:2] if mode == 3 else param.options)
    if isinstance(param, Boolean):
        return rng.random() < 0.5
    if isinstance(param, Choice | MaterialParam):
        return rng.choice(param.options)
    return param.default  # text keeps its default (strokes are not walls), colour too


def raw_designs(family_key: str, n: int, seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}:{family_key}")
    family = get_family(family_key)
    out = []
    for _ in range(n):
        raw = {p.name: _value(p, rng) for p in family.params}
        raw["colour"] = None  # the material's first colour
        out.append(raw)
    return out


def _thin_walls(family_key: str, raw: dict[str, Any]) -> tuple[bool, list[str]]:
    """(accepted, Required THIN_WALL findings) for one raw design."""
    result = validate(family_key, raw)
    if not result.ok or result.config is None:
        return False, []
    built = build(result.config)
    assert built.ok and built.shape is not None, (raw, built.error)
    values = result.config.values
    process = str(values["process"])
    material = get_material(str(values["material"]))
    analysis = analyse(
        shape_to_mesh(built.shape),
        process,
        make_machines(),
        material.density_g_cm3,
        material_min_wall_mm=material.min_wall(Process(process)) or None,
    )
    return True, [
        f"{f.code} {f.measured:.3f} < {f.threshold} mm"
        for f in analysis.blocking
        if f.code == "THIN_WALL"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("family_key", sorted(f.key for f in all_families()))
def test_no_accepted_design_is_held_for_a_thin_wall(family_key: str) -> None:
    accepted, held = 0, []
    for raw in raw_designs(family_key, DRAWS.get(family_key, DEFAULT_DRAWS)):
        ok, thin = _thin_walls(family_key, raw)
        accepted += ok
        if thin:
            held.append((raw, thin))
    assert accepted, f"no {family_key} design was accepted; the sweep tested nothing"
    assert not held, f"accepted by validation, held by DFM: {held}"


GEAR_MATERIAL = {"fdm": "pla", "resin": "resin", "cnc": "aluminium_6061"}


@pytest.mark.slow
@pytest.mark.parametrize("process", sorted(GEAR_MATERIAL))
def test_no_accepted_gear_is_held_for_thin_teeth(process: str) -> None:
    """Every module at few, medium and many teeth, narrow and bare or wide with the default
    hub and bore: where the old rule (tooth thickness at the pitch circle only) let gears
    through that DFM then held (module 0.75 in FDM and CNC)."""
    accepted, held = 0, []
    base = get_family("spur_gear").default_raw()
    for module in get_family("spur_gear").param("module").options:  # type: ignore[attr-defined]
        for teeth in (12, 24, 40):
            for shape in ({"face_width": 8, "bore": 0, "hub": False}, {"face_width": 30}):
                raw = (
                    base
                    | shape
                    | {
                        "module": module,
                        "teeth": teeth,
                        "process": process,
                        "material": GEAR_MATERIAL[process],
                        "colour": None,
                    }
                )
                ok, thin = _thin_walls("spur_gear", raw)
                accepted += ok
                if thin:
                    held.append((module, teeth, shape, thin))
    assert accepted >= 10
    assert not held, f"accepted by validation, held by DFM: {held}"


def test_the_gear_that_dfm_held_is_now_refused_up_front() -> None:
    """Issue 14: module 0.75 in PLA passed validation and was held for THIN_WALL."""
    raw = get_family("spur_gear").default_raw() | {"module": 0.75}
    result = validate("spur_gear", raw)
    assert not result.ok
    [error] = result.errors
    assert error.param == "module" and error.code == "tooth_below_min_wall"
    assert "FDM cannot make walls under 0.8 mm" in error.message


def test_validation_and_dfm_read_one_floor() -> None:
    from cad.analysis import MIN_WALL_MM

    for process in ("fdm", "resin", "cnc", "laser"):
        assert MIN_WALL_MM[process] == process_floor_mm(process)
        for mat in materials().values():
            if Process(process) in mat.processes:
                assert mat.min_wall(Process(process)) >= process_floor_mm(process)


def test_the_tooth_wall_is_thinner_than_at_the_pitch_circle() -> None:
    v = {"module": 1.0, "teeth": 24, "pressure_angle_deg": 20.0}
    assert 0.7 < tooth_wall(v) < 3.1416 / 2
