"""Moonraker (Klipper) transport: upload the job's G-code, start it at most once.

Delivery uploads ``<job_order_id>.gcode`` to the ``gcodes`` root with its SHA-256 (Moonraker
verifies it and answers 422 on a mismatch) and never asks it to print. Moonraker's file
metadata has no hash, so a file already there is downloaded and hashed: the same bytes are
a duplicate receipt, other bytes under the same job are refused.

Starting is at most once because Moonraker's job history (its database, which survives a
restart) and the file metadata's ``job_id`` are the durable "started" mark: ``read_state``
reads them together with ``print_stats``, and ``start`` sends ``/printer/print/start`` only
for a file that never printed, with Klippy ready and the printer idle. A start whose answer
is lost is reconciled by reading the printer again, never resent in the same call.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from mes_bridge.transports.base import (
    STARTED_STATES,
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
from mes_bridge.transports.moonraker_status import (
    IDLE_STATES,
    PRINT_STATES,
    STATUS_OBJECTS,
    Objects,
    StatusFeed,
    to_printer_status,
)
from mes_bridge.transports.registry import SiteConfig

#: Object names that may be formatted into a G-code line (Klipper upper-cases them).
OBJECT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: History statuses of a job that ran and stopped early.
_ABORTED = {"cancelled", "error", "klippy_shutdown", "klippy_disconnect", "interrupted"}


def gcode_of(packet: Packet) -> bytes:
    """The packet's G-code file (first ``*.gcode`` in ``files``)."""
    for name, data in packet.files.items():
        if name.lower().endswith(".gcode"):
            return data
    raise DeliveryRejected(f"packet {packet.job.job_order_id} has no .gcode file for Moonraker")


class MoonrakerTransport(Transport):
    name = "moonraker"

    def __init__(
        self,
        url: str,
        api_key: str = "",
        machine_id: str = "",
        timeout_s: float = 10.0,
        confirm_s: float = 10.0,
        poll_s: float = 0.1,
    ) -> None:
        super().__init__()
        self.url, self.api_key, self.machine_id = url.rstrip("/"), api_key, machine_id
        self.timeout_s, self.confirm_s, self.poll_s = timeout_s, confirm_s, poll_s
        self.headers = {"X-Api-Key": api_key} if api_key else {}
        self._http: httpx.Client | None = None
        self._feed: StatusFeed | None = None
        self._materials: dict[str, str] = {}

    # -- plumbing -----------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.url, headers=self.headers, timeout=self.timeout_s
            )
        return self._http

    def _req(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._client().request(method, path, **kw)
        except httpx.TransportError as exc:
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"moonraker {self.url}{path}: {exc!r}") from exc
        if resp.status_code in (401, 403):
            raise DeliveryRejected(f"moonraker {path}: HTTP {resp.status_code} {resp.text[:120]}")
        if resp.status_code >= 500:
            raise TransportUnavailable(f"moonraker {path}: HTTP {resp.status_code} {resp.text}")
        self._state = ConnectionState.CONNECTED
        return resp

    def _result(self, method: str, path: str, **kw: Any) -> Any:
        """The ``result`` of a call that must succeed (Moonraker wraps answers in it)."""
        resp = self._req(method, path, **kw)
        if resp.status_code != 200:
            raise DeliveryRejected(f"moonraker {path}: HTTP {resp.status_code} {resp.text[:200]}")
        return resp.json()["result"]

    def close(self) -> None:
        if self._feed is not None:
            self._feed.stop()
            self._feed = None
        if self._http is not None:
            self._http.close()
            self._http = None
        self._state = ConnectionState.DISCONNECTED

    def connect(self) -> None:
        """Reach Moonraker; Klippy's own state is checked by ``start``, not here."""
        self._state = ConnectionState.CONNECTING
        self._result("GET", "/printer/info")

    # -- delivery -----------------------------------------------------------------
    @staticmethod
    def file_name(job_id: str) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id)
        return f"{safe}.gcode"

    @staticmethod
    def job_id_of(filename: str) -> str:
        return filename[: -len(".gcode")] if filename.endswith(".gcode") else filename

    def _metadata(self, name: str) -> dict[str, Any] | None:
        resp = self._req("GET", "/server/files/metadata", params={"filename": name})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise DeliveryRejected(f"moonraker metadata {name}: HTTP {resp.status_code}")
        return dict(resp.json()["result"])

    def _sha256_on_printer(self, name: str) -> str:
        """Moonraker reports no file hash, so hash the stored bytes as they stream in."""
        digest = hashlib.sha256()
        try:
            with self._client().stream("GET", f"/server/files/gcodes/{quote(name)}") as resp:
                if resp.status_code != 200:
                    raise TransportUnavailable(f"moonraker download {name}: {resp.status_code}")
                for chunk in resp.iter_bytes():
                    digest.update(chunk)
        except httpx.TransportError as exc:
            raise TransportUnavailable(f"moonraker download {name}: {exc!r}") from exc
        return digest.hexdigest()

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        gcode = gcode_of(packet)
        job_id = packet.job.job_order_id
        name = self.file_name(job_id)
        sha = hashlib.sha256(gcode).hexdigest()
        meta = self._metadata(name)
        if meta is not None:
            if meta.get("size") == len(gcode) and self._sha256_on_printer(name) == sha:
                return DeliveryReceipt(
                    self.name, job_id, idempotency_key, now_utc(), name, duplicate=True
                )
            raise DeliveryRejected(f"moonraker already holds a different {name}")
        resp = self._req(
            "POST",
            "/server/files/upload",
            files={"file": (name, gcode, "application/octet-stream")},
            data={"root": "gcodes", "checksum": sha},  # no print=true: upload never starts
        )
        if resp.status_code == 422:  # corrupted on the way; a resend can succeed
            raise TransportUnavailable(f"moonraker upload {name}: checksum mismatch")
        if resp.status_code != 201:
            raise DeliveryRejected(f"moonraker upload {name}: HTTP {resp.status_code} {resp.text}")
        return DeliveryReceipt(self.name, job_id, idempotency_key, now_utc(), name)

    # -- state ----------------------------------------------------------------------
    def _objects(self, *names: str) -> Objects:
        result = self._result("GET", f"/printer/objects/query?{'&'.join(names)}")
        return dict(result["status"])

    def _print_stats(self) -> dict[str, Any]:
        return dict(self._objects("print_stats").get("print_stats", {}))

    def _history_of(self, name: str, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """The file's last history job: by the metadata's ``job_id``, else by a list scan."""
        uid = meta.get("job_id")
        if uid:
            resp = self._req("GET", "/server/history/job", params={"uid": uid})
            if resp.status_code == 200:
                return dict(resp.json()["result"]["job"])
        jobs = self._result("GET", "/server/history/list", params={"limit": 200, "order": "desc"})
        for job in jobs.get("jobs", []):
            if job.get("filename") == name:
                return dict(job)
        return None

    def read_state(self, job_id: str) -> JobState:
        """Moonraker's truth: the file, the live ``print_stats`` and the job history."""
        name = self.file_name(job_id)
        meta = self._metadata(name)
        if meta is None:
            return JobState.NOT_ALLOWED_TO_START
        ps = self._print_stats()
        if ps.get("filename") == name and ps.get("state") in PRINT_STATES:
            return PRINT_STATES[str(ps["state"])]
        job = self._history_of(name, meta)
        if job is not None:
            status = job.get("status")
            if status == "completed":
                return JobState.ENDED
            if status in _ABORTED:
                return JobState.ABORTED
            return JobState.RUNNING  # in_progress (or unknown): started, must not resend
        if meta.get("job_id") or meta.get("print_start_time"):
            return JobState.ABORTED  # printed once, history pruned: never start it again
        return JobState.ALLOWED_TO_START

    def progress(self, job_id: str) -> tuple[JobState, float | None]:
        """State plus completion % while this job is loaded (for status polling)."""
        state = self.read_state(job_id)
        if state not in (JobState.RUNNING, JobState.INTERRUPTED):
            return state, 100.0 if state is JobState.ENDED else None
        sd = self._objects("virtual_sdcard").get("virtual_sdcard", {})
        value = sd.get("progress")
        return state, float(value) * 100 if isinstance(value, int | float) else None

    # -- start ----------------------------------------------------------------------
    def start(self, job_id: str) -> StartResult:
        """Read first; send only for a never-printed file on an idle, ready printer."""
        state = self.read_state(job_id)
        if state is JobState.NOT_ALLOWED_TO_START:
            raise NotReady(f"moonraker has no file for {job_id} yet")
        if state is not JobState.ALLOWED_TO_START:
            return StartResult(job_id, False, state, "reconciled: printer history shows it")
        klippy = self._result("GET", "/printer/info")
        if klippy.get("state") != "ready":
            raise NotReady(f"klippy is {klippy.get('state')}: {klippy.get('state_message', '')}")
        ps = self._print_stats()
        if ps.get("state") not in IDLE_STATES:
            raise NotReady(f"printer busy: {ps.get('state')} {ps.get('filename', '')}".strip())
        name = self.file_name(job_id)
        try:
            resp = self._client().post("/printer/print/start", params={"filename": name})
        except httpx.TransportError as exc:
            return self._reconcile_uncertain(job_id, exc)
        if resp.status_code == 400:  # Klipper refused, e.g. "SD busy" after a race
            raise NotReady(f"moonraker refused start of {name}: {resp.text[:200]}")
        if resp.status_code in (401, 403):
            raise DeliveryRejected(f"moonraker start: HTTP {resp.status_code} (API key?)")
        if resp.status_code >= 500:
            return self._reconcile_uncertain(job_id, f"HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise DeliveryRejected(f"moonraker start {name}: HTTP {resp.status_code}")
        return StartResult(job_id, True, self._confirm(name), "sent /printer/print/start")

    def _confirm(self, name: str) -> JobState:
        """Poll ``print_stats`` until Klipper shows the file loaded (a short print may end)."""
        end = time.monotonic() + self.confirm_s
        while time.monotonic() < end:
            try:
                ps = self._print_stats()
            except TransportUnavailable:
                break  # the start was acknowledged; status polling will see the rest
            if ps.get("filename") == name and ps.get("state") in PRINT_STATES:
                return PRINT_STATES[str(ps["state"])]
            time.sleep(self.poll_s)
        return JobState.RUNNING

    def _reconcile_uncertain(self, job_id: str, cause: object) -> StartResult:
        """The start may or may not have reached Klipper: read the printer, never resend."""
        end = time.monotonic() + self.confirm_s
        last = f"{cause!r}"
        while time.monotonic() < end:
            try:
                state = self.read_state(job_id)
            except TransportUnavailable as exc:
                last = str(exc)
            else:
                if state in STARTED_STATES or state is JobState.ABORTED:
                    return StartResult(job_id, True, state, "start answer lost; printer confirms")
                last = f"printer shows {state.value}"
            time.sleep(self.poll_s)
        raise TransportUnavailable(
            f"start of {job_id} uncertain ({last}); the next start reads the printer first"
        )

    # -- control of the running job -------------------------------------------------
    def _current(self, job_id: str, verb: str) -> dict[str, Any]:
        """Guard: pause/resume/cancel/exclude act only on this job while it is loaded."""
        ps = self._print_stats()
        active = ps.get("state") in ("printing", "paused")
        if not active or ps.get("filename") != self.file_name(job_id):
            raise DeliveryRejected(
                f"cannot {verb} {job_id}: printer shows {ps.get('state')} {ps.get('filename', '')}"
            )
        return ps

    def _post_ok(self, path: str, **kw: Any) -> None:
        resp = self._req("POST", path, **kw)
        if resp.status_code != 200:
            raise DeliveryRejected(f"moonraker {path}: HTTP {resp.status_code} {resp.text[:200]}")

    def pause(self, job_id: str) -> None:
        self._current(job_id, "pause")
        self._post_ok("/printer/print/pause")

    def resume(self, job_id: str) -> None:
        self._current(job_id, "resume")
        self._post_ok("/printer/print/resume")

    def cancel(self, job_id: str) -> None:
        """Cancel only this job; a job already aborted is left as it is."""
        try:
            self._current(job_id, "cancel")
        except DeliveryRejected:
            if self.read_state(job_id) is JobState.ABORTED:
                return
            raise
        self._post_ok("/printer/print/cancel")

    def exclude_object(self, job_id: str, object_name: str) -> None:
        """Skip one object of the running plate: a validated name, never raw user text."""
        if not OBJECT_NAME.fullmatch(object_name):
            raise DeliveryRejected(f"object name {object_name!r} is not [A-Za-z0-9_.-]{{1,64}}")
        self._current(job_id, "exclude an object of")
        wanted = object_name.upper()
        excl = self._objects("exclude_object").get("exclude_object", {})
        known = {str(o.get("name", "")).upper() for o in excl.get("objects", [])}
        if wanted not in known:
            raise DeliveryRejected(f"{job_id} defines no object {wanted}; known: {sorted(known)}")
        if wanted in excl.get("excluded_objects", []):
            return
        self._post_ok("/printer/gcode/script", params={"script": f"EXCLUDE_OBJECT NAME={wanted}"})
        after = self._objects("exclude_object").get("exclude_object", {})
        if wanted not in after.get("excluded_objects", []):
            raise DeliveryRejected(f"klipper did not record {wanted} as excluded")

    # -- status ---------------------------------------------------------------------
    def status(self) -> PrinterStatus:
        """From the websocket subscription; a one-shot HTTP query while it is down."""
        first = self._feed is None
        if self._feed is None:
            ws_url = "ws" + self.url.removeprefix("http") + "/websocket"  # http->ws, https->wss
            self._feed = StatusFeed(ws_url, self.headers, open_timeout_s=self.timeout_s)
            self._feed.start()
        if first:
            self._feed.wait_connected(min(2.0, self.timeout_s))
        objects = self._feed.snapshot()
        if objects is None:
            try:
                objects = self._objects(*STATUS_OBJECTS)
            except TransportUnavailable as exc:
                return PrinterStatus(
                    self.machine_id,
                    ConnectionState.FAILED,
                    JobState.UNKNOWN,
                    error=str(exc),
                    read_at=now_utc(),
                )
        filename = str(objects.get("print_stats", {}).get("filename") or "")
        return to_printer_status(
            self.machine_id,
            objects,
            ConnectionState.CONNECTED,
            self.job_id_of,
            self._material(filename),
            now_utc(),
        )

    def _material(self, filename: str) -> str:
        """The slicer's filament type from the file metadata, cached per file."""
        if filename and filename not in self._materials:
            try:
                meta = self._metadata(filename) or {}
            except (TransportUnavailable, DeliveryRejected):
                return ""
            self._materials[filename] = str(meta.get("filament_type") or "")
        return self._materials.get(filename, "")


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport | None:
    """Moonraker at the configured URL (optional ``api_key``); None without a URL."""
    if not config.get("url"):
        return None
    return MoonrakerTransport(
        str(config["url"]),
        str(config.get("api_key") or ""),
        machine_id=machine_id,
        timeout_s=float(config.get("timeout_s", 10.0)),
    )
