"""Enclosure builder: body (open top) and, if chosen, its lid laid beside it on the plate.

Follows the geometry contract in ``configurator/families/enclosure.py``. With a lid the
result is a documented two-part assembly: a Compound of two disjoint solids (body, lid)
printed together; without a lid it is one solid. Bosses are clipped to the body's outer
skin so a boss in a strongly rounded corner cannot poke through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cadquery as cq

from cad.build import register_builder
from cad.builders._common import beside, rounded_prism
from cad.geom import as_shape, shapes

VERSION = 1
LID_CLEARANCE_MM = 0.2


def _body(v: Mapping[str, Any]) -> cq.Workplane:
    ol, ow, bh, wall = v["outer_length"], v["outer_width"], v["body_height"], v["wall"]
    r = v["corner_radius"]
    outer = rounded_prism(ol, ow, bh, r)
    cavity = rounded_prism(v["inner_length"], v["inner_width"], bh, max(r - wall, 0.0), z0=wall)
    body = outer.cut(cavity)
    tools = _vents(v) + _cable_holes(v)
    if v["bosses"]:
        bosses, pilots = _bosses(v)
        if r > 1.7 * wall:  # only a strongly rounded corner can clip the boss blocks
            bosses = bosses.intersect(outer)
        body = body.union(bosses)
        tools += pilots
    # one boolean with every cutter: much faster than one cut per feature
    return cq.Workplane("XY").add(as_shape(body.val()).cut(*tools)) if tools else body


def _bosses(v: Mapping[str, Any]) -> tuple[cq.Workplane, list[cq.Shape]]:
    """Corner bosses merged into both walls (a bare tangent cylinder would touch the wall
    along a line, which no mesh can represent as manifold): per corner a block reaching
    into both walls whose inner corner is the boss circle."""
    r, wall, top = v["boss_diameter"] / 2, v["wall"], v["body_height"]
    ex, ey = v["inner_length"] / 2 + wall / 2, v["inner_width"] / 2 + wall / 2
    bx, by = v["boss_x"], v["boss_y"]
    k = r / 2**0.5
    wp = cq.Workplane("XY")
    for sx in (-1, 1):
        for sy in (-1, 1):
            wp = (
                wp.moveTo(sx * (bx - r), sy * ey)
                .lineTo(sx * (bx - r), sy * by)
                .threePointArc((sx * (bx - k), sy * (by - k)), (sx * bx, sy * (by - r)))
                .lineTo(sx * ex, sy * (by - r))
                .lineTo(sx * ex, sy * ey)
                .close()
            )
    pts = [(sx * bx, sy * by) for sx in (-1, 1) for sy in (-1, 1)]
    pilots = (
        cq.Workplane("XY", origin=(0, 0, wall))
        .pushPoints(pts)
        .circle(v["pilot_diameter"] / 2)
        .extrude(top)
    )
    return wp.extrude(top), shapes(pilots.solids())


def _vents(v: Mapping[str, Any]) -> list[cq.Shape]:
    n = v["vent_slots"]
    if n == 0:
        return []
    pitch, w, length = v["vent_pitch"], v["vent_slot_width"], v["vent_slot_length"]
    xs = [(i - (n - 1) / 2) * pitch for i in range(n)]
    yw = (v["outer_width"] - v["wall"]) / 2  # centre line of each long wall
    slots = (
        cq.Workplane("XY", origin=(0, 0, v["vent_z"]))
        .pushPoints([(x, sy * yw) for x in xs for sy in (-1, 1)])
        .box(w, v["wall"] + 2.0, length)
    )
    return shapes(slots.solids())


def _cable_holes(v: Mapping[str, Any]) -> list[cq.Shape]:
    n = v["cable_holes"]
    if n == 0:
        return []
    pitch, d = v["cable_pitch"], v["cable_hole_diameter"]
    ys = [(i - (n - 1) / 2) * pitch for i in range(n)]
    x0 = -v["outer_length"] / 2 - 1.0
    depth = v["wall"] + 1.0 + 0.01
    holes = (
        cq.Workplane("YZ", origin=(x0, 0, v["vent_z"]))
        .pushPoints([(y, 0) for y in ys])
        .circle(d / 2)
        .extrude(depth)
    )
    return shapes(holes.solids())


def _lid(v: Mapping[str, Any]) -> cq.Workplane:
    ol, ow, t, r, wall = (
        v["outer_length"],
        v["outer_width"],
        v["lid_thickness"],
        v["corner_radius"],
        v["wall"],
    )
    lid = rounded_prism(ol, ow, t, r)
    if v["lid"] == "snap":
        inset = wall + LID_CLEARANCE_MM
        lo, wo = ol - 2 * inset, ow - 2 * inset
        ring_r = max(r - inset, 0.0)
        lip = rounded_prism(lo, wo, v["lip_height"], ring_r, z0=t).cut(
            rounded_prism(
                lo - 2 * wall, wo - 2 * wall, v["lip_height"], max(ring_r - wall, 0.0), z0=t
            )
        )
        lid = lid.union(lip)
    elif v["lid"] == "screw":
        pts = [(sx * v["boss_x"], sy * v["boss_y"]) for sx in (-1, 1) for sy in (-1, 1)]
        lid = lid.faces("<Z").workplane().pushPoints(pts).hole(v["screw_clearance_diameter"])
    return lid


def build_enclosure(v: Mapping[str, Any]) -> cq.Shape:
    """Body alone, or body + lid side by side on one plate."""
    body = as_shape(_body(v).val())
    if v["lid"] == "none":
        return body
    return beside(body, as_shape(_lid(v).val()))


register_builder("enclosure", VERSION, build_enclosure)
