"""B2MML job orders validate against MESA's schemas; JSON carries the same content."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from mes_factories import make_artifact, make_job

from mes_bridge.packets import (
    B2MML_NS,
    ArtifactRef,
    PacketError,
    from_json,
    to_b2mml_xml,
    to_json,
    validate_b2mml,
)

NS = {"b": B2MML_NS}


@pytest.mark.slow  # loads the B2MML schemas
def test_job_order_xml_validates_against_work_schedule_xsd(b2mml_dir):
    xml = to_b2mml_xml(make_job())
    assert validate_b2mml(xml, b2mml_dir) == []


def test_xml_without_plate_or_artifacts_still_validates(b2mml_dir):
    xml = to_b2mml_xml(make_job(plate=(), artifacts=(), parameters={}))
    assert validate_b2mml(xml, b2mml_dir) == []


def test_validation_reports_a_broken_document(b2mml_dir):
    root = ET.fromstring(to_b2mml_xml(make_job()))
    root.remove(root.find("b:ID", NS))
    ET.SubElement(root, f"{{{B2MML_NS}}}NotAnElement").text = "x"
    errors = validate_b2mml(ET.tostring(root), b2mml_dir)
    assert errors and all(isinstance(e, str) for e in errors)


def test_xml_carries_every_required_field():
    job = make_job()
    root = ET.fromstring(to_b2mml_xml(job))
    assert root.findtext("b:ID", namespaces=NS) == job.job_order_id
    assert root.findtext("b:WorkMasterID", namespaces=NS) == "enclosure"
    assert root.findtext("b:WorkMasterVersion", namespaces=NS) == "3"
    assert root.findtext("b:Priority", namespaces=NS) == "2"
    assert root.findtext("b:StartTime", namespaces=NS) == job.scheduled_start.isoformat()
    assert root.findtext("b:EquipmentRequirement/b:EquipmentID", namespaces=NS) == "mk4-01"
    mat = root.find("b:MaterialRequirement", NS)
    assert mat.findtext("b:MaterialDefinitionID", namespaces=NS) == "PETG"
    assert mat.findtext("b:Quantity/b:QuantityString", namespaces=NS) == "42.5"
    assert mat.findtext("b:Quantity/b:UnitOfMeasure", namespaces=NS) == "g"
    colour = mat.find("b:MaterialRequirementProperty", NS)
    assert colour.findtext("b:Value/b:ValueString", namespaces=NS) == "black"
    params = {p.findtext("b:ID", namespaces=NS): p for p in root.findall("b:JobOrderParameter", NS)}
    assert params["config.width_mm"].findtext("b:Value/b:ValueString", namespaces=NS) == "80"
    assert params["config.lid"].findtext("b:Value/b:DataType", namespaces=NS) == "boolean"
    gcode = params["artifact.gcode"]
    assert gcode.findtext("b:Value/b:ValueString", namespaces=NS) == job.artifact("gcode").url
    children = {
        c.findtext("b:ID", namespaces=NS): c.findtext("b:Value/b:ValueString", namespaces=NS)
        for c in gcode.findall("b:ParameterChild", NS)
    }
    assert children == {"sha256": job.artifact("gcode").sha256, "bytes": "4"}
    assert params["plate.part.1"].findtext("b:Value/b:ValueString", namespaces=NS) == "OL-2"


def test_user_text_is_escaped_in_xml(b2mml_dir):
    nasty = "</ValueString><x>&amp;\"'"
    xml = to_b2mml_xml(make_job(parameters={"label": nasty}))
    assert validate_b2mml(xml, b2mml_dir) == []
    root = ET.fromstring(xml)
    values = [v.text for v in root.iter(f"{{{B2MML_NS}}}ValueString")]
    assert nasty in values


def test_json_has_the_same_content_and_round_trips():
    job = make_job()
    doc = to_json(job)
    assert doc["work_master"] == {"id": "enclosure", "version": "3"}
    assert doc["material_requirement"] == {"material": "PETG", "colour": "black", "grams": 42.5}
    assert [a["sha256"] for a in doc["artifacts"]] == [a.sha256 for a in job.artifacts]
    assert doc["plate"][0]["order_line_id"] == "OL-1"
    assert from_json(doc) == job


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("job_order_id", " ", "job_order_id"),
        ("machine_id", "", "machine_id"),
        ("scheduled_start", datetime(2026, 1, 1), "timezone-aware"),
        ("grams", -1.0, "grams"),
        ("quantity", 0, "quantity"),
    ],
)
def test_invalid_values_raise_packet_error_naming_the_field(field, value, message):
    with pytest.raises(PacketError, match=message):
        make_job(**{field: value})


def test_end_before_start_is_rejected():
    job = make_job()
    with pytest.raises(PacketError, match="scheduled_end"):
        make_job(scheduled_start=job.scheduled_end, scheduled_end=job.scheduled_start)


def test_artifact_needs_a_real_sha256():
    with pytest.raises(PacketError, match="sha256"):
        ArtifactRef("gcode", "http://x", "abc", 1)
    with pytest.raises(PacketError, match="kind"):
        ArtifactRef("exe", "http://x", make_artifact().sha256, 1)


def test_rework_job_remakes_only_scrapped_quantity_with_same_artifacts(b2mml_dir):
    from mes_bridge.packets import rework_job

    single = make_job(plate=(), quantity=10, grams=100.0)
    redo = rework_job(single, "JO-R1", 3)
    assert (redo.quantity, redo.grams, redo.artifacts) == (3, 30.0, single.artifacts)
    assert redo.extra["rework_of"] == single.job_order_id
    assert validate_b2mml(to_b2mml_xml(redo), b2mml_dir) == []
    with pytest.raises(PacketError, match="scrapped_qty"):
        rework_job(single, "JO-R3", 11)
    with pytest.raises(PacketError, match="plate"):
        rework_job(make_job(), "JO-R4", 1)


def test_validation_never_treats_input_as_a_path(b2mml_dir):
    assert validate_b2mml(b"/etc/passwd", b2mml_dir)[0].startswith("not well-formed")
