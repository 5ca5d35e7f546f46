"""Hunar configurator: product families, validation, pricing, feasibility, delivery promise.

Pure package: stdlib only. `import configurator` registers every family.
"""

from configurator import families  # noqa: F401  (registers families)
from configurator.errors import ConfiguratorError, InvalidRequestError, UnknownFamilyError
from configurator.family import Family
from configurator.feasibility import Feasibility, Reason, feasible
from configurator.machines import MachineSpec
from configurator.model import (
    Configuration,
    FieldError,
    GeometryMetrics,
    RoutingStep,
    ValidationResult,
)
from configurator.pricing import DEFAULT_CURRENCY, Quote, QuoteLine, quote
from configurator.processes import Process
from configurator.promise import CapableToPromise, Promise, PromiseRequest, ShopLoad, promise
from configurator.registry import all_families, get_family, register
from configurator.validation import validate

__all__ = [
    "DEFAULT_CURRENCY",
    "CapableToPromise",
    "Feasibility",
    "Promise",
    "PromiseRequest",
    "Quote",
    "QuoteLine",
    "Reason",
    "ShopLoad",
    "feasible",
    "promise",
    "quote",
    "Configuration",
    "ConfiguratorError",
    "Family",
    "FieldError",
    "GeometryMetrics",
    "InvalidRequestError",
    "MachineSpec",
    "Process",
    "RoutingStep",
    "UnknownFamilyError",
    "ValidationResult",
    "all_families",
    "get_family",
    "register",
    "validate",
]
