"""Money and times as the shop reads them (issue 15, local formats): digit grouping and the
shop's sign, the shop's zone for everything a person reads, typed times taken as shop time,
and [locale] in shop.toml checked when it is read."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.formats import day, from_shop_time, money, when, zone_label
from orders.shop import SHOP_TOML, ShopDataError, parse

NBSP = "\u00a0"


def test_rupees_are_grouped_with_the_shops_sign() -> None:
    assert money(Decimal("195929.79"), "PKR") == f"Rs{NBSP}195,929.79"
    assert money("1234567.5", "pkr") == f"Rs{NBSP}1,234,567.50"
    assert money(0, "PKR") == f"Rs{NBSP}0.00"


def test_another_currency_keeps_its_code_never_the_rupee_sign() -> None:
    assert money(Decimal("12"), "USD") == f"USD{NBSP}12.00"


def test_times_are_read_in_shop_time() -> None:
    at = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)  # 01:30 the next day in Karachi
    assert when(at) == "2026-12-02 01:30"
    assert when(at, "weekday") == "Wed 01:30"
    assert when(at, "time") == "01:30"
    assert when(at.replace(tzinfo=None)) == "2026-12-02 01:30"  # SQLite's naive UTC
    assert when(None) == "—"
    assert day(date(2026, 12, 2)) == "2026-12-02"
    assert zone_label() == "PKT"


def test_a_typed_time_is_shop_time() -> None:
    assert from_shop_time(datetime(2026, 12, 2, 10, 0)) == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    offset = datetime(2026, 12, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert from_shop_time(offset) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_what_is_shown_is_what_a_person_would_type_back(local: datetime) -> None:
    typed = local.replace(second=0, microsecond=0)
    assert when(from_shop_time(typed)) == typed.strftime("%Y-%m-%d %H:%M")


def _shop(**locale: object) -> dict[str, object]:
    with SHOP_TOML.open("rb") as fh:
        data = tomllib.load(fh)
    data["locale"] = {**data["locale"], **locale}
    return data


@pytest.mark.parametrize(
    "bad", [{"time_zone": "Asia/Nowhere"}, {"locale": "xx_YY_bad"}, {"currency_signs": 3}]
)
def test_a_wrong_locale_section_is_named_when_read(bad: dict[str, object]) -> None:
    with pytest.raises(ShopDataError, match="locale|currency_signs"):
        parse(_shop(**bad))


def test_the_shipped_locale_section_reads() -> None:
    found = parse(_shop()).locality
    assert (found.time_zone, found.locale, found.currency_signs) == (
        "Asia/Karachi",
        "en_PK",
        {"PKR": "Rs"},
    )
