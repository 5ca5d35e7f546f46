"""Typed exporters: one function per file format, each raising ``ExportError`` on failure.

STEP takes a CadQuery ``Shape``; STL, 3MF and GLB take one trimesh mesh (tessellated
once, so every mesh file agrees). 2D formats (DXF, SVG) take a
planar section of the part: the profile a laser cuts.
"""

from __future__ import annotations

import math
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cadquery as cq
import numpy as np
import trimesh
from OCP.BRepMesh import BRepMesh_IncrementalMesh
from OCP.StlAPI import StlAPI_Writer

from cad.geom import fast_bbox, shapes

PREVIEW_MAX_FACES = 50_000
_ENDPOINT_TOL_MM = 1e-3


class ExportError(Exception):
    """A file could not be produced or came out empty/invalid."""


@dataclass(frozen=True)
class MeshQuality:
    """Tessellation tolerances; WHY: printing needs finer facets than a web preview."""

    linear_mm: float
    angular_rad: float = 0.2


def mesh_quality_for(shape: cq.Shape, fraction: float = 0.0005) -> MeshQuality:
    """Linear deflection proportional to part size, clamped to 0.01–0.1 mm."""
    diag = fast_bbox(shape).DiagonalLength
    return MeshQuality(linear_mm=min(0.1, max(0.01, diag * fraction)))


def shape_to_mesh(shape: cq.Shape, quality: MeshQuality | None = None) -> trimesh.Trimesh:
    """Tessellate with OCCT and merge shared vertices into one watertight trimesh.

    WHY the STL detour: OCCT's C++ writer plus trimesh's numpy reader are ~5x faster than
    walking the triangulation node by node in Python (``Shape.tessellate``).
    """
    q = quality or mesh_quality_for(shape)
    with tempfile.TemporaryDirectory(prefix="hunar-mesh-") as tmp:
        path = Path(tmp) / "mesh.stl"
        try:
            BRepMesh_IncrementalMesh(shape.wrapped, q.linear_mm, False, q.angular_rad, True)
            writer = StlAPI_Writer()
            writer.ASCIIMode = False
            ok = writer.Write(shape.wrapped, str(path))
        except Exception as exc:  # OCCT raises bare Standard_Failure subclasses
            raise ExportError(f"tessellation failed: {type(exc).__name__}: {exc}") from exc
        if not ok or not path.exists():
            raise ExportError("tessellation produced no triangles")
        mesh = trimesh.load_mesh(str(path), file_type="stl", process=False)
    if len(mesh.faces) == 0:
        raise ExportError("tessellation produced no triangles")
    mesh.merge_vertices(digits_vertex=6)
    mesh.remove_unreferenced_vertices()
    if mesh.is_watertight and mesh.volume < 0:
        mesh.invert()
    return mesh


def _check_written(path: Path, what: str) -> None:
    if not path.exists() or path.stat().st_size == 0:
        raise ExportError(f"{what} export wrote nothing to {path}")


def export_step(shape: cq.Shape, path: Path) -> None:
    """STEP AP214 for every part: the exact B-rep a CAM system or a customer re-opens."""
    try:
        status = shape.exportStep(str(path))
    except Exception as exc:
        raise ExportError(f"STEP export failed: {type(exc).__name__}: {exc}") from exc
    if status is False or (isinstance(status, int) and status not in (0, 1)):
        raise ExportError(f"STEP writer returned status {status!r}")
    _check_written(path, "STEP")


def _export_mesh(mesh: trimesh.Trimesh, path: Path, file_type: str) -> None:
    if len(mesh.faces) == 0:
        raise ExportError(f"{file_type.upper()} export of an empty mesh")
    try:
        data = mesh.export(file_type=file_type)
    except Exception as exc:
        raise ExportError(f"{file_type.upper()} export failed: {exc}") from exc
    if isinstance(data, dict):  # a multi-file format (e.g. OBJ with materials)
        raise ExportError(f"{file_type.upper()} export gave several files, expected one")
    Path(path).write_bytes(data if isinstance(data, bytes) else data.encode())
    _check_written(Path(path), file_type.upper())


def export_stl(mesh: trimesh.Trimesh, path: Path) -> None:
    """Binary STL for slicers; refuses a mesh that is not watertight."""
    if not mesh.is_watertight:
        raise ExportError("STL mesh is not watertight; a slicer would mis-fill it")
    _export_mesh(mesh, path, "stl")


_3MF_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" '
    'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>'
)
_3MF_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
)


def export_3mf(mesh: trimesh.Trimesh, path: Path) -> None:
    """3MF core-spec package (mm) written directly from the mesh.

    WHY not CadQuery's writer: its package lacks the ``rels`` content type, and lib3mf (the
    3MF consortium's reference reader) rejects it.
    """
    if len(mesh.faces) == 0:
        raise ExportError("3MF export of an empty mesh")
    verts = "".join(f'<vertex x="{x:.6g}" y="{y:.6g}" z="{z:.6g}"/>' for x, y, z in mesh.vertices)
    tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in mesh.faces)
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<model unit="millimeter" xml:lang="en-US" '
        'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
        '<metadata name="Application">Hunar</metadata>'
        f'<resources><object id="1" type="model"><mesh><vertices>{verts}</vertices>'
        f"<triangles>{tris}</triangles></mesh></object></resources>"
        '<build><item objectid="1"/></build></model>'
    )
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("[Content_Types].xml", _3MF_TYPES)
            zf.writestr("_rels/.rels", _3MF_RELS)
            zf.writestr("3D/3dmodel.model", model)
    except OSError as exc:
        raise ExportError(f"3MF export failed: {exc}") from exc
    _check_written(Path(path), "3MF")


def preview_mesh(mesh: trimesh.Trimesh, max_faces: int = PREVIEW_MAX_FACES) -> trimesh.Trimesh:
    """Decimate to at most ``max_faces`` (quadric decimation via fast_simplification)."""
    if len(mesh.faces) <= max_faces:
        return mesh.copy()
    try:
        out = mesh.simplify_quadric_decimation(face_count=max_faces)
    except Exception as exc:
        raise ExportError(f"preview decimation failed: {exc}") from exc
    if len(out.faces) > max_faces:  # the decimator may overshoot by a few faces
        out = out.simplify_quadric_decimation(face_count=int(max_faces * 0.95))
    if len(out.faces) == 0 or len(out.faces) > max_faces:
        raise ExportError(f"preview decimation left {len(out.faces)} faces (max {max_faces})")
    return out


def export_glb(mesh: trimesh.Trimesh, path: Path, max_faces: int = PREVIEW_MAX_FACES) -> int:
    """Web-preview GLB, Y-up as glTF requires, at most ``max_faces``; returns the face count."""
    small = preview_mesh(mesh, max_faces)
    small.apply_transform(trimesh.transformations.rotation_matrix(-math.pi / 2, [1, 0, 0]))
    small.visual = trimesh.visual.ColorVisuals(small, face_colors=[176, 190, 197, 255])
    _export_mesh(small, path, "glb")
    return len(small.faces)


def section(shape: cq.Shape, z: float | None = None) -> cq.Workplane:
    """Planar section parallel to XY at height ``z`` (default: mid-height of the part)."""
    bb = fast_bbox(shape)
    height = (bb.zmin + bb.zmax) / 2 if z is None else z
    try:
        cut = cq.Workplane("XY").add(shape).section(height)
    except Exception as exc:
        raise ExportError(f"section at z={height:.3f} failed: {exc}") from exc
    faces = [f for v in shapes(cut) for f in v.Faces()]
    if not faces:
        raise ExportError(f"section at z={height:.3f} is empty")
    return cq.Workplane("XY").add(faces)


def engraving(shape: cq.Shape, depth_probe_mm: float = 0.05) -> cq.Workplane | None:
    """Outlines engraved into the top face: mid-height profile minus the profile just under
    the top (text pockets), or None when nothing is engraved."""
    bb = fast_bbox(shape)
    mid = shapes(_flat(section(shape)))
    top = shapes(_flat(section(shape, bb.zmax - depth_probe_mm)))
    try:
        diff = cq.Compound.makeCompound(mid).cut(cq.Compound.makeCompound(top))
    except Exception as exc:
        raise ExportError(f"engraving outline failed: {exc}") from exc
    faces = [f for f in diff.Faces() if f.Area() > 1e-3]
    return cq.Workplane("XY").add(faces) if faces else None


def export_dxf(profile: cq.Workplane, path: Path, engrave: cq.Workplane | None = None) -> None:
    """DXF (R2013, mm): the cut profile on layer CUT, engraving outlines on layer ENGRAVE.

    Every contour must come out closed, or the laser software cannot follow it.
    """
    from cadquery.occ_impl.exporters.dxf import DxfDocument

    try:
        doc = DxfDocument().add_layer("CUT", color=1).add_shape(_flat(profile), "CUT")
        if engrave is not None:
            doc = doc.add_layer("ENGRAVE", color=5).add_shape(_flat(engrave), "ENGRAVE")
        doc.document.saveas(str(path))
    except Exception as exc:
        raise ExportError(f"DXF export failed: {exc}") from exc
    _check_written(Path(path), "DXF")
    open_ends = dxf_open_endpoints(Path(path))
    if open_ends:
        raise ExportError(f"DXF has {len(open_ends)} open contour ends, e.g. {open_ends[0]}")


def _flat(wp: cq.Workplane) -> cq.Workplane:
    """Faces moved to z=0 (the DXF exporter drops z, but keep the document planar)."""
    return cq.Workplane("XY").add([f.translate(cq.Vector(0, 0, -f.Center().z)) for f in shapes(wp)])


def export_svg(dxf_path: Path, path: Path) -> None:
    """SVG in millimetres rendered from the DXF, black lines on white (laser software input)."""
    import ezdxf
    from ezdxf.addons.drawing import Frontend, RenderContext, config, layout, svg

    try:
        doc = ezdxf.readfile(str(dxf_path))
        backend = svg.SVGBackend()
        cfg = config.Configuration(
            background_policy=config.BackgroundPolicy.WHITE,
            color_policy=config.ColorPolicy.BLACK,
        )
        Frontend(RenderContext(doc), backend, config=cfg).draw_layout(doc.modelspace())
        page = layout.Page(0, 0, layout.Units.mm, margins=layout.Margins.all(0))
        Path(path).write_text(backend.get_string(page), encoding="utf-8")
    except (OSError, ezdxf.DXFError) as exc:
        raise ExportError(f"SVG export failed: {exc}") from exc
    _check_written(Path(path), "SVG")


def dxf_open_endpoints(path: Path) -> list[tuple[float, float]]:
    """Endpoints that do not meet another endpoint: empty means every profile is closed."""
    import ezdxf
    from ezdxf.entities import Arc, Ellipse, Line, LWPolyline, Polyline, Spline

    # Circles and closed polylines have no ends; other entity kinds are not profile edges.
    ends: list[tuple[float, float]] = []
    for e in ezdxf.readfile(str(path)).modelspace():
        if isinstance(e, Line):
            ends += [_xy(e.dxf.start), _xy(e.dxf.end)]
        elif isinstance(e, Arc | Ellipse):  # a full CIRCLE is a Circle, not an Arc
            ends += [_xy(e.start_point), _xy(e.end_point)]
        elif isinstance(e, Spline) and e.dxftype() == "SPLINE":  # not its subclass HELIX
            pts = list(e.control_points) or list(e.fit_points)
            if pts and not np.allclose(pts[0][:2], pts[-1][:2], atol=_ENDPOINT_TOL_MM):
                ends += [_xy(pts[0]), _xy(pts[-1])]
        elif isinstance(e, LWPolyline) and not e.is_closed:
            xy = e.get_points("xy")
            ends += [_xy(xy[0]), _xy(xy[-1])]
        elif isinstance(e, Polyline) and not e.is_closed:
            corners = list(e.points())
            ends += [_xy(corners[0]), _xy(corners[-1])]
    return _unmatched(ends)


def _xy(point: Iterable[float]) -> tuple[float, float]:
    """The first two coordinates of a DXF point or vertex."""
    x, y = tuple(point)[:2]
    return x, y


def _unmatched(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points that have an odd number of coincident points (within 1 µm), themselves included."""
    if not points:
        return []
    from scipy.spatial import cKDTree

    arr = np.asarray(points, dtype=float)
    neighbours = cKDTree(arr).query_ball_point(arr, r=_ENDPOINT_TOL_MM)
    return [(float(arr[i, 0]), float(arr[i, 1])) for i, n in enumerate(neighbours) if len(n) % 2]
