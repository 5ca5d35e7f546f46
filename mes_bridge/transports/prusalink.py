"""PrusaLink v1 transport (MK4/MK3.9/XL/MINI firmware, PrusaLink on a Pi for MK3): upload, start once.

Delivery PUTs ``<job_order_id>.gcode`` to the printer's storage with ``Print-After-Upload: ?0``
(an upload never prints) and ``Overwrite: ?0``; a 409 means the name is taken, so the file
there is downloaded and compared: the same bytes are a duplicate, others are rejected.

Starting is at most once and survives a printer reboot. PrusaLink v1 keeps no job history and
forgets a finished job, and it cannot move or rename files, so the durable mark is a tiny
comment-only file ``hunar-started/<job>.gcode`` uploaded with ``Overwrite: ?0`` *before* the
start is sent: its 409 makes the claim atomic, and it stays on the printer's storage through
reboots. Any later start finds the mark and sends nothing; a start whose answer was lost is
read back from ``/api/v1/job``, never resent. Outcomes the transport observes (finished,
stopped, lost to a reboot) are recorded the same way, as ``<job>.ended.gcode`` or
``<job>.aborted.gcode``, because PrusaLink forgets them (0.8.1 shows FINISHED for 11 s). A
marked job the printer is not running and did not just finish reads ABORTED: at most once
wins, and a person looks at the plate.
"""

from __future__ import annotations

import hashlib
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
    Unsupported,
    now_utc,
)
from mes_bridge.transports.registry import SiteConfig

MARK_FOLDER = "hunar-started"
IDLE_STATES = frozenset({"IDLE", "READY", "FINISHED", "STOPPED"})
_JOB_STATES = {
    "PRINTING": JobState.RUNNING,
    "BUSY": JobState.RUNNING,
    "PAUSED": JobState.INTERRUPTED,
    "ATTENTION": JobState.INTERRUPTED,
    "FINISHED": JobState.ENDED,
    "STOPPED": JobState.ABORTED,
    "ERROR": JobState.ABORTED,
}
_OUTCOMES = {JobState.ENDED: "ended", JobState.ABORTED: "aborted"}
_UPLOAD = {"Content-Type": "text/x.gcode", "Print-After-Upload": "?0", "Overwrite": "?0"}


def gcode_of(packet: Packet) -> bytes:
    """The packet's G-code file (first ``*.gcode`` in ``files``)."""
    for name, data in packet.files.items():
        if name.lower().endswith(".gcode"):
            return data
    raise DeliveryRejected(f"packet {packet.job.job_order_id} has no .gcode file for PrusaLink")


def file_name(job_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in job_id)
    return f"{safe}.gcode"


class PrusaLinkTransport(Transport):
    name = "prusalink"

    def __init__(
        self,
        url: str,
        user: str = "maker",
        password: str = "",
        api_key: str = "",
        storage: str = "",
        machine_id: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__()
        self.url, self.user, self.password, self.api_key = url.rstrip("/"), user, password, api_key
        self.machine_id, self.timeout_s = machine_id, timeout_s
        self._storage = storage.strip("/")
        self._http: httpx.Client | None = None

    # -- plumbing -----------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            auth = httpx.DigestAuth(self.user, self.password) if self.password else None
            headers = {"X-Api-Key": self.api_key} if self.api_key and not self.password else {}
            self._http = httpx.Client(
                base_url=self.url, auth=auth, headers=headers, timeout=self.timeout_s
            )
        return self._http

    def _req(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._client().request(method, path, **kw)
        except httpx.TransportError as exc:
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"prusalink {self.url}{path}: {exc}") from exc
        if resp.status_code in (401, 403):
            self._state = ConnectionState.FAILED
            who = f"user {self.user!r} and password" if self.password else "API key"
            raise DeliveryRejected(
                f"prusalink {path}: HTTP {resp.status_code}, the printer refused the {who}; "
                "fix the machine's credentials (not retried)"
            )
        if resp.status_code >= 500:
            raise TransportUnavailable(f"prusalink {path}: HTTP {resp.status_code}")
        return resp

    def _json(self, path: str) -> dict[str, Any]:
        resp = self._req("GET", path)
        if resp.status_code == 204:
            return {}
        resp.raise_for_status()
        return dict(resp.json())

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        self._state = ConnectionState.DISCONNECTED

    # -- connection ---------------------------------------------------------------
    def connect(self) -> None:
        """Reach the printer (credentials checked) and learn its writable storage."""
        self._state = ConnectionState.CONNECTING
        self._json("/api/v1/status")
        self.storage()
        self._state = ConnectionState.CONNECTED

    def storage(self) -> str:
        """The configured storage, else the first writable one (``usb`` on MK4, ``local`` on a Pi)."""
        if not self._storage:
            for item in self._json("/api/v1/storage").get("storage_list", []):
                if item.get("available") and not item.get("read_only"):
                    self._storage = str(item["path"]).strip("/")
                    break
            else:
                raise TransportUnavailable("prusalink reports no writable storage")
        return self._storage

    def _files(self, path: str) -> str:
        return f"/api/v1/files/{self.storage()}/{path}"

    def _info(self, path: str) -> dict[str, Any] | None:
        resp = self._req("GET", self._files(path))
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return dict(resp.json())

    # -- delivery -----------------------------------------------------------------
    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        gcode, job_id = gcode_of(packet), packet.job.job_order_id
        name = file_name(job_id)
        resp = self._req("PUT", self._files(name), content=gcode, headers=_UPLOAD)
        duplicate = resp.status_code == 409
        if duplicate and not self._same_content(name, gcode):
            raise DeliveryRejected(f"prusalink already holds a different {name}")
        if not duplicate and resp.status_code != 201:
            raise DeliveryRejected(f"prusalink upload {name}: HTTP {resp.status_code}")
        self._await_listed(name, len(gcode))
        self._state = ConnectionState.CONNECTED
        ref = f"{self.storage()}/{name}"
        return DeliveryReceipt(self.name, job_id, idempotency_key, now_utc(), ref, duplicate)

    def _same_content(self, name: str, gcode: bytes) -> bool:
        """Size first, then the bytes themselves: PrusaLink publishes no checksum."""
        info = self._info(name)
        if info is None or int(info.get("size", -1)) != len(gcode):
            return False
        download = (info.get("refs") or {}).get("download")
        if not download:
            raise DeliveryRejected(f"prusalink offers no download of {name} to compare")
        resp = self._req("GET", str(download))
        resp.raise_for_status()
        return hashlib.sha256(resp.content).digest() == hashlib.sha256(gcode).digest()

    def _await_listed(self, name: str, size: int) -> None:
        """PrusaLink lists a new file a moment after its 201; confirm it is really there."""
        end = time.monotonic() + self.timeout_s
        while (info := self._info(name)) is None or int(info.get("size", -1)) != size:
            if time.monotonic() > end:
                raise TransportUnavailable(f"prusalink accepted {name} but never listed it")
            time.sleep(0.1)

    # -- state --------------------------------------------------------------------
    def _marks(self) -> set[str]:
        info = self._info(MARK_FOLDER)
        return {str(c.get("name")) for c in (info or {}).get("children", [])}

    def _mark(self, label: str, overwrite: bool = False) -> bool:
        """Upload a comment-only mark; False when it was already there (the atomic claim)."""
        body = f"; hunar {label}: kept so a restart never prints this job twice\n".encode()
        headers = {**_UPLOAD, "Overwrite": "?1" if overwrite else "?0"}
        resp = self._req(
            "PUT", self._files(f"{MARK_FOLDER}/{label}"), content=body, headers=headers
        )
        if resp.status_code not in (201, 409):
            raise DeliveryRejected(f"prusalink start mark {label}: HTTP {resp.status_code}")
        if resp.status_code == 201:
            self._await_listed(f"{MARK_FOLDER}/{label}", len(body))
        return resp.status_code == 201

    def _unmark(self, label: str) -> None:
        """Delete a claim and wait until the listing agrees (PrusaLink lists lazily)."""
        path = f"{MARK_FOLDER}/{label}"
        resp = self._req("DELETE", self._files(path))
        if resp.status_code not in (204, 404):
            raise TransportUnavailable(f"prusalink could not withdraw {path}: {resp.status_code}")
        end = time.monotonic() + self.timeout_s
        while label in self._marks():
            if time.monotonic() > end:
                raise TransportUnavailable(f"prusalink still lists the withdrawn {path}")
            time.sleep(0.1)

    def _job(self) -> dict[str, Any]:
        return self._json("/api/v1/job")

    @staticmethod
    def _is_ours(job: Mapping[str, Any], name: str) -> bool:
        file = job.get("file") or {}
        path = str(file.get("path") or "")
        names = (file.get("name"), file.get("display_name"), path)
        mark = f"/{MARK_FOLDER}/" in path  # a printed start mark is not the job
        return not mark and any(str(n or "").rsplit("/", 1)[-1] == name for n in names)

    def read_state(self, job_id: str) -> JobState:
        """The printer's current job first, then the durable marks, then the file itself."""
        name = file_name(job_id)
        stem = name.removesuffix(".gcode")
        marks = self._marks()
        for state, word in _OUTCOMES.items():
            if f"{stem}.{word}.gcode" in marks:
                return state
        job = self._job()
        if self._is_ours(job, name):
            state = _JOB_STATES.get(str(job.get("state")), JobState.RUNNING)
            return self._record(stem, state) if name in marks else state
        if name not in marks:
            return JobState.ALLOWED_TO_START if self._info(name) else JobState.UNKNOWN
        # Started earlier, not the printer's job now. FINISHED/STOPPED with no job is how
        # PrusaLink shows the last job ended; anything else means it was lost (a reboot, or a
        # start that never arrived): reported as aborted, never started again.
        printer = str(self._json("/api/v1/status").get("printer", {}).get("state"))
        return self._record(stem, JobState.ENDED if printer == "FINISHED" else JobState.ABORTED)

    def _record(self, stem: str, state: JobState) -> JobState:
        if state in _OUTCOMES:
            self._mark(f"{stem}.{_OUTCOMES[state]}.gcode", overwrite=True)
        return state

    # -- start --------------------------------------------------------------------
    def start(self, job_id: str) -> StartResult:
        """Claim with the start mark, then POST the file; an unanswered POST is never resent."""
        state = self.read_state(job_id)
        if state is JobState.UNKNOWN:
            raise NotReady(f"prusalink has no file for {job_id} yet")
        if state is not JobState.ALLOWED_TO_START:
            return StartResult(job_id, False, state, "reconciled: started before")
        status = self._json("/api/v1/status")
        printer = str(status.get("printer", {}).get("state"))
        if printer not in IDLE_STATES or status.get("job"):
            raise NotReady(f"prusalink printer is {printer}; start {job_id} later")
        name = file_name(job_id)
        if not self._mark(name):
            return StartResult(job_id, False, self.read_state(job_id), "reconciled: claimed")
        try:
            resp = self._req("POST", self._files(name))
        except TransportUnavailable as exc:
            return self._uncertain(job_id, exc)
        if resp.status_code != 204:
            self._unmark(name)  # refused outright: nothing began, so the claim is withdrawn
            if resp.status_code in (404, 409):
                raise NotReady(f"prusalink refused to start {name}: HTTP {resp.status_code}")
            raise DeliveryRejected(f"prusalink start {name}: HTTP {resp.status_code}")
        return StartResult(job_id, True, self._confirmed(job_id), "marked, then POST answered 204")

    def _uncertain(self, job_id: str, exc: TransportUnavailable) -> StartResult:
        """The POST may have reached the printer: read what it does, never send it again."""
        try:
            job = self._job()
        except TransportUnavailable:
            job = {}
        if self._is_ours(job, file_name(job_id)):
            state = _JOB_STATES.get(str(job.get("state")), JobState.RUNNING)
            return StartResult(job_id, True, state, f"start unanswered ({exc}); printer shows it")
        raise TransportUnavailable(
            f"prusalink start of {job_id} unanswered ({exc}); it is marked as started, so the "
            "next start reads the printer and sends nothing"
        ) from exc

    def _confirmed(self, job_id: str) -> JobState:
        """The printer's job after the 204 (PrusaLink shows it at once; allow a moment)."""
        end = time.monotonic() + min(self.timeout_s, 5.0)
        while not self._is_ours(job := self._job(), file_name(job_id)):
            if time.monotonic() > end:
                return JobState.RUNNING  # requested and accepted; not shown yet
            time.sleep(0.1)
        return _JOB_STATES.get(str(job.get("state")), JobState.RUNNING)

    # -- job control and status ---------------------------------------------------
    def _current_id(self, job_id: str) -> int:
        job = self._job()
        if not self._is_ours(job, file_name(job_id)):
            raise NotReady(f"{job_id} is not the printer's current job")
        return int(job["id"])

    def _job_command(self, method: str, job_id: str, suffix: str = "") -> None:
        resp = self._req(method, f"/api/v1/job/{self._current_id(job_id)}{suffix}")
        if resp.status_code == 409:
            raise NotReady(f"prusalink cannot{suffix.replace('/', ' ') or ' stop'} {job_id} now")
        if resp.status_code != 204:
            raise DeliveryRejected(f"prusalink job {job_id}{suffix}: HTTP {resp.status_code}")

    def cancel(self, job_id: str) -> None:
        self._job_command("DELETE", job_id)

    def pause(self, job_id: str) -> None:
        self._job_command("PUT", job_id, "/pause")

    def resume(self, job_id: str) -> None:
        self._job_command("PUT", job_id, "/resume")

    def exclude_object(self, job_id: str, object_name: str) -> None:
        raise Unsupported("PrusaLink v1 has no way to skip one object of a running plate")

    def status(self) -> PrinterStatus:
        """Temperatures, state and the current job's progress; FAILED when unreachable."""
        try:
            status = self._json("/api/v1/status")
            job = self._job() if status.get("job") else {}
        except TransportUnavailable as exc:
            return PrinterStatus(
                self.machine_id, ConnectionState.FAILED, JobState.UNKNOWN, error=str(exc)
            )
        printer, running = status.get("printer", {}), status.get("job") or {}
        state = str(printer.get("state", ""))
        health = printer.get("status_printer") or {}
        file = (job.get("file") or {}).get("display_name") or ""
        progress = running.get("progress")
        self._state = ConnectionState.CONNECTED
        return PrinterStatus(
            self.machine_id,
            ConnectionState.CONNECTED,
            _JOB_STATES.get(state, JobState.RUNNING) if running else JobState.UNKNOWN,
            job_id=str(file).removesuffix(".gcode"),
            progress=float(progress) / 100 if isinstance(progress, int | float) else None,
            eta_s=_number(running.get("time_remaining")),
            nozzle_c=_number(printer.get("temp_nozzle")),
            bed_c=_number(printer.get("temp_bed")),
            error=""
            if health.get("ok", True) and state != "ERROR"
            else str(health.get("message") or state),
            read_at=now_utc(),
        )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport | None:
    """PrusaLink at ``url`` with Digest ``user``/``password`` or an ``api_key``; None otherwise."""
    url, password, api_key = (str(config.get(k) or "") for k in ("url", "password", "api_key"))
    if not url or not (password or api_key):
        return None
    return PrusaLinkTransport(
        url,
        user=str(config.get("user") or "maker"),
        password=password,
        api_key=api_key,
        storage=str(config.get("storage") or ""),
        machine_id=machine_id,
        timeout_s=float(config.get("timeout_s", 10.0)),
    )
