"""OctoPrint transport: upload the job's G-code over REST, start it at most once.

Delivery uploads ``<job_order_id>.gcode`` (no select, no print) with the idempotency
key in OctoPrint's ``userdata``; an identical file already present is a duplicate, not
an error. Starting is at most once and survives an OctoPrint restart: the file is first
moved into ``started/`` on the server (a durable mark), then selected and printed. Any
later start reads that mark plus /api/job and the print history, and sends nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryReceipt,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    PrinterStatus,
    StartResult,
    Transport,
    TransportUnavailable,
    now_utc,
)
from mes_bridge.transports.registry import SiteConfig

STARTED_FOLDER = "started"
_ACTIVE = {
    "Printing": JobState.RUNNING,
    "Pausing": JobState.RUNNING,
    "Paused": JobState.INTERRUPTED,
}


def gcode_of(packet: Packet) -> bytes:
    """The packet's G-code file (first ``*.gcode`` in ``files``)."""
    for name, data in packet.files.items():
        if name.lower().endswith(".gcode"):
            return data
    raise DeliveryRejected(f"packet {packet.job.job_order_id} has no .gcode file for OctoPrint")


class OctoPrintTransport(Transport):
    name = "octoprint"

    def __init__(
        self,
        url: str,
        api_key: str,
        port: str = "VIRTUAL",
        timeout_s: float = 10.0,
        machine_id: str = "",
    ) -> None:
        super().__init__()
        self.machine_id = machine_id
        self.url, self.api_key, self.port, self.timeout_s = (
            url.rstrip("/"),
            api_key,
            port,
            timeout_s,
        )
        self._http: httpx.Client | None = None
        self._folder_ready = False

    # -- plumbing -----------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.url, headers={"X-Api-Key": self.api_key}, timeout=self.timeout_s
            )
        return self._http

    def _req(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._client().request(method, path, **kw)
        except httpx.TransportError as exc:
            self._state = ConnectionState.FAILED
            self._folder_ready = False  # the server may come back empty
            raise TransportUnavailable(f"octoprint {self.url}{path}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise DeliveryRejected(f"octoprint {path}: HTTP {resp.status_code} (API key?)")
        if resp.status_code >= 500:
            raise TransportUnavailable(f"octoprint {path}: HTTP {resp.status_code}")
        return resp

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        self._state = ConnectionState.DISCONNECTED

    # -- connection ---------------------------------------------------------------
    def connect(self) -> None:
        """Reach the server and make sure its printer connection is Operational."""
        self._state = ConnectionState.CONNECTING
        self._req("GET", "/api/version").raise_for_status()
        if self._printer_state() in ("Closed", "Offline", "Error", "Offline after error"):
            body = {"command": "connect", "port": self.port, "autoconnect": False}
            self._req("POST", "/api/connection", json=body)
        end = time.monotonic() + self.timeout_s
        while (state := self._printer_state()) not in ("Operational", "Printing", "Paused"):
            if time.monotonic() > end:
                self._state = ConnectionState.FAILED
                raise TransportUnavailable(f"octoprint printer not operational: {state}")
            time.sleep(0.2)
        self._state = ConnectionState.CONNECTED

    def _printer_state(self) -> str:
        resp = self._req("GET", "/api/connection")
        return str(resp.json()["current"]["state"])

    # -- delivery -----------------------------------------------------------------
    @staticmethod
    def file_name(job_id: str) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id)
        return f"{safe}.gcode"

    def _file_info(self, path: str) -> dict[str, Any] | None:
        resp = self._req("GET", f"/api/files/local/{path}")
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return dict(resp.json())

    def _ensure_folder(self) -> None:
        """OctoPrint answers 500 for files in a missing folder, so create it once."""
        if not self._folder_ready:
            self._req("POST", "/api/files/local", data={"foldername": STARTED_FOLDER, "path": "/"})
            self._folder_ready = True

    def _located(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        """Where the job's file is: ``started/<name>`` once a start was requested."""
        self._ensure_folder()
        name = self.file_name(job_id)
        for path in (f"{STARTED_FOLDER}/{name}", name):
            info = self._file_info(path)
            if info is not None:
                return path, info
        return None

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        gcode = gcode_of(packet)
        job_id = packet.job.job_order_id
        name = self.file_name(job_id)
        found = self._located(job_id)
        if found is not None:
            if found[1].get("hash") == hashlib.sha1(gcode).hexdigest():  # noqa: S324 - OctoPrint's
                return DeliveryReceipt(
                    self.name, job_id, idempotency_key, now_utc(), found[0], duplicate=True
                )
            raise DeliveryRejected(f"octoprint already holds a different {found[0]}")
        userdata = json.dumps({"idempotency_key": idempotency_key, "job_order_id": job_id})
        resp = self._req(
            "POST",
            "/api/files/local",
            files={"file": (name, gcode, "application/octet-stream")},
            data={"select": "false", "print": "false", "userdata": userdata},
        )
        if resp.status_code != 201:
            raise DeliveryRejected(f"octoprint upload {name}: HTTP {resp.status_code} {resp.text}")
        self._state = ConnectionState.CONNECTED
        return DeliveryReceipt(self.name, job_id, idempotency_key, now_utc(), name)

    # -- state and start ----------------------------------------------------------
    def read_state(self, job_id: str) -> JobState:
        """OctoPrint's truth: the selected job, the file's folder and its print history."""
        found = self._located(job_id)
        if found is None:
            return JobState.UNKNOWN
        path, info = found
        if not path.startswith(f"{STARTED_FOLDER}/"):
            return JobState.ALLOWED_TO_START
        job = self._req("GET", "/api/job").json()
        current = ((job.get("job") or {}).get("file") or {}).get("path")
        if current == path and job.get("state") in _ACTIVE:
            return _ACTIVE[job["state"]]
        prints = info.get("prints") or {}
        if prints.get("success", 0) > 0:
            return JobState.ENDED
        if prints.get("failure", 0) > 0:
            return JobState.ABORTED
        # A start was requested (the file moved) but OctoPrint shows no print yet: it is
        # starting, or the server died mid-start. Either way it must not be sent again.
        return JobState.RUNNING

    def progress(self, job_id: str) -> tuple[JobState, float | None]:
        """State plus completion % while this job is the selected one (for status polling)."""
        state = self.read_state(job_id)
        if state not in (JobState.RUNNING, JobState.INTERRUPTED):
            return state, 100.0 if state is JobState.ENDED else None
        job = self._req("GET", "/api/job").json()
        completion = (job.get("progress") or {}).get("completion")
        return state, float(completion) if isinstance(completion, int | float) else None

    def status(self) -> PrinterStatus:
        """The fleet board's view: the selected job, its progress and time left (/api/job) and
        the temperatures (/api/printer, 409 while the printer is not connected)."""
        job = self._req("GET", "/api/job").json()
        word = str(job.get("state") or "")
        path = str(((job.get("job") or {}).get("file") or {}).get("path") or "")
        name = path.rsplit("/", 1)[-1]
        job_id = name.removesuffix(".gcode") if path.startswith(f"{STARTED_FOLDER}/") else ""
        progress = job.get("progress") or {}
        completion, left = progress.get("completion"), progress.get("printTimeLeft")
        printer = self._req("GET", "/api/printer")
        shown = printer.json() if printer.status_code == 200 else {}
        temps = shown.get("temperature") or {}  # empty until the printer's first report
        error = str((shown.get("state") or {}).get("error") or "")
        return PrinterStatus(
            machine_id=self.machine_id,
            connection=self._state,
            job_state=_ACTIVE.get(word, JobState.UNKNOWN) if job_id else JobState.UNKNOWN,
            job_id=job_id,
            progress=completion / 100 if job_id and isinstance(completion, int | float) else None,
            eta_s=float(left) if job_id and isinstance(left, int | float) else None,
            nozzle_c=_actual(temps.get("tool0")),
            bed_c=_actual(temps.get("bed")),
            error=error or (word if word.startswith(("Error", "Offline after error")) else ""),
            read_at=now_utc(),
        )

    def start(self, job_id: str) -> StartResult:
        """Move the file into ``started/`` (the durable at-most-once mark), then print it."""
        state = self.read_state(job_id)
        if state is JobState.UNKNOWN:
            raise NotReady(f"octoprint has no file for {job_id} yet")
        if state is not JobState.ALLOWED_TO_START:
            return StartResult(job_id, False, state, "reconciled: start requested before")
        self.connect()
        if self._printer_state() != "Operational":
            raise NotReady("octoprint printer busy; start later")
        name = self.file_name(job_id)
        started = f"{STARTED_FOLDER}/{name}"
        try:
            self._command(name, {"command": "move", "destination": STARTED_FOLDER}, 201)
        except TransportUnavailable:
            # OctoPrint 1.11 can answer 500 after the move happened (its analysis queue
            # chokes under load); the file's location on disk is the truth.
            found = self._located(job_id)
            if found is None or found[0] != started:
                raise
        try:
            self._command(started, {"command": "select", "print": True}, 204)
        except TransportUnavailable:
            self._command(started, {"command": "move", "destination": "/"}, 201)
            raise
        return StartResult(job_id, True, JobState.RUNNING, "moved to started/, select+print")

    def _command(self, path: str, body: dict[str, Any], ok: int) -> None:
        resp = self._req("POST", f"/api/files/local/{path}", json=body)
        if resp.status_code == 409:
            raise NotReady(f"octoprint {body['command']} {path}: busy ({resp.text[:120]})")
        if resp.status_code != ok:
            raise DeliveryRejected(f"octoprint {body['command']} {path}: HTTP {resp.status_code}")


def _actual(reading: object) -> float | None:
    value = reading.get("actual") if isinstance(reading, dict) else None
    return float(value) if isinstance(value, int | float) else None


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport | None:
    """OctoPrint at the configured URL; None (the default transport) without one."""
    if not config.get("url"):
        return None
    return OctoPrintTransport(
        str(config["url"]), str(config.get("api_key", "")), machine_id=machine_id
    )
