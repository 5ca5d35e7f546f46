"""Build a configuration into an OCCT solid with the builder registered for its family.

Builders live in ``cad/builders/<family>.py``; each registers a function keyed by
(family key, builder version). ``build()`` never lets a geometry failure escape: OCCT and
CadQuery exceptions from degenerate inputs become ``BuildResult(ok=False, error=...)`` so a
queue worker records a clear reason instead of crashing. Programmer errors (a missing
parameter, a wrong type) still raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cadquery as cq
from OCP.Standard import Standard_Failure

from cad.findings import Finding
from cad.geom import fast_bbox
from configurator.model import Configuration

BuilderFn = Callable[[Mapping[str, Any]], "cq.Workplane | cq.Shape"]

# Exceptions that mean "this geometry could not be made", not "the code is wrong". OCCT's
# own exceptions (StdFail_NotDone, Standard_ConstructionError, ...) do not share a Python
# base class in OCP, so they are recognised by their module (see is_geometry_error).
GEOMETRY_ERRORS: tuple[type[BaseException], ...] = (
    Standard_Failure,
    ValueError,
    ArithmeticError,
    RuntimeError,
    IndexError,
)


class BuilderError(Exception):
    """Registry misuse: unknown family/version or a duplicate registration."""


class GeometryError(ValueError):
    """Raised by a builder when parameters lead to geometry it cannot make."""


@dataclass(frozen=True)
class Builder:
    """A registered builder; ``artifact_version`` is the store key component."""

    family_key: str
    version: int
    fn: BuilderFn
    font: str | None = None  # font file used for text, named in metadata and the README

    @property
    def artifact_version(self) -> str:
        return f"{self.family_key}-b{self.version}"


@dataclass(frozen=True)
class BuildResult:
    """Outcome of one build: ``shape`` is a valid solid when ``ok``; otherwise ``error``."""

    ok: bool
    shape: cq.Shape | None
    findings: tuple[Finding, ...]
    seconds: float
    error: str | None = None
    builder_version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


_BUILDERS: dict[tuple[str, int], Builder] = {}


def register_builder(
    family_key: str, version: int, fn: BuilderFn, font: str | None = None
) -> Builder:
    """Register ``fn`` for (family_key, version); re-registering the same fn is harmless."""
    key = (family_key, version)
    existing = _BUILDERS.get(key)
    if existing is not None and existing.fn is not fn:
        raise BuilderError(f"builder {family_key} v{version} registered twice")
    builder = Builder(family_key, version, fn, font)
    _BUILDERS[key] = builder
    return builder


def get_builder(family_key: str, version: int | None = None) -> Builder:
    """The builder for a family: ``version`` or else the newest registered one."""
    import cad.builders  # noqa: F401  (registers every family's builder)

    if version is not None:
        try:
            return _BUILDERS[(family_key, version)]
        except KeyError:
            raise BuilderError(f"no builder {family_key} v{version}") from None
    versions = [v for (k, v) in _BUILDERS if k == family_key]
    if not versions:
        raise BuilderError(f"no builder registered for family {family_key!r}")
    return _BUILDERS[(family_key, max(versions))]


def registered_families() -> list[str]:
    """Family keys that have at least one builder."""
    import cad.builders  # noqa: F401

    return sorted({k for (k, _) in _BUILDERS})


def as_part(result: cq.Workplane | cq.Shape) -> cq.Shape:
    """A Solid, or a Compound of disjoint Solids for a multi-part print (e.g. box + lid).

    A one-solid Compound is unwrapped. Multi-part results are documented assemblies laid
    out side by side on the build plate; their solids must not touch or overlap.
    """
    shape = result.val() if isinstance(result, cq.Workplane) else result
    if not isinstance(shape, cq.Shape):
        raise GeometryError(f"builder returned {type(shape).__name__}, not a shape")
    solids = shape.Solids()
    if not solids:
        raise GeometryError("builder produced no solid")
    if len(solids) == 1:
        return solids[0]
    return cq.Compound.makeCompound(solids)


def build(config: Configuration, builder_version: int | None = None) -> BuildResult:
    """Build ``config``; geometry failures come back as ``ok=False`` with a clear error."""
    builder = get_builder(config.family_key, builder_version)
    meta: dict[str, Any] = {"font": builder.font} if builder.font else {}
    start = time.perf_counter()
    try:
        solid = as_part(builder.fn(dict(config.values) | dict(config.derived)))
        error = _check_solid(solid)
    except Exception as exc:
        if not is_geometry_error(exc):
            raise  # a programming error (KeyError, TypeError, ...) must surface
        solid, error = None, f"{type(exc).__name__}: {exc}".strip()
    seconds = time.perf_counter() - start
    if error is not None:
        return BuildResult(False, None, (), seconds, error, builder.artifact_version, meta)
    return BuildResult(True, solid, (), seconds, None, builder.artifact_version, meta)


def is_geometry_error(exc: BaseException) -> bool:
    """True for OCCT/CadQuery failures caused by the inputs, not by a bug in our code."""
    return isinstance(exc, GEOMETRY_ERRORS) or type(exc).__module__.startswith("OCP")


def _check_solid(solid: cq.Shape) -> str | None:
    if not solid.isValid():
        return "builder produced an invalid solid (OCCT BRepCheck failed)"
    volumes = [s.Volume() for s in solid.Solids()]
    if min(volumes) <= 0:
        return f"builder produced a solid with non-positive volume {min(volumes):.6g}"
    boxes = [fast_bbox(s) for s in solid.Solids()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a.xmin < b.xmax and b.xmin < a.xmax and a.ymin < b.ymax and b.ymin < a.ymax:
                return "builder laid out parts whose footprints overlap on the plate"
    return None
