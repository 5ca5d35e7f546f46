"""The demo's closing report: a console table and a self-contained HTML page (Gantt + KPIs)."""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

from orders.context import AppContext
from orders.models import Schedule
from orders.queries.planning_problem import build_problem
from scheduler.gantt import gantt_svg
from scheduler.schedule import Assignment as SA
from scheduler.schedule import Schedule as SPlan


def console(report: Any) -> list[str]:
    k = report.kpis
    prop, base = k.get("proposal", {}), k.get("baseline", {})
    plates = k.get("plates", {})
    out = [
        f"customers' orders placed: {report.orders} ({report.lines} lines, {report.designs} designs)",
        f"rejected before ordering: {len(report.rejected)}",
        *[f"  - {n}× {r}" for r, n in Counter(report.rejected).most_common(8)],
        "orders by state: " + ", ".join(f"{k}={v}" for k, v in sorted(report.states.items())),
        f"plan: on-time {prop.get('on_time_pct', 0):.1f}% (dispatch baseline "
        f"{base.get('on_time_pct', 0):.1f}%), makespan {prop.get('makespan', 0)} min vs baseline "
        f"{base.get('makespan', 0)} min, status {k.get('status_text', '')}",
        f"plate batching: {plates.get('count', 0)} plates, {plates.get('setups_saved', 0)} setups "
        f"and {plates.get('minutes_saved', 0)} machine-minutes saved",
        f"job orders delivered: {report.delivered} to {len(report.transports)} machines ("
        + ", ".join(f"{n} by {t}" for t, n in sorted(_count(report.transports).items()))
        + ")",
        "floor events: " + ", ".join(f"{k}={v}" for k, v in sorted(report.events.items())),
        f"machine down: {report.reschedule.get('machine')} → rescheduling proposal "
        f"{report.reschedule.get('status')}{_after(report.reschedule.get('kpis'))}",
        f"files produced and verified (sha256): {report.files_ok} ok, {report.files_bad} bad",
    ]
    return out


def _after(kpis: dict[str, Any] | None) -> str:
    if not kpis:
        return ""
    return f" (on-time {kpis.get('on_time_pct', 0):.1f}%, makespan {kpis.get('makespan', 0)} min)"


def _count(transports: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in transports.values():
        out[t] = out.get(t, 0) + 1
    return out


def _gantt(ctx: AppContext, sid: int) -> str:
    with ctx.db.sessions() as s:
        row = s.get_one(Schedule, sid)
        pp = build_problem(s, row.created_at, 21)
        origin = pp.origin
        plan = SPlan(
            tuple(
                SA(
                    f"op{a.operation_id}",
                    f"op{a.operation_id}",
                    a.machine_id,
                    int((a.start - origin).total_seconds() // 60),
                    int((a.end - origin).total_seconds() // 60),
                    a.setup_minutes,
                )
                for a in row.assignments
            )
        )
    return gantt_svg(pp.problem, plan, width=1100)


def _bars(title: str, rows: dict[str, float], unit: str) -> str:
    top = max(rows.values(), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="520" height="{30 + 26 * len(rows)}">',
        f'<text x="0" y="16" font-size="14">{html.escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(rows.items()):
        y = 26 + 26 * i
        w = 300 * value / top
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label)}</text>'
            f'<rect x="140" y="{y}" width="{w:.1f}" height="18" fill="#3b82f6"/>'
            f'<text x="{146 + w:.1f}" y="{y + 14}" font-size="12">{value:.1f} {unit}</text>'
        )
    return "".join(parts) + "</svg>"


def write_html(ctx: AppContext, report: Any, sid: int, path: Path) -> Path:
    k = report.kpis
    prop, base = k.get("proposal", {}), k.get("baseline", {})
    body = "".join(f"<li>{html.escape(line)}</li>" for line in console(report))
    plots = (
        _bars(
            "On-time %",
            {"plan": prop.get("on_time_pct", 0), "baseline": base.get("on_time_pct", 0)},
            "%",
        )
        + _bars(
            "Makespan",
            {"plan": prop.get("makespan", 0), "baseline": base.get("makespan", 0)},
            "min",
        )
        + _bars(
            "Utilisation (plan)",
            {m: 100 * u for m, u in sorted(prop.get("utilisation", {}).items())},
            "%",
        )
    )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>Hunar demo report</title>"
        f"<h1>Hunar demo</h1><ul>{body}</ul><h2>Plan</h2>{_gantt(ctx, sid)}"
        f"<h2>KPIs</h2>{plots}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
