"""Typed errors for programmer mistakes. User input never raises: it yields FieldErrors."""

from __future__ import annotations


class ConfiguratorError(Exception):
    """Base class for configurator programmer-side errors."""


class UnknownFamilyError(ConfiguratorError):
    """A family key that is not registered was looked up by code (not by a user form)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"unknown product family {key!r}")
        self.key = key


class DuplicateFamilyError(ConfiguratorError):
    """Two modules registered the same family key: a packaging mistake."""

    def __init__(self, key: str) -> None:
        super().__init__(f"product family {key!r} is already registered")
        self.key = key


class InvalidRequestError(ConfiguratorError):
    """quote()/promise() called with arguments the caller should have checked (qty, tier).

    Carries `.field` and `.code` so a service layer can turn it into a form error.
    """

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


class DataFileError(ConfiguratorError):
    """A shipped data table (materials, pricing) is malformed."""
