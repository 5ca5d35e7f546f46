"""The shop's printed papers share one look: A4, Helvetica, plain strings top to bottom.

Text is drawn with drawString (no markup is parsed, so customer text cannot inject any) and
pages are uncompressed, so tests read a document's words straight from its bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

TOP, BOTTOM, LEFT, RIGHT = A4[1] - 20 * mm, 20 * mm, 20 * mm, A4[0] - 20 * mm
Cell = tuple[float, str, bool]  # (x in mm, text, right-aligned at x)


class PdfWriter:
    """Writes lines down the page and starts a new page when one is full."""

    def __init__(self, title: str) -> None:
        self._out = io.BytesIO()
        self.canvas = canvas.Canvas(self._out, pagesize=A4, pageCompression=0)
        self.canvas.setTitle(title)
        self.y = TOP

    def _room(self) -> None:
        if self.y < BOTTOM:
            self.canvas.showPage()
            self.y = TOP

    def _font(self, size: float, bold: bool) -> None:
        self.canvas.setFont("Helvetica-Bold" if bold else "Helvetica", size)

    def text(self, value: str, size: float = 10, bold: bool = False, x: float = LEFT) -> None:
        self._room()
        self._font(size, bold)
        self.canvas.drawString(x, self.y, value[:110])
        self.y -= size * 1.5

    def row(self, cells: Sequence[Cell], size: float = 10, bold: bool = False) -> None:
        """One table row: each cell at its x (mm), amounts right-aligned on their column."""
        self._room()
        self._font(size, bold)
        for x, value, right in cells:
            if right:
                self.canvas.drawRightString(x * mm, self.y, value[:40])
            else:
                self.canvas.drawString(x * mm, self.y, value[:60])
        self.y -= size * 1.5

    def gap(self, points: float) -> None:
        self.y -= points

    def finish(self) -> bytes:
        self.canvas.showPage()
        self.canvas.save()
        return self._out.getvalue()
