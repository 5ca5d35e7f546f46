"""Gantt data for the web (JSON-able lanes) and a static SVG for reports and tests."""

from __future__ import annotations

import hashlib
from html import escape
from typing import Literal, NotRequired, TypedDict

from .problem import Problem
from .schedule import Schedule


class GanttItem(TypedDict):
    """One bar: ``down`` carries ``reason``; ``setup`` ``op_id``; ``op`` op/job id and colour."""

    kind: Literal["down", "setup", "op"]
    start: int
    end: int
    reason: NotRequired[str]
    op_id: NotRequired[str]
    job_id: NotRequired[str]
    colour: NotRequired[str]


class GanttLane(TypedDict):
    machine: str
    name: str
    items: list[GanttItem]


class GanttData(TypedDict):
    horizon: int
    origin: str | None
    lanes: list[GanttLane]


def colour_for(job_id: str) -> str:
    """A stable colour per order, so the same order looks the same on every chart."""
    h = int(hashlib.sha1(job_id.encode()).hexdigest()[:6], 16)
    return f"hsl({h % 360}, 60%, {45 + (h >> 9) % 20}%)"


def gantt_data(problem: Problem, schedule: Schedule) -> GanttData:
    """``{"horizon", "lanes": [{"machine", "items": [{kind, start, end, ...}]}]}``.

    Item kinds: ``op`` (with op/job id and colour), ``setup`` (just before the op it serves)
    and ``down`` (calendar windows, with their reason).
    """
    lanes_by = schedule.by_machine()
    end = schedule.makespan
    lanes: list[GanttLane] = []
    for m in problem.machines:
        items: list[GanttItem] = [
            {"kind": "down", "start": w.start, "end": w.end, "reason": w.reason}
            for w in m.calendar
            if w.start < max(end, 1)
        ]
        for a in lanes_by.get(m.id, []):
            if a.setup_before:
                items.append(
                    {
                        "kind": "setup",
                        "start": a.start - a.setup_before,
                        "end": a.start,
                        "op_id": a.op_id,
                    }
                )
            items.append(
                {
                    "kind": "op",
                    "start": a.start,
                    "end": a.end,
                    "op_id": a.op_id,
                    "job_id": a.job_id,
                    "colour": colour_for(a.job_id),
                }
            )
        items.sort(key=lambda i: (i["start"], i["kind"] != "down"))
        lanes.append({"machine": m.id, "name": m.name or m.id, "items": items})
    return {
        "horizon": end,
        "origin": problem.origin.isoformat() if problem.origin else None,
        "lanes": lanes,
    }


def gantt_svg(problem: Problem, schedule: Schedule, width: int = 1000, lane_h: int = 24) -> str:
    """A self-contained SVG: one row per machine, ops coloured by order, setups hatched grey,
    downtime dark. Text is escaped; nothing is executed."""
    data = gantt_data(problem, schedule)
    label_w = 110
    span = max(data["horizon"], 1)
    scale = (width - label_w - 10) / span
    height = lane_h * len(data["lanes"]) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">'
    ]
    for row, lane in enumerate(data["lanes"]):
        y = 10 + row * lane_h
        out.append(f'<text x="4" y="{y + lane_h * 0.65:.1f}">{escape(lane["name"])}</text>')
        for it in lane["items"]:
            s, e = max(it["start"], 0), min(it["end"], span)
            if e <= s:
                continue
            x, w = label_w + s * scale, max((e - s) * scale, 0.5)
            fill = {"down": "#444", "setup": "#bbb"}.get(it["kind"], it.get("colour", "#888"))
            title = escape(it.get("op_id") or it.get("reason", ""))
            out.append(
                f'<rect class="{it["kind"]}" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" '
                f'height="{lane_h - 4}" fill="{fill}"><title>{title} '
                f"[{it['start']},{it['end']})</title></rect>"
            )
    out.append(f'<text x="{label_w}" y="{height - 4}">0</text>')
    out.append(f'<text x="{width - 60}" y="{height - 4}">{span} min</text></svg>')
    return "\n".join(out)
