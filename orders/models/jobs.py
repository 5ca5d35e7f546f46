"""Queue job records: the same status rows whether a job ran on RQ or in-process."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orders.db import Base
from orders.models._types import JsonDict, JSONType, UTCDateTime, str_enum, utcnow


class JobState(enum.StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"


class JobRecord(Base):
    __tablename__ = "job_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, doc="Also the RQ job id.")
    queue: Mapped[str] = mapped_column(String(16), index=True)
    func: Mapped[str] = mapped_column(String(128))
    args: Mapped[list[int | str]] = mapped_column(JSONType, default=list)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), index=True)
    backend: Mapped[str] = mapped_column(String(16), doc="rq or inprocess")
    owner: Mapped[str | None] = mapped_column(
        String(128), doc="host:pid:start of the process running an in-process job"
    )
    state: Mapped[JobState] = mapped_column(
        str_enum(JobState, "job_state"), default=JobState.QUEUED, index=True
    )
    progress: Mapped[JsonDict] = mapped_column(JSONType, default=dict)
    result: Mapped[JsonDict | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
