"""`hunar stock ...`: filament spools and sheets from the shell (the planner page's twin).

Each change runs as the shell's user through `staff_change`: one transaction, and a refusal is
exit status 1 naming the field and the rule.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import click

from orders.cli_staff import staff_change

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from orders.commands.audit import Actor

ITEM_ID = click.IntRange(1, 2**31 - 1)


@click.group()
def stock() -> None:
    """Material stock: list, receive, load/unload a spool on a printer, weigh in."""


@stock.command("list")
def stock_list() -> None:
    """Every spool and sheet stack, then low-stock alerts and printers that would refuse a job."""
    from orders.context import AppContext
    from orders.queries.stock import balances, floor_warnings, stock_items
    from orders.settings import load_settings

    ctx = AppContext.from_settings(load_settings())
    try:
        with ctx.db.sessions() as s:
            for i in stock_items(s):
                left = f"{i.grams_left:g} g" if i.kind == "spool" else f"{i.sheets_left} sheets"
                size = f" {i.thickness_mm:g} mm" if i.thickness_mm else ""
                where = f"on {i.machine_id}" if i.machine_id else i.location or "-"
                click.echo(f"#{i.id} {i.kind} {i.material_id} {i.colour}{size}: {left}, {where}")
            for b in balances(s):
                if b.level != "ok":
                    click.echo(
                        f"{b.level.upper()}: {b.material} {b.colour} {b.on_hand_g:g} g on hand, "
                        f"{b.reserved_g:g} g reserved, {b.demand_g:g} g due soon: "
                        f"reorder {b.reorder_spools} spool(s)"
                    )
            for w in floor_warnings(s):
                click.echo(f"REFUSED AT START: {w.message}")
    finally:
        ctx.close()


@stock.command("receive")
@click.argument("kind", type=click.Choice(["spool", "sheet"]))
@click.argument("material")
@click.option("--colour", default="", help="Spools: a colour of the material, e.g. black.")
@click.option("--grams", default=None, help="Spools: net filament on each spool, e.g. 1000.")
@click.option("--tare", "tare_g", default=None, help="Spools: the empty spool's grams.")
@click.option("--thickness", "thickness_mm", default=None, help="Sheets: thickness in mm.")
@click.option("--sheets", default=None, help="Sheets: how many in the stack.")
@click.option("--count", default="1", show_default=True, help="How many identical items.")
@click.option("--location", default="", help="Shelf or bin, e.g. A2.")
@click.option("--key", default=None, help="Idempotency key: the same key receives once.")
def stock_receive(kind: str, material: str, key: str | None, **kw: str | None) -> None:
    """Receive spools or sheets into stock."""
    from orders.commands.stock import receive

    def change(session: Session, actor: Actor) -> str:
        items, created = receive(
            session,
            kind=kind,
            material=material,
            colour=kw["colour"] or "",
            grams=kw["grams"],
            tare_g=kw["tare_g"],
            thickness_mm=kw["thickness_mm"],
            sheets=kw["sheets"],
            count=kw["count"],
            location=kw["location"] or "",
            idempotency_key=key or uuid.uuid4().hex,
            actor=actor,
        )
        ids = ", ".join(f"#{i.id}" for i in items)
        return f"received {ids}" if created else f"already received as {ids}"

    staff_change("stock receive", change)


@stock.command("load")
@click.argument("item_id", type=ITEM_ID)
@click.argument("machine_id")
def stock_load(item_id: int, machine_id: str) -> None:
    """Load a spool on an FDM printer (its previous spool is unloaded)."""
    from orders.commands.stock import load_spool

    def change(session: Session, actor: Actor) -> str:
        done = load_spool(session, item_id, machine_id, actor)
        return f"spool #{item_id} {'loaded on' if done.changed else 'was already on'} {machine_id}"

    staff_change("stock load", change)


@stock.command("unload")
@click.argument("item_id", type=ITEM_ID)
@click.option("--location", default="", help="Where the spool goes, e.g. dry box 1.")
def stock_unload(item_id: int, location: str) -> None:
    """Take a spool off its printer."""
    from orders.commands.stock import unload_spool

    def change(session: Session, actor: Actor) -> str:
        done = unload_spool(session, item_id, actor, location)
        return f"spool #{item_id} {'unloaded' if done.changed else 'was not loaded'}"

    staff_change("stock unload", change)


@stock.command("adjust")
@click.argument("item_id", type=ITEM_ID)
@click.option("--measured", "measured_g", default=None, help="Spools: grams on the scale.")
@click.option("--sheets", default=None, help="Sheets: how many are left.")
@click.option("--key", default=None, help="Idempotency key: the same key applies once.")
def stock_adjust(item_id: int, measured_g: str | None, sheets: str | None, key: str | None) -> None:
    """Weigh a spool in (gross, the tare is subtracted) or count a sheet stack."""
    from orders.commands.stock import adjust

    def change(session: Session, actor: Actor) -> str:
        done = adjust(
            session,
            item_id,
            measured_g=measured_g,
            sheets=sheets,
            idempotency_key=key or uuid.uuid4().hex,
            actor=actor,
        )
        i = done.item
        left = f"{i.grams_left:g} g" if i.kind == "spool" else f"{i.sheets_left} sheets"
        return f"#{i.id}: {left} left" + ("" if done.changed else " (already applied)")

    staff_change("stock adjust", change)
