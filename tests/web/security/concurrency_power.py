"""The load-shedding desk's requests for the concurrency sweep: N identical presses at once
must add one outage, import one calendar's events once, remove once and report power once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from concurrency_requests import Request, count
from security_helpers import World
from sqlalchemy import func, select

from orders.commands.audit import Actor
from orders.commands.outages import add_outage, power_back
from orders.models import PowerOutage

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//sweep//EN\r\nBEGIN:VEVENT\r\nUID:sweep-1\r\n"
    b"SUMMARY:sweep\r\nDTSTART:20310508T070000Z\r\nDTEND:20310508T090000Z\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)
BOUNDARY = "sweepboundary42"


def outage(w: World) -> Request:
    form = {"feeder": "main", "start": "2031-05-06T10:00", "end": "2031-05-06T12:00"}
    return Request(w.shared("planner"), "/planner/power/outages", form)


def outages_on(day: int):  # type: ignore[no-untyped-def]
    def effect(w: World, r: Request) -> int:
        lo, hi = datetime(2031, 5, day, tzinfo=UTC), datetime(2031, 5, day + 1, tzinfo=UTC)
        where = (PowerOutage.start_at >= lo, PowerOutage.start_at < hi)
        return count(w, select(func.count()).select_from(PowerOutage).where(*where))

    return effect


def import_ics(w: World) -> Request:
    who = w.shared("planner")
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{who.csrf}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="feeder"\r\n\r\nmain\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="l.ics"\r\n'
            "Content-Type: text/calendar\r\n\r\n"
        ).encode()
        + ICS
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return Request(who, "/planner/power/import", raw=body, headers=headers)


def removal(w: World) -> Request:
    with w.ctx.db.transaction() as s:
        start = datetime(2031, 5, 9, 5, tzinfo=UTC)
        row = add_outage(s, "main", start, start.replace(hour=7), Actor("sweep"))
        outage_id = row.id
    url = f"/planner/power/outages/{outage_id}/remove"
    return Request(w.shared("planner"), url, {}, subject=outage_id)


def power_lost(w: World) -> Request:
    event_id = uuid.uuid4().hex
    form = {"event_id": event_id}
    return Request(w.shared("planner"), "/planner/power/main/lost", form, subject=event_id)


def power_restored(w: World, r: Request) -> None:
    """The sweep's world goes on planning: its power comes back after the presses."""
    with w.ctx.db.transaction() as s:
        power_back(s, "main", datetime.now(UTC))
