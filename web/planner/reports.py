"""Reports for planners: plots (server-rendered SVG) and the same numbers as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Response, render_template, request
from markupsafe import Markup

from orders.models import Role
from orders.queries.reports import reports as report_series
from web import whole_number
from web.auth import hunar
from web.planner import bp
from web.planner.access import staff_page
from web.planner.charts import bar_svg


def _days() -> int:
    days = whole_number(request.args.get("days", "14"), max_digits=4)
    return min(max(days, 1), 90) if days is not None else 14


@bp.get("/reports")
@staff_page(Role.PLANNER)
def reports() -> str:
    days = _days()
    with hunar().db.sessions() as s:
        series = report_series(s, datetime.now(UTC), days)
    charts = [(x, Markup(bar_svg(x))) for x in series]  # bar_svg escapes every label
    return render_template("planner/reports.html", charts=charts, days=days)


@bp.get("/reports.csv")
@staff_page(Role.PLANNER)
def reports_csv() -> Response:
    days = _days()
    with hunar().db.sessions() as s:
        series = report_series(s, datetime.now(UTC), days)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["report", "label", "value", "unit"])
    for x in series:
        for label, value in x.points:
            writer.writerow([x.key, _safe(label), value, x.unit])
    return Response(
        buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=hunar-reports-{days}d.csv"},
    )


def _safe(cell: str) -> str:
    """No spreadsheet formulas from data (CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
