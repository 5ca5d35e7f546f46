"""`hunar outages ...`: load-shedding from the shell (the planner's power page's twin).

An ICS file from the utility, an outage typed in from its SMS or WhatsApp notice, or the
floor's "power lost" / "power back"; each runs as the shell's user in one transaction, and a
refusal is exit status 1 naming the field and the rule.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orders.cli_staff import staff_change

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from orders.commands.audit import Actor


@click.group()
def outages() -> None:
    """Load-shedding: list, import an ICS file, add or remove an outage, power lost or back."""


@outages.command("list")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60))
def outages_list(days: int) -> None:
    """Outages from now on, and what carries each machine through them."""
    from sqlalchemy import select

    from orders.context import AppContext
    from orders.formats import when
    from orders.models import Machine
    from orders.queries.power import outages_between, supplies
    from orders.settings import load_settings

    ctx = AppContext.from_settings(load_settings())
    now = datetime.now(UTC)
    try:
        with ctx.db.sessions() as s:
            for o in outages_between(s, now, now + timedelta(days=days)):
                end = when(o.end_at) if o.end_at else "power still out"
                click.echo(
                    f"#{o.id} {o.feeder}: {when(o.start_at)} to {end} ({o.source}) {o.note or ''}"
                )
            for sup in supplies(list(s.scalars(select(Machine).order_by(Machine.id)))):
                backup = sup.power.backup
                carried = f"{backup.kind} {backup.name}" if backup else "grid only"
                click.echo(
                    f"{sup.machine_id}: feeder {sup.power.feeder}, {carried}, {sup.power.draw_kw:g} kW"
                )
    finally:
        ctx.close()


@outages.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--feeder", required=True, help="The feeder the calendar is for.")
def outages_import(path: Path, feeder: str) -> None:
    """Import the utility's load-shedding calendar (.ics); importing it again changes nothing."""
    from orders.commands.outages import import_ics

    def change(session: Session, actor: Actor) -> str:
        report = import_ics(session, feeder, path.read_bytes(), actor, datetime.now(UTC))
        skipped = "".join(f"\n  skipped {why}" for why in report.skipped)
        return (
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged{skipped}"
        )

    staff_change("outages import", change)


def _time(value: str) -> datetime:
    """ISO time; without an offset it is the shop's own time (as the utility's notice says)."""
    from zoneinfo import ZoneInfo

    from orders.shop import shop_numbers

    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("an ISO time, e.g. 2026-12-07T12:00") from exc
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(shop_numbers().locality.time_zone))


@outages.command("add")
@click.option("--feeder", required=True)
@click.option("--start", required=True, help="ISO time; shop time when no offset is given.")
@click.option("--end", required=True, help="ISO time; shop time when no offset is given.")
@click.option("--note", default="", help="Where it came from, e.g. LESCO SMS.")
def outages_add(feeder: str, start: str, end: str, note: str) -> None:
    """Add an announced outage (the same feeder and times twice is one outage)."""
    from orders.commands.outages import add_outage

    def change(session: Session, actor: Actor) -> str:
        row = add_outage(session, feeder, _time(start), _time(end), actor, note)
        return f"outage #{row.id} on {row.feeder}"

    staff_change("outages add", change)


@outages.command("remove")
@click.argument("outage_id", type=click.IntRange(1, 2**31 - 1))
def outages_remove(outage_id: int) -> None:
    """Remove an outage (the utility called it off)."""
    from orders.commands.outages import remove_outage

    def change(session: Session, actor: Actor) -> str:
        remove_outage(session, outage_id, actor)
        return f"outage #{outage_id} removed"

    staff_change("outages remove", change)


@outages.command("report")
@click.argument("state", type=click.Choice(["lost", "back"]))
@click.option("--feeder", required=True)
def outages_report(state: str, feeder: str) -> None:
    """The floor's "power lost" / "power back": asks for a plan; the planner decides."""
    from orders.commands.floor_events import apply_event, power_event

    def change(session: Session, actor: Actor) -> str:
        done = apply_event(session, power_event(feeder, state, uuid.uuid4().hex), actor)
        if not done.ok:
            from orders.errors import DomainError

            raise DomainError(done.message, fields={"feeder": done.code})
        asked = "; a proposal was asked for" if done.proposal_requested else ""
        return f"power {state} on {feeder} recorded{asked}"

    staff_change("outages report", change)
