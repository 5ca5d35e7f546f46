"""One shape contract: each family's declared geometry is the solid cad/ builds.

Feasibility, pricing and the printer fit check read `family.estimate()` before any CAD runs;
the slicer and the job packets get the built solid as it lies (Z up = build/print height; a
laser plate has Z = its thickness). The declared bbox must therefore be the built solid's
bounding box in the same axis order, for every family: its edge configurations (one
parameter at a range end) and a fixed-seed sample of accepted designs. Declared volume and
area feed the price and the print-time estimate, so they must be close too.
"""

from __future__ import annotations

import cadquery as cq
import pytest

import configurator.families  # noqa: F401  (registers every family)
from cad.build import build
from configurator.model import Configuration
from configurator.registry import all_families, get_family
from configurator.samples import edge_configs, sample_configs

SAMPLE_N = 4
SEED = 13
# A declaration may be larger than the solid only where a round part is declared by its
# circle: a knob's flutes and a gear's tooth gaps can leave the nominal/tip diameter's extreme
# points uncut (worst: 10 teeth, ~3.5 % across the gaps). It is never smaller: feasibility
# must not pass a part that is bigger than it thinks.
BBOX_OVER_MM, BBOX_OVER_REL = 0.05, 0.04
BBOX_UNDER_MM = 0.05
RATIO_LIMIT = 0.15  # declared volume and area within 15 % of the solid's


def _designs(family_key: str) -> list[Configuration]:
    family = get_family(family_key)
    seen: dict[str, Configuration] = {}
    for c in edge_configs(family) + sample_configs(family, SAMPLE_N, seed=SEED):
        seen.setdefault(c.config_hash, c)
    return list(seen.values())


def _bbox(shape: cq.Shape) -> tuple[float, float, float]:
    bb = shape.BoundingBox()  # the exact (optimal) box, not the control-point box
    return bb.xlen, bb.ylen, bb.zlen


@pytest.mark.slow
@pytest.mark.parametrize("family_key", [f.key for f in all_families()])
def test_declared_geometry_is_the_built_solid(family_key: str) -> None:
    family = get_family(family_key)
    designs = _designs(family_key)
    assert len(designs) > SAMPLE_N, f"{family_key}: too few designs to sweep"
    problems: list[str] = []
    for config in designs:
        result = build(config)
        assert result.ok and result.shape is not None, f"{dict(config.values)}: {result.error}"
        declared = family.estimate(config.values)
        built = _bbox(result.shape)
        for axis, d, b in zip("XYZ", declared.bbox_mm, built, strict=True):
            if b > d + BBOX_UNDER_MM or d - b > BBOX_OVER_MM + BBOX_OVER_REL * b:
                problems.append(f"{axis}: declared {d:.2f} built {b:.2f}")
        solid_box = result.shape.BoundingBox()
        if abs(solid_box.zmin) > BBOX_UNDER_MM:
            problems.append(f"part does not stand on z = 0 (zmin {solid_box.zmin:.3f})")
        vol = declared.volume_mm3 / result.shape.Volume()
        area = declared.area_mm2 / result.shape.Area()
        if abs(vol - 1) > RATIO_LIMIT:
            problems.append(f"declared volume / built = {vol:.3f}")
        if abs(area - 1) > RATIO_LIMIT:
            problems.append(f"declared area / built = {area:.3f}")
        if problems:
            pytest.fail(f"{family_key} {dict(config.values)}: " + "; ".join(problems))
