"""promise(): capacity-based ship dates over shift calendars, tiers, and the CTP seam."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from configurator import InvalidRequestError, Process, PromiseRequest, ShopLoad, promise, validate
from configurator.calendar import Shift, add_working_days, advance, weekly

PKT = timezone(timedelta(hours=5))
MON_9 = datetime(2026, 11, 23, 9, 0, tzinfo=PKT)  # a Monday
DAY_SHIFT = weekly(range(6), time(9), time(18))  # Mon-Sat, 9 h


def _load(booked_fdm: float = 0.0, **kw: object) -> ShopLoad:
    machines = {
        Process.FDM: 2,
        Process.RESIN: 1,
        Process.CNC: 1,
        Process.LASER: 1,
        Process.POST: 2,
        Process.QC: 1,
        Process.PACK: 1,
    }
    return ShopLoad(
        booked_hours={Process.FDM: booked_fdm}, machines=machines, shifts=DAY_SHIFT, **kw
    )  # type: ignore[arg-type]


def _cfg(key: str = "enclosure"):
    return validate(key, {}).config


def test_promise_on_empty_shop_is_soon_and_steps_are_ordered() -> None:
    p = promise(_cfg(), 1, "express", _load(), MON_9)
    assert p.ok and p.method == "capacity"
    assert p.ship_date == date(2026, 11, 23)
    ends = [w.end for w in p.steps]
    assert ends == sorted(ends) and p.steps[0].start == MON_9
    assert [w.step for w in p.steps] == ["print", "assemble", "qc", "pack"]


def test_backlog_pushes_the_date() -> None:
    early = promise(_cfg(), 10, "standard", _load(0), MON_9).ship_date
    late = promise(_cfg(), 10, "standard", _load(90), MON_9).ship_date
    assert late > early
    # 90 booked hours on 2 printers = 45 h = 5 nine-hour days -> printing starts Saturday
    assert promise(_cfg(), 1, "express", _load(90), MON_9).steps[0].start == datetime(
        2026, 11, 28, 9, 0, tzinfo=PKT
    )


def test_tiers_order_dates() -> None:
    dates = [
        promise(_cfg(), 5, t, _load(20), MON_9).ship_date
        for t in ("express", "standard", "economy")
    ]
    assert dates == sorted(dates) and dates[0] < dates[2]


def test_sunday_and_holidays_are_skipped() -> None:
    sat_17 = datetime(2026, 11, 28, 17, 0, tzinfo=PKT)
    assert advance(sat_17, 2, DAY_SHIFT) == datetime(2026, 11, 30, 10, 0, tzinfo=PKT)
    hol = frozenset({date(2026, 11, 30)})
    assert advance(sat_17, 2, DAY_SHIFT, hol) == datetime(2026, 12, 1, 10, 0, tzinfo=PKT)
    assert add_working_days(date(2026, 11, 28), 1, DAY_SHIFT, hol) == date(2026, 12, 1)


def test_overnight_shift_crosses_midnight() -> None:
    night = (Shift(0, time(22), time(6)),)
    start = datetime(2026, 11, 23, 23, 0)
    assert advance(start, 3, night) == datetime(2026, 11, 24, 2, 0)


def test_process_calendar_override_for_unattended_printers() -> None:
    always = tuple(Shift(d, time(0), time(0)) for d in range(7))
    load = _load(48, process_shifts={Process.FDM: always})
    p = promise(_cfg(), 1, "express", load, MON_9)
    assert p.steps[0].start == MON_9 + timedelta(hours=24)


def test_quantity_uses_parallel_machines() -> None:
    one = promise(_cfg(), 1, "express", _load(), MON_9).steps[0]
    two = promise(_cfg(), 2, "express", _load(), MON_9).steps[0]
    three = promise(_cfg(), 3, "express", _load(), MON_9).steps[0]
    # two units on two printers at once take as long as one; a third waits for a printer
    assert two.end - two.start == one.end - one.start
    assert three.end - three.start > one.end - one.start


def test_missing_capacity_is_a_result_not_an_exception() -> None:
    load = ShopLoad(booked_hours={}, machines={Process.FDM: 1}, shifts=DAY_SHIFT)
    p = promise(_cfg(), 1, "standard", load, MON_9)
    assert not p.ok and p.ship_date is None and "post" in p.reasons[0]


def test_beyond_horizon_is_not_ok() -> None:
    p = promise(_cfg(), 1, "standard", _load(10**7), MON_9)
    assert not p.ok and "horizon" in p.reasons[0]


def test_ctp_seam_is_used_when_given() -> None:
    seen: list[PromiseRequest] = []

    def ctp(req: PromiseRequest) -> datetime | None:
        seen.append(req)
        return datetime(2026, 12, 2, 15, 0, tzinfo=PKT)

    p = promise(_cfg(), 4, "standard", _load(), MON_9, ctp=ctp)
    assert p.ok and p.method == "ctp" and p.ship_date == date(2026, 12, 4)
    assert seen[0].qty == 4 and seen[0].routing[0].process is Process.FDM
    none = promise(_cfg(), 4, "standard", _load(), MON_9, ctp=lambda r: None)
    assert not none.ok and none.method == "ctp"


def test_every_family_promises_a_date() -> None:
    from configurator import all_families

    for fam in all_families():
        p = promise(validate(fam.key, {}).config, 3, "standard", _load(), MON_9)
        assert p.ok and p.ship_date is not None, fam.key


def test_invalid_tier_raises() -> None:
    with pytest.raises(InvalidRequestError):
        promise(_cfg(), 1, "whenever", _load(), MON_9)


def test_working_minutes_count_shift_time_only() -> None:
    """The denominator of a machine's utilisation: shift time, including a night shift that
    began the day before, in the zone the times are given in."""
    from configurator.calendar import working_minutes

    day = weekly(range(6), time(9), time(18))  # Monday to Saturday, 9 to 6
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    assert working_minutes(monday, monday + timedelta(days=7), day) == 6 * 9 * 60
    assert working_minutes(monday + timedelta(hours=10), monday + timedelta(hours=12.5), day) == 150
    nights = weekly(range(7), time(22), time(6))
    assert working_minutes(monday, monday + timedelta(days=1), nights) == 8 * 60
    holiday = frozenset({monday.date()})
    assert working_minutes(monday, monday + timedelta(days=1), day, holiday) == 0
