"""Weekly shift calendars as plain values, and walking working time through them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from configurator.errors import ConfiguratorError

MAX_DAYS = 3 * 366  # beyond this a promise is meaningless; callers get None


@dataclass(frozen=True)
class Shift:
    """A recurring shift on one weekday (0 = Monday). end <= start means it runs past midnight."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ConfiguratorError(f"shift weekday must be 0..6, got {self.weekday}")


def weekly(weekdays: Iterable[int], start: time, end: time) -> tuple[Shift, ...]:
    """The same shift on several weekdays, e.g. weekly(range(6), time(9), time(18))."""
    return tuple(Shift(d, start, end) for d in weekdays)


def _intervals(
    day: date, shifts: tuple[Shift, ...], tz: tzinfo | None
) -> list[tuple[datetime, datetime]]:
    out = []
    for s in shifts:
        if s.weekday == day.weekday():
            a = datetime.combine(day, s.start, tzinfo=tz)
            b = datetime.combine(day, s.end, tzinfo=tz)
            out.append((a, b if b > a else b + timedelta(days=1)))
    return sorted(out)


def advance(
    start: datetime,
    hours: float,
    shifts: tuple[Shift, ...],
    holidays: frozenset[date] = frozenset(),
) -> datetime | None:
    """The instant `hours` of working time after `start`; None if not within MAX_DAYS."""
    remaining = timedelta(hours=max(hours, 0.0))
    if not remaining:
        return start
    day = start.date() - timedelta(days=1)  # a shift that began yesterday may still run
    for _ in range(MAX_DAYS):
        if day not in holidays:
            for a, b in _intervals(day, shifts, start.tzinfo):
                a = max(a, start)
                if b <= a:
                    continue
                if remaining <= b - a:
                    return a + remaining
                remaining -= b - a
        day += timedelta(days=1)
    return None


def next_working_instant(
    t: datetime, shifts: tuple[Shift, ...], holidays: frozenset[date] = frozenset()
) -> datetime | None:
    """The first instant at or after `t` inside a shift (where work can start)."""
    day = t.date() - timedelta(days=1)
    for _ in range(MAX_DAYS):
        if day not in holidays:
            for a, b in _intervals(day, shifts, t.tzinfo):
                if b > t:
                    return max(a, t)
        day += timedelta(days=1)
    return None


def add_working_days(
    day: date, n: int, shifts: tuple[Shift, ...], holidays: frozenset[date] = frozenset()
) -> date:
    """`n` working days after `day` (a working day has a shift and is not a holiday)."""
    workdays = {s.weekday for s in shifts}
    if not workdays:
        raise ConfiguratorError("calendar has no shifts")
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() in workdays and day not in holidays:
            n -= 1
    return day


def working_minutes(
    start: datetime,
    end: datetime,
    shifts: tuple[Shift, ...],
    holidays: frozenset[date] = frozenset(),
) -> float:
    """Minutes of shift time between `start` and `end` (the shifts read in `start`'s zone): the
    time a machine could have worked, the honest denominator of its utilisation."""
    total = timedelta()
    day = start.date() - timedelta(days=1)  # a shift that began the day before may still run
    while day <= end.date():
        if day not in holidays:
            for a, b in _intervals(day, shifts, start.tzinfo):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 60
