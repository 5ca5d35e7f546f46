"""Typed domain errors raised by the order book's services."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the business was broken; `code` is stable for APIs, the message is for people."""

    code = "domain_error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class IllegalTransition(DomainError):
    code = "illegal_transition"

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(f"{entity} cannot go from '{current}' to '{target}'")
        self.current = current
        self.target = target


class UnknownFamily(DomainError):
    code = "unknown_family"

    def __init__(self, key: str) -> None:
        super().__init__(f"unknown product family '{key}'", fields={"family": "unknown family"})
        self.key = key


class InvalidConfiguration(DomainError):
    code = "invalid_configuration"


class InvalidQuantity(DomainError):
    code = "invalid_quantity"

    def __init__(self, quantity: object, limit: int) -> None:
        super().__init__(
            f"quantity must be a whole number from 1 to {limit}, got {quantity!r}",
            fields={"quantity": f"whole number 1–{limit}"},
        )


class DuplicateSubmission(DomainError):
    """The same idempotency key was used with a different order content."""

    code = "duplicate_submission"


class NotFound(DomainError):
    code = "not_found"


class StaleVersion(DomainError):
    """Optimistic concurrency: someone else changed the object first."""

    code = "stale_version"


class FloorMessageRejected(DomainError):
    """A floor message that could not be read (bad signature, bad shape); `code` says which."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class NotMakeable(DomainError):
    """No machine of this shop can make the design, so no CAD build is started for it."""

    code = "not_makeable"
