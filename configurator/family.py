"""The declarative Family: parameters, derived values, rules, analytic geometry, routing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from configurator.errors import ConfiguratorError
from configurator.materials import get_material
from configurator.model import Configuration, GeometryMetrics, RoutingStep
from configurator.params import Choice, ColourParam, MaterialParam, Param
from configurator.processes import PRIMARY_PROCESSES, Process
from configurator.rules import Rule

Values = Mapping[str, Any]
Derive = Callable[[Values], dict[str, Any]]
Geometry = Callable[[Values], GeometryMetrics]
ExtraSteps = Callable[[Values], list[RoutingStep]]


def _no_derived(values: Values) -> dict[str, Any]:
    return {}


def _no_steps(values: Values) -> list[RoutingStep]:
    return []


@dataclass(frozen=True, kw_only=True)
class Family:
    """One parametric product. Declared in configurator/families/<key>.py and registered.

    `geometry(v)` is the analytic estimate of the part (v = values + derived) used for
    pricing and feasibility until cad/ measures the real solid. `extra_steps(v)` adds
    family-specific post operations to the standard routing.
    """

    key: str
    name: str
    version: int
    description: str
    category: str
    processes: tuple[Process, ...]
    params: tuple[Param, ...]
    geometry: Geometry
    derived: Derive = _no_derived
    rules: tuple[Rule, ...] = ()
    extra_steps: ExtraSteps = _no_steps
    max_qty: int = 500
    needs_supports: Callable[[Values], bool] = field(default=lambda v: False)
    extra_primary_minutes: Callable[[Values], float] = field(default=lambda v: 0.0)
    # How the 3D preview first looks at the part (model-viewer's camera-orbit: azimuth,
    # polar angle from straight above, distance): a sign is read from above, face-on.
    preview_orbit: str = "0deg 75deg 105%"  # model-viewer's own default

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ConfiguratorError(f"family {self.key}: duplicate parameter names")
        for required in ("process", "material", "colour"):
            if required not in names:
                raise ConfiguratorError(f"family {self.key}: missing {required!r} parameter")
        if not self.processes or not set(self.processes) <= PRIMARY_PROCESSES:
            raise ConfiguratorError(f"family {self.key}: processes must be primary processes")
        proc = self.param("process")
        if not isinstance(proc, Choice) or set(proc.options) != {p.value for p in self.processes}:
            raise ConfiguratorError(
                f"family {self.key}: 'process' must offer exactly {self.processes}"
            )
        if not isinstance(self.param("material"), MaterialParam):
            raise ConfiguratorError(f"family {self.key}: 'material' must be a MaterialParam")
        if not isinstance(self.param("colour"), ColourParam):
            raise ConfiguratorError(f"family {self.key}: 'colour' must be a ColourParam")
        for rule in self.rules:
            unknown = set(rule.params) - set(names)
            if unknown:
                raise ConfiguratorError(f"family {self.key}: rule {rule.code} names {unknown}")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        """The parameter called `name`; KeyError if absent."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def material_options(self) -> tuple[str, ...]:
        """Material keys on offer ('material' is a MaterialParam, checked on construction)."""
        p = self.param("material")
        assert isinstance(p, MaterialParam)
        return p.options

    def process_options(self) -> tuple[str, ...]:
        """Process values on offer ('process' is a Choice, checked on construction)."""
        p = self.param("process")
        assert isinstance(p, Choice)
        return p.options

    def default_raw(self) -> dict[str, Any]:
        """Defaults for every parameter (colour: first of the default material's palette)."""
        raw = {p.name: p.default for p in self.params}
        if raw["colour"] is None:
            raw["colour"] = get_material(raw["material"]).colours[0]
        return raw

    def describe(self) -> dict[str, Any]:
        """JSON-able description for forms: parameters, processes, materials and palettes."""
        mats = self.material_options()
        return {
            "key": self.key,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "category": self.category,
            "processes": [p.value for p in self.processes],
            "max_qty": self.max_qty,
            "params": [p.describe() for p in self.params],
            "materials": {
                m: {
                    "name": get_material(m).name,
                    "processes": [p.value for p in get_material(m).processes],
                    "colours": list(get_material(m).colours),
                }
                for m in mats
            },
        }

    def derive(self, values: Values) -> dict[str, Any]:
        """Derived values (geometry helpers) for normalised parameter values."""
        return self.derived(values)

    def view(self, values: Values) -> dict[str, Any]:
        """values + derived, the mapping rules and geometry read."""
        return dict(values) | self.derived(values)

    def estimate(self, values: Values) -> GeometryMetrics:
        """Analytic geometry estimate (no CAD)."""
        return self.geometry(self.view(values))

    def routing(
        self, config: Configuration, metrics: GeometryMetrics | None = None
    ) -> list[RoutingStep]:
        """Operations for one unit: primary shaping, post steps, QC and pack."""
        from configurator.routing import standard_routing

        return standard_routing(self, config, metrics)
