"""The shop's own numbers (tier weights, changeovers, limits), read once from data/shop.toml.

Rules that need a number ask this module, so each number has one home and a unit in its name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

SHOP_TOML = Path(__file__).parent / "data" / "shop.toml"


class ShopDataError(ValueError):
    """data/shop.toml is missing a key or holds a value of the wrong kind (a programmer error)."""


@dataclass(frozen=True)
class Changeover:
    colour_minutes: int
    material_minutes: int


@dataclass(frozen=True)
class SignInLimits:
    """Per-account backoff on failed sign-ins (see [sign_in] in data/shop.toml)."""

    free_failures: int
    base_lockout_seconds: int
    max_lockout_seconds: int

    def lockout_seconds(self, failures: int) -> int:
        """0 while under the free count, then base x 2^(extra failures), capped."""
        extra = failures - self.free_failures
        if extra < 0:
            return 0
        return min(self.base_lockout_seconds * 2 ** min(extra, 20), self.max_lockout_seconds)


@dataclass(frozen=True)
class Learning:
    """How run-time corrections are learned from finished jobs ([learning] in shop.toml)."""

    min_jobs: int
    window_jobs: int
    lowest_percent: int
    highest_percent: int

    def bounded(self, factor: float) -> float:
        return min(max(factor, self.lowest_percent / 100), self.highest_percent / 100)


TAX_BASES = ("goods", "goods_and_tax")


@dataclass(frozen=True)
class TaxLine:
    """One tax on documents ([[tax]] in shop.toml): `rate_percent` of the base it applies to."""

    name: str
    rate_percent: Decimal
    applies_to: str


@dataclass(frozen=True)
class Money:
    """How documents are numbered and what they say about paying ([money] in shop.toml)."""

    invoice_prefix: str
    bank_details: str


@dataclass(frozen=True)
class Locality:
    """How people read money and time ([locale] in shop.toml): the shop's zone and Babel locale,
    and the sign written before amounts per currency code."""

    time_zone: str
    locale: str
    currency_signs: dict[str, str]


def _locality(raw: dict[str, Any]) -> Locality:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from babel import Locale, UnknownLocaleError

    if not isinstance(raw["currency_signs"], dict):
        raise ShopDataError('locale.currency_signs must be a table like { PKR = "Rs" }')
    signs = {str(k).upper(): str(v) for k, v in raw["currency_signs"].items()}
    found = Locality(str(raw["time_zone"]), str(raw["locale"]), signs)
    try:
        ZoneInfo(found.time_zone)
        Locale.parse(found.locale)
    except (ZoneInfoNotFoundError, UnknownLocaleError, ValueError) as exc:
        raise ShopDataError(f"locale: {exc}") from exc
    return found


@dataclass(frozen=True)
class ShopNumbers:
    tier_weight: dict[str, int]
    max_operation_minutes: int
    plate_overhead_minutes: int
    changeover: dict[str, Changeover]
    tier_priority: dict[str, int]
    max_line_quantity: int
    quote_snapshot_seconds: float
    promise_book_seconds: float
    sign_in: SignInLimits
    learning: Learning
    money: Money
    taxes: tuple[TaxLine, ...]
    locality: Locality

    def changeover_for(self, process: str) -> Changeover:
        return self.changeover.get(process, self.changeover["other"])

    def weight(self, tier: str) -> int:
        return self.tier_weight.get(tier, 1)

    def priority(self, tier: str) -> int:
        return self.tier_priority.get(tier, 1)


def _positive_ints(table: dict[str, Any], where: str) -> dict[str, int]:
    out = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ShopDataError(f"{where}.{key} must be a whole number >= 0, got {value!r}")
        out[key] = value
    return out


def _tax_line(raw: dict[str, Any], where: str) -> TaxLine:
    name, rate, base = raw["name"], raw["rate_percent"], raw["applies_to"]
    if not isinstance(name, str) or not name.strip():
        raise ShopDataError(f"{where}.name must be a non-empty string")
    try:
        percent = Decimal(str(rate))
    except InvalidOperation:
        percent = Decimal(-1)
    if isinstance(rate, bool | float) or not percent.is_finite() or not 0 <= percent <= 100:
        raise ShopDataError(f"{where}.rate_percent must be 0-100 (an integer or string)")
    if base not in TAX_BASES:
        raise ShopDataError(f"{where}.applies_to must be one of {', '.join(TAX_BASES)}")
    return TaxLine(name.strip(), percent, base)


def parse(data: dict[str, Any]) -> ShopNumbers:
    try:
        plan, floor, ordering, caching = (
            data["planning"],
            data["floor"],
            data["ordering"],
            data["caching"],
        )
        changeover = {
            process: Changeover(**_positive_ints(v, f"planning.changeover.{process}"))
            for process, v in plan["changeover"].items()
        }
        if "other" not in changeover:
            raise ShopDataError("planning.changeover.other is required (the default)")
        return ShopNumbers(
            tier_weight=_positive_ints(plan["tier_weight"], "planning.tier_weight"),
            max_operation_minutes=int(plan["max_operation_minutes"]),
            plate_overhead_minutes=int(plan["plate_overhead_minutes"]),
            changeover=changeover,
            tier_priority=_positive_ints(floor["tier_priority"], "floor.tier_priority"),
            max_line_quantity=int(ordering["max_line_quantity"]),
            quote_snapshot_seconds=float(caching["quote_snapshot_seconds"]),
            promise_book_seconds=float(caching["promise_book_seconds"]),
            sign_in=SignInLimits(**_positive_ints(data["sign_in"], "sign_in")),
            learning=Learning(**_positive_ints(data["learning"], "learning")),
            money=Money(str(data["money"]["invoice_prefix"]), str(data["money"]["bank_details"])),
            taxes=tuple(_tax_line(t, f"tax[{i}]") for i, t in enumerate(data.get("tax", []))),
            locality=_locality(data["locale"]),
        )
    except (KeyError, TypeError) as exc:
        raise ShopDataError(f"{SHOP_TOML.name}: {exc}") from exc


@dataclass(frozen=True)
class PreviewKeeping:
    """How long an anonymous preview's design is kept and how often it is pruned ([preview])."""

    keep_hours: int
    prune_every_minutes: int
    batch_designs: int


@cache
def shop_data(path: Path = SHOP_TOML) -> dict[str, Any]:
    """The whole file, read and parsed once per path; each section's loader checks its own
    table from it. Callers must not change what it returns (it is shared)."""
    with path.open("rb") as fh:
        return tomllib.load(fh)


@cache
def preview_keeping(path: Path = SHOP_TOML) -> PreviewKeeping:
    """The [preview] numbers; each a whole number >= 1 (a 0-hour keep would prune live ones)."""
    raw = shop_data(path).get("preview")
    if not isinstance(raw, dict):
        raise ShopDataError(f"{path.name}: the [preview] table is missing")
    values = _positive_ints(raw, "preview")
    try:
        keeping = PreviewKeeping(**values)
    except TypeError as exc:
        raise ShopDataError(f"{path.name}: [preview] {exc}") from exc
    for key, value in values.items():
        if value < 1:
            raise ShopDataError(f"preview.{key} must be at least 1, got {value}")
    return keeping


@cache
def shop_numbers(path: Path = SHOP_TOML) -> ShopNumbers:
    return parse(shop_data(path))


PAYMENT_METHODS = ("cash_on_delivery", "bank_transfer", "raast", "jazzcash", "easypaisa")


@dataclass(frozen=True)
class PaymentRules:
    """The checkout's payment step ([payments] in shop.toml): the methods offered, the share of
    the total each needs before production, the account a Raast QR pays into."""

    methods: tuple[str, ...]
    upfront_percent: dict[str, int]
    raast_iban: str
    raast_alias: str
    account_title: str
    inquire_after_minutes: int

    def upfront(self, method: str) -> int:
        return self.upfront_percent.get(method, 100)


def parse_payments(raw: dict[str, Any], where: str = "payments") -> PaymentRules:
    """Check the [payments] table: known methods, percents 0-100, a whole number of minutes."""
    try:
        methods = tuple(str(m) for m in raw["methods"])
        unknown = [m for m in methods if m not in PAYMENT_METHODS]
        if unknown or not methods:
            raise ShopDataError(f"{where}.methods: each one of {', '.join(PAYMENT_METHODS)}")
        percents = _positive_ints(raw["upfront_percent"], f"{where}.upfront_percent")
        if any(v > 100 for v in percents.values()) or set(percents) - set(PAYMENT_METHODS):
            raise ShopDataError(f"{where}.upfront_percent: known methods, each 0-100")
        minutes = _positive_ints({"m": raw["inquire_after_minutes"]}, where)["m"]
        return PaymentRules(
            methods=methods,
            upfront_percent=percents,
            raast_iban="".join(str(raw.get("raast_iban", "")).split()).upper(),
            raast_alias=str(raw.get("raast_alias", "")).strip(),
            account_title=str(raw["account_title"]).strip(),
            inquire_after_minutes=max(minutes, 1),
        )
    except (KeyError, TypeError) as exc:
        raise ShopDataError(f"{SHOP_TOML.name}: [{where}] {exc}") from exc


@cache
def payment_rules(path: Path = SHOP_TOML) -> PaymentRules:
    raw = shop_data(path).get("payments")
    if not isinstance(raw, dict):
        raise ShopDataError(f"{path.name}: the [payments] table is missing")
    return parse_payments(raw)
