"""`hunar user ...`: staff accounts from the shell, and the one way a CLI change is applied
(a transaction as the shell's user; a refusal is exit status 1 naming the field)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from orders.settings import load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from orders.commands.audit import Actor


def staff_change(what: str, change: Callable[[Session, Actor], str]) -> None:
    """Run one fulfilment command in a transaction as the shell's user; a refusal is exit 1."""
    import getpass

    from orders.commands.audit import Actor
    from orders.context import AppContext
    from orders.errors import DomainError

    ctx = AppContext.from_settings(load_settings())
    try:
        with ctx.db.transaction() as session:
            message = change(session, Actor(f"cli:{getpass.getuser()}"))
    except DomainError as exc:
        fields = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(f"{what} refused: {exc.message}{fields}") from exc
    finally:
        ctx.close()
    click.echo(message)


@click.group()
def user() -> None:
    """Staff accounts: add, change role or stations, deactivate, reset a lost password."""


ROLE_NAMES = ("customer", "planner", "operator", "admin")


@user.command("add")
@click.argument("email")
@click.option("--role", "role_name", type=click.Choice(ROLE_NAMES), required=True)
@click.option("--name", required=True, help="Display name.")
@click.option("--station", "stations", multiple=True, help="A machine id; repeat for more.")
def user_add(email: str, role_name: str, name: str, stations: tuple[str, ...]) -> None:
    """Add a person; prints a one-time password they must change at the first sign-in."""
    from orders.commands.staff import add_staff, parse_role

    def change(session: Session, actor: Actor) -> str:
        u, password = add_staff(session, actor, email, parse_role(role_name), name, stations)
        where = f" at {', '.join(u.station_ids)}" if u.stations else ""
        return f"added {u.email} ({u.role.value}{where})\none-time password: {password}"

    staff_change("user add", change)


@user.command("role")
@click.argument("email")
@click.argument("role_name", metavar="ROLE", type=click.Choice(ROLE_NAMES))
def user_role(email: str, role_name: str) -> None:
    """Change a person's role (the last active admin keeps theirs)."""
    from orders.commands.staff import parse_role, set_role, user_by_email

    def change(session: Session, actor: Actor) -> str:
        u = set_role(session, actor, user_by_email(session, email).id, parse_role(role_name))
        return f"{u.email} is now {u.role.value}"

    staff_change("user role", change)


@user.command("stations")
@click.argument("email")
@click.argument("machines", nargs=-1)
def user_stations(email: str, machines: tuple[str, ...]) -> None:
    """Set the stations a person works at (none given: no station)."""
    from orders.commands.staff import assign_stations, user_by_email

    def change(session: Session, actor: Actor) -> str:
        u = assign_stations(session, actor, user_by_email(session, email).id, machines)
        return f"{u.email}: stations {', '.join(u.station_ids) or 'none'}"

    staff_change("user stations", change)


@user.command("deactivate")
@click.argument("email")
@click.option("--reactivate", is_flag=True, help="Let a deactivated person sign in again.")
def user_deactivate(email: str, reactivate: bool) -> None:
    """End a person's sessions and refuse their sign-in (undo with --reactivate)."""
    from orders.commands.staff import set_active, user_by_email

    def change(session: Session, actor: Actor) -> str:
        u = set_active(session, actor, user_by_email(session, email).id, reactivate)
        return f"{u.email} is {'active' if u.active else 'deactivated'}"

    staff_change("user deactivate", change)


@user.command("reset-password")
@click.argument("email")
def user_reset_password(email: str) -> None:
    """Print a one-time password for a person (also the way back in when the admin's is lost)."""
    from orders.commands.staff import reset_password, user_by_email

    def change(session: Session, actor: Actor) -> str:
        u = user_by_email(session, email)
        password = reset_password(session, actor, u.id)
        return f"one-time password for {u.email}: {password}\n(change it at the next sign-in)"

    staff_change("user reset-password", change)


@user.command("list")
@click.option("--all", "everyone", is_flag=True, help="Customers too.")
def user_list(everyone: bool) -> None:
    """List accounts: e-mail, role, active, stations."""
    from orders.context import AppContext
    from orders.queries.staff import people

    ctx = AppContext.from_settings(load_settings())
    try:
        with ctx.db.sessions() as session:
            rows = people(session, staff_only=not everyone)
    finally:
        ctx.close()
    for p in rows:
        flags = ("" if p.active else " inactive") + (
            " must-change" if p.must_change_password else ""
        )
        click.echo(f"{p.email:32} {p.role:9}{flags:24} {', '.join(p.stations) or '-'}")
