"""The Finding value: one measured manufacturability fact with severity, location and hint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["required", "advisory"]
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Finding:
    """One measured manufacturability fact; ``required`` blocks production, advisory warns."""

    code: str
    severity: Severity
    measured: float
    threshold: float
    location: Vec3 | None
    hint: str
    unit: str = "mm"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "measured": round(self.measured, 4),
            "threshold": round(self.threshold, 4),
            "location": None if self.location is None else [round(c, 3) for c in self.location],
            "hint": self.hint,
            "unit": self.unit,
        }
