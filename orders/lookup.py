"""The one way a request's id becomes a row: found, or `NotFound` (a 404 in every view)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from orders.errors import NotFound

T = TypeVar("T")


def found(session: Session, model: type[T], key: object, what: str | None = None) -> T:
    """The row of `model` with primary key `key`; `NotFound` naming it when there is none."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"{what or model.__name__.lower()} {key} not found")
    return row
