"""Fleet bench: 50 simulated printers across the four printer protocols, the fleet board, dispatch.

Measured (issue 16, "Printer fleet"):
1. status change -> visible in ``/planner/fleet.json``: a printer's nozzle temperature is changed
   at the printer, timestamped, and the board's JSON is polled over real HTTP (a werkzeug server
   in a thread, signed in as a planner) until it shows the new value; p50/p95. The fleet poller
   (``orders/adapters/fleet_poll.py``) runs as ``hunar fleet poll --loop`` would, at its default
   interval. The browser's own refresh (``fleet.js``, every second) comes on top: board = JSON + <= 1 s.
2. dispatch throughput: job orders delivered per second by one ``mes_bridge.dispatch.dispatch_once``
   loop over the printers' transports (an ``InMemoryOutbox``: the DB outbox is not measured here).
3. duplicate starts: N deliver+start job orders while connections drop at random (Moonraker's
   network goes down or a start's answer is lost; a Bambu printer power-cycles; the simulated
   printers' links drop a request or its answer), counted at the printers themselves.

What is real and what is not. Moonraker: the real ``MoonrakerTransport`` over HTTP and websocket to
the PROTOCOL STAND-IN ``tests/mes_bridge/moonraker_standin.py``. Bambu: the real ``BambuTransport``
over a real TLS Mosquitto and real implicit FTPS (pyftpdlib) to the printer STAND-IN
``tests/mes_bridge/bambu_peer.py``. Both are imported by putting tests/mes_bridge on sys.path.
OctoPrint and PrusaLink: FAKE IN-PROCESS printers (``SimPrinter`` below, same at-most-once contract),
because a real OctoPrint or PrusaLink per printer is a heavy process each (fifty would not fit).

    .venv/bin/python bench/fleet_bench.py [--printers 50] [--dispatches 1000] [--deliveries 300]
    .venv/bin/python bench/fleet_bench.py --smoke     # 6 printers, 30 dispatches: seconds
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "mes_bridge")]

import httpx  # noqa: E402
from bambu_peer import FtpsServer, PrinterStandIn, TlsMosquitto, make_certs  # noqa: E402
from mes_mosquitto_peer import free_port  # noqa: E402
from moonraker_standin import MoonrakerStandIn  # noqa: E402

from mes_bridge.dispatch import Action, Backoff, InMemoryOutbox, OutboxItem, run_until_drained  # noqa: E402
from mes_bridge.packets import JobOrder  # noqa: E402
from mes_bridge.transports.bambu import BambuTransport  # noqa: E402
from mes_bridge.transports.base import (  # noqa: E402
    STARTED_STATES,
    ConnectionState,
    DeliveryReceipt,
    JobState,
    NotReady,
    Packet,
    PrinterStatus,
    StartResult,
    Transport,
    TransportUnavailable,
    now_utc,
)
from mes_bridge.transports.moonraker import MoonrakerTransport  # noqa: E402

ACCESS = "12345678"
PASSWORD = "correct horse battery"
GCODE = b"; bench\nM104 S0\nG28\nG1 X10 Y10 F3000\nG1 X20 Y20\nG1 X30 Y10\n"
BACKOFF = Backoff(base_s=0.05, factor=2.0, max_s=0.5)  # the bench's printers are quick to free


class SimDevice:
    """An in-process printer (OctoPrint/PrusaLink stand-in): one job at a time, starts counted."""

    def __init__(self, print_s: float) -> None:
        self.print_s, self.lock = print_s, threading.Lock()
        self.files: set[str] = set()
        self.starts: Counter[str] = Counter()
        self.job, self.began, self.nozzle = "", 0.0, 24.0

    def state_of(self, job: str) -> JobState:
        with self.lock:
            if job == self.job:
                running = time.monotonic() - self.began < self.print_s
                return JobState.RUNNING if running else JobState.ENDED
            if self.starts[job]:
                return JobState.ENDED
            return JobState.ALLOWED_TO_START if job in self.files else JobState.NOT_ALLOWED_TO_START

    def busy(self) -> bool:
        return bool(self.job) and time.monotonic() - self.began < self.print_s

    def begin(self, job: str) -> None:
        with self.lock:
            self.starts[job] += 1
            self.job, self.began = job, time.monotonic()


class SimTransport(Transport):
    """The client side over a link that drops a request or its answer with probability `drop`."""

    def __init__(self, name: str, machine_id: str, device: SimDevice, drop: float = 0.0) -> None:
        super().__init__()
        self.name, self.machine_id, self.device, self.drop = name, machine_id, device, drop
        self.drops = 0

    def _link(self, where: str) -> None:
        if self.drop and random.random() < self.drop / 2:
            self.drops += 1
            raise TransportUnavailable(f"{self.name} {self.machine_id}: connection lost ({where})")

    def connect(self) -> None:
        self._state = ConnectionState.CONNECTED

    def close(self) -> None:
        self._state = ConnectionState.DISCONNECTED

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        self._link("before upload")
        job = packet.job.job_order_id
        duplicate = job in self.device.files
        self.device.files.add(job)
        return DeliveryReceipt(self.name, job, idempotency_key, now_utc(), job, duplicate)

    def read_state(self, job_id: str) -> JobState:
        self._link("reading")
        return self.device.state_of(job_id)

    def start(self, job_id: str) -> StartResult:
        state = self.read_state(job_id)  # read first: a lost answer is reconciled, not resent
        if state is JobState.NOT_ALLOWED_TO_START:
            raise NotReady(f"no file for {job_id}")
        if state in STARTED_STATES:
            return StartResult(job_id, False, state, "reconciled")
        if self.device.busy():
            raise NotReady("printer busy")
        self._link("start request")
        self.device.begin(job_id)
        self._link("start answer")
        return StartResult(job_id, True, JobState.RUNNING)

    def status(self) -> PrinterStatus:
        d = self.device
        running = d.busy()
        progress = min(1.0, (time.monotonic() - d.began) / d.print_s) if running else None
        return PrinterStatus(
            self.machine_id,
            ConnectionState.CONNECTED,
            JobState.RUNNING if running else JobState.ALLOWED_TO_START,
            job_id=d.job if running else "",
            progress=progress,
            nozzle_c=d.nozzle,
            bed_c=23.0,
            material="PLA",
            read_at=now_utc(),
        )


class Fleet:
    """The printers: stand-ins and sims, with two transports each (dispatcher's and poller's)."""

    def __init__(self, n: int, tmp: Path, print_s: float) -> None:
        self.tmp, self.print_s = tmp, print_s
        self.kinds: dict[str, str] = {}
        self.moon: dict[str, MoonrakerStandIn] = {}
        self.bambu: dict[str, PrinterStandIn] = {}
        self.sims: dict[str, SimDevice] = {}
        self.dispatch: dict[str, Transport] = {}
        self.poll: dict[str, Transport] = {}
        self.broker: TlsMosquitto | None = None
        self.ftps: FtpsServer | None = None
        counts = {"moonraker": round(n * 0.3), "bambu": round(n * 0.24)}
        counts["octoprint"] = (n - sum(counts.values()) + 1) // 2
        counts["prusalink"] = n - sum(counts.values())
        self.counts = counts
        for kind, k in counts.items():
            for i in range(k):
                self.kinds[f"{kind}-{i + 1:02d}"] = kind

    def start(self, drop: float) -> None:
        if any(k == "bambu" for k in self.kinds.values()):
            certs = make_certs(self.tmp, "01P00A000000001")
            self.broker = TlsMosquitto(free_port(), self.tmp, certs, "bblp", ACCESS)
            self.broker.start()
            self.ftps_port = free_port()
            (self.tmp / "sd").mkdir()
            self.ftps = FtpsServer(self.ftps_port, self.tmp / "sd", "bblp", ACCESS, certs)
        for mid, kind in self.kinds.items():
            if kind == "moonraker":
                peer = MoonrakerStandIn(self.tmp / mid, print_s=self.print_s).start()
                self.moon[mid] = peer
                for pool in (self.dispatch, self.poll):
                    pool[mid] = MoonrakerTransport(peer.url, machine_id=mid, timeout_s=3.0)
            elif kind == "bambu":
                assert self.broker is not None
                serial = f"01P{uuid.uuid4().hex[:10].upper()}"
                self.bambu[mid] = PrinterStandIn(
                    serial,
                    self.broker.port,
                    ACCESS,
                    self.broker.certs.ca,
                    self.tmp / "sd",
                    prepare_s=0.1,
                    run_s=self.print_s,
                )
                for pool in (self.dispatch, self.poll):
                    pool[mid] = BambuTransport(
                        mid,
                        "127.0.0.1",
                        serial,
                        ACCESS,
                        mqtt_port=self.broker.port,
                        ftps_port=self.ftps_port,
                        ca_file=str(self.broker.certs.ca),
                        timeout_s=3.0,
                        confirm_timeout_s=3.0,
                    )
            else:
                self.sims[mid] = dev = SimDevice(self.print_s)
                self.dispatch[mid] = SimTransport(kind, mid, dev, drop)
                self.poll[mid] = SimTransport(kind, mid, dev)

    def set_nozzle(self, mid: str, value: float) -> None:
        """A status change made at the printer itself."""
        if mid in self.moon:
            peer = self.moon[mid]
            peer._loop.call_soon_threadsafe(peer._heat.__setitem__, "extruder", [value, value])
        elif mid in self.bambu:
            with self.bambu[mid]._lock:
                self.bambu[mid].state["nozzle_temper"] = value
        else:
            self.sims[mid].nozzle = value

    def starts(self) -> Counter[str]:
        """How often each job began printing, as the printers themselves record it."""
        out: Counter[str] = Counter()
        for peer in self.moon.values():
            out.update(MoonrakerTransport.job_id_of(h["filename"]) for h in peer.history())
        for printer in self.bambu.values():
            out.update(printer.started)
        for dev in self.sims.values():
            out.update(dev.starts)
        return out

    def close(self) -> None:
        for t in [*self.dispatch.values(), *self.poll.values()]:
            t.close()
        for p in self.bambu.values():
            p.close()
        for m in self.moon.values():
            m.close()
        if self.ftps is not None:
            self.ftps.stop()
        if self.broker is not None:
            self.broker.stop()


def job(prefix: str, i: int, machine: str) -> Packet:
    start = now_utc()
    jo = JobOrder(
        job_order_id=f"{prefix}-{i:05d}",
        family_key="enclosure",
        family_version="3",
        machine_id=machine,
        material="PLA",
        colour="black",
        grams=12.0,
        parameters={},
        scheduled_start=start,
        scheduled_end=start,
        priority=1,
        artifacts=(),
        order_line_url="https://hunar.example/lines/1",
    )
    return Packet.from_job(jo, {f"{jo.job_order_id}.gcode": GCODE})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
        if values
        else float("nan")
    )


def measure_latency(
    fleet: Fleet, base: str, http: httpx.Client, samples: int
) -> tuple[list[float], list[float]]:
    """Change nozzle temperatures at up to 5 printers at once, at a random moment of the poll
    cycle; time until the JSON shows each. Also returns every JSON request's own duration."""
    ids, value = sorted(fleet.kinds), 150.0
    out: list[float] = []
    requests: list[float] = []
    while len(out) < samples:
        time.sleep(random.uniform(0.0, 1.0))  # not phase-locked to the poller's passes
        batch = random.sample(ids, min(5, len(ids), samples - len(out)))
        changed: dict[str, tuple[float, float]] = {}
        for mid in batch:
            value += 1.0
            changed[mid] = (value, time.perf_counter())
            fleet.set_nozzle(mid, value)
        end = time.monotonic() + 15
        while changed and time.monotonic() < end:
            t0 = time.perf_counter()
            printers = http.get(f"{base}/planner/fleet.json").json()["printers"]
            requests.append(time.perf_counter() - t0)
            for p in printers:
                want = changed.get(p["machine_id"])
                if want is not None and p["nozzle_c"] == want[0]:
                    out.append(time.perf_counter() - want[1])
                    del changed[p["machine_id"]]
            time.sleep(0.02)
        if changed:
            raise RuntimeError(f"board never showed the change on {sorted(changed)}")
    return out, requests


def measure_throughput(fleet: Fleet, n: int) -> tuple[int, float]:
    """Job orders delivered per second by one dispatcher over every printer."""
    outbox, ids = InMemoryOutbox(), sorted(fleet.kinds)
    prefix = f"TP{uuid.uuid4().hex[:4]}"
    packets = [job(prefix, i, ids[i % len(ids)]) for i in range(n)]  # encoding is not dispatch
    t0 = time.perf_counter()
    for p in packets:
        key = f"jo:{p.job.job_order_id}"
        outbox.add(OutboxItem(key, p.job.machine_id, p, key))
    report = run_until_drained(outbox, fleet.dispatch, deadline_s=300, backoff=BACKOFF)
    return report.delivered, report.delivered / (time.perf_counter() - t0)


def chaos(fleet: Fleet, stop: threading.Event, drops: Counter[str]) -> None:
    """Every ~0.3 s one printer loses its connection (see the module docstring)."""
    while not stop.wait(0.3):
        mid = random.choice(sorted(fleet.kinds))
        if mid in fleet.moon:
            peer = fleet.moon[mid]
            if random.random() < 0.5:
                peer.lose_next_start = random.choice(("answer", "network"))
                drops["moonraker start answer lost"] += 1
                stop.wait(0.3)
                peer.network_up()
            else:
                peer.network_down()
                drops["moonraker network down"] += 1
                stop.wait(0.3)
                peer.network_up()
        elif mid in fleet.bambu:
            drops["bambu printer power-cycled"] += 1
            fleet.bambu[mid].reboot(down_s=0.3)


def measure_duplicates(fleet: Fleet, n: int, shard: int = 4) -> dict[str, Any]:
    """n deliver+start job orders under random drops; one dispatcher per `shard` printers."""
    ids, prefix = sorted(fleet.kinds), f"DS{uuid.uuid4().hex[:4]}"
    groups = [ids[i : i + shard] for i in range(0, len(ids), shard)]
    boxes = [InMemoryOutbox() for _ in groups]
    where = {mid: boxes[g] for g, members in enumerate(groups) for mid in members}
    jobs = []
    for i in range(n):
        p = job(prefix, i, ids[i % len(ids)])
        jobs.append(p.job.job_order_id)
        where[p.job.machine_id].add(
            OutboxItem(f"jo:{jobs[-1]}", p.job.machine_id, p, f"jo:{jobs[-1]}")
        )
        key = f"start:{jobs[-1]}"
        where[p.job.machine_id].add(OutboxItem(key, p.job.machine_id, p, key, Action.START))
    stop, drops = threading.Event(), Counter[str]()
    monkey = threading.Thread(target=chaos, args=(fleet, stop, drops), daemon=True)
    monkey.start()
    t0 = time.perf_counter()
    workers = [
        threading.Thread(
            target=run_until_drained, args=(box, fleet.dispatch, 600), kwargs={"backoff": BACKOFF}
        )
        for box in boxes
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    monkey.join()
    took = time.perf_counter() - t0
    for mid in fleet.moon:
        fleet.moon[mid].network_up()
    drops["simulated link drops"] = sum(
        t.drops for t in fleet.dispatch.values() if isinstance(t, SimTransport)
    )
    starts = fleet.starts()
    mine = [starts[j] for j in jobs]
    never = []
    for j in (j for j in jobs if starts[j] == 0):
        machine = ids[int(j.rsplit("-", 1)[1]) % len(ids)]
        box = where[machine]
        receipt = box.receipts().get(f"start:{j}")
        why = receipt.peer_ref if receipt else "; ".join(box.parked().get(f"start:{j}", []))
        never.append(f"{machine} {j}: {why or 'still pending'}")
    return {
        "dispatches": n,
        "started once": sum(1 for c in mine if c == 1),
        "duplicates": sum(c - 1 for c in mine if c > 1),
        "seconds": took,
        "drops": dict(drops),
        "never": never,
    }


def serve(app: Any) -> tuple[str, Callable[[], None]]:
    """The web app on a free loopback port, threaded like a small gunicorn."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}", stop


def sign_in(base: str, email: str) -> httpx.Client:
    http = httpx.Client(timeout=10.0)
    page = http.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None, "no CSRF token on /login"
    form = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    resp = http.post(f"{base}/login", data=form)
    assert resp.status_code == 302, resp.text[:300]
    return http


def run(args: argparse.Namespace, tmp: Path) -> bool:
    import orders.jobs
    from orders import migrate
    from orders.adapters.fleet_poll import INTERVAL_S, poll_loop
    from orders.commands.accounts import create_user
    from orders.models import Machine, Role
    from orders.settings import Settings
    from web import create_app

    url = args.database_url or f"sqlite:///{tmp / 'fleet.sqlite3'}"
    migrate.upgrade(url)
    orders.jobs.warm_up = lambda: None  # no CAD here: nothing may compete for the GIL with it
    settings = Settings(
        var_dir=tmp, database_url=url, secret_key="bench", redis_url=None, artifact_dir=tmp / "a"
    )
    app = create_app(settings)
    app.config["HUNAR_RATE_LIMITS"] = {}
    ctx = app.extensions["hunar"]
    fleet = Fleet(args.printers, tmp, args.print_s)
    email = f"planner-{uuid.uuid4().hex[:6]}@example.com"
    with ctx.db.transaction() as s:
        create_user(s, email, PASSWORD, Role.PLANNER)
        for mid, kind in fleet.kinds.items():
            name = f"{kind} {'stand-in' if kind in ('moonraker', 'bambu') else 'simulated'}"
            s.add(Machine(id=mid, name=name, process="fdm", transport=kind))
    stop_poll, passes = threading.Event(), []
    poller = threading.Thread(
        target=poll_loop,
        args=(ctx, fleet.poll, INTERVAL_S, lambda r: passes.append((time.perf_counter(), r))),
        kwargs={"should_stop": stop_poll.is_set},
    )
    base, stop_web = serve(app)
    try:
        t0 = time.perf_counter()
        fleet.start(args.drop)
        print(f"{args.printers} printers up in {time.perf_counter() - t0:.1f} s: {fleet.counts}")
        poller.start()
        http = sign_in(base, email)
        end = time.monotonic() + 30  # every printer on the board once before measuring
        while not all(p["live"] for p in http.get(f"{base}/planner/fleet.json").json()["printers"]):
            if time.monotonic() > end:
                raise RuntimeError("not every printer reached the board within 30 s")
            time.sleep(0.1)
        first = len(passes)
        lat, requests = measure_latency(fleet, base, http, args.samples)
        during = passes[first:]
        gaps = [b[0] - a[0] for a, b in zip(during, during[1:], strict=False)]
        print(
            f"poller passes while timing: {len(during)}, gap p50 {statistics.median(gaps):.2f} s,"
            f" max {max(gaps):.2f} s; rows written per pass"
            f" {statistics.mean(r.changed for _, r in during):.1f} of {args.printers}"
        )
        delivered, rate = measure_throughput(fleet, args.deliveries)
        dup = measure_duplicates(fleet, args.dispatches)
        http.close()
    finally:
        stop_poll.set()
        if poller.is_alive():
            poller.join(timeout=10)
        stop_web()
        fleet.close()
        ctx.close()
    p95 = pct(lat, 0.95)
    ms = [r * 1000 for r in requests]
    rows = [
        ("status -> fleet.json p50 s", f"{statistics.median(lat):.2f}", "", f"{len(lat)} changes"),
        ("status -> fleet.json p95 s", f"{p95:.2f}", "<= 2 s", f"poller every {INTERVAL_S:g} s"),
        ("status -> board p95 s", f"{p95 + 1.0:.2f}", "<= 2 s", "JSON p95 + fleet.js's 1 s"),
        ("fleet.json request p95 ms", f"{pct(ms, 0.95):.0f}", "", f"{len(ms)} GETs, all printers"),
        ("dispatch job orders/s", f"{rate:.1f}", ">= 20/s", f"{delivered}/{args.deliveries} sent"),
        ("duplicate starts", str(dup["duplicates"]), "0", f"over {dup['dispatches']} dispatches"),
        ("starts left to a person", str(len(dup["never"])), "", f"{dup['seconds']:.0f} s of drops"),
    ]
    print("\n| measure | result | target | notes |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nconnection drops injected: {dup['drops']}")
    for line in dup["never"]:  # at most once: a start lost with the printer is never resent
        print(f"not started: {line}")
    met = p95 + 1.0 <= 2.0 and rate >= 20 and dup["duplicates"] == 0
    print(
        f"targets (board p95 <= 2 s, >= 20 job orders/s, 0 duplicates): {'MET' if met else 'MISSED'}"
    )
    return dup["duplicates"] == 0 if args.smoke else met


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--printers", type=int, default=50)
    ap.add_argument("--dispatches", type=int, default=1000, help="deliver+start job orders")
    ap.add_argument("--deliveries", type=int, default=300, help="job orders for the throughput row")
    ap.add_argument("--samples", type=int, default=50, help="status changes timed")
    ap.add_argument("--drop", type=float, default=0.05, help="simulated links: drop probability")
    ap.add_argument("--print-s", type=float, default=0.3, help="seconds one simulated print takes")
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    ap.add_argument("--smoke", action="store_true", help="6 printers, 30 dispatches: seconds")
    args = ap.parse_args()
    if args.smoke:
        args.printers, args.dispatches, args.deliveries, args.samples = 6, 30, 30, 6
    for noisy in ("werkzeug", "pyftpdlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    random.seed(16)
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    try:
        return 0 if run(args, tmp) else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
