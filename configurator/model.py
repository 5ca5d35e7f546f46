"""Value types that cross package boundaries: configurations, errors, geometry, routing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from configurator.errors import ConfiguratorError
from configurator.processes import Process


@dataclass(frozen=True)
class FieldError:
    """One problem with user input: which parameter, a stable code and a human message."""

    param: str
    code: str
    message: str


@dataclass(frozen=True)
class GeometryMetrics:
    """Measured or estimated geometry of one part; cad/ fills it from the real solid."""

    volume_mm3: float
    area_mm2: float
    bbox_mm: tuple[float, float, float]
    print_minutes: float | None = None
    filament_g: float | None = None


@dataclass(frozen=True)
class RoutingStep:
    """One operation of one part: `minutes` is run time per unit, setup is per batch."""

    step: str
    process: Process
    minutes: float
    requirements: dict[str, Any] = field(default_factory=dict)
    setup_minutes: float = 0.0


def _canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


@dataclass(frozen=True, eq=False)
class Configuration:
    """A family key+version and its normalised parameter values (defaults filled, rounded).

    `values` holds parameters only; geometry helpers live in `derived` (recomputed from the
    registered family, so they never enter the hash).
    """

    family_key: str
    family_version: int
    values: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def as_dict(self) -> dict[str, Any]:
        """Plain dict with family, version and values (what canonical JSON serialises)."""
        return {
            "family": self.family_key,
            "version": self.family_version,
            "values": dict(self.values),
        }

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, ASCII only: byte-identical across processes."""
        return _canonical(self.as_dict())

    @cached_property
    def config_hash(self) -> str:
        """sha256 hex of the canonical JSON; the artifact key for cad/."""
        return hashlib.sha256(self.canonical_json().encode("ascii")).hexdigest()

    @cached_property
    def derived(self) -> Mapping[str, Any]:
        """Derived geometry values (e.g. gear pitch diameter) from the registered family."""
        from configurator.registry import get_family

        return MappingProxyType(get_family(self.family_key).derive(self.values))

    @classmethod
    def from_canonical_json(cls, text: str) -> Configuration:
        """Inverse of canonical_json(); raises ConfiguratorError on a malformed document."""
        try:
            doc = json.loads(text)
            key, version, values = doc["family"], doc["version"], doc["values"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfiguratorError(f"not a canonical configuration: {exc}") from exc
        if not isinstance(key, str) or not isinstance(version, int) or not isinstance(values, dict):
            raise ConfiguratorError("not a canonical configuration: bad field types")
        return cls(family_key=key, family_version=version, values=values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Configuration):
            return NotImplemented
        return self.canonical_json() == other.canonical_json()

    def __hash__(self) -> int:
        return hash(self.config_hash)


@dataclass(frozen=True)
class ValidationResult:
    """Either ok with a Configuration, or not ok with every error found."""

    ok: bool
    config: Configuration | None
    errors: list[FieldError]

    def errors_for(self, param: str) -> list[FieldError]:
        """Errors naming one parameter (for form rendering)."""
        return [e for e in self.errors if e.param == param]
