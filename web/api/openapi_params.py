"""Each family's parameters as JSON Schema: what the document allows is what the server parses.

The configurator is lenient on purpose (a length may be ``12``, ``"12 mm"`` or ``"1.2 cm"``; a
choice is matched without case or surrounding spaces; ``null`` means "the default"), so each
schema states those same forms, not a stricter or a looser version of them. Numbers are rounded
to their step before the range check, so the numeric bounds are widened by half a step.
Rules between fields (corner radius vs. size, colour vs. material) cannot be said in JSON
Schema; a body valid here may still get a 422 naming the rule. ``null`` (and, but for text,
a blank string) is the parameter's default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import configurator
from configurator.params import (
    YES_NO_WORDS,
    Boolean,
    Choice,
    ColourParam,
    Integer,
    MaterialParam,
    Number,
    NumberChoice,
    Param,
    Text,
    unit_words,
)
from web.api.body import MAX_TEXT

NULL = {"type": "null"}
BLANK = {"type": "string", "maxLength": MAX_TEXT, "pattern": r"^\s*$"}  # also the default
NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?"


def _nocase(word: str) -> str:
    """A regex matching `word` in any case (JSON Schema patterns take no flags)."""
    return "".join(f"[{ch}{ch.upper()}]" if ch.isalpha() else re.escape(ch) for ch in word.lower())


def _one_of_words(words: Iterable[str]) -> str:
    alternatives = "|".join(_nocase(w) for w in sorted(words, key=lambda w: (-len(w), w)))
    return rf"^\s*(?:{alternatives})\s*$"


def _number_text(p: Number | Integer | NumberChoice) -> dict[str, Any]:
    units = "|".join(_nocase(s) for s in sorted(unit_words(p.unit), key=len, reverse=True) if s)
    suffix = rf"\s*(?:{units})?" if units else ""
    return {
        "type": "string",
        "maxLength": MAX_TEXT,
        "pattern": rf"^\s*{NUMBER}{suffix}\s*$",
        "description": f"the number as text, optionally with its unit ({p.unit or 'none'})",
    }


def _text_chars(p: Text) -> str:
    """The characters a Text parameter accepts, as one regex class."""
    latin1 = "".join(chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha())
    arabic = "".join(chr(c) for c in range(0x621, 0x6D4) if chr(c).isalpha())
    return "[A-Za-z0-9" + re.escape(latin1 + arabic + p.punctuation) + "]"


def param_schema(p: Param) -> dict[str, Any]:
    """The JSON Schema of one parameter's raw value, as its `parse` accepts it."""
    label = {"title": p.label, "description": p.help} if p.help else {"title": p.label}
    forms: list[dict[str, Any]]
    if isinstance(p, Number):
        half = p.step / 2
        numeric = {"type": "number", "minimum": p.min - half, "maximum": p.max + half}
        forms = [numeric, _number_text(p)]
        label["description"] = (
            f"{p.help} {p.min:g}–{p.max:g} {p.unit}, rounded to steps of {p.step:g}"
        ).strip()
    elif isinstance(p, Integer):
        forms = [{"type": "integer", "minimum": p.min, "maximum": p.max}, _number_text(p)]
    elif isinstance(p, NumberChoice):
        forms = [{"enum": list(p.options)}, _number_text(p)]
    elif isinstance(p, Boolean):
        forms = [
            {"type": "boolean"},
            {"enum": [0, 1]},
            {"type": "string", "pattern": _one_of_words(YES_NO_WORDS)},
        ]
    elif isinstance(p, Choice | MaterialParam):
        forms = [{"type": "string", "maxLength": MAX_TEXT, "pattern": _one_of_words(p.options)}]
    elif isinstance(p, Text):
        chars = _text_chars(p)
        limit = min(4 * p.max_length, MAX_TEXT)
        forms = [{"type": "string", "maxLength": limit, "pattern": f"^{chars}*$"}]
        label["description"] = (
            f"at most {p.max_length} characters once spaces are collapsed; letters, digits "
            f"and {p.punctuation.strip()}"
        )
    elif isinstance(p, ColourParam):
        forms = [
            {
                "type": "string",
                "maxLength": MAX_TEXT,
                "pattern": r"\S",
                "description": "a colour of the chosen material's palette",
            }
        ]
    else:  # a new parameter type must say what it accepts
        raise TypeError(f"no JSON Schema for parameter type {type(p).__name__}")
    default = [NULL] if isinstance(p, Text) else [NULL, BLANK]  # blank text is no text
    return {**label, "anyOf": [*forms, *default], "default": p.default}


def family_params(family: configurator.Family) -> dict[str, Any]:
    """One family's `params` object: its own names only; a missing or null value is the default."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {p.name: param_schema(p) for p in family.params},
    }
