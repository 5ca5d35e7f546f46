"""Process kinds: what kind of work centre runs a routing step."""

from __future__ import annotations

from enum import StrEnum


class Process(StrEnum):
    """Kinds of work centre. Primary (shaping) processes are fdm, resin, cnc and laser."""

    FDM = "fdm"
    RESIN = "resin"
    CNC = "cnc"
    LASER = "laser"
    POST = "post"
    QC = "qc"
    PACK = "pack"

    @property
    def is_primary(self) -> bool:
        """True for processes that shape material (the ones with machine envelopes)."""
        return self in PRIMARY_PROCESSES


PRIMARY_PROCESSES: frozenset[Process] = frozenset(
    {Process.FDM, Process.RESIN, Process.CNC, Process.LASER}
)
