"""Server-rendered SVG bar charts for the reports (no JS needed; text is escaped)."""

from __future__ import annotations

from html import escape

from orders.queries.reports import Series


def bar_svg(series: Series, width: int = 560, bar_h: int = 18) -> str:
    """Horizontal bars, one per point, labelled with the value and unit."""
    label_w, pad = 110, 6
    top = max((v for _, v in series.points), default=0.0) or 1.0
    height = max(1, len(series.points)) * (bar_h + pad) + 10
    scale = (width - label_w - 80) / top
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" font-family="sans-serif" font-size="11" '
        f'aria-label="{escape(series.title)}">'
    ]
    for i, (label, value) in enumerate(series.points):
        y = 5 + i * (bar_h + pad)
        w = max(value * scale, 0.0)
        out.append(f'<text x="0" y="{y + bar_h * 0.72:.1f}">{escape(label)}</text>')
        out.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#3b6fd1">'
            f"<title>{escape(label)}: {value} {escape(series.unit)}</title></rect>"
        )
        out.append(
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h * 0.72:.1f}">'
            f"{value:g} {escape(series.unit)}</text>"
        )
    if not series.points:
        out.append('<text x="0" y="14">no data yet</text>')
    out.append("</svg>")
    return "".join(out)
