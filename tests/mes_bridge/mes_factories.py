"""Factories for mes_bridge tests: fresh values per call, no shared mutable state."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from mes_bridge.packets import ArtifactRef, JobOrder, PlatePart

_seq = itertools.count(1)


def make_artifact(kind: str = "gcode", content: bytes = b"G28\n") -> ArtifactRef:
    digest = hashlib.sha256(content).hexdigest()
    return ArtifactRef(kind, f"http://127.0.0.1/artifacts/{digest}.{kind}", digest, len(content))


def make_job(**overrides: Any) -> JobOrder:
    n = next(_seq)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC) + timedelta(minutes=n)
    values: dict[str, Any] = dict(
        job_order_id=f"JO-{n:05d}",
        family_key="enclosure",
        family_version="3",
        machine_id="mk4-01",
        material="PETG",
        colour="black",
        grams=42.5,
        parameters={"width_mm": 80, "height_mm": 30.5, "lid": True, "label": "Hunar"},
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        priority=2,
        artifacts=(make_artifact("gcode"), make_artifact("stl", b"solid x")),
        plate=(
            PlatePart("OL-1", 10, 10, 80, 50, "enclosure A"),
            PlatePart("OL-2", 100, 10, 60, 60, "bracket B"),
        ),
        order_line_url=f"https://hunar.example/orders/lines/OL-{n}",
    )
    values.update(overrides)
    return JobOrder(**values)
