"""Gantt lanes and the static SVG."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from sched_helpers import assert_valid, chain, setup_matrix

from scheduler.gantt import gantt_data, gantt_svg
from scheduler.problem import Machine, Problem, Window
from scheduler.solve import solve


def _solved():
    ms = (Machine("m", (Window(12, 15, "maintenance"),)), Machine("n"))
    jobs = (chain("a<&>", [{"m": 5}, {"n": 2}], "X"), chain("b", [{"m": 5}], "Y"))
    p = Problem(jobs, ms, {"m": setup_matrix("m", {("X", "Y"): 3, ("Y", "X"): 3})})
    r = solve(p, time_limit_s=5)
    assert_valid(p, r)
    return p, r.schedule


def test_lanes_hold_ops_setups_and_maintenance() -> None:
    p, s = _solved()
    data = gantt_data(p, s)
    json.dumps(data)
    lanes = {lane["machine"]: lane["items"] for lane in data["lanes"]}
    kinds = [i["kind"] for i in lanes["m"]]
    assert kinds.count("op") == 2 and "setup" in kinds and "down" in kinds
    ops = [i for i in lanes["m"] if i["kind"] == "op"]
    assert len({i["colour"] for i in ops}) == 2
    assert data["horizon"] == s.makespan


def test_svg_parses_and_escapes_names() -> None:
    p, s = _solved()
    svg = gantt_svg(p, s)
    root = ET.fromstring(svg)
    rects = [e for e in root.iter() if e.tag.endswith("rect")]
    classes = [r.get("class") for r in rects]
    assert classes.count("op") == 3 and "setup" in classes and "down" in classes
    assert "a<&>" not in svg
