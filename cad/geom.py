"""Small OCCT helpers shared by builders and exporters."""

from __future__ import annotations

import cadquery as cq
from cadquery.cq import CQObject
from OCP.Bnd import Bnd_Box
from OCP.BRepBndLib import BRepBndLib


def fast_bbox(shape: cq.Shape) -> cq.BoundBox:
    """Bounding box from the B-rep's control geometry: slightly loose, but milliseconds.

    WHY: ``Shape.BoundingBox()`` uses the "optimal" algorithm, which takes ~0.5 s on a knob
    with toroidal fillets cut by flutes, and its fast variant meshes the shape first.
    """
    box = Bnd_Box()
    BRepBndLib.Add_s(shape.wrapped, box, False)
    return cq.BoundBox(box)


def as_shape(obj: CQObject) -> cq.Shape:
    """A workplane stack item as a Shape: builders only ever stack shapes, so anything else
    (a Vector, Location or Sketch) is a programming error."""
    if not isinstance(obj, cq.Shape):
        raise TypeError(f"expected a Shape on the workplane stack, got {type(obj).__name__}")
    return obj


def shapes(wp: cq.Workplane) -> list[cq.Shape]:
    """Every item on the workplane's stack, as shapes (see ``as_shape``)."""
    return [as_shape(obj) for obj in wp.vals()]
