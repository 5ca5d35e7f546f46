"""The delivery note: the paper in the parcel, as a PDF made with reportlab (as the traveler is).

It lists what is in the parcel (each line's design and quantity, remakes folded into the line
they replace), the carrier and tracking number, and who it is for. Customer text is drawn as
plain strings (no markup is parsed), and the text stays uncompressed so it can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.units import mm
from sqlalchemy.orm import Session

from orders import formats
from orders.lifecycle import Status
from orders.models import Order, ProductConfiguration, User
from orders.queries.catalog import load_config
from orders.queries.pdf import PdfWriter

SHOWN_PARAMS = 8  # enough of a design's parameters to tell parts apart in the box
FIRST = ("material", "colour")


@dataclass(frozen=True)
class NoteLine:
    line_id: int
    family: str
    quantity: int
    details: str


@dataclass(frozen=True)
class DeliveryNote:
    order_id: int
    customer: str
    email: str
    ordered_at: datetime
    shipped_at: datetime
    carrier: str
    tracking_number: str
    lines: tuple[NoteLine, ...]


def note_for(
    session: Session, order: Order, carrier: str, tracking: str, shipped_at: datetime
) -> DeliveryNote:
    """What goes on the note: the order's lines that ship (cancelled ones are not in the box)."""
    customer = session.get_one(User, order.customer_id)
    lines = []
    for ln in order.lines:
        if ln.status == Status.CANCELLED or ln.parent_line_id is not None:
            continue  # a remake replaces scrapped parts of its parent: the parent's count stands
        config = session.get_one(ProductConfiguration, ln.configuration_id)
        values = load_config(config).values
        first = sorted(values, key=lambda k: (k not in FIRST, k))[:SHOWN_PARAMS]
        shown = ", ".join(f"{k.replace('_', ' ')} {values[k]}" for k in first)
        lines.append(NoteLine(ln.id, config.family_key, ln.quantity, shown))
    return DeliveryNote(
        order.id,
        customer.display_name,
        customer.email,
        order.created_at,
        shipped_at,
        carrier,
        tracking,
        tuple(lines),
    )


def render_note_pdf(note: DeliveryNote) -> bytes:
    """One A4 page per ~40 lines, in the shop's paper style (`queries/pdf.py`)."""
    pdf = PdfWriter(f"Delivery note, order {note.order_id}")
    text = pdf.text
    text(f"Delivery note - order #{note.order_id}", 16, bold=True)
    text("Hunar made-to-order manufacturing", 9)
    pdf.gap(6)
    text(f"For: {note.customer} <{note.email}>")
    text(f"Ordered: {formats.when(note.ordered_at, 'day')}")
    text(f"Shipped: {formats.when(note.shipped_at)} {formats.zone_label()}")
    text(f"Carrier: {note.carrier}")
    text(f"Tracking number: {note.tracking_number}")
    pdf.gap(6)
    text("Contents", 12, bold=True)
    for ln in note.lines:
        text(f"Line {ln.line_id}: {ln.family.replace('_', ' ')} x {ln.quantity}", bold=True)
        if ln.details:
            text(ln.details, 8, x=26 * mm)
    pdf.gap(10)
    text(f"Parts in this parcel: {sum(ln.quantity for ln in note.lines)}")
    text("Received in good order:  Name ____________________  Date __________", 10)
    return pdf.finish()
