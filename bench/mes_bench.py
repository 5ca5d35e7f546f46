"""MES bridge bench: release job packets through the outbox dispatcher to real peers.

MQTT: N packets to a real subscriber on the local Mosquitto (127.0.0.1:1883).
OPC UA: M packets Store'd on the in-process ISA-95 job-control receiver.
Latency runs from "release commit" (the moment the packet's outbox row exists) to
receipt by the peer (subscriber callback / receiver state change). The burst rows
release everything at once (latency includes queueing behind the whole batch); the
paced row trickles releases in while the dispatcher runs (per-packet latency). Target: >= 200
packets/s over MQTT with nothing lost or duplicated.

    .venv/bin/python bench/mes_bench.py [--mqtt 1000] [--opcua 100] [--paced 200] [--smoke]

``--smoke`` sends 50 MQTT packets, 20 paced and 10 over OPC UA: every peer and row in seconds.
A smoke run judges delivery (nothing lost or duplicated), not the packets/s target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from mes_bridge.dispatch import InMemoryOutbox, OutboxItem, dispatch_once, run_until_drained
from mes_bridge.packets import ArtifactRef, JobOrder
from mes_bridge.transports.base import Packet
from mes_bridge.transports.mqtt import MqttTransport, topic
from mes_bridge.transports.mqtt_listener import MqttJobListener
from mes_bridge.transports.opcua import OpcUaTransport
from mes_bridge.transports.opcua_receiver import JobControlReceiver

SHA = "0" * 64


def job(i: int, prefix: str) -> JobOrder:
    start = datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(minutes=i)
    return JobOrder(
        job_order_id=f"{prefix}-{i:05d}",
        family_key="enclosure",
        family_version="3",
        machine_id="mk4-bench",
        material="PETG",
        colour="black",
        grams=40.0 + i % 7,
        parameters={"width_mm": 80 + i % 20, "height_mm": 30, "lid": True},
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        priority=i % 5,
        artifacts=(ArtifactRef("gcode", f"http://127.0.0.1/a/{i}.gcode", SHA, 1024),),
        order_line_url=f"https://hunar.example/lines/{i}",
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_mqtt(n: int) -> dict[str, float | int | str]:
    site = f"bench{uuid.uuid4().hex[:6]}"
    listener = MqttJobListener(topic(site, "mk4-bench", "jobs"), f"bench-{site}", persistent=False)
    listener.start()
    transport = MqttTransport(site, "mk4-bench", retain_current=True)
    transport.connect()
    outbox = InMemoryOutbox()
    released: dict[str, float] = {}
    packets = [Packet.from_job(job(i, site)) for i in range(n)]  # encoding is not dispatch
    t0 = time.perf_counter()
    for p in packets:
        key = f"mqtt:{p.job.job_order_id}"
        outbox.add(OutboxItem(key, "mqtt", p, key))
        released[key] = time.perf_counter()
    report = run_until_drained(outbox, {"mqtt": transport}, deadline_s=120)
    complete = listener.wait_for(n, timeout_s=30)
    listener.stop()
    transport.close()
    got = listener.received
    lat = [(got.first_at[k] - released[k]) * 1000 for k in got.first_at if k in released]
    elapsed = max(got.first_at.values()) - t0 if got.first_at else float("nan")
    return {
        "transport": "MQTT QoS1 (+retained current)",
        "packets": n,
        "delivered": report.delivered,
        "received": got.unique,
        "lost": n - got.unique,
        "dup": got.duplicates,
        "seconds": elapsed,
        "pkt_per_s": got.unique / elapsed if complete else 0.0,
        "p50_ms": statistics.median(lat) if lat else float("nan"),
        "p95_ms": pct(lat, 0.95) if lat else float("nan"),
    }


def bench_mqtt_paced(n: int, rate: float) -> dict[str, float | int | str]:
    """Releases trickle in (``rate``/s) while the dispatcher runs: unloaded latency."""
    site = f"pace{uuid.uuid4().hex[:6]}"
    listener = MqttJobListener(topic(site, "mk4-bench", "jobs"), f"pace-{site}", persistent=False)
    listener.start()
    transport = MqttTransport(site, "mk4-bench")
    transport.connect()
    outbox = InMemoryOutbox()
    released: dict[str, float] = {}
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if dispatch_once(outbox, {"mqtt": transport}).delivered == 0:
                time.sleep(0.001)

    worker = threading.Thread(target=loop)
    worker.start()
    packets = [Packet.from_job(job(i, site)) for i in range(n)]
    t0 = time.perf_counter()
    for i, p in enumerate(packets):
        time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        key = f"mqtt:{p.job.job_order_id}"
        released[key] = time.perf_counter()
        outbox.add(OutboxItem(key, "mqtt", p, key))
    complete = listener.wait_for(n, timeout_s=30)
    stop.set()
    worker.join()
    listener.stop()
    transport.close()
    got = listener.received
    lat = [(got.first_at[k] - released[k]) * 1000 for k in got.first_at if k in released]
    elapsed = max(got.first_at.values()) - t0 if got.first_at else float("nan")
    return {
        "transport": f"MQTT paced {rate:.0f}/s",
        "packets": n,
        "delivered": len(outbox.receipts()),
        "received": got.unique,
        "lost": n - got.unique,
        "dup": got.duplicates,
        "seconds": elapsed,
        "pkt_per_s": got.unique / elapsed if complete else 0.0,
        "p50_ms": statistics.median(lat) if lat else float("nan"),
        "p95_ms": pct(lat, 0.95) if lat else float("nan"),
    }


def bench_opcua(n: int) -> dict[str, float | int | str]:
    arrived: dict[str, float] = {}
    lock = threading.Lock()

    def on_state(job_id: str, old: str, _new: str) -> None:
        if old == "":
            with lock:
                arrived.setdefault(job_id, time.perf_counter())

    receiver = JobControlReceiver(on_state=on_state)
    receiver.start()
    transport = OpcUaTransport(receiver.endpoint)
    transport.connect()
    prefix = f"opc{uuid.uuid4().hex[:6]}"
    packets = [Packet.from_job(job(i, prefix)) for i in range(n)]
    outbox = InMemoryOutbox()
    released: dict[str, float] = {}
    t0 = time.perf_counter()
    for p in packets:
        outbox.add(OutboxItem(p.job.job_order_id, "opcua", p, p.job.job_order_id))
        released[p.job.job_order_id] = time.perf_counter()
    report = run_until_drained(outbox, {"opcua": transport}, deadline_s=120)
    transport.close()
    stored = len(receiver.job_ids())
    receiver.stop()
    lat = [(arrived[k] - released[k]) * 1000 for k in arrived]
    elapsed = max(arrived.values()) - t0 if arrived else float("nan")
    return {
        "transport": "OPC UA Store",
        "packets": n,
        "delivered": report.delivered,
        "received": stored,
        "lost": n - stored,
        "dup": receiver.stats.calls["Store"] - n,
        "seconds": elapsed,
        "pkt_per_s": stored / elapsed,
        "p50_ms": statistics.median(lat) if lat else float("nan"),
        "p95_ms": pct(lat, 0.95) if lat else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mqtt", type=int, default=1000)
    ap.add_argument("--opcua", type=int, default=100)
    ap.add_argument("--paced", type=int, default=200, help="packets in the paced row (100/s)")
    ap.add_argument("--smoke", action="store_true", help="smallest sizes; delivery judged only")
    args = ap.parse_args(argv)
    if args.smoke:
        args.mqtt, args.opcua, args.paced = 50, 10, 20
    rows = [bench_mqtt(args.mqtt), bench_mqtt_paced(args.paced, 100.0), bench_opcua(args.opcua)]
    cols = [
        "transport",
        "packets",
        "delivered",
        "received",
        "lost",
        "dup",
        "seconds",
        "pkt_per_s",
        "p50_ms",
        "p95_ms",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols]
        print("| " + " | ".join(cells) + " |")
    mqtt = rows[0]
    ok = mqtt["lost"] == 0 and mqtt["dup"] == 0 and float(mqtt["pkt_per_s"]) >= 200
    print(f"\nMQTT target (>= 200 packets/s, none lost or duplicated): {'MET' if ok else 'MISSED'}")
    if args.smoke:
        delivered = all(r["lost"] == 0 and r["dup"] == 0 for r in rows)
        print(f"smoke run: every packet delivered once on every row: {delivered}")
        return 0 if delivered else 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
