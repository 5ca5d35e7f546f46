"""Turning a configurator Family into form data for templates and JSON, and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import configurator
from configurator.materials import get_material

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
    }


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
