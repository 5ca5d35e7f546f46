"""Price book and process-model constants from data/pricing.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from configurator.errors import DataFileError
from configurator.processes import Process


@dataclass(frozen=True)
class Tier:
    """A lead-time tier: price multiplier and promise buffer in working days."""

    key: str
    price_factor: Decimal
    buffer_working_days: int


@dataclass(frozen=True)
class PriceBook:
    """Rates per process, per-step post minutes, quantity breaks, tiers and margin."""

    margin_fraction: Decimal
    min_order_value: Decimal
    process: MappingProxyType[Process, dict[str, float]]  # Process -> dict of constants
    post_minutes: MappingProxyType[str, float]  # step name -> minutes per unit
    quantity_breaks: tuple[tuple[int, Decimal], ...]
    tiers: MappingProxyType[str, Tier]  # key -> Tier

    def rate(self, process: Process) -> Decimal:
        return Decimal(str(self.process[process]["hourly_rate"]))

    def const(self, process: Process, name: str) -> float:
        return float(self.process[process][name])

    def discount_for(self, qty: int) -> Decimal:
        """The quantity-break discount fraction for `qty` units."""
        best = Decimal(0)
        for min_qty, discount in self.quantity_breaks:
            if qty >= min_qty:
                best = discount
        return best


def parse_pricebook(text: str) -> PriceBook:
    """Parse a pricing TOML document."""
    doc: dict[str, Any] = tomllib.loads(text)
    try:
        procs: dict[Process, dict[str, float]] = {
            Process(k): dict(v) for k, v in doc["process"].items()
        }
        breaks = tuple(
            sorted((int(b["min_qty"]), Decimal(str(b["discount"]))) for b in doc["quantity_breaks"])
        )
        tiers = {
            k: Tier(k, Decimal(str(v["price_factor"])), int(v["buffer_working_days"]))
            for k, v in doc["tiers"].items()
        }
        return PriceBook(
            margin_fraction=Decimal(str(doc["margin_fraction"])),
            min_order_value=Decimal(str(doc["min_order_value"])),
            process=MappingProxyType(procs),
            post_minutes=MappingProxyType({k: float(v) for k, v in doc["post_minutes"].items()}),
            quantity_breaks=breaks,
            tiers=MappingProxyType(tiers),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DataFileError(f"pricing.toml: {exc!r}") from exc


@cache
def pricebook() -> PriceBook:
    """The shipped price book (loaded once)."""
    text = resources.files("configurator").joinpath("data/pricing.toml").read_text("utf-8")
    return parse_pricebook(text)


TIERS: tuple[str, ...] = ("economy", "standard", "express")
