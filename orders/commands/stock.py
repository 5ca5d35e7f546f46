"""Material stock changes: receive spools and sheets, load and unload a spool on a printer,
weigh a spool in, consume by hand, and the filament a finished or scrapped job used.

Every change is an audit event and a ledger row (`StockMove`). Commands lock the rows they
change (`FOR UPDATE` on PostgreSQL; SQLite write transactions hold the write lock from their
start): a load locks the machine row first, so two loads on one printer go one after the other
and the second finds the work done. A form carries an idempotency key, kept unique in the
ledger, so a double submit counts once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from configurator.materials import materials
from configurator.processes import Process
from mes_bridge.job_order_ids import parse_job_order
from orders.commands.audit import Actor, record_event
from orders.commands.sheet_stock import consume_sheets
from orders.errors import DomainError, DuplicateSubmission, NotFound
from orders.models import (
    Assignment,
    Machine,
    MoveKind,
    Operation,
    Schedule,
    StockItem,
    StockKind,
    StockMove,
)
from orders.queries.stock import loaded_spool, need_of, stock_rules

MAX_GRAMS = 100_000.0  # 100 kg: no spool or weigh-in is heavier
MAX_SHEETS = 10_000
MAX_COUNT = 50


@dataclass(frozen=True)
class Done:
    """The item a command acted on; `changed` is False when it was already so (a re-submit)."""

    item: StockItem
    changed: bool


def _number(raw: object, field: str, *, top: float, whole: bool = False) -> float:
    text = str(raw).strip().replace(",", "") if raw is not None else ""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    rule = f"a {'whole ' if whole else ''}number from 0 to {top:g}"
    if not math.isfinite(value) or not 0 <= value <= top or (whole and value != int(value)):
        raise DomainError(f"{field.replace('_', ' ')} must be {rule}", fields={field: rule})
    return int(value) if whole else round(value, 1)


def _key(raw: str | None) -> str:
    key = (raw or "").strip()
    if not key or len(key) > 128 or "#" in key:
        raise DomainError(
            "idempotency key is required (1-128 characters, no #): reload the form",
            fields={"idempotency_key": "1-128 characters"},
        )
    return key


def _material(kind: StockKind, material: str, colour: str) -> tuple[str, str]:
    process = Process.FDM if kind == StockKind.SPOOL else Process.LASER
    known = [m for m in materials().values() if process in m.processes]
    mat = next((m for m in known if m.key == material.strip().lower()), None)
    if mat is None:
        choices = ", ".join(m.key for m in known)
        raise DomainError(f"material must be one of {choices}", fields={"material": choices})
    colour = colour.strip().lower()
    if kind == StockKind.SPOOL and colour not in mat.colours:
        choices = ", ".join(mat.colours)
        raise DomainError(
            f"colour of {mat.key} must be one of {choices}", fields={"colour": choices}
        )
    return mat.key, colour[:32]


def _locked(session: Session, item_id: int) -> StockItem:
    item = session.get(StockItem, item_id, with_for_update=True, populate_existing=True)
    if item is None:
        raise NotFound(f"stock item {item_id} not found", fields={"item_id": "no such item"})
    return item


def _move(session: Session, item: StockItem, kind: MoveKind, actor: Actor, **kw: object) -> None:
    session.add(StockMove(item_id=item.id, kind=kind, by=actor.label[:255], **kw))


def _event(session: Session, actor: Actor, item: StockItem, what: str, **body: object) -> None:
    record_event(session, actor, "stock_item", item.id, None, what, body)


def receive(
    session: Session,
    *,
    kind: str,
    material: str,
    colour: str = "",
    grams: object = None,
    tare_g: object = None,
    thickness_mm: object = None,
    sheets: object = None,
    count: object = 1,
    location: str = "",
    idempotency_key: str | None,
    actor: Actor,
) -> tuple[list[StockItem], bool]:
    """Add `count` identical spools (net grams, tare) or sheet stacks; (items, created).

    The same form (key) submitted again returns the items it made the first time.
    """
    if kind not in (StockKind.SPOOL.value, StockKind.SHEET.value):
        raise DomainError("kind must be spool or sheet", fields={"kind": "spool or sheet"})
    stock = StockKind(kind)
    mat, col = _material(stock, material, colour)
    n = int(_number(count, "count", top=MAX_COUNT, whole=True))
    if n < 1:
        raise DomainError("count must be at least 1", fields={"count": "at least 1"})
    key = _key(idempotency_key)
    fields: dict[str, object] = {"kind": stock, "material_id": mat, "colour": col}
    if stock == StockKind.SPOOL:
        net = _number(grams, "grams", top=MAX_GRAMS)
        if net <= 0:
            raise DomainError("grams must be more than 0", fields={"grams": "more than 0"})
        tare = stock_rules().spool_tare_g if tare_g in (None, "") else tare_g
        fields |= {
            "grams_initial": net,
            "grams_left": net,
            "tare_g": _number(tare, "tare_g", top=MAX_GRAMS),
        }
    else:
        thick = _number(thickness_mm, "thickness_mm", top=100)
        count_sheets = int(_number(sheets, "sheets", top=MAX_SHEETS, whole=True))
        if thick <= 0 or count_sheets < 1:
            raise DomainError(
                "a sheet stack needs a thickness over 0 mm and at least 1 sheet",
                fields={"thickness_mm": "more than 0", "sheets": "at least 1"},
            )
        fields |= {
            "thickness_mm": thick,
            "sheets_initial": count_sheets,
            "sheets_left": count_sheets,
        }
    same = _received(session, key, (stock, mat, col))
    if same:
        return same, False
    items: list[StockItem] = []
    try:
        with session.begin_nested():  # a concurrent submit of this form meets the unique key
            for i in range(1, n + 1):
                items.append(_new_item(session, fields, location, actor, f"{key}#{i}"))
    except IntegrityError:
        return _received(session, key, (stock, mat, col)), False
    return items, True


def _received(session: Session, key: str, what: tuple[object, ...]) -> list[StockItem]:
    """The items a form (key) already received; refused when it was for other stock."""
    made = session.scalars(
        select(StockItem)
        .join(StockMove, StockMove.item_id == StockItem.id)
        .where(StockMove.idempotency_key.startswith(f"{key}#", autoescape=True))
        .order_by(StockItem.id)
    ).all()
    if any((i.kind, i.material_id, i.colour) != what for i in made):
        raise DuplicateSubmission(
            "this form was already used for other stock: reload it",
            fields={"idempotency_key": "already used"},
        )
    return list(made)


def _new_item(
    session: Session, fields: dict[str, object], location: str, actor: Actor, key: str
) -> StockItem:
    item = StockItem(location=" ".join(location.split())[:64], **fields)
    session.add(item)
    session.flush()
    _move(session, item, MoveKind.RECEIVE, actor, grams=item.grams_left,
          sheets=item.sheets_left, idempotency_key=key)  # fmt: skip
    _event(session, actor, item, "received", material=item.material_id, colour=item.colour,
           grams=item.grams_left, sheets=item.sheets_left)  # fmt: skip
    session.flush()
    return item


def load_spool(session: Session, item_id: int, machine_id: str, actor: Actor) -> Done:
    """Load a spool on an FDM printer; the printer's previous spool is unloaded (one per
    printer) and a spool loaded elsewhere moves. Loading it where it already is changes nothing."""
    machine = session.get(Machine, machine_id, with_for_update=True)
    if machine is None:
        raise NotFound(f"machine {machine_id} not found", fields={"machine_id": "no such machine"})
    if machine.process != "fdm":
        raise DomainError(
            f"{machine_id} is a {machine.process} machine; only FDM printers take spools",
            fields={"machine_id": "an FDM printer"},
        )
    item = _locked(session, item_id)
    if item.kind != StockKind.SPOOL:
        raise DomainError(f"item {item_id} is a sheet stack", fields={"item_id": "a spool"})
    if item.machine_id == machine_id:
        return Done(item, False)
    old = loaded_spool(session, machine_id)
    if old is not None:
        _unload(session, _locked(session, old.id), actor, f"replaced by spool #{item.id}")
    was = item.machine_id
    if was is not None:
        _unload(session, item, actor, f"moved to {machine_id}")
    item.machine_id = machine_id
    _move(session, item, MoveKind.LOAD, actor, machine_id=machine_id)
    _event(session, actor, item, "loaded", machine_id=machine_id, previous=old.id if old else None)
    return Done(item, True)


def _unload(session: Session, item: StockItem, actor: Actor, why: str) -> None:
    machine_id, item.machine_id = item.machine_id, None
    session.flush()  # free the printer's slot before another spool takes it (unique machine_id)
    _move(session, item, MoveKind.UNLOAD, actor, machine_id=machine_id, note=why)
    _event(session, actor, item, "unloaded", machine_id=machine_id, reason=why)


def unload_spool(session: Session, item_id: int, actor: Actor, location: str = "") -> Done:
    """Take a spool off its printer (and say where it went); an unloaded spool stays so."""
    item = _locked(session, item_id)
    if location.strip():
        item.location = " ".join(location.split())[:64]
    if item.machine_id is None:
        return Done(item, False)
    _unload(session, item, actor, "unloaded")
    return Done(item, True)


def _ledger_seen(session: Session, key: str) -> bool:
    return session.scalar(select(StockMove.id).where(StockMove.idempotency_key == key)) is not None


def adjust(
    session: Session,
    item_id: int,
    *,
    measured_g: object = None,
    sheets: object = None,
    idempotency_key: str | None,
    actor: Actor,
) -> Done:
    """A weigh-in: the spool on the scale (gross, tare included) or a sheet count sets what is
    left. The difference is recorded; the same form submitted twice applies once."""
    key = _key(idempotency_key)
    item = _locked(session, item_id)
    if _ledger_seen(session, f"adjust:{key}"):
        return Done(item, False)
    if item.kind == StockKind.SPOOL:
        gross = _number(measured_g, "measured_g", top=MAX_GRAMS)
        left = round(max(gross - item.tare_g, 0.0), 1)
        delta, item.grams_left = round(left - item.grams_left, 1), left
        body: dict[str, object] = {"measured_g": gross, "grams_left": left, "change_g": delta}
        _move(session, item, MoveKind.ADJUST, actor, grams=delta, idempotency_key=f"adjust:{key}")
    else:
        count = int(_number(sheets, "sheets", top=MAX_SHEETS, whole=True))
        change, item.sheets_left = count - item.sheets_left, count
        body = {"sheets_left": count, "change": change}
        _move(session, item, MoveKind.ADJUST, actor, sheets=change, idempotency_key=f"adjust:{key}")
    _event(session, actor, item, "adjusted", **body)
    return Done(item, True)


def consume(
    session: Session,
    item_id: int,
    *,
    amount: object,
    idempotency_key: str | None,
    actor: Actor,
    note: str = "",
) -> Done:
    """Take grams (spool) or sheets (sheet stack) by hand: a test print, a laser job. More
    than is left is refused naming the field; weigh the spool in instead."""
    key = _key(idempotency_key)
    item = _locked(session, item_id)
    if _ledger_seen(session, f"consume:{key}"):
        return Done(item, False)
    spool = item.kind == StockKind.SPOOL
    field, left = ("amount", item.grams_left if spool else item.sheets_left)
    value = _number(amount, field, top=MAX_GRAMS if spool else MAX_SHEETS, whole=not spool)
    if value <= 0 or value > left:
        rule = f"more than 0 and at most {left:g} (what is left)"
        raise DomainError(f"amount must be {rule}", fields={field: rule})
    if spool:
        item.grams_left = round(item.grams_left - value, 1)
    else:
        item.sheets_left -= int(value)
    grams, sheets = (-value, 0) if spool else (0.0, -int(value))
    _move(
        session,
        item,
        MoveKind.CONSUME,
        actor,
        grams=grams,
        sheets=sheets,
        idempotency_key=f"consume:{key}",
        note=note[:500] or None,
    )
    _event(session, actor, item, "consumed", amount=value, unit="g" if spool else "sheets")
    return Done(item, True)


def _ran_on(session: Session, op: Operation, job_order: str) -> str | None:
    parsed = parse_job_order(job_order)
    if parsed is None:
        return None
    return session.scalar(
        select(Assignment.machine_id)
        .join(Schedule, Schedule.id == Assignment.schedule_id)
        .where(Schedule.version == parsed[1], Assignment.operation_id == op.id)
    )


def consume_for_job(
    session: Session,
    op: Operation,
    job_order: str,
    event_id: str,
    actor: Actor,
    machine_id: str = "",
    scrapped: int | None = None,
) -> float:
    """The filament a completed (all parts not yet counted) or scrapped (`scrapped` parts) job
    used, from the spool loaded on the printer that ran it; returns grams taken (for a laser
    job: the sheets taken, `sheet_stock.consume_sheets`).

    Each part is counted once, so a part scrapped mid-print and the completion that follows do
    not both take it. Never below zero: a job that needed more than the spool was recorded to
    hold empties it and records the difference as a discrepancy for a weigh-in.
    """
    if op.process == "laser":
        return float(consume_sheets(session, op, job_order, event_id, actor, scrapped))
    need = need_of(session, op)
    machine = machine_id or _ran_on(session, op, job_order)
    if need is None or machine is None or need.parts_open == 0:
        return 0.0
    spool = loaded_spool(session, machine)
    if spool is None:  # this printer's stock is not tracked
        return 0.0
    spool = _locked(session, spool.id)
    parts = need.parts_open if scrapped is None else min(scrapped, need.parts_open)
    wanted = round(need.grams_per_unit * parts, 1)
    taken = min(wanted, spool.grams_left)
    spool.grams_left = round(spool.grams_left - taken, 1)
    key = f"job:{op.id}:{event_id}"
    _move(
        session,
        spool,
        MoveKind.CONSUME,
        actor,
        grams=-taken,
        machine_id=machine,
        operation_id=op.id,
        parts=parts,
        idempotency_key=key,
        note=f"{'scrap' if scrapped is not None else 'completion'} of {job_order}",
    )
    _event(session, actor, spool, "consumed", job_order_id=job_order, grams=taken, parts=parts)
    if wanted > taken:
        short = round(wanted - taken, 1)
        _move(
            session,
            spool,
            MoveKind.DISCREPANCY,
            actor,
            machine_id=machine,
            operation_id=op.id,
            note=f"{job_order} needed {short:g} g more than recorded",
        )
        _event(session, actor, spool, "discrepancy", job_order_id=job_order, missing_g=short)
    return taken
