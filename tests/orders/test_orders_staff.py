"""Staff administration (issue 14): stations as a set, guard rails, deactivation, resets, the
`hunar user` commands and the migration of the old single station. Both engines."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner
from factories import make_shop, make_user
from sqlalchemy import func, select, text

from orders.cli import main as hunar
from orders.commands import staff
from orders.commands.audit import Actor
from orders.commands.sign_in import sign_in
from orders.context import AppContext
from orders.db import make_engine
from orders.errors import DomainError, NotFound
from orders.migrate import downgrade, upgrade
from orders.models import Event, Role, User
from orders.queries.station import StationUser

ADMIN = Actor("test admin")
PASSWORD = "correct horse battery"


def _email() -> str:
    return f"staff-{uuid.uuid4().hex[:8]}@test.example"


def _seeded(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)


def _add(ctx: AppContext, role: Role, stations: tuple[str, ...] = ()) -> tuple[int, str, str]:
    email = _email()
    with ctx.db.transaction() as s:
        user, password = staff.add_staff(s, ADMIN, email, role, "Ayesha", stations)
        return user.id, email, password


def _signs_in(ctx: AppContext, email: str, password: str) -> bool:
    with ctx.db.transaction() as s:
        return sign_in(s, email, password).user is not None


def test_an_operator_with_qc_and_pack_stations_acts_on_both_and_nothing_else(
    ctx: AppContext,
) -> None:
    _seeded(ctx)
    uid, email, password = _add(ctx, Role.OPERATOR, ("qc-01", "pack-01", "qc-01"))
    assert len(password) >= 10 and _signs_in(ctx, email, password)
    with ctx.db.sessions() as s:
        who = StationUser.load(s, uid)
        user = s.get_one(User, uid)
        assert user.station_ids == ("pack-01", "qc-01") and user.must_change_password
        created = s.scalars(
            select(Event).where(Event.entity_type == "user", Event.entity_id == str(uid))
        ).one()
        assert created.to_state == "created" and password not in str(created.payload)
    assert who.may_act_on("qc-01") and who.may_act_on("pack-01")
    assert not who.may_act_on("fdm-mk4-01") and not who.may_act_on("post-01")
    with ctx.db.transaction() as s:
        staff.assign_stations(s, ADMIN, uid, ["fdm-mk4-01", "fdm-mk4-02"])
    with ctx.db.sessions() as s:
        moved = StationUser.load(s, uid)
        kinds = [e.to_state for e in s.scalars(select(Event).where(Event.entity_type == "user"))]
    assert moved.stations == ("fdm-mk4-01", "fdm-mk4-02") and not moved.may_act_on("qc-01")
    assert kinds.count("stations") == 1


def test_the_seeded_operator_covers_printers_qc_and_pack(ctx: AppContext) -> None:
    _seeded(ctx)
    with ctx.db.sessions() as s:
        users = {u.email: u for u in s.scalars(select(User))}
    operator = users["operator@hunar.example"]
    assert {"fdm-mk4-01", "fdm-xl-02", "resin-01", "post-01", "qc-01", "pack-01"} <= set(
        operator.station_ids
    )
    assert all(u.must_change_password for u in users.values() if u.role != Role.CUSTOMER)
    assert not users["customer@hunar.example"].must_change_password


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(ctx: AppContext) -> None:
    _seeded(ctx)
    with ctx.db.transaction() as s:
        seeded = s.scalars(select(User.id).where(User.email == "admin@hunar.example")).one()
        other = make_user(s, Role.ADMIN).id
    with ctx.db.transaction() as s:  # two admins: one may go
        staff.set_role(s, ADMIN, seeded, Role.PLANNER)
    for change in (
        lambda s: staff.set_role(s, ADMIN, other, Role.OPERATOR),
        lambda s: staff.set_active(s, ADMIN, other, False),
    ):
        with pytest.raises(DomainError) as err, ctx.db.transaction() as s:
            change(s)
        assert "last active admin" in err.value.message and "role" in err.value.fields
    with ctx.db.transaction() as s:  # a deactivated admin does not count
        staff.set_role(s, ADMIN, seeded, Role.ADMIN)
        staff.set_active(s, ADMIN, seeded, False)
    with pytest.raises(DomainError), ctx.db.transaction() as s:
        staff.set_role(s, ADMIN, other, Role.PLANNER)
    with pytest.raises(DomainError) as err, ctx.db.transaction() as s:  # never oneself
        staff.set_active(s, ADMIN, seeded, True)
        staff.set_active(s, Actor("me", other), other, False)
    assert err.value.fields == {"user": "not yourself"}


def test_two_admins_deactivated_at_once_leave_one(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        first, second = make_user(s, Role.ADMIN).id, make_user(s, Role.ADMIN).id
    gate = threading.Barrier(2)

    def deactivate(uid: int) -> Any:
        gate.wait()
        try:
            with ctx.db.transaction() as s:
                return staff.set_active(s, ADMIN, uid, False).id
        except DomainError as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(deactivate, (first, second)))
    assert sum(isinstance(r, DomainError) for r in results) == 1, results
    with ctx.db.sessions() as s:
        active = s.scalars(select(User).where(User.role == Role.ADMIN, User.active.is_(True)))
        assert len(active.all()) == 1


def test_deactivation_ends_sessions_and_blocks_sign_in(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        user = make_user(s, Role.PLANNER)
        uid, email, version = user.id, user.email, user.session_version
    assert _signs_in(ctx, email, PASSWORD)
    with ctx.db.transaction() as s:
        staff.set_active(s, ADMIN, uid, False)
    with ctx.db.sessions() as s:
        assert s.get_one(User, uid).session_version > version
    assert not _signs_in(ctx, email, PASSWORD)
    with ctx.db.transaction() as s:
        staff.set_active(s, ADMIN, uid, True)
    assert _signs_in(ctx, email, PASSWORD)


def test_a_reset_password_must_be_changed_and_the_new_one_must_differ(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        user = make_user(s, Role.OPERATOR)
        uid, email = user.id, user.email
    with ctx.db.transaction() as s:
        temp = staff.reset_password(s, ADMIN, uid)
    assert not _signs_in(ctx, email, PASSWORD) and _signs_in(ctx, email, temp)
    cases = (
        ("wrong current password", "a fresh long passphrase", "current_password"),
        (temp, "short", "password"),
        (temp, temp, "password"),
    )
    for current, new, field in cases:
        with pytest.raises(DomainError) as err, ctx.db.transaction() as s:
            staff.change_own_password(s, uid, current, new)
        assert field in err.value.fields, (new, err.value.fields)
    with ctx.db.transaction() as s:
        staff.change_own_password(s, uid, temp, "a fresh long passphrase")
    with ctx.db.sessions() as s:
        assert not s.get_one(User, uid).must_change_password
    assert _signs_in(ctx, email, "a fresh long passphrase")
    with pytest.raises(DomainError) as err, ctx.db.transaction() as s:
        staff.reset_password(s, Actor("me", uid), uid, "given long password")
    assert "user" in err.value.fields


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: staff.parse_role("superuser"), "role"),
        (lambda s: staff.add_staff(s, ADMIN, "not-an-email", Role.PLANNER, "N"), "email"),
        (lambda s: staff.add_staff(s, ADMIN, _email(), Role.PLANNER, "  "), "display_name"),
        (lambda s: staff.add_staff(s, ADMIN, _email(), Role.OPERATOR, "N", ["nope"]), "stations"),
        (
            lambda s: staff.add_staff(s, ADMIN, _email(), Role.OPERATOR, "N", (), "short"),
            "password",
        ),
        (lambda s: staff.user_by_email(s, "nobody@test.example"), "email"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    ctx: AppContext, call: Callable[[Any], Any], field: str
) -> None:
    _seeded(ctx)
    with pytest.raises(DomainError) as err, ctx.db.transaction() as s:
        call(s)
    assert field in err.value.fields, err.value.fields
    with pytest.raises(NotFound), ctx.db.transaction() as s:
        staff.set_role(s, ADMIN, 2**31 - 1, Role.PLANNER)


def test_concurrent_duplicate_adds_make_one_user(ctx: AppContext) -> None:
    email, n = _email(), 6
    gate = threading.Barrier(n)

    def add() -> Any:
        gate.wait()
        try:
            with ctx.db.transaction() as s:
                return staff.add_staff(s, ADMIN, email, Role.PLANNER, "Twin")[0].email
        except DomainError as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: add(), range(n)))
    assert results.count(email) == 1, results
    assert all(r.fields == {"email": "already registered"} for r in results if r != email)
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.email == email)) == 1


def _cli(ctx: AppContext, tmp_path: Any, *args: str) -> Any:
    env = {
        "HUNAR_DATABASE_URL": ctx.settings.resolved_database_url(),
        "HUNAR_VAR_DIR": str(tmp_path),
    }
    return CliRunner().invoke(hunar, list(args), env=env, catch_exceptions=False)


def test_the_user_commands(ctx: AppContext, tmp_path: Any) -> None:
    _seeded(ctx)
    email = _email()
    added = _cli(
        ctx, tmp_path, "user", "add", email, "--role", "operator", "--name", "Bilal",
        "--station", "qc-01", "--station", "pack-01",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    first = added.output.split("one-time password: ")[1].strip()
    assert _signs_in(ctx, email, first)
    assert _cli(ctx, tmp_path, "user", "role", email, "planner").exit_code == 0
    assert _cli(ctx, tmp_path, "user", "stations", email, "fdm-mk4-01").exit_code == 0
    listed = _cli(ctx, tmp_path, "user", "list").output
    line = next(row for row in listed.splitlines() if row.startswith(email))
    assert "planner" in line and "fdm-mk4-01" in line and "must-change" in line
    reset = _cli(ctx, tmp_path, "user", "reset-password", "admin@hunar.example")
    assert reset.exit_code == 0, reset.output
    temp = reset.output.split(": ")[1].split()[0]
    assert _signs_in(ctx, "admin@hunar.example", temp)
    assert _cli(ctx, tmp_path, "user", "deactivate", email).exit_code == 0
    assert not _signs_in(ctx, email, first)
    refused = _cli(ctx, tmp_path, "user", "stations", email, "no-such-machine")
    assert refused.exit_code == 1 and "stations: unknown machine id" in refused.output
    bad = _cli(ctx, tmp_path, "user", "role", email, "superuser")
    assert bad.exit_code == 2 and "ROLE" in bad.output
    with ctx.db.transaction() as s:  # the last admin stays
        for uid in s.scalars(select(User.id).where(User.role == Role.ADMIN)):
            if s.get_one(User, uid).email != "admin@hunar.example":
                staff.set_active(s, ADMIN, uid, False)
    last = _cli(ctx, tmp_path, "user", "deactivate", "admin@hunar.example")
    assert last.exit_code == 1 and "last active admin" in last.output


def test_the_migration_moves_each_users_station_into_the_set(backend: str, db_factory: Any) -> None:
    url = db_factory.url(backend)
    downgrade(url, "0005")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO machines (id, name, process, materials, build_x_mm, "
                          "build_y_mm, build_z_mm, speed_factor, hourly_rate, state, transport, "
                          "transport_config) VALUES ('qc-01', 'QC', 'qc', '[]', 1, 1, 1, 1, 0, "
                          "'up', 'mqtt', '{}')"))  # fmt: skip
        conn.execute(text("INSERT INTO users (email, display_name, password_hash, role, "
                          "station_machine_id, active, session_version, created_at) VALUES "
                          "('o@test.example', 'O', 'x', 'operator', 'qc-01', true, 0, "
                          "CURRENT_TIMESTAMP)"))  # fmt: skip
    upgrade(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT machine_id FROM user_stations")).all()
        flag = conn.execute(text("SELECT must_change_password FROM users")).scalar_one()
    downgrade(url, "0005")  # and back: the one station returns to its column
    with engine.connect() as conn:
        back = conn.execute(text("SELECT station_machine_id FROM users")).scalar_one()
    engine.dispose()
    assert [r[0] for r in rows] == ["qc-01"] and not flag and back == "qc-01"
