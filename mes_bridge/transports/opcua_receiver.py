"""An ISA-95 job-control receiver served over OPC UA, in the manner of OPC 10031-4.

The server runs in a thread with its own asyncio loop (``start()``/``stop()``), bound
to loopback on a free port unless told otherwise. It exposes
``Objects/JobControl`` with the methods Store, StoreAndStart, Start, Pause, Resume,
Abort, Cancel and Clear (each returns a ReturnStatus UInt64, 0 = success) and
``Objects/JobControl/JobOrders/<id>/State`` holding the job-order state
(NotAllowedToStart, AllowedToStart, Running, Interrupted, Ended, Aborted). A
shop-floor client pulls work by browsing JobOrders and reports progress with
``ReportState`` (AllowedToStart -> Running -> Ended, Running <-> Interrupted).
Store is idempotent for identical content, so a re-delivery is harmless.
"""

from __future__ import annotations

import asyncio
import enum
import socket
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asyncua import Server, ua
from asyncua.common.methods import uamethod

from mes_bridge.packets import B2MML_NS, load_schema, validate_b2mml

NAMESPACE = "urn:hunar:isa95-job-control"


class ReturnStatus(enum.IntEnum):
    """Bit-coded result, modelled on OPC 10031-4 ISA95JobControl method results."""

    OK = 0
    UNKNOWN_JOB_ORDER_ID = 1
    INVALID_JOB_ORDER_STATUS = 2
    UNABLE_TO_ACCEPT_JOB_ORDER = 4
    INVALID_REQUEST = 8


S_NOT_ALLOWED = "NotAllowedToStart"
S_ALLOWED = "AllowedToStart"
S_RUNNING = "Running"
S_INTERRUPTED = "Interrupted"
S_ENDED = "Ended"
S_ABORTED = "Aborted"

# command -> (states it is allowed from, resulting state; None means removed)
_COMMANDS: dict[str, tuple[frozenset[str], str | None]] = {
    "Start": (frozenset({S_NOT_ALLOWED}), S_ALLOWED),
    "Pause": (frozenset({S_RUNNING}), S_INTERRUPTED),
    "Resume": (frozenset({S_INTERRUPTED}), S_RUNNING),
    "Abort": (frozenset({S_ALLOWED, S_RUNNING, S_INTERRUPTED}), S_ABORTED),
    "Cancel": (frozenset({S_NOT_ALLOWED, S_ALLOWED}), None),
    "Clear": (frozenset({S_ENDED, S_ABORTED}), None),
}
# machine-side reports: new state -> allowed previous states
_REPORTS: dict[str, frozenset[str]] = {
    S_RUNNING: frozenset({S_ALLOWED, S_INTERRUPTED}),
    S_INTERRUPTED: frozenset({S_RUNNING}),
    S_ENDED: frozenset({S_RUNNING}),
    S_ABORTED: frozenset({S_RUNNING, S_INTERRUPTED}),
}

StateListener = Callable[[str, str, str], None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def job_id_of(xml_text: str) -> str | None:
    """The ``JobOrder/ID`` of a B2MML document, or None if it is not one."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None
    if root.tag != f"{{{B2MML_NS}}}JobOrder":
        return None
    ident = root.find(f"{{{B2MML_NS}}}ID")
    return ident.text.strip() if ident is not None and ident.text else None


@dataclass
class _Job:
    xml: str
    state: str
    node: object = None
    var: object = None


@dataclass
class ReceiverStats:
    """What happened on the receiver, for tests proving at-most-once behaviour."""

    calls: Counter[str] = field(default_factory=Counter)
    transitions: Counter[str] = field(default_factory=Counter)


class JobControlReceiver:
    """The OPC UA server side; thread-safe accessors read the in-memory truth."""

    def __init__(
        self,
        port: int = 0,
        on_state: StateListener | None = None,
        schema_dir: Path | None = None,
    ) -> None:
        """``schema_dir`` (the B2MML XSDs) makes Store refuse documents that do not validate."""
        self.schema_dir = schema_dir
        self.rejected: list[str] = []
        self.port = port or free_port()
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/hunar/"
        self.on_state = on_state
        self.stats = ReceiverStats()
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._idx = 0
        self._alock: asyncio.Lock | None = None

    # -- lifecycle --------------------------------------------------------------
    def start(self, timeout_s: float = 60.0) -> None:
        self._thread = threading.Thread(target=self._run, name="opcua-receiver", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise RuntimeError(f"OPC UA receiver failed to start on {self.endpoint}: {self._error}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._thread = None

    def __enter__(self) -> JobControlReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), never swallowed
            self._error = exc
            self._ready.set()
            raise
        finally:
            loop.close()

    async def _serve(self) -> None:
        if self.schema_dir is not None:
            load_schema(self.schema_dir)  # compile before serving, not on the first Store
        self._stop = asyncio.Event()
        self._alock = asyncio.Lock()
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Hunar ISA-95 job-control receiver")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self._idx = await server.register_namespace(NAMESPACE)
        await self._build(server)
        async with server:
            self._ready.set()
            await self._stop.wait()

    async def _build(self, server: Server) -> None:
        idx = self._idx
        self._control = await server.nodes.objects.add_object(idx, "JobControl")
        self._folder = await self._control.add_folder(idx, "JobOrders")
        s, u = ua.VariantType.String, ua.VariantType.UInt64
        await self._control.add_method(idx, "Store", self._m_store, [s, s], [u])
        await self._control.add_method(idx, "StoreAndStart", self._m_store_start, [s, s], [u])
        for name in _COMMANDS:
            await self._control.add_method(idx, name, self._command_method(name), [s, s], [u])
        await self._control.add_method(idx, "ReportState", self._m_report, [s, s], [u])

    # -- methods ----------------------------------------------------------------
    async def _store(self, xml_text: str, state: str) -> int:
        assert self._alock is not None, "made in _serve, before any method is callable"
        async with self._alock:  # check-then-create must not interleave with another call
            return await self._store_locked(xml_text, state)

    async def _store_locked(self, xml_text: str, state: str) -> int:
        job_id = job_id_of(xml_text)
        if job_id is None:
            self.rejected.append("not a B2MML JobOrder document")
            return ReturnStatus.INVALID_REQUEST
        if self.schema_dir is not None:
            errors = validate_b2mml(xml_text.encode("utf-8"), self.schema_dir)
            if errors:
                self.rejected.append(f"{job_id}: {errors[0]}")
                return ReturnStatus.INVALID_REQUEST
        with self._lock:
            existing = self._jobs.get(job_id)
        if existing is not None:
            same = existing.xml == xml_text
            return ReturnStatus.OK if same else ReturnStatus.UNABLE_TO_ACCEPT_JOB_ORDER
        node = await self._folder.add_object(self._idx, job_id)
        var = await node.add_variable(self._idx, "State", state)
        await node.add_variable(self._idx, "JobOrder", xml_text)
        with self._lock:
            self._jobs[job_id] = _Job(xml_text, state, node, var)
        self._notify(job_id, "", state)
        return ReturnStatus.OK

    @uamethod
    async def _m_store(self, _parent: object, xml_text: str, _comment: str) -> int:
        self.stats.calls["Store"] += 1
        return int(await self._store(xml_text, S_NOT_ALLOWED))

    @uamethod
    async def _m_store_start(self, _parent: object, xml_text: str, _comment: str) -> int:
        self.stats.calls["StoreAndStart"] += 1
        return int(await self._store(xml_text, S_ALLOWED))

    def _command_method(self, name: str) -> Callable[..., object]:
        @uamethod
        async def handler(_parent: object, job_id: str, _comment: str) -> int:
            self.stats.calls[name] += 1
            allowed, target = _COMMANDS[name]
            return int(await self._transition(job_id, allowed, target, name))

        return handler

    @uamethod
    async def _m_report(self, _parent: object, job_id: str, new_state: str) -> int:
        self.stats.calls["ReportState"] += 1
        if new_state not in _REPORTS:
            return int(ReturnStatus.INVALID_REQUEST)
        return int(await self._transition(job_id, _REPORTS[new_state], new_state, new_state))

    async def _transition(
        self, job_id: str, allowed: frozenset[str], target: str | None, label: str
    ) -> ReturnStatus:
        assert self._alock is not None, "made in _serve, before any method is callable"
        async with self._alock:
            return await self._transition_locked(job_id, allowed, target, label)

    async def _transition_locked(
        self, job_id: str, allowed: frozenset[str], target: str | None, label: str
    ) -> ReturnStatus:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return ReturnStatus.UNKNOWN_JOB_ORDER_ID
            old = job.state
            if old not in allowed:
                return ReturnStatus.INVALID_JOB_ORDER_STATUS
            if target is None:
                del self._jobs[job_id]
            else:
                job.state = target
        if target is None:
            await job.node.delete(recursive=True)  # type: ignore[attr-defined]
        else:
            await job.var.write_value(target)  # type: ignore[attr-defined]
        self.stats.transitions[label] += 1
        self._notify(job_id, old, target or "Removed")
        return ReturnStatus.OK

    def _notify(self, job_id: str, old: str, new: str) -> None:
        if self.on_state is not None:
            self.on_state(job_id, old, new)

    # -- accessors for the host process ----------------------------------------
    def state_of(self, job_id: str) -> str | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.state if job else None

    def job_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._jobs)

    def stored_xml(self, job_id: str) -> str | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.xml if job else None
