"""Load-shedding outages: imported from the utility's ICS file, typed in from its SMS or WhatsApp
notice, or reported from the floor ("power lost" / "power back").

Announced outages only change what the next plan may do; they never move work on their own.
A floor report of lost power asks for a proposal (as a machine breakdown does) and names the
work it cut: the planner decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.commands.audit import Actor, record_event
from orders.errors import DomainError, NotFound
from orders.models import OutageSource, PowerOutage
from orders.power import power_rules
from orders.shop import shop_numbers

LONGEST = timedelta(days=7)  # a longer "outage" is a typo, not load-shedding
AHEAD = timedelta(days=60)  # how far a repeating ICS event is expanded
MAX_ICS_BYTES = 2_000_000
MAX_BLOCKS = 500  # outages one file may add: a minutely rule is a mistake, not a schedule


def _feeder(feeder: str) -> str:
    known = power_rules().feeders
    if feeder not in known:
        raise DomainError(f"no feeder {feeder!r}", fields={"feeder": f"one of {', '.join(known)}"})
    return feeder


def _span(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError("times need a timezone", fields={"start": "ISO time with offset"})
    if end <= start:
        raise DomainError("the outage must end after it starts", fields={"end": "after start"})
    if end - start > LONGEST:
        raise DomainError("an outage is at most 7 days", fields={"end": "≤ 7 days after start"})


def _upsert(
    session: Session,
    feeder: str,
    uid: str,
    start: datetime,
    end: datetime | None,
    source: OutageSource,
    note: str | None,
) -> tuple[PowerOutage, str]:
    """(row, "added" | "updated" | "unchanged"): one row per feeder and uid, also when two
    requests add it at once (the loser's insert meets the unique key and reads the winner's)."""
    same = select(PowerOutage).where(PowerOutage.feeder == feeder, PowerOutage.uid == uid)
    row = session.scalar(same)
    if row is None:
        try:
            with session.begin_nested():
                row = PowerOutage(
                    feeder=feeder, uid=uid, start_at=start, end_at=end, source=source, note=note
                )
                session.add(row)
            return row, "added"
        except IntegrityError:
            row = session.scalars(same).one()
    if (row.start_at, row.end_at, row.note) == (start, end, note):
        return row, "unchanged"
    row.start_at, row.end_at, row.note = start, end, note
    return row, "updated"


def add_outage(
    session: Session,
    feeder: str,
    start: datetime,
    end: datetime,
    actor: Actor,
    note: str | None = None,
) -> PowerOutage:
    """A planned outage typed in by a planner; the same feeder and times twice is one outage."""
    _span(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    uid = f"manual:{start.isoformat()}/{end.isoformat()}"
    row, what = _upsert(
        session, _feeder(feeder), uid, start, end, OutageSource.MANUAL, (note or "")[:500] or None
    )
    if what != "unchanged":
        record_event(session, actor, "power_outage", row.id, None, what, _payload(row))
    return row


def remove_outage(session: Session, outage_id: int, actor: Actor) -> None:
    row = session.get(PowerOutage, outage_id, with_for_update=True)
    if row is None:
        raise NotFound("no such outage", fields={"outage": "an outage listed on the page"})
    record_event(session, actor, "power_outage", row.id, "listed", "removed", _payload(row))
    session.delete(row)


def _payload(row: PowerOutage) -> dict[str, object]:
    return {
        "feeder": row.feeder,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat() if row.end_at else None,
        "source": row.source.value,
    }


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # one reason per event left out


def _when(value: object, tz: ZoneInfo) -> datetime | None:
    """An ICS time as UTC; a floating time is the shop's own; a whole day is not an outage."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return aware.astimezone(UTC)
    return None  # a date alone (a whole day) or nothing


def _occurrences(event: Event, start: datetime, now: datetime, tz: ZoneInfo) -> list[datetime]:
    """The block's starts: one, or a repeating event's within 60 days of today (or of its own
    first block), at most MAX_BLOCKS. A rule with a floating UNTIL is expanded in shop time."""
    rules = event.get("rrule")
    if rules is None:
        return [start]
    first = max(start, now - LONGEST)
    found: set[datetime] = set()
    for rule in rules if isinstance(rules, list) else [rules]:
        text, local = rule.to_ical().decode(), first.astimezone(tz).replace(tzinfo=None)
        try:
            series, since = rrulestr(text, dtstart=start), first
        except ValueError:  # UNTIL without a zone while DTSTART has one: read both as shop time
            series = rrulestr(text, dtstart=start.astimezone(tz).replace(tzinfo=None))
            since = local
        for at in series.xafter(since, inc=True):
            aware = at if at.tzinfo else at.replace(tzinfo=tz)
            if aware > first + AHEAD or len(found) > MAX_BLOCKS:
                break
            found.add(aware.astimezone(UTC))
    return sorted(found)


def _shop_tz() -> ZoneInfo:
    return ZoneInfo(shop_numbers().locality.time_zone)


def import_ics(
    session: Session, feeder: str, data: bytes, actor: Actor, now: datetime
) -> ImportReport:
    """Every VEVENT of the file as an outage of `feeder`; a repeating event is expanded for 60
    days from today (or from its first block). Importing the same file again changes nothing
    (ids come from each event's UID and start); a changed time updates the outage. Past
    outages are left out, and so is an event that cannot be read (with the reason)."""
    _feeder(feeder)
    if len(data) > MAX_ICS_BYTES:
        raise DomainError("the calendar file is too large", fields={"file": "≤ 2 MB"})
    try:
        calendar = Calendar.from_ical(data)
        events = list(calendar.events)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        raise DomainError("not an iCalendar file", fields={"file": "an .ics file"}) from exc
    tz = _shop_tz()
    report = ImportReport()
    blocks: list[tuple[str, datetime, timedelta, str]] = []
    for k, event in enumerate(events):
        blocks += _read_event(event, k, tz, now, report)
        if len(blocks) > MAX_BLOCKS:
            raise DomainError(
                f"more than {MAX_BLOCKS} outages in 60 days", fields={"file": "fewer blocks"}
            )
    for uid, at, length, name in blocks:
        row, what = _upsert(
            session, feeder, f"ics:{uid}@{at.isoformat()}", at, at + length, OutageSource.ICS, name
        )
        setattr(report, what, getattr(report, what) + 1)
        if what != "unchanged":
            record_event(session, actor, "power_outage", row.id, None, what, _payload(row))
    return report


def _read_event(
    event: Event, k: int, tz: ZoneInfo, now: datetime, report: ImportReport
) -> list[tuple[str, datetime, timedelta, str]]:
    """(uid, start, length, name) per block still ahead; a reason in the report otherwise.
    The parser is a third party's: whatever it cannot read skips this event, never the file."""
    name = str(event.get("summary") or f"event {k + 1}")[:200]
    try:
        start = _when(event.decoded("dtstart", None), tz)
        end = _when(event.decoded("dtend", None), tz)
        duration = event.decoded("duration", None) if event.get("duration") is not None else None
        if start is not None and end is None and isinstance(duration, timedelta):
            end = start + duration
        if start is None or end is None:
            report.skipped.append(f"{name}: needs a start and an end time (not a whole day)")
            return []
        length = end - start
        if not timedelta(0) < length <= LONGEST:
            report.skipped.append(f"{name}: must end after it starts and last at most 7 days")
            return []
        starts = _occurrences(event, start, now, tz)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        report.skipped.append(f"{name}: could not be read ({str(exc)[:80]})")
        return []
    uid = str(event.get("uid") or f"{name}#{k}")[:180]
    return [(uid, at, length, name) for at in starts if at + length > now]


@dataclass(frozen=True)
class PowerReport:
    """What a floor power event did, for the planner's alert and the proposal's note."""

    feeder: str
    changed: bool
    note: str


def power_lost(session: Session, feeder: str, at: datetime, event_id: str) -> PowerReport:
    """An open outage on the feeder from `at` (one at a time: a repeat report changes nothing)."""
    _feeder(feeder)
    if _open_floor(session, feeder):
        return PowerReport(feeder, False, f"power on {feeder} was already reported lost")
    uid = f"floor:{event_id}"[:255]
    _upsert(session, feeder, uid, at.astimezone(UTC), None, OutageSource.FLOOR, "power lost")
    return PowerReport(feeder, True, f"power lost on {feeder} at {at.isoformat()}")


def power_back(session: Session, feeder: str, at: datetime) -> PowerReport:
    """Closes the feeder's open outage; power back with none open changes nothing."""
    _feeder(feeder)
    rows = _open_floor(session, feeder)
    for row in rows:
        row.end_at = max(at.astimezone(UTC), row.start_at + timedelta(minutes=1))
    if not rows:
        return PowerReport(feeder, False, f"power on {feeder} was not reported lost")
    return PowerReport(feeder, True, f"power back on {feeder} at {at.isoformat()}")


def _open_floor(session: Session, feeder: str) -> list[PowerOutage]:
    return list(
        session.scalars(
            select(PowerOutage)
            .where(PowerOutage.feeder == feeder, PowerOutage.end_at.is_(None))
            .with_for_update()
        )
    )
