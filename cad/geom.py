"""Small OCCT helpers shared by builders and exporters."""

from __future__ import annotations

import cadquery as cq
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
