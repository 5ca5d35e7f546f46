"""A PROTOCOL STAND-IN for Moonraker + Klipper, written from Moonraker's published API docs.

Klipper and Moonraker are not installable from any registry reachable here, so this is not
the real server. It implements the subset of the documented API the Moonraker transport
uses (Arksine/moonraker docs/external_api/{file_manager,printer,history,
jsonrpc_notifications}.md and docs/printer_objects.md), on aiohttp in a background thread:

* ``POST /server/files/upload`` (multipart ``file``/``root``/``path``/``checksum``/``print``;
  a SHA-256 mismatch answers 422, a file that is loaded for printing answers 403),
  ``GET /server/files/list``, ``/server/files/metadata``, ``/server/files/gcodes/<name>``;
* ``GET /printer/info``, ``GET|POST /printer/objects/query``, ``/printer/objects/list``,
  ``POST /printer/print/start|pause|resume|cancel``, ``POST /printer/gcode/script``
  (``EXCLUDE_OBJECT`` only, names upper-cased as Klipper does);
* ``GET /server/history/list`` and ``/server/history/job``;
* ``/websocket`` JSON-RPC: ``printer.objects.subscribe`` with ``notify_status_update``
  deltas, ``printer.objects.query``, ``printer.info``;
* objects ``print_stats``, ``virtual_sdcard``, ``extruder``, ``heater_bed``,
  ``display_status``, ``exclude_object`` (from ``EXCLUDE_OBJECT_DEFINE`` lines), ``webhooks``.

A print walks the file's lines over ``print_s`` seconds and counts the moves of every
object (so a test can see an excluded object stop while the others go on). Files, history
and file metadata persist in ``data_dir`` like Moonraker's database: after ``reboot()`` an
in-progress job is marked ``interrupted``. ``network_down()`` stops listening while the
print goes on. Not implemented: authorization beyond one ``X-Api-Key``, JWT, the job queue,
thumbnails, real G-code execution, Klipper's own error states beyond ``SD busy``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

IDLE_C = 25.0
TICK_S = 0.05


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _err(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message}}, status=status)


def _ok(result: Any) -> web.Response:
    return web.json_response({"result": result})


class MoonrakerStandIn:
    """One simulated printer; public methods are called from the test thread."""

    def __init__(self, data_dir: Path, *, api_key: str = "", print_s: float = 1.5) -> None:
        self.data_dir, self.api_key, self.print_s = data_dir, api_key, print_s
        self.gcodes = data_dir / "gcodes"
        self.gcodes.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_requests: Counter[str] = Counter()  # POST /printer/print/start per file
        self.object_moves: dict[str, Counter[str]] = {}  # file -> object -> moves printed
        self.uploads: list[dict[str, str]] = []  # form fields of every upload
        self.scripts: list[str] = []  # every /printer/gcode/script received
        self.lose_next_start = ""  # "answer": drop the reply; "network": also go offline
        self.subscriptions = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._clients: dict[web.WebSocketResponse, dict[str, Any]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._reset_printer()

    # -- test-facing controls -------------------------------------------------------
    def start(self) -> MoonrakerStandIn:
        """Boot and wait until Klippy is ready (a fixture wants a usable printer)."""
        self._thread.start()
        self.power_on()
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 5.0) -> None:
        end = time.monotonic() + timeout_s
        while self._klippy != "ready":
            if time.monotonic() > end:
                raise RuntimeError("stand-in Klippy never became ready")
            time.sleep(0.02)

    def close(self) -> None:
        self.power_off()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def power_off(self) -> None:
        """The printer host loses power: network gone, print gone, memory gone."""
        self._call(self._power_off())

    def power_on(self, startup_s: float = 0.2) -> None:
        """Boot: reload files and database from disk, Klippy ready after ``startup_s``."""
        self._call(self._power_on(startup_s))

    def reboot(self, offline_s: float = 0.3) -> None:
        self.power_off()
        time.sleep(offline_s)
        self.power_on()

    def network_down(self) -> None:
        """Stop listening and drop every connection; Klipper keeps printing."""
        self._call(self._network_down())

    def network_up(self) -> None:
        self._call(self._network_up())

    def history(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._db["history"])

    def print_stats(self) -> dict[str, Any]:
        return dict(self._ps)

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    # -- state ----------------------------------------------------------------------
    def _reset_printer(self) -> None:
        self._klippy = "startup"
        self._ps: dict[str, Any] = {
            "filename": "",
            "total_duration": 0.0,
            "print_duration": 0.0,
            "filament_used": 0.0,
            "state": "standby",
            "message": "",
            "info": {"total_layer": None, "current_layer": None},
        }
        self._vsd: dict[str, Any] = {
            "file_path": None,
            "progress": 0.0,
            "is_active": False,
            "file_position": 0,
            "file_size": 0,
        }
        self._heat = {"extruder": [IDLE_C, 0.0], "heater_bed": [IDLE_C, 0.0]}
        self._excl: dict[str, Any] = {"objects": [], "excluded_objects": [], "current_object": None}
        self._lines: list[str] = []
        self._pos = 0
        self._paused = False
        self._job_id = ""

    def _db_path(self) -> Path:
        return self.data_dir / "moonraker-db.json"

    def _load_db(self) -> None:
        path = self._db_path()
        self._db: dict[str, Any] = (
            json.loads(path.read_text()) if path.exists() else {"history": [], "metadata": {}}
        )

    def _save_db(self) -> None:
        tmp = self._db_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(self._db))
        os.replace(tmp, self._db_path())  # atomic, like a database commit

    def _objects(self) -> dict[str, dict[str, Any]]:
        progress = float(self._vsd["progress"])
        ext, bed = self._heat["extruder"], self._heat["heater_bed"]
        return {
            "webhooks": {"state": self._klippy, "state_message": f"Printer is {self._klippy}"},
            "print_stats": copy.deepcopy(self._ps),
            "virtual_sdcard": dict(self._vsd),
            "extruder": {"temperature": round(ext[0], 2), "target": ext[1], "power": 0.0},
            "heater_bed": {"temperature": round(bed[0], 2), "target": bed[1], "power": 0.0},
            "display_status": {"message": "", "progress": progress},
            "exclude_object": copy.deepcopy(self._excl),
        }

    def _query(self, wanted: dict[str, Any]) -> dict[str, Any]:
        have = self._objects()
        out: dict[str, Any] = {}
        for name, fields in wanted.items():
            if name in have:  # unknown objects are omitted, no error (as documented)
                obj = have[name]
                out[name] = obj if not fields else {k: obj[k] for k in fields if k in obj}
        return out

    # -- lifecycle (loop thread) ------------------------------------------------------
    async def _power_on(self, startup_s: float) -> None:
        self._reset_printer()
        self._load_db()
        for job in self._db["history"]:
            if job["status"] == "in_progress":  # Moonraker died while it was printing
                job["status"], job["end_time"] = "interrupted", None
        self._save_db()
        await self._network_up()
        self._ticker = asyncio.ensure_future(self._tick_forever())
        self._loop.call_later(startup_s, self._set_ready)

    def _set_ready(self) -> None:
        self._klippy = "ready"

    async def _power_off(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self._network_down()
        self._reset_printer()

    async def _network_up(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(middlewares=[self._auth], client_max_size=256 * 1024**2)
        app.on_shutdown.append(self._close_sockets)
        r = app.router
        r.add_post("/server/files/upload", self._upload)
        r.add_get("/server/files/list", self._list)
        r.add_get("/server/files/metadata", self._metadata)
        r.add_get("/server/files/gcodes/{name:.+}", self._download)
        r.add_get("/server/history/list", self._history_list)
        r.add_get("/server/history/job", self._history_job)
        r.add_get("/printer/info", self._info)
        r.add_get("/printer/objects/list", self._objects_list)
        r.add_route("*", "/printer/objects/query", self._objects_query)
        r.add_post("/printer/print/{verb}", self._print_verb)
        r.add_post("/printer/gcode/script", self._script)
        r.add_get("/websocket", self._websocket)
        runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self._runner = runner

    async def _network_down(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._clients):
            await ws.close(code=1001, message=b"going away")

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.api_key and request.headers.get("X-Api-Key") != self.api_key:
            return _err(401, "Unauthorized")
        resp: web.StreamResponse = await handler(request)
        return resp

    # -- simulated Klipper ----------------------------------------------------------
    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for temp_target in self._heat.values():
                goal = temp_target[1] or IDLE_C
                temp_target[0] += (goal - temp_target[0]) * 0.5
            if self._ps["state"] == "printing" and not self._paused:
                self._advance()
            await self._push()

    def _advance(self) -> None:
        ticks = max(1.0, self.print_s / TICK_S)
        step = max(1, math.ceil(len(self._lines) / ticks))
        moves = self.object_moves.setdefault(self._ps["filename"], Counter())
        for line in self._lines[self._pos : self._pos + step]:
            self._execute(line.strip(), moves)
        self._pos += step
        self._ps["print_duration"] += TICK_S
        self._ps["total_duration"] += TICK_S
        done = min(1.0, self._pos / max(1, len(self._lines)))
        self._vsd.update(progress=round(done, 4), file_position=int(done * self._vsd["file_size"]))
        if self._pos >= len(self._lines):
            self._finish("complete", "completed")

    def _execute(self, line: str, moves: Counter[str]) -> None:
        words = line.split(";", 1)[0].split()
        if not words:
            return
        cmd, args = words[0].upper(), dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if cmd == "EXCLUDE_OBJECT_START":
            self._excl["current_object"] = args.get("NAME", "").upper()
        elif cmd == "EXCLUDE_OBJECT_END":
            self._excl["current_object"] = None
        elif cmd in ("M104", "M109", "M140", "M190"):
            temp = next((float(w[1:]) for w in words[1:] if w[:1] in "Ss"), 0.0)
            self._heat["extruder" if cmd in ("M104", "M109") else "heater_bed"][1] = temp
        elif cmd in ("G0", "G1"):
            current = self._excl["current_object"]
            if current not in self._excl["excluded_objects"]:
                moves[current or ""] += 1

    def _start_print(self, filename: str) -> None:
        data = (self.gcodes / filename).read_bytes()
        self._lines = data.decode(errors="replace").splitlines()
        self._pos, self._paused = 0, False
        names = []
        for line in self._lines:
            words = line.split()
            if words and words[0].upper() == "EXCLUDE_OBJECT_DEFINE":
                args = dict(w.split("=", 1) for w in words[1:] if "=" in w)
                names.append(args.get("NAME", "").upper())
        self._excl = {
            "objects": [{"name": n} for n in names if n],
            "excluded_objects": [],
            "current_object": None,
        }
        self._ps.update(filename=filename, state="printing", message="", print_duration=0.0)
        self._ps["total_duration"] = 0.0
        self._vsd.update(
            file_path=str(self.gcodes / filename), progress=0.0, is_active=True, file_size=len(data)
        )
        self._vsd["file_position"] = 0
        job_id = f"{len(self._db['history']) + 1:06X}"
        meta = self._db["metadata"].setdefault(filename, {})
        meta.update(job_id=job_id, print_start_time=time.time())
        self._db["history"].append(
            {
                "job_id": job_id,
                "exists": True,
                "filename": filename,
                "status": "in_progress",
                "start_time": time.time(),
                "end_time": None,
                "print_duration": 0.0,
                "total_duration": 0.0,
                "filament_used": 0.0,
                "metadata": {
                    k: v for k, v in meta.items() if k not in ("job_id", "print_start_time")
                },
            }
        )
        self._job_id = job_id
        self._save_db()  # the history entry is durable before the start is answered

    def _finish(self, state: str, status: str) -> None:
        self._ps["state"] = state
        self._vsd["is_active"] = False
        self._excl["current_object"] = None
        for h in self._heat.values():
            h[1] = 0.0
        for job in self._db["history"]:
            if job["job_id"] == self._job_id:
                job.update(
                    status=status,
                    end_time=time.time(),
                    print_duration=self._ps["print_duration"],
                    total_duration=self._ps["total_duration"],
                )
        self._save_db()

    async def _push(self) -> None:
        for ws, sub in list(self._clients.items()):
            if not sub["objects"]:
                continue
            now = self._query(sub["objects"])
            delta: dict[str, Any] = {}
            for name, fields in now.items():
                before = sub["last"].get(name, {})
                changed = {k: v for k, v in fields.items() if before.get(k) != v}
                if changed:
                    delta[name] = changed
            if delta:
                sub["last"] = now
                msg = {"jsonrpc": "2.0", "method": "notify_status_update"}
                msg["params"] = [delta, time.monotonic()]
                try:
                    await ws.send_json(msg)
                except ConnectionError:
                    self._clients.pop(ws, None)

    # -- HTTP handlers ----------------------------------------------------------------
    def _loaded(self, filename: str) -> bool:
        return self._ps["filename"] == filename and self._ps["state"] in ("printing", "paused")

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        field = form.get("file")
        if not isinstance(field, web.FileField) or not field.filename.strip():
            return _err(400, "Multipart filename omitted")
        data = field.file.read()
        self.uploads.append({k: str(v) for k, v in form.items() if k != "file"})
        calc = hashlib.sha256(data).hexdigest()
        wanted = str(form.get("checksum", "")).lower()
        if wanted and wanted != calc:
            return _err(422, f"File checksum mismatch: expected {wanted}, calculated {calc}")
        if str(form.get("root", "gcodes")) != "gcodes":
            return _err(400, "stand-in supports the gcodes root only")
        name = "/".join(p for p in (str(form.get("path", "")), field.filename) if p).lstrip("/")
        if ".." in name.split("/"):
            return _err(400, f"Cannot write to path: {name}")
        if self._loaded(name):
            return _err(403, "File is loaded, upload not permitted")
        dest = self.gcodes / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        meta = {"size": len(data), "modified": time.time(), "uuid": str(uuid.uuid4())}
        for line in data.decode(errors="replace").splitlines()[:400]:
            if line.startswith("; filament_type ="):
                meta["filament_type"] = line.split("=", 1)[1].strip()
        self._db["metadata"][name] = meta  # a new file has no job_id yet
        self._save_db()
        started = str(form.get("print", "false")) == "true" and self._idle()
        if started:
            self.start_requests[name] += 1
            self._start_print(name)
        item = {"path": name, "root": "gcodes", "modified": meta["modified"], "size": len(data)}
        item["permissions"] = "rw"
        body = {"item": item, "print_started": started, "print_queued": False}
        body["action"] = "create_file"
        return web.json_response(body, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        files = [p for p in self.gcodes.rglob("*.gcode") if p.is_file()]
        return _ok(
            [
                {
                    "path": str(p.relative_to(self.gcodes)),
                    "modified": p.stat().st_mtime,
                    "size": p.stat().st_size,
                    "permissions": "rw",
                }
                for p in sorted(files)
            ]
        )

    async def _metadata(self, request: web.Request) -> web.Response:
        name = request.query.get("filename", "")
        meta = self._db["metadata"].get(name)
        if meta is None or not (self.gcodes / name).is_file():
            return _err(404, f"Metadata not available for <{name}>")
        return _ok({"job_id": None, "print_start_time": None, **meta, "filename": name})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = self.gcodes / request.match_info["name"]
        if ".." in request.match_info["name"].split("/") or not path.is_file():
            return _err(404, "File not found")
        return web.FileResponse(path)

    async def _history_list(self, request: web.Request) -> web.Response:
        jobs = list(self._db["history"])
        if request.query.get("order", "desc") == "desc":
            jobs.reverse()
        start, limit = int(request.query.get("start", 0)), int(request.query.get("limit", 50))
        page = jobs[start : start + limit]
        return _ok({"count": len(page), "jobs": page})

    async def _history_job(self, request: web.Request) -> web.Response:
        uid = request.query.get("uid", "")
        for job in self._db["history"]:
            if job["job_id"] == uid:
                return _ok({"job": job})
        return _err(404, f"Invalid job uid: {uid}")

    async def _info(self, request: web.Request) -> web.Response:
        return _ok(
            {
                "state": self._klippy,
                "state_message": f"Printer is {self._klippy}",
                "hostname": "moonraker-standin",
                "software_version": "stand-in",
            }
        )

    async def _objects_list(self, request: web.Request) -> web.Response:
        return _ok({"objects": sorted(self._objects())})

    async def _objects_query(self, request: web.Request) -> web.Response:
        if self._klippy != "ready":
            return _err(503, "Klippy Host not connected")
        if request.method == "POST":
            wanted = (await request.json())["objects"]
        else:
            wanted = {k: (v.split(",") if v else None) for k, v in request.query.items()}
        return _ok({"eventtime": time.monotonic(), "status": self._query(wanted)})

    def _idle(self) -> bool:
        return self._ps["state"] not in ("printing", "paused")

    async def _print_verb(self, request: web.Request) -> web.Response:
        if self._klippy != "ready":
            return _err(503, "Klippy Host not connected")
        verb, state = request.match_info["verb"], self._ps["state"]
        if verb == "start":
            name = request.query.get("filename", "")
            self.start_requests[name] += 1
            if not self._idle():
                return _err(400, "SD busy")
            if not (self.gcodes / name).is_file():
                return _err(400, f"Unable to open file {name}")
            self._start_print(name)
            if self.lose_next_start:  # accepted by Klipper, the answer lost on the wire
                if self.lose_next_start == "network":
                    asyncio.ensure_future(self._network_down())
                self.lose_next_start = ""
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
        elif verb == "pause" and state == "printing":
            self._paused, self._ps["state"] = True, "paused"
        elif verb == "resume" and state == "paused":
            self._paused, self._ps["state"] = False, "printing"
        elif verb == "cancel" and state in ("printing", "paused"):
            self._finish("cancelled", "cancelled")
        elif verb not in ("pause", "resume", "cancel"):
            return _err(404, f"Not Found: /printer/print/{verb}")
        return _ok("ok")

    async def _script(self, request: web.Request) -> web.Response:
        if self._klippy != "ready":
            return _err(503, "Klippy Host not connected")
        body = await request.json() if request.can_read_body else {}
        script = str(body.get("script") or request.query.get("script", ""))
        self.scripts.append(script)
        for line in script.splitlines():
            words = line.split()
            if not words:
                continue
            if words[0].upper() != "EXCLUDE_OBJECT":
                return _err(400, f"Unknown command:{words[0].upper()}")
            args = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            name = args.get("NAME", "").upper()
            if name and name not in self._excl["excluded_objects"]:
                self._excl["excluded_objects"].append(name)
        return _ok("ok")

    # -- websocket JSON-RPC -----------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._clients[ws] = {"objects": {}, "last": {}}
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await ws.send_json(self._rpc(ws, json.loads(msg.data)))
        finally:
            self._clients.pop(ws, None)
        return ws

    def _rpc(self, ws: web.WebSocketResponse, req: dict[str, Any]) -> dict[str, Any]:
        method, params, rid = req.get("method"), req.get("params") or {}, req.get("id")
        if method == "printer.objects.subscribe":
            self.subscriptions += 1
            sub = self._clients[ws]
            sub["objects"] = params.get("objects") or {}
            sub["last"] = self._query(sub["objects"])
            result: Any = {"eventtime": time.monotonic(), "status": sub["last"]}
        elif method == "printer.objects.query":
            result = {"eventtime": time.monotonic(), "status": self._query(params["objects"])}
        elif method == "printer.info":
            result = {"state": self._klippy, "state_message": f"Printer is {self._klippy}"}
        else:
            err = {"code": -32601, "message": f"Method not found: {method}"}
            return {"jsonrpc": "2.0", "error": err, "id": rid}
        return {"jsonrpc": "2.0", "result": result, "id": rid}
