"""validate(): normalisation, defaults, every error collected, messages naming parameters."""

from __future__ import annotations

import pytest

import configurator
from configurator import all_families, get_family, validate
from configurator.errors import UnknownFamilyError

FAMILY_KEYS = [
    "bracket",
    "device_stand",
    "drawer_tray",
    "enclosure",
    "knob",
    "nameplate",
    "pipe_flange",
    "spur_gear",
]


def test_registry_has_the_eight_families_sorted() -> None:
    assert [f.key for f in all_families()] == FAMILY_KEYS


def test_families_cover_all_primary_processes() -> None:
    covered = {p.value for f in all_families() for p in f.processes}
    assert covered == {"fdm", "resin", "cnc", "laser"}


def test_get_family_unknown_raises_typed_error_with_key() -> None:
    with pytest.raises(UnknownFamilyError) as info:
        get_family("teapot")
    assert info.value.key == "teapot"


@pytest.mark.parametrize("key", FAMILY_KEYS)
def test_defaults_validate_and_fill_every_parameter(key: str) -> None:
    family = get_family(key)
    res = validate(key, {})
    assert res.ok, res.errors
    assert set(res.config.values) == set(family.param_names)
    assert res.config.family_version == family.version
    assert validate(key, family.default_raw()).config == res.config


@pytest.mark.parametrize("key", FAMILY_KEYS)
def test_param_metadata_is_complete(key: str) -> None:
    for p in get_family(key).params:
        d = p.describe()
        assert d["label"] and d["group"] and d["kind"], d


@pytest.mark.parametrize("key", FAMILY_KEYS)
def test_family_description_is_json(key: str) -> None:
    import json

    desc = json.loads(json.dumps(get_family(key).describe()))
    assert desc["key"] == key and len(desc["params"]) == len(get_family(key).params)
    assert set(desc["processes"]) <= {"fdm", "resin", "cnc", "laser"}
    for mat in desc["materials"].values():
        assert mat["colours"]


def test_enclosure_with_lid_is_laid_out_beside_the_body() -> None:
    with_lid = get_family("enclosure").estimate(validate("enclosure", {}).config.values)
    without = get_family("enclosure").estimate(validate("enclosure", {"lid": "none"}).config.values)
    assert with_lid.bbox_mm == (84.0, 113.0, 32.0) and without.bbox_mm == (84.0, 54.0, 32.0)


def test_unknown_family_is_a_field_error_not_an_exception() -> None:
    res = validate("teapot", {"x": 1})
    assert not res.ok
    assert [(e.param, e.code) for e in res.errors] == [("family", "unknown_family")]


def test_every_error_is_collected() -> None:
    res = validate(
        "enclosure",
        {
            "wall": "0.8",
            "colour": "pink",
            "material": "petg",
            "foo": 1,
            "corner_radius": "90",
            "lid": "glued",
        },
    )
    codes = {(e.param, e.code) for e in res.errors}
    assert codes == {
        ("foo", "unknown_param"),
        ("corner_radius", "out_of_range"),
        ("lid", "invalid_choice"),
        ("colour", "colour_not_in_palette"),
        ("wall", "below_min_wall"),
    }


def test_min_wall_message_names_material_process_and_values() -> None:
    res = validate("enclosure", {"wall": 0.8, "material": "petg"})
    assert [e.message for e in res.errors] == [
        "wall 0.8 mm is below the 1.2 mm minimum for PETG on FDM"
    ]


def test_strings_units_and_rounding_to_step() -> None:
    res = validate(
        "enclosure",
        {
            "inner_length": "12 cm",
            "wall": "2.04",
            "inner_width": " 2in ",
            "bosses": "no",
            "lid": "Snap",
        },
    )
    assert res.ok, res.errors
    v = res.config.values
    assert v["inner_length"] == 120.0 and v["wall"] == 2.0 and v["inner_width"] == 51.0
    assert v["bosses"] is False and v["lid"] == "snap"


@pytest.mark.parametrize("bad", ["abc", "1e400", "nan", "inf", True, [], "12 furlongs", "-"])
def test_bad_numbers_are_field_errors(bad: object) -> None:
    res = validate("enclosure", {"wall": bad})
    assert not res.ok
    assert res.errors[0].param == "wall" and res.errors[0].code == "invalid_number"


def test_integer_rejects_fractions() -> None:
    res = validate("drawer_tray", {"rows": "2.5"})
    assert [(e.param, e.code) for e in res.errors] == [("rows", "invalid_integer")]
    assert validate("drawer_tray", {"rows": "3.0"}).config.values["rows"] == 3


def test_colour_defaults_to_first_of_material_palette() -> None:
    res = validate("nameplate", {"material": "plywood"})
    assert res.ok, res.errors
    assert res.config.values["colour"] == "natural"


def test_material_must_run_on_the_chosen_process() -> None:
    res = validate("spur_gear", {"process": "cnc", "material": "pla"})
    assert [(e.param, e.code) for e in res.errors] == [("material", "material_process_mismatch")]
    assert "PLA is not offered on CNC" in res.errors[0].message


def test_material_outside_family_list_is_rejected() -> None:
    res = validate("drawer_tray", {"material": "aluminium_6061"})
    assert [(e.param, e.code) for e in res.errors] == [("material", "unknown_material")]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Dr. A. Khan", True),
        ("Room #12 - Lab", True),
        ("حنا", True),
        ("Café", True),
        ("   ", False),
        ("<script>", False),
        ("a{b}", False),
        ("line\nbreak", False),
        ("x" * 41, False),
        ("emoji \U0001f600", False),
        ("${HOME}", False),
        ("'; DROP TABLE", False),
    ],
)
def test_text_allow_list(text: str, ok: bool) -> None:
    res = validate("nameplate", {"text": text, "width": 600, "text_height": 8})
    assert res.ok is ok, res.errors
    if not ok:
        assert res.errors[0].param == "text"


def test_text_whitespace_is_collapsed() -> None:
    res = validate("nameplate", {"text": "  Hello    World "})
    assert res.config.values["text"] == "Hello World"


def test_disallowed_characters_are_named_safely() -> None:
    res = validate("nameplate", {"text": "a<b\x00"})
    msg = res.errors[0].message
    assert "'<'" not in msg and "<" in msg and "U+0000" in msg and "\x00" not in msg


def test_messages_show_what_was_typed_readably() -> None:
    """No raw escapes: an em dash or an emoji reads as itself; only invisible characters are
    named by code point."""
    msg = validate("nameplate", {"text": "a\u2014b\U0001f600\u202e"}).errors[0].message
    assert "\u2014" in msg and "U+202E" in msg
    assert "\\u2014" not in msg and "\\U0001f600" not in msg and "\u202e" not in msg


@pytest.mark.parametrize(
    ("key", "raw", "param", "code"),
    [
        (
            "enclosure",
            {"corner_radius": 40, "inner_width": 20},
            "corner_radius",
            "corner_radius_too_large",
        ),
        ("enclosure", {"bosses": False}, "lid", "screw_lid_needs_bosses"),
        ("enclosure", {"vent_slots": 30}, "vent_slots", "vents_do_not_fit"),
        ("enclosure", {"cable_hole_diameter": 30}, "cable_hole_diameter", "cable_hole_too_tall"),
        ("enclosure", {"boss_diameter": 4, "screw": "m4"}, "boss_diameter", "boss_too_small"),
        (
            "bracket",
            {"load_kg": 60, "shelf_leg_length": 250, "width": 15},
            "load_kg",
            "load_needs_thicker_bracket",
        ),
        ("bracket", {"width": 15, "gusset": True}, "load_kg", "too_narrow_for_holes"),
        ("spur_gear", {"bore": 30, "teeth": 20, "module": 1.5}, "bore", "bore_too_large"),
        (
            "spur_gear",
            {"bore": 6, "keyway": True, "teeth": 10, "module": 1},
            "bore",
            "bore_too_large",
        ),
        ("spur_gear", {"keyway": True, "bore": 5}, "bore", "bore_too_small"),
        ("spur_gear", {"module": 0.5}, "module", "tooth_below_min_wall"),
        ("spur_gear", {"module": 4, "teeth": 150}, "module", "gear_too_large"),
        ("spur_gear", {"hub_diameter": 40}, "hub_diameter", "hub_size"),
        ("nameplate", {"style": "raised"}, "style", "raised_text_needs_fdm"),
        ("nameplate", {"thickness": 4}, "thickness", "thickness_not_stocked"),
        (
            "nameplate",
            {"text": "A VERY LONG NAMEPLATE TEXT", "width": 60},
            "text",
            "text_does_not_fit",
        ),
        ("pipe_flange", {"nominal_size": "dn100"}, "bolt_circle_diameter", "bolt_circle_too_small"),
        ("pipe_flange", {"bolt_count": 24}, "bolt_count", "bolt_holes_overlap"),
        ("pipe_flange", {"outer_diameter": 140}, "outer_diameter", "outer_diameter_too_small"),
        ("drawer_tray", {"rows": 12, "width": 100}, "length", "compartments_too_small"),
        (
            "drawer_tray",
            {"corner_radius": 20, "rows": 4, "width": 60},
            "corner_radius",
            "corner_radius_too_large",
        ),
        (
            "device_stand",
            {"cable_slot_width": 20, "width": 40},
            "cable_slot",
            "cable_slot_too_wide",
        ),
        ("knob", {"shaft_depth": 16}, "shaft_depth", "shaft_too_deep"),
        ("knob", {"diameter": 10, "shaft_diameter": 8}, "diameter", "wall_around_shaft"),
        ("knob", {"flutes": 3}, "flutes", "flutes_invalid"),
    ],
)
def test_rules_reject_unbuildable_designs(key: str, raw: dict, param: str, code: str) -> None:
    res = validate(key, raw)
    assert (param, code) in {(e.param, e.code) for e in res.errors}, res.errors


def test_rules_messages_name_the_parameters() -> None:
    res = validate("spur_gear", {"bore": 30, "teeth": 20, "module": 1.5})
    msg = res.errors[0].message
    assert "bore 30 mm" in msg and "module 1.5" in msg and "20 teeth" in msg


def test_rule_skipped_when_its_parameter_is_invalid() -> None:
    res = validate("enclosure", {"wall": "thin", "material": "petg"})
    assert [(e.param, e.code) for e in res.errors] == [("wall", "invalid_number")]


def test_non_mapping_input_is_an_error() -> None:
    res = validate("enclosure", ["wall", 2])  # type: ignore[arg-type]
    assert not res.ok and res.errors[0].code == "invalid_form"


def test_flange_standard_flag() -> None:
    std = validate("pipe_flange", {})
    assert std.config.derived["matches_standard"] is True
    custom = validate("pipe_flange", {"thickness": 20, "outer_diameter": 170})
    assert custom.config.derived["matches_standard"] is False


def test_gear_derived_values() -> None:
    d = validate(
        "spur_gear", {"module": 2, "teeth": 30, "keyway": True, "bore": 12, "hub_diameter": 25}
    ).config.derived
    assert (d["pitch_diameter"], d["tip_diameter"], d["root_diameter"]) == (60.0, 64.0, 55.0)
    assert (d["keyway_width"], d["keyway_depth"]) == (5.0, 2.3)


def test_package_exports_contract_names() -> None:
    for name in (
        "validate",
        "quote",
        "feasible",
        "promise",
        "Configuration",
        "GeometryMetrics",
        "MachineSpec",
        "Process",
        "RoutingStep",
        "ShopLoad",
        "get_family",
        "all_families",
        "register",
    ):
        assert hasattr(configurator, name), name


@pytest.mark.parametrize(
    ("raw", "value"), [("60°", 60.0), ("60 deg", 60.0), (" 59.6 ", 60.0), (70, 70.0)]
)
def test_angle_accepts_degree_suffixes(raw: object, value: float) -> None:
    assert validate("device_stand", {"angle": raw}).config.values["angle"] == value


def test_wrong_unit_suffix_is_an_error() -> None:
    res = validate("device_stand", {"angle": "60 mm"})
    assert [(e.param, e.code) for e in res.errors] == [("angle", "invalid_number")]
    assert validate("bracket", {"load_kg": "12 kg"}).config.values["load_kg"] == 12.0


def test_laser_engraving_time_is_added_to_the_cut() -> None:
    fam = get_family("nameplate")
    short = fam.routing(validate("nameplate", {"text": "A"}).config)[0]
    long = fam.routing(validate("nameplate", {"text": "ABCDEFGHIJ"}).config)[0]
    assert short.step == long.step == "cut" and long.minutes > short.minutes
