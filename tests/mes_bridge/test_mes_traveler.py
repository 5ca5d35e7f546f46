"""Travelers: HTML escapes customer text, the PDF carries a scannable QR and the bed map."""

from __future__ import annotations

import base64
import re
import zlib

import segno
from mes_factories import make_job

from mes_bridge.traveler import DEFAULT_CHECKLIST, render_html, render_pdf


def test_html_escapes_script_in_parameters():
    job = make_job(parameters={"label": "<script>alert('x')</script>"})
    html = render_html(job)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_html_has_qr_bed_map_checklist_and_signoff():
    job = make_job()
    html = render_html(job)
    assert "<svg" in html and 'aria-label="bed layout"' in html
    assert html.count("<rect") >= len(job.plate)
    for part in job.plate:
        assert part.order_line_id in html and part.label in html
    for item in DEFAULT_CHECKLIST:
        assert item in html
    assert "QC inspector" in html and "Signature" in html
    assert job.order_line_url in html


def test_html_without_plate_has_no_bed_map():
    assert 'aria-label="bed layout"' not in render_html(make_job(plate=()))


def _image_pixels(pdf: bytes) -> tuple[int, int, bytes]:
    m = re.search(rb"/Height (\d+) /Length \d+ /Subtype /Image\s+/Type /XObject /Width (\d+)", pdf)
    assert m, "no image XObject in the PDF"
    start = pdf.index(b"stream\n", m.end()) + len(b"stream\n")
    end = pdf.index(b"endstream", start)
    raw = pdf[start:end].strip().removeprefix(b"<~").removesuffix(b"~>")
    data = zlib.decompress(base64.a85decode(raw))
    return int(m.group(2)), int(m.group(1)), data


def test_pdf_starts_with_magic_and_contains_the_qr_for_the_order_line():
    job = make_job()
    pdf = render_pdf(job)
    assert pdf.startswith(b"%PDF")
    assert job.order_line_url.encode() in pdf  # clickable link annotation
    width, height, rgb = _image_pixels(pdf)
    matrix = segno.make(job.order_line_url, error="m").matrix
    border = 2
    modules = len(matrix) + 2 * border
    scale = width // modules
    assert width == height == modules * scale
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            y, x = (r + border) * scale + scale // 2, (c + border) * scale + scale // 2
            pixel = rgb[(y * width + x) * 3]
            assert (pixel < 128) == bool(dark), f"QR module {r},{c} differs"


def test_pdf_lists_parameters_plate_parts_and_signoff():
    job = make_job(parameters={"thread": "M3 (insert)", "width_mm": 80})
    pdf = render_pdf(job)
    for text in (b"thread: M3 \\(insert\\)", b"width_mm: 80", b"OL-1", b"OL-2", b"QC inspector"):
        assert text in pdf
