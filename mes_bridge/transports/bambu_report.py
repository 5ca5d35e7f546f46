"""The words of Bambu Lab's LAN protocol: report states, delta merging, refusals, commands.

Pure functions over the JSON the printer sends and takes (community-documented by
ha-bambulab and OpenBambuAPI), kept apart from the session logic in ``bambu`` so they can be
read and tested without a printer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mes_bridge.transports.base import ConnectionState, JobState, PrinterStatus, now_utc

GCODE_STATE = {
    "PREPARE": JobState.RUNNING,
    "SLICING": JobState.RUNNING,
    "RUNNING": JobState.RUNNING,
    "PAUSE": JobState.INTERRUPTED,
    "FINISH": JobState.ENDED,
    "FAILED": JobState.ABORTED,
}
IDLE_STATES = frozenset({"IDLE", "FINISH", "FAILED"})
VERIFY_FAILED = "verify failed"
AUTH_ERR_CODES = frozenset({84033543, 84033545})  # 0x05024007 unsigned, 0x05024009 bad signature
MONITOR_ONLY = (
    "monitor only: the printer's firmware enforces Authorization Control and refused an unsigned "
    "LAN command ({detail}). To drive it from Hunar, enable LAN Only mode and Developer Mode on "
    "the printer; otherwise start jobs through Bambu Connect."
)


def merge(into: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Merge a delta report into the cached state (nested dicts merge, other values replace):
    P1/A1 printers send only the fields that changed."""
    for key, value in delta.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def is_refusal(ack: Mapping[str, Any]) -> bool:
    """A command acknowledgement that says the command was not carried out."""
    return str(ack.get("result", "")).lower() not in ("success", "")


def is_auth_refusal(ack: Mapping[str, Any]) -> bool:
    """Authorization Control's answer to an unsigned command ("mqtt message verify failed")."""
    reason = str(ack.get("reason", "")).lower()
    return is_refusal(ack) and (VERIFY_FAILED in reason or ack.get("err_code") in AUTH_ERR_CODES)


def project_file(job_id: str, path: str, plate_gcode: str) -> dict[str, Any]:
    """The fields of a LAN ``project_file`` start for a file at ``path`` on the SD card."""
    return {
        "param": plate_gcode,
        "url": f"file:///sdcard/{path}",
        "file": path,
        "subtask_name": job_id,
        "md5": "",
        "project_id": "0",
        "profile_id": "0",
        "task_id": "0",
        "subtask_id": "0",
        "timelapse": False,
        "bed_type": "auto",
        "bed_levelling": True,
        "flow_cali": False,
        "vibration_cali": False,
        "layer_inspect": False,
        "use_ams": False,
        "ams_mapping": "",
    }


def printer_status(
    machine_id: str, connection: ConnectionState, report: Mapping[str, Any], monitor_only: str
) -> PrinterStatus:
    """The fleet board's words for a merged report (remaining time is in minutes)."""
    job = str(report.get("subtask_name") or "")

    def num(key: str) -> float | None:
        value = report.get(key)
        return float(value) if isinstance(value, int | float) else None

    percent, minutes = num("mc_percent"), num("mc_remaining_time")
    error = report.get("print_error") or 0
    state = GCODE_STATE.get(str(report.get("gcode_state")), JobState.UNKNOWN)
    return PrinterStatus(
        machine_id=machine_id,
        connection=connection,
        job_state=state if job else JobState.UNKNOWN,
        job_id=job,
        progress=None if percent is None else percent / 100.0,
        eta_s=None if minutes is None else minutes * 60.0,
        nozzle_c=num("nozzle_temper"),
        bed_c=num("bed_temper"),
        error=f"print_error {error}" if error else "",
        monitor_only=monitor_only,
        read_at=now_utc(),
    )
