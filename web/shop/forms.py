"""Turning a configurator Family into form data for templates and JSON, and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import configurator
from configurator.families.pipe_flange import flange_table
from configurator.materials import get_material

MAX_CARRIED_CHARS = 200  # one value carried through the login redirect

GROUP_TITLES = {
    "size": "Size",
    "lid": "Lid and fixings",
    "openings": "Openings",
    "material": "Material and finish",
    "main": "Design",
}


def family_summary(f: configurator.Family) -> dict[str, Any]:
    material = f.param("material")
    return {
        "key": f.key,
        "name": f.name,
        "version": f.version,
        "category": f.category,
        "description": f.description,
        "processes": [p.value for p in f.processes],
        "materials": list(getattr(material, "options", ())),
    }


def materials_of(f: configurator.Family) -> dict[str, dict[str, Any]]:
    options = getattr(f.param("material"), "options", ())
    out = {}
    for key in options:
        m = get_material(key)
        out[key] = {
            "name": m.name,
            "colours": list(m.colours),
            "processes": [p.value for p in m.processes],
        }
    return out


def family_detail(f: configurator.Family) -> dict[str, Any]:
    """Parameters grouped in declaration order, with units, limits and help."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in f.params:
        groups.setdefault(p.group, []).append(_jsonable(p.describe()))
    return family_summary(f) | {
        "defaults": _jsonable(f.default_raw()),
        "groups": [
            {"name": g, "title": GROUP_TITLES.get(g, g.replace("_", " ").title()), "params": ps}
            for g, ps in groups.items()
        ],
        "material_info": materials_of(f),
        "standards": standard_sizes(f),
    }


def standard_sizes(f: configurator.Family) -> dict[str, dict[str, dict[str, Any]]]:
    """{choice param: {option: {dependent param: value}}}: what choosing a standard size fills
    in on the page (the server still validates whatever is sent)."""
    if f.key != "pipe_flange":
        return {}
    fields = {
        "outer_diameter": "outer_diameter_mm",
        "bolt_circle_diameter": "bolt_circle_mm",
        "bolt_count": "bolt_count",
        "bolt_hole_diameter": "bolt_hole_mm",
    }
    table = flange_table()
    return {
        "nominal_size": {
            size: {param: _plain(row[col]) for param, col in fields.items()}
            for size, row in table.items()
        }
    }


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return str(obj)


def read_form_params(f: configurator.Family, form: Mapping[str, Any]) -> dict[str, Any]:
    """Known parameters from a submitted form; checkboxes arrive as a hidden 'false' + 'true'."""
    raw: dict[str, Any] = {}
    for p in f.params:
        values = form.getlist(p.name) if hasattr(form, "getlist") else [form.get(p.name)]
        values = [v for v in values if v is not None]
        if values:
            raw[p.name] = values[-1]
    return raw


def read_query_params(f: configurator.Family, args: Mapping[str, Any]) -> dict[str, Any]:
    """Known parameters carried in a URL's query (each cut to a sane length; never trusted:
    the page validates them like typed values)."""
    raw = read_form_params(f, args)
    return {k: str(v)[:MAX_CARRIED_CHARS] for k, v in raw.items()}


def filter_families(category: str | None, material: str | None) -> list[configurator.Family]:
    out = []
    for f in configurator.all_families():
        if category and f.category != category:
            continue
        if material and material not in getattr(f.param("material"), "options", ()):
            continue
        out.append(f)
    return out


def categories() -> list[str]:
    return sorted({f.category for f in configurator.all_families()})


def all_materials() -> list[str]:
    return sorted(
        {
            m
            for f in configurator.all_families()
            for m in getattr(f.param("material"), "options", ())
        }
    )
