"""print_model: FDM minutes and grams before CAD, fitted to PrusaSlicer (issue 13)."""

from __future__ import annotations

import pytest

from configurator import GeometryMetrics, quote, validate
from configurator.errors import DataFileError
from configurator.pricebook import pricebook
from configurator.print_model import (
    PrintEstimate,
    fdm_estimate,
    get_profile,
    parse_profiles,
    profiles,
    shares,
)
from configurator.processes import Process
from configurator.routing import primary_minutes

# Designs from the calibration sweep (one per family, built solid, PrusaSlicer 2.5 on
# cad/profiles at 20 % infill): volume mm3, area mm2, bbox mm, density, slicer minutes, grams.
SLICED = [
    ("bracket", 256530, 42577, (78.0, 77.0, 148.0), 1.04, 415.4, 84.38),
    ("device_stand", 69367, 36805, (64.9, 80.0, 77.4), 1.24, 266.3, 48.86),
    ("drawer_tray", 142831, 187351, (200.0, 97.0, 72.0), 1.24, 1054.4, 173.30),
    ("enclosure", 75137, 81688, (240.9, 89.9, 30.7), 1.04, 630.2, 72.63),
    ("knob", 120233, 13748, (55.5, 55.5, 50.0), 1.24, 154.9, 42.18),
    ("nameplate", 95968, 78732, (216.0, 180.0, 3.5), 1.24, 548.0, 82.79),
    ("pipe_flange", 325749, 56266, (176.0, 176.0, 16.0), 1.27, 528.0, 128.44),
    ("spur_gear", 144739, 25108, (76.5, 76.5, 34.5), 1.24, 249.9, 58.49),
]


@pytest.mark.parametrize(
    ("family", "volume", "area", "bbox", "density", "minutes", "grams"),
    SLICED,
    ids=[row[0] for row in SLICED],
)
def test_estimate_is_within_15_percent_of_the_slicer(
    family: str,
    volume: float,
    area: float,
    bbox: tuple[float, float, float],
    density: float,
    minutes: float,
    grams: float,
) -> None:
    est = fdm_estimate(volume, area, bbox, 0.20, density)
    assert est.minutes == pytest.approx(minutes, rel=0.15)
    assert est.grams == pytest.approx(grams, rel=0.15)


def test_result_is_typed_and_names_its_source() -> None:
    est = fdm_estimate(20_000, 6_000, (40, 40, 20))
    assert isinstance(est, PrintEstimate)
    assert est.layers == 100 and est.source == "print_model:generic_fdm_0.4"
    assert est.minutes > 0 and est.grams > 0


def test_a_thin_wall_is_all_shell_and_a_block_is_mostly_infill() -> None:
    p = get_profile()
    # a 1 mm wall 100 x 50 mm standing up: less than two perimeters thick
    wall = shares(100 * 50 * 1, 2 * 100 * 50 + 2 * 100 + 2 * 50, 50, 0.2, p)
    assert wall.shell_mm3 == pytest.approx(5000) and wall.skin_mm3 == 0 and wall.infill_mm3 == 0
    block = shares(50**3, 6 * 50**2, 50, 0.2, p)
    assert block.infill_mm3 > block.shell_mm3 > 0 and block.skin_mm3 > 0


def test_more_infill_costs_time_and_filament() -> None:
    sparse = fdm_estimate(125_000, 15_000, (50, 50, 50), 0.15)
    dense = fdm_estimate(125_000, 15_000, (50, 50, 50), 0.40)
    assert dense.minutes > sparse.minutes and dense.grams > sparse.grams


def test_grams_scale_with_density() -> None:
    pla = fdm_estimate(50_000, 12_000, (60, 60, 20), 0.2, 1.24)
    abs_ = fdm_estimate(50_000, 12_000, (60, 60, 20), 0.2, 1.04)
    assert abs_.grams == pytest.approx(pla.grams * 1.04 / 1.24, rel=1e-3)
    assert abs_.minutes == pla.minutes


def test_profile_data_file_is_checked() -> None:
    assert "generic_fdm_0.4" in profiles()
    with pytest.raises(DataFileError, match="no profile"):
        get_profile("no_such_printer")
    with pytest.raises(DataFileError):
        parse_profiles("[profile.x]\nlayer_height_mm = 0.2\n")  # keys missing
    good = "\n".join(
        f"{k} = 1.0"
        for k in (
            "layer_height_mm shell_mm skin_mm minutes_fixed minutes_per_cm3_shell "
            "minutes_per_cm3_skin minutes_per_cm3_infill seconds_per_layer filament_cm3_fixed "
            "filament_per_cm3_shell filament_per_cm3_skin filament_per_cm3_infill "
            "filament_cm3_per_layer"
        ).split()
    )
    assert parse_profiles(f"[profile.x]\n{good}\n")["x"].skin_mm == 1.0
    with pytest.raises(DataFileError, match=">= 0"):
        parse_profiles(f"[profile.x]\n{good.replace('skin_mm = 1.0', 'skin_mm = -1.0')}\n")


def test_routing_uses_the_model_until_the_slicer_reports() -> None:
    book = pricebook()
    geo = GeometryMetrics(volume_mm3=60_000, area_mm2=20_000, bbox_mm=(80, 60, 30))
    expected = fdm_estimate(60_000, 20_000, (80, 60, 30), 0.20).minutes
    assert primary_minutes(Process.FDM, geo, book) == pytest.approx(expected, abs=0.01)
    measured = GeometryMetrics(60_000, 20_000, (80, 60, 30), print_minutes=123.0)
    assert primary_minutes(Process.FDM, measured, book) == 123.0


def test_quote_material_uses_the_model_grams_with_waste() -> None:
    cfg = validate("enclosure", {}).config
    assert cfg is not None and cfg.values["process"] == "fdm"
    q = quote(cfg, 1, "standard")
    assert q.line("material") is not None and "estimated" in q.line("material").detail
    m = q.metrics
    # the same grams as the slicer would report give the same material line
    grams = fdm_estimate(m.volume_mm3, m.area_mm2, m.bbox_mm, 0.20, 1.24).grams
    measured = GeometryMetrics(
        m.volume_mm3, m.area_mm2, m.bbox_mm, print_minutes=None, filament_g=grams
    )
    assert quote(cfg, 1, "standard", measured).line("material").amount == q.line("material").amount
