"""Money, numbers and times as a person in the shop reads them (issue 15, local formats).

One home for the rule, used by the pages (Jinja filters in `web`), the e-mails and the PDFs:
amounts with digit grouping and the shop's sign ("Rs 195,929.79"), times in the shop's zone
(Asia/Karachi by default). The database and the API keep UTC and ISO-8601; only what a person
reads is local. Babel does the formatting; the shop's choices are [locale] in shop.toml.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from orders.shop import Locality, shop_numbers

# Formats people read: a whole timestamp, a time within the week, a time of day.
STAMP = "yyyy-MM-dd HH:mm"
WEEKDAY_TIME = "EEE HH:mm"
TIME = "HH:mm"
DAY = "yyyy-MM-dd"
FORMATS = {"stamp": STAMP, "weekday": WEEKDAY_TIME, "time": TIME, "day": DAY}


def locality() -> Locality:
    return shop_numbers().locality


@cache
def shop_zone() -> ZoneInfo:
    return ZoneInfo(locality().time_zone)


def zone_label() -> str:
    """What a page writes after a time: "PKT" for Asia/Karachi (the zone's own abbreviation)."""
    return datetime.now(shop_zone()).tzname() or locality().time_zone


def money(amount: Decimal | float | int | str, currency: str) -> str:
    """ "Rs 195,929.79" for PKR; "USD 12.00" for a currency without a sign in shop.toml. Two
    decimals, grouped per the shop's locale."""
    loc = locality()
    number = format_decimal(Decimal(str(amount)), format="#,##0.00", locale=loc.locale)
    code = currency.upper()
    return f"{loc.currency_signs.get(code, code)}\u00a0{number}"


def as_aware(at: datetime) -> datetime:
    """Database times without a zone (SQLite) are UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def when(at: datetime | None, style: str = "stamp", empty: str = "—") -> str:
    """A UTC time in the shop's zone: "2026-12-01 10:00" (style stamp, weekday, time, day)."""
    if at is None:
        return empty
    return format_datetime(
        as_aware(at), FORMATS[style], tzinfo=shop_zone(), locale=locality().locale
    )


def day(d: date | None, empty: str = "—") -> str:
    """A calendar date already meant in shop time (a ship date)."""
    return empty if d is None else format_date(d, DAY, locale=locality().locale)


def from_shop_time(local: datetime) -> datetime:
    """A time a person typed (no zone: shop time) as UTC; one with an offset is kept as given."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=shop_zone())
    return local.astimezone(UTC)
