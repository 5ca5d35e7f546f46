"""Files produced for a configuration (the bytes live in the artifact store, not here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import JsonDict, JSONType, UTCDateTime, utcnow


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("configuration_id", "kind", "builder_version", name="uq_artifacts_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    configuration_id: Mapped[int] = mapped_column(
        ForeignKey("configurations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), doc="step, stl, 3mf, dxf, svg, glb, gcode")
    path: Mapped[str] = mapped_column(String(512), doc="Relative to the artifact store root.")
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    builder_version: Mapped[str] = mapped_column(String(64))
    meta: Mapped[JsonDict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
