"""Load-shedding: outages per feeder (ICS import, typed in, reported from the floor) become
windows and backup power limits in the plan; a floor power loss asks for a plan and re-plans
the work it cut from scratch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from factories import make_shop
from sqlalchemy import func, select
from test_orders_floor import _released

from mes_bridge.intake import Rejection, StatusEvent, parse_event
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.outages import add_outage, import_ics, remove_outage
from orders.context import AppContext
from orders.errors import DomainError
from orders.models import Machine, Operation, OperationStatus, PowerOutage, Schedule
from orders.power import parse_power, power_rules
from orders.queries.planning_problem import build_problem
from orders.queries.power import LOAD_SHEDDING, unpowered
from orders.shop import ShopDataError
from scheduler.dispatch import dispatch
from scheduler.validate import validate

P = Actor("planner")
NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # a Monday, 09:00 in Karachi


def _ics(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e}END:VEVENT\r\n" for e in events)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//LESCO//load-shedding//EN\r\n"
        f"{body}END:VCALENDAR\r\n"
    ).encode()


TWICE_A_DAY = _ics(
    # floating time: the shop's own (Asia/Karachi), every day for three days
    "UID:noon\r\nSUMMARY:Feeder main noon\r\nDTSTART:20261207T120000\r\n"
    "DTEND:20261207T140000\r\nRRULE:FREQ=DAILY;COUNT=3\r\n",
    "UID:evening\r\nSUMMARY:Feeder main evening\r\nDTSTART:20261207T150000Z\r\nDURATION:PT1H\r\n",
    "UID:allday\r\nSUMMARY:Maintenance day\r\nDTSTART;VALUE=DATE:20261209\r\n",
    "UID:past\r\nSUMMARY:Yesterday\r\nDTSTART:20261206T080000Z\r\nDTEND:20261206T090000Z\r\n",
)


def test_the_shop_says_what_carries_each_machine() -> None:
    rules = power_rules()
    assert rules.feeders == ["main"]
    ups = rules.for_machine("fdm-mk4-01", "fdm")
    assert ups.backup is not None and (ups.backup.kind, ups.backup.minutes) == ("ups", 45)
    assert ups.carried_minutes(120) == 45 and ups.carried_minutes(30) == 30
    gen = rules.for_machine("cnc-01", "cnc")
    assert gen.backup is not None and gen.carried_minutes(600) == 600 and gen.draw_kw == 2.2
    grid = rules.for_machine("fdm-xl-01", "fdm")
    assert grid.backup is None and grid.carried_minutes(60) == 0


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ({"machines": {"m": {"backup": "nope"}}}, "no backup 'nope'"),
        ({"backups": {"u": {"kind": "ups", "kw": 1}}}, "minutes"),
        ({"backups": {"g": {"kind": "generator", "kw": 1, "minutes": 5}}}, "as long as"),
        ({"backups": {"g": {"kind": "solar", "kw": 1}}}, "kind"),
        ({"draw_kw": {"fdm": -1}}, "draw_kw.fdm"),
        ({"machines": {"m": {"colour": "red"}}}, "feeder, backup and draw_kw"),
    ],
)
def test_bad_power_data_is_named(raw: dict[str, object], rule: str) -> None:
    with pytest.raises(ShopDataError, match=rule):
        parse_power(raw)


def test_an_ics_file_imports_once_and_updates_a_moved_outage(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        report = import_ics(s, "main", TWICE_A_DAY, P, NOW)
        assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
        assert [r.split(":")[0] for r in report.skipped] == ["Maintenance day"]
        starts = sorted(s.scalars(select(PowerOutage.start_at)))
        assert starts[0] == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 12:00 PKT
        assert datetime(2026, 12, 7, 15, 0, tzinfo=UTC) in starts
    with ctx.db.transaction() as s:
        again = import_ics(s, "main", TWICE_A_DAY, P, NOW)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
        moved = TWICE_A_DAY.replace(b"DURATION:PT1H", b"DURATION:PT2H")
        assert import_ics(s, "main", moved, P, NOW).updated == 1
        assert s.scalar(select(func.count()).select_from(PowerOutage)) == 4


@pytest.mark.parametrize(
    ("feeder", "data", "field"),
    [
        ("nowhere", TWICE_A_DAY, "feeder"),
        ("main", b"this is not a calendar", "file"),
    ],
)
def test_a_bad_import_names_the_field(
    ctx: AppContext, feeder: str, data: bytes, field: str
) -> None:
    with ctx.db.transaction() as s, pytest.raises(DomainError) as err:
        import_ics(s, feeder, data, P, NOW)
    assert field in err.value.fields


def test_typed_outages_are_checked_and_idempotent(ctx: AppContext) -> None:
    start = NOW + timedelta(hours=2)
    with ctx.db.transaction() as s:
        one = add_outage(s, "main", start, start + timedelta(hours=2), P, "LESCO SMS")
        assert add_outage(s, "main", start, start + timedelta(hours=2), P).id == one.id
        for end, field in ((start, "end"), (start + timedelta(days=8), "end")):
            with pytest.raises(DomainError) as err:
                add_outage(s, "main", start, end, P)
            assert field in err.value.fields
        remove_outage(s, one.id, P)
        assert s.scalar(select(func.count()).select_from(PowerOutage)) == 0


def test_the_plan_keeps_unprotected_work_out_of_outages_and_staggers_the_generator(
    ctx: AppContext,
) -> None:
    _released(ctx)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with ctx.db.transaction() as s:
        add_outage(s, "main", now + timedelta(minutes=60), now + timedelta(minutes=180), P)
    with ctx.db.sessions() as s:
        pp = build_problem(s, now, horizon_days=7)
    machines = pp.problem.machine_index()

    def shed(mid: str) -> list[tuple[int, int]]:
        return [(w.start, w.end) for w in machines[mid].calendar if LOAD_SHEDDING in w.reason]

    assert shed("fdm-xl-01") == [(60, 180)]  # the grid alone
    assert shed("fdm-mk4-01") == [(105, 180)]  # 45 minutes on its UPS
    assert shed("cnc-01") == []  # the generator carries it
    limits = {p.id: p for p in pp.problem.power}
    assert [(w.start, w.end) for w in limits["generator"].windows] == [(60, 180)]
    assert limits["generator"].capacity == 3000
    assert limits["generator"].draws == {"cnc-01": 2200, "laser-01": 1400}
    assert [(w.start, w.end) for w in limits["ups-printers"].windows] == [(60, 105)]
    assert validate(pp.problem, dispatch(pp.problem)) == []


def _power_event(kind: str, feeder: str = "main") -> StatusEvent:
    doc = {
        "kind": kind,
        "feeder": feeder,
        "event_id": str(uuid.uuid4()),
        "at": datetime.now(UTC).isoformat(),
    }
    parsed = parse_event(doc, "mqtt")
    assert isinstance(parsed, StatusEvent), parsed
    return parsed


def test_power_lost_on_the_floor_replans_the_cut_work_and_power_back_ends_it(
    ctx: AppContext,
) -> None:
    _released(ctx)
    with ctx.db.transaction() as s:
        op = s.scalars(select(Operation).order_by(Operation.seq)).first()
        assert op is not None
        op.status, op.started_at = OperationStatus.RUNNING, datetime.now(UTC)
        before = s.scalar(select(func.count()).select_from(Schedule))
        lost = apply_event(s, _power_event("power_lost"))
        assert lost.ok and lost.proposal_requested
        again = apply_event(s, _power_event("power_lost"))
        assert again.ok and not again.proposal_requested  # one outage, one plan
        assert apply_event(s, _power_event("power_lost", "nowhere")).code == "unknown_feeder"
        machines = list(s.scalars(select(Machine)))
        cut = unpowered(s, machines, datetime.now(UTC))
        assert "fdm-xl-01" in cut and "cnc-01" not in cut and "fdm-mk4-01" not in cut
    flush_enqueues(ctx)
    with ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Schedule)) == before + 1
        newest = s.scalars(select(Schedule).order_by(Schedule.version.desc())).first()
        assert newest is not None and "power lost on main" in (newest.note or "")
        back = apply_event(s, _power_event("power_back"))
        assert back.ok and back.proposal_requested
        (outage,) = s.scalars(select(PowerOutage))
        assert outage.end_at is not None and outage.end_at > outage.start_at


@pytest.mark.parametrize(
    ("doc", "rule"),
    [
        ({"kind": "power_lost"}, "feeder"),
        ({"kind": "started", "job_order_id": "JO-1-v1", "feeder": "main"}, "feeder"),
        ({"kind": "power_back", "feeder": "x" * 65}, "feeder"),
    ],
)
def test_power_events_need_a_feeder_and_only_they_take_one(doc: dict, rule: str) -> None:
    full = {"event_id": "e1", "at": datetime.now(UTC).isoformat(), **doc}
    parsed = parse_event(full, "rest")
    assert isinstance(parsed, Rejection) and rule in parsed.reason


def test_no_outage_means_no_power_limit(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
    with ctx.db.sessions() as s:
        pp = build_problem(s, datetime.now(UTC), horizon_days=2)
    assert pp.problem.power == ()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_hunar_outages_cli(ctx: AppContext, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from orders.cli import main

    with ctx.db.transaction() as s:
        make_shop(s)
    env = {
        "HUNAR_DATABASE_URL": ctx.settings.resolved_database_url(),
        "HUNAR_VAR_DIR": str(ctx.settings.var_dir),
    }
    run = CliRunner()
    day = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    add = ["outages", "add", "--feeder", "main", "--start", f"{day}T12:00", "--end"]
    assert "outage #1 on main" in run.invoke(main, [*add, f"{day}T14:00"], env=env).output
    bad = run.invoke(main, [*add, f"{day}T11:00"], env=env)
    assert bad.exit_code == 1 and "end: after start" in bad.output
    ics = tmp_path / "lesco.ics"
    start = f"{day.replace('-', '')}T170000"
    ics.write_bytes(_ics(f"UID:e\r\nSUMMARY:Evening\r\nDTSTART:{start}\r\nDURATION:PT1H\r\n"))
    imported = run.invoke(main, ["outages", "import", str(ics), "--feeder", "main"], env=env)
    assert "1 added, 0 updated, 0 unchanged" in imported.output, imported.output
    listed = run.invoke(main, ["outages", "list"], env=env).output
    assert "12:00" in listed and "17:00" in listed and "fdm-xl-01: feeder main, grid only" in listed
    lost = run.invoke(main, ["outages", "report", "lost", "--feeder", "main"], env=env)
    assert "a proposal was asked for" in lost.output, lost.output
    nowhere = run.invoke(main, ["outages", "report", "back", "--feeder", "nowhere"], env=env)
    assert nowhere.exit_code == 1 and "feeder" in nowhere.output
    assert "removed" in run.invoke(main, ["outages", "remove", "1"], env=env).output


@pytest.mark.parametrize(
    ("lines", "added", "skipped"),
    [
        # found by fuzzing the import: each once answered 500
        (
            "DTSTART:20261207T120000\r\nDTEND:20261207T140000\r\n"
            "RRULE:FREQ=DAILY;UNTIL=20261209T000000\r\n",
            2,
            0,
        ),  # floating UNTIL, shop time
        (
            "DTSTART:20261207T120000\r\nDTEND:20261207T140000\r\nRRULE:FREQ=DAILY;COUNT=2\r\n"
            "RRULE:FREQ=WEEKLY;COUNT=2\r\n",
            3,
            0,
        ),  # two rules: their union
        ("DTSTART:20261207T120000\r\nDURATION:PT1H\r\nDURATION:PT2H\r\n", 0, 1),
        # an unknown zone: the parser reads the time as floating, so as shop time
        ("DTSTART;TZID=Nowhere/Zone:20261207T120000\r\nDURATION:PT1H\r\n", 1, 0),
    ],
)
def test_odd_calendars_import_what_they_can_and_name_the_rest(
    ctx: AppContext, lines: str, added: int, skipped: int
) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
        report = import_ics(s, "main", _ics(f"UID:odd\r\nSUMMARY:odd\r\n{lines}"), P, NOW)
    assert (report.added, len(report.skipped)) == (added, skipped), report


def test_a_calendar_of_minutely_blocks_is_refused_whole(ctx: AppContext) -> None:
    minutely = _ics("UID:m\r\nDTSTART:20261207T120000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=MINUTELY\r\n")
    with ctx.db.transaction() as s, pytest.raises(DomainError) as err:
        import_ics(s, "main", minutely, P, NOW)
    assert "file" in err.value.fields
