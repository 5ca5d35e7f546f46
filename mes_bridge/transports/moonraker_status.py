"""Moonraker live status: the websocket subscription feed and its mapping to PrinterStatus.

Moonraker pushes ``notify_status_update`` deltas for the objects a client subscribed to
(``printer.objects.subscribe`` on ``/websocket``), so the fleet board reads a local cache
kept by one thread per printer instead of polling it; the transport falls back to an
HTTP ``/printer/objects/query`` while the socket is down. The feed reconnects by itself
and re-subscribes (a Moonraker restart drops every socket).
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from mes_bridge.transports.base import ConnectionState, JobState, PrinterStatus

#: What the fleet board needs, per Klipper printer object (None would mean every field).
STATUS_OBJECTS: dict[str, list[str] | None] = {
    "webhooks": ["state", "state_message"],
    "print_stats": ["state", "filename", "print_duration", "message"],
    "virtual_sdcard": ["progress", "is_active"],
    "display_status": ["progress", "message"],
    "extruder": ["temperature", "target"],
    "heater_bed": ["temperature", "target"],
}
#: ``print_stats.state`` in the job-order vocabulary; ``standby`` has no job.
PRINT_STATES = {
    "printing": JobState.RUNNING,
    "paused": JobState.INTERRUPTED,
    "complete": JobState.ENDED,
    "cancelled": JobState.ABORTED,
    "error": JobState.ABORTED,
}
#: States in which Klipper accepts a new print (``error`` needs an operator first).
IDLE_STATES = frozenset({"standby", "complete", "cancelled"})

Objects = dict[str, dict[str, Any]]


def merge(cache: Objects, delta: Mapping[str, Mapping[str, Any]]) -> None:
    """Apply one ``notify_status_update``: each object carries only its changed fields."""
    for name, fields in delta.items():
        cache.setdefault(name, {}).update(fields)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def to_printer_status(
    machine_id: str,
    objects: Objects,
    connection: ConnectionState,
    job_id_of: Callable[[str], str],
    material: str = "",
    read_at: datetime | None = None,
) -> PrinterStatus:
    """The board's words for Klipper's objects; progress prefers M73 (display_status)."""
    ps = objects.get("print_stats", {})
    state = str(ps.get("state", ""))
    filename = str(ps.get("filename") or "")
    progress = _num(objects.get("display_status", {}).get("progress"))
    if progress is None:
        progress = _num(objects.get("virtual_sdcard", {}).get("progress"))
    if state == "complete":
        progress = 1.0
    duration = _num(ps.get("print_duration")) or 0.0
    eta = None
    if state == "printing" and progress and 0 < progress < 1 and duration > 0:
        eta = duration * (1 - progress) / progress
    hooks = objects.get("webhooks", {})
    klippy = str(hooks.get("state", "ready"))
    error = ""
    if klippy != "ready":
        error = f"klippy {klippy}: {hooks.get('state_message', '')}".strip(": ")
    elif state == "error":
        error = str(ps.get("message") or "print error")
    return PrinterStatus(
        machine_id=machine_id,
        connection=connection,
        job_state=PRINT_STATES.get(state, JobState.UNKNOWN) if filename else JobState.UNKNOWN,
        job_id=job_id_of(filename) if filename else "",
        progress=progress if filename else None,
        eta_s=eta,
        nozzle_c=_num(objects.get("extruder", {}).get("temperature")),
        bed_c=_num(objects.get("heater_bed", {}).get("temperature")),
        material=material,
        error=error,
        read_at=read_at,
    )


class StatusFeed:
    """One websocket subscription kept alive in a daemon thread; a snapshot on demand."""

    def __init__(
        self,
        ws_url: str,
        headers: Mapping[str, str],
        objects: Mapping[str, list[str] | None] = STATUS_OBJECTS,
        open_timeout_s: float = 5.0,
        retry_s: float = 0.5,
    ) -> None:
        self.ws_url, self.headers, self.objects = ws_url, dict(headers), dict(objects)
        self.open_timeout_s, self.retry_s = open_timeout_s, retry_s
        self.updates = 0  # notifications applied (tests and diagnostics)
        self.sessions = 0  # successful subscriptions, one per (re)connection
        self.last_error = ""
        self._cache: Objects = {}
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self.updated_at = 0.0

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="moonraker-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.open_timeout_s + 2)
            self._thread = None
        self._connected.clear()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def snapshot(self) -> Objects | None:
        """The subscribed objects as last pushed, or None while the socket is down."""
        if not self._connected.is_set():
            return None
        with self._lock:
            return copy.deepcopy(self._cache)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(
                    self.ws_url,
                    additional_headers=self.headers,
                    open_timeout=self.open_timeout_s,
                    close_timeout=1,
                ) as ws:
                    self._session(ws)
            except (OSError, TimeoutError, WebSocketException, ValueError, KeyError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._connected.clear()
            self._stop.wait(self.retry_s)

    def _session(self, ws: Connection) -> None:
        rid = next(self._ids)
        request = {"objects": self.objects}
        ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "printer.objects.subscribe",
                    "params": request,
                    "id": rid,
                }
            )
        )
        while not self._stop.is_set():
            try:
                raw = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            msg = json.loads(raw)
            if msg.get("id") == rid:
                if "error" in msg:
                    raise ValueError(f"subscribe refused: {msg['error']}")
                with self._lock:
                    self._cache = dict(msg["result"]["status"])
                self.sessions += 1
                self.updated_at = time.monotonic()
                self._connected.set()
            elif msg.get("method") == "notify_status_update":
                with self._lock:
                    merge(self._cache, msg["params"][0])
                self.updates += 1
                self.updated_at = time.monotonic()
            elif msg.get("method") in ("notify_klippy_disconnected", "notify_klippy_shutdown"):
                with self._lock:
                    merge(self._cache, {"webhooks": {"state": "shutdown", "state_message": ""}})
