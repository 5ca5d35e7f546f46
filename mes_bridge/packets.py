"""ISA-95 job orders (job packets) as B2MML XML and JSON.

A job packet is what the shop floor receives for one released assignment: the job
order, its artifacts (URL + sha256), the customer's parameters and, for plates, the
bed layout. The XML is a B2MML V0700 ``JobOrder`` element so any ISA-95 MES can read
it; the JSON carries the same content for lightweight consumers (MQTT, webhooks).

The Business To Manufacturing Markup Language (B2MML) is used courtesy of MESA
International.
"""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

B2MML_NS = "http://www.mesa.org/xml/B2MML"
ARTIFACT_KINDS = ("gcode", "stl", "3mf", "dxf", "step", "svg", "glb", "traveler_pdf", "other")


class PacketError(ValueError):
    """A job packet was built from invalid values (a programmer mistake upstream)."""


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """One file the machine needs, addressed by URL and pinned by content hash."""

    kind: str
    url: str
    sha256: str
    bytes: int

    def __post_init__(self) -> None:
        if self.kind not in ARTIFACT_KINDS:
            raise PacketError(f"artifact.kind: {self.kind!r} is not one of {ARTIFACT_KINDS}")
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise PacketError("artifact.sha256: must be 64 lowercase hex digits")
        if self.bytes < 0:
            raise PacketError("artifact.bytes: must be >= 0")
        if not self.url:
            raise PacketError("artifact.url: must not be empty")


@dataclass(frozen=True, slots=True)
class PlatePart:
    """One part on a batched plate; keeps the part traceable to its order line."""

    order_line_id: str
    x_mm: float
    y_mm: float
    w_mm: float
    h_mm: float
    label: str = ""

    def __post_init__(self) -> None:
        if self.w_mm <= 0 or self.h_mm <= 0:
            raise PacketError(f"plate part {self.order_line_id}: w_mm and h_mm must be > 0")


@dataclass(frozen=True, slots=True)
class JobOrder:
    """An ISA-95 job order for one operation or plate, built from plain values."""

    job_order_id: str
    family_key: str
    family_version: str
    machine_id: str
    material: str
    colour: str
    grams: float
    parameters: dict[str, Any]
    scheduled_start: datetime
    scheduled_end: datetime
    priority: int = 0
    artifacts: tuple[ArtifactRef, ...] = ()
    plate: tuple[PlatePart, ...] = ()
    order_line_url: str = ""
    description: str = ""
    quantity: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("job_order_id", "family_key", "family_version", "machine_id", "material"):
            if not str(getattr(self, name)).strip():
                raise PacketError(f"{name}: must not be empty")
        for name in ("scheduled_start", "scheduled_end"):
            if getattr(self, name).tzinfo is None:
                raise PacketError(f"{name}: must be a timezone-aware datetime")
        if self.scheduled_end < self.scheduled_start:
            raise PacketError("scheduled_end: must not be before scheduled_start")
        if self.grams < 0:
            raise PacketError("grams: must be >= 0")
        if self.quantity < 1:
            raise PacketError("quantity: must be >= 1")
        object.__setattr__(self, "artifacts", tuple(self.artifacts))
        object.__setattr__(self, "plate", tuple(self.plate))

    def artifact(self, kind: str) -> ArtifactRef | None:
        """The first artifact of a kind, e.g. the G-code for a printer transport."""
        return next((a for a in self.artifacts if a.kind == kind), None)


def _param_value(value: Any) -> tuple[str, str]:
    """Map a configuration value to (ValueString, B2MML DataType)."""
    if isinstance(value, bool):
        return ("true" if value else "false", "boolean")
    if isinstance(value, int):
        return (str(value), "integer")
    if isinstance(value, float | Decimal):
        return (repr(float(value)) if isinstance(value, float) else str(value), "double")
    if isinstance(value, str):
        return (value, "string")
    return (json.dumps(value, sort_keys=True, separators=(",", ":")), "string")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{B2MML_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _value(parent: ET.Element, text: str, data_type: str, unit: str | None = None) -> None:
    v = _sub(parent, "Value")
    _sub(v, "ValueString", text)
    _sub(v, "DataType", data_type)
    if unit:
        _sub(v, "UnitOfMeasure", unit)


def _parameter(parent: ET.Element, pid: str, text: str, data_type: str, unit: str = "") -> None:
    p = _sub(parent, "JobOrderParameter")
    _sub(p, "ID", pid)
    _value(p, text, data_type, unit or None)


def _child(parent: ET.Element, pid: str, text: str, data_type: str, unit: str = "") -> None:
    c = _sub(parent, "ParameterChild")
    _sub(c, "ID", pid)
    _value(c, text, data_type, unit or None)


def _artifact_param(root: ET.Element, art: ArtifactRef) -> None:
    p = _sub(root, "JobOrderParameter")
    _sub(p, "ID", f"artifact.{art.kind}")
    _value(p, art.url, "string")
    _child(p, "sha256", art.sha256, "string")
    _child(p, "bytes", str(art.bytes), "integer", "byte")


def _plate_param(root: ET.Element, idx: int, part: PlatePart) -> None:
    p = _sub(root, "JobOrderParameter")
    _sub(p, "ID", f"plate.part.{idx}")
    _value(p, part.order_line_id, "string")
    for key in ("x_mm", "y_mm", "w_mm", "h_mm"):
        _child(p, key, repr(float(getattr(part, key))), "double", "mm")
    _child(p, "label", part.label, "string")


def to_b2mml_tree(job: JobOrder) -> ET.Element:
    """Build the B2MML ``JobOrder`` element (children in the schema's sequence order)."""
    root = ET.Element(f"{{{B2MML_NS}}}JobOrder")
    _sub(root, "ID", job.job_order_id)
    if job.description:
        _sub(root, "Description", job.description)
    _sub(root, "StartTime", job.scheduled_start.isoformat())
    _sub(root, "EndTime", job.scheduled_end.isoformat())
    _sub(root, "WorkType", "Production")
    _sub(root, "WorkMasterID", job.family_key)
    _sub(root, "WorkMasterVersion", job.family_version)
    _sub(root, "Priority", str(job.priority))
    _sub(root, "DispatchStatus", "Dispatched")
    for key in sorted(job.parameters):
        text, dtype = _param_value(job.parameters[key])
        _parameter(root, f"config.{key}", text, dtype)
    _parameter(root, "quantity", str(job.quantity), "integer")
    if job.order_line_url:
        _parameter(root, "order_line_url", job.order_line_url, "string")
    for key in sorted(job.extra):
        _parameter(root, f"extra.{key}", job.extra[key], "string")
    for art in job.artifacts:
        _artifact_param(root, art)
    for idx, part in enumerate(job.plate):
        _plate_param(root, idx, part)
    eq = _sub(root, "EquipmentRequirement")
    _sub(eq, "ID", f"{job.job_order_id}.equipment")
    _sub(eq, "EquipmentID", job.machine_id)
    mat = _sub(root, "MaterialRequirement")
    _sub(mat, "ID", f"{job.job_order_id}.material")
    _sub(mat, "MaterialDefinitionID", job.material)
    _sub(mat, "MaterialUse", "Consumed")
    q = _sub(mat, "Quantity")
    _sub(q, "QuantityString", repr(float(job.grams)))
    _sub(q, "DataType", "double")
    _sub(q, "UnitOfMeasure", "g")
    prop = _sub(mat, "MaterialRequirementProperty")
    _sub(prop, "ID", "colour")
    _value(prop, job.colour, "string")
    return root


def to_b2mml_xml(job: JobOrder) -> bytes:
    """Serialise the job order as a standalone B2MML XML document (UTF-8)."""
    ET.register_namespace("", B2MML_NS)
    return ET.tostring(to_b2mml_tree(job), encoding="utf-8", xml_declaration=True)


def to_json(job: JobOrder) -> dict[str, Any]:
    """The same content as the XML, as a JSON-ready dict."""
    return {
        "schema": "hunar.job_order/1",
        "job_order_id": job.job_order_id,
        "description": job.description,
        "work_master": {"id": job.family_key, "version": job.family_version},
        "equipment_requirement": {"equipment_id": job.machine_id},
        "material_requirement": {
            "material": job.material,
            "colour": job.colour,
            "grams": float(job.grams),
        },
        "parameters": job.parameters,
        "quantity": job.quantity,
        "scheduled_start": job.scheduled_start.isoformat(),
        "scheduled_end": job.scheduled_end.isoformat(),
        "priority": job.priority,
        "order_line_url": job.order_line_url,
        "extra": dict(job.extra),
        "artifacts": [
            {"kind": a.kind, "url": a.url, "sha256": a.sha256, "bytes": a.bytes}
            for a in job.artifacts
        ],
        "plate": [
            {
                "order_line_id": p.order_line_id,
                "x_mm": p.x_mm,
                "y_mm": p.y_mm,
                "w_mm": p.w_mm,
                "h_mm": p.h_mm,
                "label": p.label,
            }
            for p in job.plate
        ],
    }


def from_json(data: dict[str, Any]) -> JobOrder:
    """Rebuild a JobOrder from ``to_json`` output (receivers, hot-folder readers, tests)."""
    return JobOrder(
        job_order_id=data["job_order_id"],
        family_key=data["work_master"]["id"],
        family_version=data["work_master"]["version"],
        machine_id=data["equipment_requirement"]["equipment_id"],
        material=data["material_requirement"]["material"],
        colour=data["material_requirement"]["colour"],
        grams=data["material_requirement"]["grams"],
        parameters=data["parameters"],
        scheduled_start=datetime.fromisoformat(data["scheduled_start"]),
        scheduled_end=datetime.fromisoformat(data["scheduled_end"]),
        priority=data["priority"],
        artifacts=tuple(ArtifactRef(**a) for a in data["artifacts"]),
        plate=tuple(PlatePart(**p) for p in data["plate"]),
        order_line_url=data.get("order_line_url", ""),
        description=data.get("description", ""),
        quantity=data.get("quantity", 1),
        extra=dict(data.get("extra", {})),
    )


def rework_job(original: JobOrder, new_job_order_id: str, scrapped_qty: int) -> JobOrder:
    """A new job for only the scrapped quantity, reusing the original's artifacts.

    The artifacts are unchanged (same G-code hash), so the floor re-makes exactly what
    was approved. Plates are refused: their G-code would re-print every part, so a
    scrapped plate part is re-queued from its own order line's artifacts instead.
    """
    if original.plate:
        raise PacketError(
            "plate: a plate job cannot be reworked as a whole; re-queue the scrapped "
            "order lines from their own artifacts"
        )
    if not 1 <= scrapped_qty <= original.quantity:
        raise PacketError(f"scrapped_qty: {scrapped_qty} outside 1..{original.quantity}")
    return replace(
        original,
        job_order_id=new_job_order_id,
        quantity=scrapped_qty,
        grams=round(original.grams * scrapped_qty / original.quantity, 3),
        description=f"Rework of {original.job_order_id}",
        extra={**original.extra, "rework_of": original.job_order_id},
    )


_SCHEMA_CACHE: dict[Path, Any] = {}
_SCHEMA_LOCK = threading.Lock()


def load_schema(schema_dir: Path) -> Any:
    """Compile B2MML-WorkSchedule.xsd once per process (compiling takes seconds)."""
    key = Path(schema_dir).resolve()
    with _SCHEMA_LOCK:
        if key not in _SCHEMA_CACHE:
            import xmlschema

            xsd = key / "B2MML-WorkSchedule.xsd"
            if not xsd.is_file():
                raise FileNotFoundError(f"B2MML schema not found: {xsd}")
            _SCHEMA_CACHE[key] = xmlschema.XMLSchema(str(xsd))
        return _SCHEMA_CACHE[key]


def validate_b2mml(xml_bytes: bytes, schema_dir: Path) -> list[str]:
    """Validate a JobOrder document; returns readable errors, empty when valid."""
    schema = load_schema(schema_dir)
    try:
        root = ET.fromstring(xml_bytes)  # parse first: a bare string could be read as a path
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    return [f"{err.path}: {err.reason}" for err in schema.iter_errors(root)]
