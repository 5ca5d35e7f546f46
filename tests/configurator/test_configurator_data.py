"""Materials and price data files, and the package's purity (no web/DB/queue/network imports)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from configurator.errors import DataFileError
from configurator.materials import get_material, materials, materials_for, parse_materials
from configurator.pricebook import TIERS, parse_pricebook, pricebook
from configurator.processes import PRIMARY_PROCESSES, Process

REQUIRED = {"pla", "petg", "abs", "resin", "aluminium_6061", "acrylic", "plywood"}


def test_library_has_required_materials_with_units() -> None:
    lib = materials()
    assert REQUIRED <= set(lib)
    for m in lib.values():
        assert m.density_g_cm3 > 0 and isinstance(m.cost_per_kg, Decimal) and m.cost_per_kg > 0
        assert m.colours and m.processes
        for p in m.processes:
            assert m.min_wall(p) > 0


def test_sheet_materials_have_sheets() -> None:
    for key in ("acrylic", "plywood"):
        m = get_material(key)
        assert m.sheet_size_mm and m.sheets and all(s.cost_per_sheet > 0 for s in m.sheets)


def test_every_primary_process_has_a_material() -> None:
    for p in PRIMARY_PROCESSES:
        assert materials_for(p), p


def test_min_wall_must_cover_processes() -> None:
    bad = """
[x]
name = "X"
density_g_cm3 = 1.0
cost_per_kg = 1
allowable_stress_mpa = 1.0
processes = ["fdm", "cnc"]
colours = ["red"]
[x.min_wall_mm]
fdm = 1.0
"""
    with pytest.raises(DataFileError):
        parse_materials(bad)


def test_unknown_process_in_data_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_materials(
            '[x]\nname="X"\ndensity_g_cm3=1\ncost_per_kg=1\nallowable_stress_mpa=1\nprocesses=["weld"]\ncolours=["a"]\n'
        )


def test_pricebook_has_every_tier_and_process() -> None:
    book = pricebook()
    assert tuple(book.tiers) == TIERS
    assert set(book.process) == set(Process)
    assert book.discount_for(1) == 0 and book.discount_for(10_000) == Decimal("0.15")


def test_pricebook_errors_are_typed() -> None:
    with pytest.raises(DataFileError):
        parse_pricebook("margin_fraction = 0.2\n")


def test_configurator_is_pure() -> None:
    forbidden = [
        "flask",
        "sqlalchemy",
        "rq",
        "redis",
        "httpx",
        "requests",
        "paho",
        "asyncua",
        "psycopg",
        "cadquery",
        "ortools",
        "scheduler",
        "orders",
        "web",
        "cad",
        "mes_bridge",
    ]
    code = (
        "import sys, json, configurator\n"
        f"bad = {forbidden!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in bad)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout) == []
