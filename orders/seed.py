"""A small, realistic demo shop: people, machines, a shift calendar and a maintenance window."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.commands.accounts import create_user
from orders.models import STAFF, Calendar, CalendarWindow, Machine, Role, User, WindowKind
from orders.shop import shop_numbers

SHOP_TZ = shop_numbers().locality.time_zone  # shifts are typed in the shop's own time
FDM = ("pla", "petg")
FDM_ENCLOSED = ("pla", "petg", "abs")
# id, name, process, materials, build volume mm, speed factor, hourly rate, transport
MACHINES: tuple[
    tuple[str, str, str, tuple[str, ...], tuple[float, float, float], float, str, str], ...
] = (
    ("fdm-mk4-01", "Prusa MK4 #1", "fdm", FDM, (250, 210, 220), 1.0, "900", "octoprint"),
    ("fdm-mk4-02", "Prusa MK4 #2", "fdm", FDM, (250, 210, 220), 1.0, "900", "mqtt"),
    ("fdm-mk4-03", "Prusa MK4 #3", "fdm", FDM, (250, 210, 220), 1.0, "900", "mqtt"),
    (
        "fdm-mk4-04",
        "Prusa MK4 #4 (enclosed)",
        "fdm",
        FDM_ENCLOSED,
        (250, 210, 220),
        1.0,
        "950",
        "mqtt",
    ),
    (
        "fdm-xl-01",
        "Large-format FDM #1",
        "fdm",
        FDM_ENCLOSED,
        (360, 360, 360),
        1.3,
        "1400",
        "opcua",
    ),
    ("fdm-xl-02", "Large-format FDM #2", "fdm", FDM, (360, 360, 360), 1.3, "1400", "mqtt"),
    ("resin-01", "MSLA resin printer", "resin", ("resin",), (218, 123, 250), 1.0, "1200", "folder"),
    (
        "cnc-01",
        "3-axis CNC mill",
        "cnc",
        ("aluminium_6061", "acrylic", "plywood"),
        (500, 400, 120),
        1.0,
        "3500",
        "opcua",
    ),
    (
        "laser-01",
        "CO2 laser cutter 80 W",
        "laser",
        ("acrylic", "plywood"),
        (900, 600, 12),
        1.0,
        "2200",
        "webhook",
    ),
    ("post-01", "Post-processing bench", "post", (), (1000, 1000, 1000), 1.0, "600", "mqtt"),
    ("qc-01", "QC station", "qc", (), (1000, 1000, 1000), 1.0, "700", "mqtt"),
    ("pack-01", "Packing station", "pack", (), (1000, 1000, 1000), 1.0, "500", "mqtt"),
)
WEEKLY_SHIFTS = [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(6)]  # Mon–Sat
# Printers run unattended overnight; staffed stations (and the mill and laser) work shifts.
ROUND_THE_CLOCK = [{"weekday": d, "start": "00:00", "end": "00:00"} for d in range(7)]
UNATTENDED = {"fdm", "resin"}
CALENDARS = {"two-shift Mon-Sat": WEEKLY_SHIFTS, "unattended 24/7": ROUND_THE_CLOCK}
ROLES = (Role.CUSTOMER, Role.PLANNER, Role.OPERATOR, Role.ADMIN)
# The seeded operator works every printer and the post, QC and pack benches, so an order can
# go from "released" to "completed" without an admin stepping in.
OPERATOR_PROCESSES = frozenset({"fdm", "resin", "post", "qc", "pack"})


@dataclass(frozen=True)
class SeedReport:
    passwords: dict[str, str]  # email -> clear password, printed once, only for new users
    # (staff must change theirs at the first sign-in; lost ones: `hunar user reset-password`)
    machines_added: int
    calendars_added: int


def _next_tuesday_morning(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(SHOP_TZ))
    days = (1 - local.weekday()) % 7 or 7
    day = (local + timedelta(days=days)).date()
    return datetime.combine(day, time(9, 0), ZoneInfo(SHOP_TZ)).astimezone(UTC)


def seed_shop(session: Session, now: datetime | None = None) -> SeedReport:
    """Idempotent: existing users, machines and calendars are left as they are."""
    now = now or datetime.now(UTC)
    calendars: dict[str, Calendar] = {}
    calendars_added = 0
    for name, shifts in CALENDARS.items():
        cal = session.scalar(select(Calendar).where(Calendar.name == name))
        if cal is None:
            cal = Calendar(name=name, timezone=SHOP_TZ, shifts=shifts)
            session.add(cal)
            session.flush()
            calendars_added += 1
        calendars[name] = cal
    added = 0
    for mid, name, process, mats, vol, speed, rate, transport in MACHINES:
        if session.get(Machine, mid) is not None:
            continue
        calendar = calendars["unattended 24/7" if process in UNATTENDED else "two-shift Mon-Sat"]
        session.add(
            Machine(
                id=mid,
                name=name,
                process=process,
                materials=list(mats),
                build_x_mm=vol[0],
                build_y_mm=vol[1],
                build_z_mm=vol[2],
                speed_factor=speed,
                hourly_rate=Decimal(rate),
                transport=transport,
                calendar_id=calendar.id,
            )
        )
        added += 1
    session.flush()
    if added:
        start = _next_tuesday_morning(now)
        session.add(
            CalendarWindow(
                machine_id="fdm-mk4-01",
                kind=WindowKind.MAINTENANCE,
                start=start,
                end=start + timedelta(hours=4),
                note="Nozzle and belt service",
            )
        )
    return SeedReport(_seed_users(session), added, calendars_added)


def _seed_users(session: Session) -> dict[str, str]:
    passwords: dict[str, str] = {}
    for role in ROLES:
        email = f"{role.value}@hunar.example"
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        password = secrets.token_urlsafe(12)
        stations = [m[0] for m in MACHINES if m[2] in OPERATOR_PROCESSES]
        create_user(
            session,
            email,
            password,
            role,
            f"Demo {role.value}",
            stations if role == Role.OPERATOR else None,
            must_change_password=role in STAFF,  # printed on a terminal: change at first use
        )
        passwords[email] = password
    return passwords
