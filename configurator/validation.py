"""validate(): raw form/JSON input -> normalised Configuration or every FieldError found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from configurator.errors import UnknownFamilyError
from configurator.family import Family
from configurator.materials import get_material
from configurator.model import Configuration, FieldError, ValidationResult
from configurator.params import _show
from configurator.processes import Process
from configurator.registry import get_family

_MAX_KEYS = 200


def _fail(errors: list[FieldError]) -> ValidationResult:
    return ValidationResult(ok=False, config=None, errors=errors)


def _parse_params(
    family: Family, raw: Mapping[Any, Any]
) -> tuple[dict[str, Any], list[FieldError]]:
    """Per-parameter parsing; missing, None or blank (non-text) means 'use the default'."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for p in family.params:
        given = raw.get(p.name)
        if given is None or (isinstance(given, str) and not given.strip() and p.kind != "text"):
            if p.name == "colour":
                continue  # filled from the material's palette once the material is known
            given = p.default  # parsed too, so a default and the same typed value hash alike
        value, err = p.parse(given)
        if err is None:
            values[p.name] = value
        else:
            errors.append(err)
    return values, errors


def _check_material(family: Family, values: dict[str, Any], errors: list[FieldError]) -> None:
    """Material must run on the chosen process; colour must be in the material's palette."""
    if "material" not in values or "process" not in values:
        return
    mat = get_material(values["material"])
    proc = Process(values["process"])
    if proc not in mat.processes:
        ok = ", ".join(p.value for p in mat.processes)
        errors.append(
            FieldError(
                "material",
                "material_process_mismatch",
                f"{mat.name} is not offered on {proc.value.upper()} (it runs on: {ok})",
            )
        )
        values.pop("material")
        return
    colour = values.get("colour")
    if colour is None:
        if not any(e.param == "colour" for e in errors):
            values["colour"] = mat.colours[0]
    elif colour not in mat.colours:
        errors.append(
            FieldError(
                "colour",
                "colour_not_in_palette",
                f"colour '{_show(colour)}' is not available in {mat.name}; "
                f"choose one of: {', '.join(mat.colours)}",
            )
        )
        values.pop("colour")


def _run_rules(family: Family, values: dict[str, Any], errors: list[FieldError]) -> None:
    """Run every rule whose parameters all parsed; others would only echo earlier errors."""
    filled = family.default_raw() | values
    if "material" not in values:
        # keep rule inputs consistent: the default material must fit the (possibly default) process
        filled["process"] = family.param("process").default
    view = family.view(filled)
    for rule in family.rules:
        if all(name in values for name in rule.params):
            message = rule.check(view)
            if message is not None:
                errors.append(FieldError(rule.params[0], rule.code, message))


def validate(family_key: str, raw: Mapping[str, object]) -> ValidationResult:
    """Normalise `raw` for `family_key`. Never raises on user input; collects every error."""
    try:
        family = get_family(family_key)
    except UnknownFamilyError:
        return _fail(
            [FieldError("family", "unknown_family", f"unknown product '{_show(family_key)}'")]
        )
    if not isinstance(raw, Mapping):
        return _fail([FieldError("form", "invalid_form", "the form data is not a mapping")])
    errors: list[FieldError] = []
    known = set(family.param_names)
    unknown = [k for k in raw if k not in known]
    for key in unknown[:20]:
        shown = _show(key, 40) or '""'
        errors.append(
            FieldError(shown, "unknown_param", f"'{shown}' is not a parameter of {family.name}")
        )
    if len(raw) > _MAX_KEYS:
        return _fail(errors)
    values, parse_errors = _parse_params(family, raw)
    errors.extend(parse_errors)
    _check_material(family, values, errors)
    _run_rules(family, values, errors)
    if errors:
        return _fail(errors)
    ordered = {name: values[name] for name in family.param_names}
    config = Configuration(family_key=family.key, family_version=family.version, values=ordered)
    return ValidationResult(ok=True, config=config, errors=[])
