"""Payment gateways behind one interface (`base.Provider`): one module per provider, and the
registry of those whose credentials are set (an unconfigured gateway is not offered)."""

from __future__ import annotations

from collections.abc import Callable

from orders.adapters.gateways import easypaisa, jazzcash
from orders.adapters.gateways.base import Provider
from orders.settings import Settings

REGISTRY: dict[str, Callable[[Settings], Provider | None]] = {
    "jazzcash": jazzcash.from_settings,
    "easypaisa": easypaisa.from_settings,
}


def configured(settings: Settings) -> dict[str, Provider]:
    """Every gateway with its credentials set, by method name."""
    found = {name: make(settings) for name, make in REGISTRY.items()}
    return {name: p for name, p in found.items() if p is not None}
