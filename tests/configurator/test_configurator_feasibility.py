"""feasible(): envelopes, material on process, quantity limits, naming machine and dimension."""

from __future__ import annotations

from configurator import MachineSpec, Process, feasible, validate


def _shop() -> list[MachineSpec]:
    return [
        MachineSpec("mk4-1", "Prusa MK4 #1", Process.FDM, ("pla", "petg"), (250, 210, 220)),
        MachineSpec("mk4-2", "Prusa MK4 #2", Process.FDM, ("pla", "petg", "abs"), (250, 210, 220)),
        MachineSpec("form3", "Form 3", Process.RESIN, ("resin",), (145, 145, 185)),
        MachineSpec("vmc", "Haas mini mill", Process.CNC, ("aluminium_6061",), (400, 300, 250)),
        MachineSpec("co2", "CO2 laser", Process.LASER, ("acrylic",), (600, 400, 6)),
    ]


def _cfg(key: str, **raw: object):
    res = validate(key, raw)
    assert res.ok, res.errors
    return res.config


def test_default_designs_are_feasible() -> None:
    for key in ("enclosure", "knob", "pipe_flange", "nameplate", "spur_gear"):
        f = feasible(_cfg(key), _shop(), qty=3)
        assert f.ok, (key, f.reasons)
        assert f.machine_ids


def test_part_too_large_names_each_machine_and_axis() -> None:
    f = feasible(_cfg("enclosure", inner_length=280, inner_width=150, corner_radius=3), _shop())
    assert not f.ok
    assert {r.machine_id for r in f.reasons} == {"mk4-1", "mk4-2"}
    assert all(r.code == "exceeds_work_envelope" and r.dimension == "X" for r in f.reasons)
    assert "Prusa MK4 #1" in f.reasons[0].message and "X 284 > 238 mm" in f.reasons[0].message
    assert "less 6 mm at each edge" in f.reasons[0].message


def test_rotation_about_z_is_allowed() -> None:
    # 184 x 234 mm only fits a 250 x 210 bed (238 x 198 usable) turned 90 degrees
    f = feasible(
        _cfg("enclosure", inner_length=180, inner_width=230, corner_radius=3, lid="none"), _shop()
    )
    assert f.ok, f.reasons
    g = feasible(
        _cfg("enclosure", inner_length=200, inner_width=230, corner_radius=3, lid="none"), _shop()
    )
    assert not g.ok


def test_tall_part_names_z() -> None:
    f = feasible(
        _cfg("knob", process="resin"),
        [MachineSpec("tiny", "Tiny SLA", Process.RESIN, ("resin",), (50, 50, 10))],
    )
    assert [(r.machine_id, r.dimension) for r in f.reasons] == [("tiny", "Z")]


def test_material_not_offered_on_process() -> None:
    f = feasible(_cfg("nameplate", material="plywood"), _shop())
    assert [(r.param, r.code) for r in f.reasons] == [("material", "material_not_offered")]
    assert "Birch plywood" in f.reasons[0].message and "CO2 laser" in f.reasons[0].message


def test_no_machine_for_process() -> None:
    f = feasible(_cfg("knob"), [m for m in _shop() if m.process is not Process.RESIN])
    assert [r.code for r in f.reasons] == ["no_machine_for_process"]


def test_quantity_limit() -> None:
    f = feasible(_cfg("enclosure"), _shop(), qty=501)
    assert [(r.param, r.code) for r in f.reasons] == [("qty", "quantity_out_of_range")]
    assert feasible(_cfg("enclosure"), _shop(), qty=500).ok


def test_laser_sheet_thickness_is_the_z_limit() -> None:
    f = feasible(
        _cfg("nameplate", material="acrylic", thickness=6),
        [MachineSpec("d", "Diode", Process.LASER, ("acrylic",), (400, 400, 5))],
    )
    assert [(r.machine_id, r.dimension) for r in f.reasons] == [("d", "Z")]
