"""Typed parameters. Each turns one raw form/JSON value into a normalised value or a FieldError.

Parsing never raises on user input: any type, any string, any magnitude gives an error value.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from configurator.model import FieldError

_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?)\s*([a-z\"°]*)\s*$")
_MM_PER_UNIT = {"": 1.0, "mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4, '"': 25.4}
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}
_MAX_ABS = 1e9
# Characters a customer may type into short text: letters (any script), digits, space, and these.
TEXT_PUNCTUATION = " -_.,&'#/()+:!?"


def _show(raw: object, limit: int = 24) -> str:
    """A safe, short rendering of user input for messages: readable as typed (an em dash or
    an Urdu letter stays itself), but invisible and direction-changing characters (controls,
    format, private use) and unusual spaces are named as U+XXXX, and long input is cut."""
    text = raw if isinstance(raw, str) else repr(raw)
    shown = "".join(
        ch
        if ch == " " or not unicodedata.category(ch).startswith(("C", "Z"))
        else f"U+{ord(ch):04X}"
        for ch in text
    )
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, kw_only=True)
class Param:
    """Common metadata: name, label, help text and UI group (+ unit for numbers)."""

    kind: ClassVar[str] = "param"
    name: str
    label: str
    help: str = ""
    group: str = "main"
    unit: str = ""
    default: Any = None

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        raise NotImplementedError

    def error(self, code: str, message: str) -> tuple[None, FieldError]:
        return None, FieldError(self.name, code, message)

    def describe(self) -> dict[str, Any]:
        """JSON-able description for form rendering in web/."""
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "help": self.help,
            "group": self.group,
            "unit": self.unit,
            "default": self.default,
        }


def _parse_number(raw: object, unit: str) -> tuple[float | None, str | None]:
    """Return (value in the param's unit, None) or (None, reason)."""
    if isinstance(raw, bool):
        return None, "expected a number, got a boolean"
    if isinstance(raw, int | float | Decimal):
        value = float(raw)
    elif isinstance(raw, str):
        m = _NUM.match(raw.lower())
        if not m:
            return None, f"'{_show(raw)}' is not a number"
        value = float(m.group(1))
        suffix = m.group(2)
        if suffix not in unit_words(unit):
            return None, f"unit '{_show(suffix)}' is not accepted here (use {unit})"
        value *= _MM_PER_UNIT[suffix] if unit == "mm" else 1.0
    else:
        return None, f"expected a number, got {type(raw).__name__}"
    if not math.isfinite(value) or abs(value) > _MAX_ABS:
        return None, "number is not finite or far out of range"
    return value, None


def unit_words(unit: str) -> tuple[str, ...]:
    """What may follow a number of this unit ("" included): the API schema states the same."""
    if unit == "mm":
        return tuple(_MM_PER_UNIT)
    return tuple(dict.fromkeys(("", unit, "°" if unit == "deg" else unit)))


YES_NO_WORDS = frozenset(_TRUE | _FALSE)


def _decimals(step: float) -> int:
    return max(0, -int(Decimal(repr(step)).normalize().as_tuple().exponent))


@dataclass(frozen=True, kw_only=True)
class Number(Param):
    """A real quantity in `unit` with min, max and step; values are rounded to the step grid.

    Rounding to the step is what makes hashes stable under float noise (2.0000000001 == 2.0).
    Lengths accept "12", "12 mm", "1.2 cm", "0.5 in".
    """

    kind: ClassVar[str] = "number"
    min: float
    max: float
    step: float
    default: float
    unit: str = "mm"

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        value, why = _parse_number(raw, self.unit)
        if value is None:
            return self.error("invalid_number", f"{self.label}: {why}")
        rounded = round(round(value / self.step) * self.step, _decimals(self.step))
        if rounded == 0:
            rounded = 0.0  # no negative zero in canonical JSON
        if not (self.min <= rounded <= self.max):
            return self.error(
                "out_of_range",
                f"{self.label} {_fmt(rounded)} {self.unit} is outside "
                f"{_fmt(self.min)}–{_fmt(self.max)} {self.unit}",
            )
        return float(rounded), None

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"min": self.min, "max": self.max, "step": self.step}


def length(
    name: str, label: str, lo: float, hi: float, step: float, default: float, **kw: Any
) -> Number:
    """Shorthand for a length parameter in mm."""
    return Number(
        name=name, label=label, min=lo, max=hi, step=step, default=default, unit="mm", **kw
    )


@dataclass(frozen=True, kw_only=True)
class Integer(Param):
    """A whole count (teeth, rows, holes)."""

    kind: ClassVar[str] = "integer"
    min: int
    max: int
    default: int

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        value, why = _parse_number(raw, self.unit)
        if value is None:
            return self.error("invalid_integer", f"{self.label}: {why}")
        if not float(value).is_integer():
            return self.error("invalid_integer", f"{self.label} must be a whole number")
        n = int(value)
        if not (self.min <= n <= self.max):
            return self.error("out_of_range", f"{self.label} {n} is outside {self.min}–{self.max}")
        return n, None

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"min": self.min, "max": self.max}


@dataclass(frozen=True, kw_only=True)
class Choice(Param):
    """One of a fixed set of string options (case-insensitive input)."""

    kind: ClassVar[str] = "choice"
    options: tuple[str, ...]
    default: str

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        if isinstance(raw, str) and raw.strip().lower() in self.options:
            return raw.strip().lower(), None
        return self.error(
            "invalid_choice",
            f"{self.label} '{_show(raw)}' is not one of: {', '.join(self.options)}",
        )

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"options": list(self.options)}


@dataclass(frozen=True, kw_only=True)
class NumberChoice(Param):
    """One of a fixed set of numbers (gear module, standard bores)."""

    kind: ClassVar[str] = "number_choice"
    options: tuple[float, ...]
    default: float

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        value, why = _parse_number(raw, self.unit)
        if value is not None:
            for opt in self.options:
                if abs(opt - value) < 1e-6:
                    return float(opt), None
            why = f"{_fmt(value)} is not one of: {', '.join(_fmt(o) for o in self.options)}"
        return self.error("invalid_choice", f"{self.label}: {why}")

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"options": list(self.options)}


@dataclass(frozen=True, kw_only=True)
class Boolean(Param):
    """Yes/no; accepts booleans, 0/1 and the usual form strings."""

    kind: ClassVar[str] = "boolean"
    default: bool

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        if isinstance(raw, bool):
            return raw, None
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw), None
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE, None
        return self.error("invalid_boolean", f"{self.label} '{_show(raw)}' is not yes/no")


def _allowed_char(ch: str, extra: str) -> bool:
    """ASCII letters/digits, Latin-1 letters and Arabic-script letters (Urdu): fonts cover them."""
    if ch in extra or (ch.isascii() and ch.isalnum()):
        return True
    if "\u00c0" <= ch <= "\u00ff":
        return ch.isalpha()
    return "\u0621" <= ch <= "\u06d3" and ch.isalpha()


@dataclass(frozen=True, kw_only=True)
class Text(Param):
    """Short text (engraving). Only allow-listed characters pass; it is data, never code."""

    kind: ClassVar[str] = "text"
    max_length: int
    default: str
    punctuation: str = TEXT_PUNCTUATION

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        if not isinstance(raw, str):
            return self.error("invalid_text", f"{self.label} must be text")
        if len(raw) > 4 * self.max_length:
            return self.error(
                "too_long", f"{self.label} is longer than {self.max_length} characters"
            )
        bad = sorted({ch for ch in raw if not _allowed_char(ch, self.punctuation)})
        if bad:
            shown = " ".join(_show(ch) for ch in bad[:8])
            return self.error(
                "disallowed_characters",
                f"{self.label} contains characters that are not allowed: {shown} "
                f"(allowed: letters, digits, space and {self.punctuation.strip()})",
            )
        text = " ".join(raw.split())
        if not text:
            return self.error("required", f"{self.label} must not be empty")
        if len(text) > self.max_length:
            return self.error(
                "too_long", f"{self.label} is longer than {self.max_length} characters"
            )
        return text, None

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"max_length": self.max_length, "punctuation": self.punctuation}


@dataclass(frozen=True, kw_only=True)
class MaterialParam(Param):
    """A material key from the library, limited to `options`; process fit is checked later."""

    kind: ClassVar[str] = "material"
    name: str = "material"
    label: str = "Material"
    group: str = "material"
    options: tuple[str, ...]
    default: str

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        if isinstance(raw, str) and raw.strip().lower() in self.options:
            return raw.strip().lower(), None
        return self.error(
            "unknown_material",
            f"material '{_show(raw)}' is not offered for this product; choose one of: "
            f"{', '.join(self.options)}",
        )

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"options": list(self.options)}


@dataclass(frozen=True, kw_only=True)
class ColourParam(Param):
    """A colour name; must be in the chosen material's palette (checked after material).

    Missing colour defaults to the first colour of the material's palette.
    """

    kind: ClassVar[str] = "colour"
    name: str = "colour"
    label: str = "Colour"
    group: str = "material"
    default: str | None = None

    def parse(self, raw: object) -> tuple[Any, FieldError | None]:
        if isinstance(raw, str) and raw.strip():
            return raw.strip().lower().replace(" ", "_"), None
        return self.error("invalid_colour", f"colour '{_show(raw)}' is not a colour name")
