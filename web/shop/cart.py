"""The cart lives in the signed session cookie: a few (design id, quantity, tier) lines."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

MAX_LINES = 20


def lines(session: MutableMapping[str, Any]) -> list[dict[str, Any]]:
    raw = session.get("cart", [])
    return [dict(x) for x in raw if isinstance(x, dict)] if isinstance(raw, list) else []


def add_line(
    session: MutableMapping[str, Any], configuration_id: int, family: str, quantity: int, tier: str
) -> None:
    cart = lines(session)
    for line in cart:
        if line["configuration_id"] == configuration_id and line["tier"] == tier:
            line["quantity"] = quantity
            break
    else:
        cart.append(
            {
                "configuration_id": configuration_id,
                "family": family,
                "quantity": quantity,
                "tier": tier,
            }
        )
    session["cart"] = cart[-MAX_LINES:]


def remove_line(session: MutableMapping[str, Any], index: int) -> None:
    cart = lines(session)
    if 0 <= index < len(cart):
        cart.pop(index)
    session["cart"] = cart


def clear(session: MutableMapping[str, Any]) -> None:
    session.pop("cart", None)
