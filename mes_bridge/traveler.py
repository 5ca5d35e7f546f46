"""The job traveler: the paper that travels with the part (HTML and PDF).

It carries a QR code back to the order line, the customer's parameters, the bed
layout of a batched plate (which part belongs to which order line), a QC checklist
and sign-off fields. Customer text is untrusted: the HTML template autoescapes it and
the PDF draws it as plain strings (reportlab Paragraphs would parse markup, so
values are escaped before going into one).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import segno
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from mes_bridge.packets import JobOrder

DEFAULT_CHECKLIST = (
    "Dimensions within tolerance (spot-check with calipers)",
    "No warping, stringing or layer separation",
    "Supports removed, surfaces clean",
    "Colour and material match the job order",
    "Quantity counted and matches the job order",
)
SIGNOFF = ("Operator", "QC inspector")


@dataclass(frozen=True, slots=True)
class Bed:
    """Printable area in mm; ``scale`` is screen px per mm for the HTML map."""

    w: float = 250.0
    h: float = 210.0
    scale: float = 2.0


_env = Environment(
    loader=PackageLoader("mes_bridge", "templates"),
    autoescape=select_autoescape(["html", "xml"]),
)


def _display(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _qr(job: JobOrder) -> segno.QRCode:
    target = job.order_line_url or f"urn:hunar:job-order:{job.job_order_id}"
    return segno.make(target, error="m")


def render_html(
    job: JobOrder, checklist: tuple[str, ...] = DEFAULT_CHECKLIST, bed: Bed | None = None
) -> str:
    """A printable HTML traveler (one page in most cases)."""
    qr_svg = Markup(_qr(job).svg_inline(scale=4, omitsize=True))  # segno output, not user text
    params = [(k, _display(v)) for k, v in sorted(job.parameters.items())]
    return _env.get_template("traveler.html").render(
        job=job,
        qr_svg=qr_svg,
        parameters=params,
        checklist=checklist,
        signoff=SIGNOFF,
        bed=bed or Bed(),
    )


class _Pdf:
    """A tiny cursor over a reportlab canvas that starts a new page when full."""

    def __init__(self, c: canvas.Canvas) -> None:
        self.c, self.y = c, A4[1] - 20 * mm

    def need(self, height: float) -> None:
        if self.y - height < 15 * mm:
            self.c.showPage()
            self.y = A4[1] - 20 * mm

    def line(self, text: str, size: float = 10, bold: bool = False, indent: float = 0) -> None:
        self.need(size * 1.5)
        self.c.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        self.c.drawString(20 * mm + indent, self.y, text[:110])
        self.y -= size * 1.45


def _draw_qr(pdf: _Pdf, job: JobOrder) -> None:
    buf = io.BytesIO()
    _qr(job).save(buf, kind="png", scale=6, border=2)
    buf.seek(0)
    size = 32 * mm
    x, y = A4[0] - 20 * mm - size, A4[1] - 15 * mm - size
    pdf.c.drawImage(ImageReader(buf), x, y, size, size)
    if job.order_line_url:
        pdf.c.linkURL(job.order_line_url, (x, y, x + size, y + size), relative=0)


def _draw_bed(pdf: _Pdf, job: JobOrder, bed: Bed) -> None:
    scale = min(170 * mm / bed.w, 90 * mm / bed.h)
    pdf.need(bed.h * scale + 10)
    x0, y0 = 20 * mm, pdf.y - bed.h * scale
    c = pdf.c
    c.setStrokeColor(colors.black)
    c.rect(x0, y0, bed.w * scale, bed.h * scale)
    for i, part in enumerate(job.plate, start=1):
        c.setFillColor(colors.HexColor("#ccddee"))
        c.rect(
            x0 + part.x_mm * scale,
            y0 + part.y_mm * scale,
            part.w_mm * scale,
            part.h_mm * scale,
            fill=1,
        )
        c.setFillColor(colors.black)
        c.setFont("Helvetica-Bold", 8)
        c.drawString(x0 + part.x_mm * scale + 2, y0 + (part.y_mm + part.h_mm) * scale - 9, str(i))
    pdf.y = y0 - 12
    for i, part in enumerate(job.plate, start=1):
        pdf.line(f"{i}. {part.order_line_id}  {part.label}  @ x {part.x_mm}, y {part.y_mm} mm", 9)


def render_pdf(
    job: JobOrder, checklist: tuple[str, ...] = DEFAULT_CHECKLIST, bed: Bed | None = None
) -> bytes:
    """The same traveler as a PDF (uncompressed text so it stays greppable)."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=0)
    c.setTitle(escape(f"Traveler {job.job_order_id}"))
    pdf = _Pdf(c)
    _draw_qr(pdf, job)
    pdf.line(f"Job traveler {job.job_order_id}", 16, bold=True)
    pdf.line(f"Order line: {job.order_line_url}", 9)
    pdf.y -= 4
    for label, value in (
        ("Work master", f"{job.family_key} v{job.family_version}"),
        ("Machine", job.machine_id),
        ("Material", f"{job.material}, {job.colour}, {job.grams:.1f} g"),
        ("Quantity", str(job.quantity)),
        ("Scheduled", f"{job.scheduled_start.isoformat()} -> {job.scheduled_end.isoformat()}"),
        ("Priority", str(job.priority)),
    ):
        pdf.line(f"{label}: {value}")
    pdf.y = min(pdf.y, A4[1] - 55 * mm)
    pdf.line("Parameters", 12, bold=True)
    for key, value in sorted(job.parameters.items()):
        pdf.line(f"{key}: {_display(value)}", 9, indent=4)
    if job.artifacts:
        pdf.line("Files", 12, bold=True)
        for a in job.artifacts:
            pdf.line(f"{a.kind}: sha256 {a.sha256} ({a.bytes} B)", 8, indent=4)
    if job.plate:
        pdf.line("Bed layout", 12, bold=True)
        _draw_bed(pdf, job, bed or Bed())
    pdf.line("QC checklist", 12, bold=True)
    for item in checklist:
        pdf.need(14)
        c.rect(20 * mm + 4, pdf.y - 1, 8, 8)
        pdf.line(item, 10, indent=18)
    pdf.line("Sign-off", 12, bold=True)
    for role in SIGNOFF:
        pdf.line(f"{role}:  Name ____________________  Date __________  Signature ____________", 10)
        pdf.y -= 6
    c.showPage()
    c.save()
    return out.getvalue()
