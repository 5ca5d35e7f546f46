"""Family registry, keyed by family key. Families register themselves on import."""

from __future__ import annotations

from configurator.errors import DuplicateFamilyError, UnknownFamilyError
from configurator.family import Family

_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family; a second family with the same key is a packaging error."""
    existing = _FAMILIES.get(family.key)
    if existing is not None and existing is not family:
        raise DuplicateFamilyError(family.key)
    _FAMILIES[family.key] = family
    return family


def get_family(key: str) -> Family:
    """The family registered under `key`; raises UnknownFamilyError (carries .key)."""
    try:
        return _FAMILIES[key]
    except (KeyError, TypeError):
        raise UnknownFamilyError(str(key)) from None


def all_families() -> list[Family]:
    """Every registered family, sorted by key."""
    return [_FAMILIES[k] for k in sorted(_FAMILIES)]
