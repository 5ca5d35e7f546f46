"""Soak traffic against a running Hunar stack: customers, a planner and operators (soak_bench.py).

Each role is one thread with its own signed-in cookie session (the login form, then the page's
CSRF token on every write), looping at a modest pace until told to stop:

- customers browse the catalogue, quote, save designs (mostly from a small palette, sometimes a
  new one, so CAD keeps running) and place orders with an idempotency key; some orders are sent
  twice at once (a double click) and some sent again later (a retry after a lost answer): both
  must come back as the one order;
- the planner proposes (the propose form's request key; sometimes submitted twice at once),
  waits for the solve, approves and releases (each sometimes twice at once);
- operators open their station pages, confirm a clear bed when asked, and press start, complete
  or (sometimes) scrap with the page's event id; some presses are sent twice at once and some
  replayed later: an event id is applied at most once.

What the clients saw is tallied in `Tally`; every request goes through load_harness.Recorder
(status codes per endpoint, every 5xx and broken connection).
"""

from __future__ import annotations

import random
import re
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

import configurator
from bench.load_harness import CSRF, Customer, Design, Outcome, Recorder
from bench.load_stack import PASSWORD
from configurator.samples import sample_configs

JSON = {"Accept": "application/json"}
FORM = re.compile(
    r'<form method="post" action="(/operator/job/([^/"]+)/(\w+))"[^>]*>(.*?)</form>', re.S
)
EVENT_ID = re.compile(r'name="event_id" value="([^"]+)"')
MEMBER = re.compile(r'<select name="member"[^>]*>\s*<option value="([^"]+)"')
SOLVER = re.compile(r'data-solver="([^"]*)"')
PLANNED = ("OPTIMAL", "FEASIBLE")


@dataclass(frozen=True)
class Pace:
    """Think times (seconds) and shares of the deliberate repeats."""

    customer_s: float = 25.0
    planner_s: float = 180.0
    operator_s: float = 10.0
    solve_limit_s: float = 5.0
    new_design_share: float = 0.15
    double_order_share: float = 0.25
    resend_order_share: float = 0.15
    double_press_share: float = 0.3
    replay_press_share: float = 0.15
    scrap_share: float = 0.1
    double_plan_share: float = 0.3


@dataclass
class Tally:
    """What the clients saw; `splits` are double effects seen from outside (one request, two
    answers that name different things, or one event id applied twice)."""

    accepted: dict[str, int] = field(default_factory=dict)  # idempotency key -> order id
    order_doubles: int = 0
    order_resends: int = 0
    new_designs: int = 0
    proposals: int = 0
    plan_doubles: int = 0
    plans: Counter[str] = field(default_factory=Counter)  # approved, released, refusals
    presses: Counter[str] = field(default_factory=Counter)  # "action code"
    press_doubles: int = 0
    press_replays: int = 0
    applied: Counter[str] = field(default_factory=Counter)  # event id -> applied answers
    bed_clears: int = 0
    splits: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fn: Callable[[Tally], None]) -> None:
        with self.lock:
            fn(self)


def sign_in(base_url: str, rec: Recorder, email: str, page: str) -> httpx.Client:
    """A cookie session through the login form, with `page`'s CSRF token on every request."""
    client = httpx.Client(base_url=base_url, timeout=180, follow_redirects=False)
    form = rec.call(client, "GET /login", "GET", "/login")
    token = CSRF.search(form.text) if form is not None else None
    if token is None:
        raise RuntimeError(f"{email}: no login form")
    data = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    resp = rec.call(client, "POST /login", "POST", "/login", data=data)
    if resp is None or resp.status_code != 302:
        raise RuntimeError(f"{email}: login gave {resp.status_code if resp else 'no reply'}")
    landing = rec.call(client, f"GET {page}", "GET", page)
    found = CSRF.search(landing.text) if landing is not None else None
    if found is None:
        raise RuntimeError(f"{email}: no CSRF token on {page}")
    client.headers["X-CSRFToken"] = found.group(1)
    return client


def twice(fn: Callable[[httpx.Client], Any], client: httpx.Client) -> list[Any]:
    """The same request from two connections of one session at once (a double click)."""
    twin = httpx.Client(
        base_url=str(client.base_url),
        timeout=180,
        cookies=client.cookies,
        headers=client.headers,
        follow_redirects=False,
    )
    try:
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.submit(fn, client), pool.submit(fn, twin)
            return [a.result(), b.result()]
    finally:
        twin.close()


class Shopper:
    def __init__(
        self,
        base_url: str,
        email: str,
        palette: list[Design],
        rec: Recorder,
        tally: Tally,
        pace: Pace,
    ) -> None:
        self.rng = random.Random(email)
        self.rec, self.tally, self.palette, self.pace = rec, tally, palette, pace
        self.cust = Customer(base_url, email, rec, Outcome(), self.rng, palette)
        if not self.cust.login():
            raise RuntimeError(f"{email}: sign-in failed: {rec.problems[-1:]}")
        self.resend: list[tuple[dict[str, Any], int]] = []

    def _design(self) -> Design:
        if self.rng.random() >= self.pace.new_design_share:
            return self.rng.choice(self.palette)
        family = self.rng.choice(sorted({d.family for d in self.palette}))
        fam = configurator.get_family(family)
        cfg = sample_configs(fam, 1, seed=self.rng.randrange(1, 10**9))[-1]
        d = Design(family, dict(cfg.values))
        body = {"family": family, "params": d.params, "quantity": 1}
        c = self.cust
        resp = self.rec.call(
            c.client, "POST /api/quote", "POST", "/api/quote", headers=c.headers, json=body
        )
        if resp is None or resp.status_code != 200 or not resp.json().get("orderable"):
            return self.rng.choice(self.palette)
        self.tally.add(lambda t: setattr(t, "new_designs", t.new_designs + 1))
        return d

    def _post(self, body: dict[str, Any], label: str, client: httpx.Client) -> int | None:
        c = self.cust
        resp = self.rec.call(client, label, "POST", "/api/orders", headers=c.headers, json=body)
        if resp is None or resp.status_code not in (200, 201):
            return None
        return int(resp.json()["id"])

    def cycle(self, stop: threading.Event) -> None:
        c, rng = self.cust, self.rng
        if rng.random() < 0.3:
            self.rec.call(c.client, "GET /", "GET", "/")
        d = self._design()
        if rng.random() < 0.3:
            self.rec.call(c.client, "GET /shop/<key>", "GET", f"/shop/{d.family}")
        qty = rng.choice((1, 1, 2, 3))
        cid = c.save(d, qty)
        if cid is None:
            return
        key = uuid.uuid4().hex
        body = {
            "lines": [{"configuration_id": cid, "quantity": qty, "tier": "standard"}],
            "idempotency_key": key,
        }
        if rng.random() < self.pace.double_order_share:
            ids = twice(lambda cl: self._post(body, "POST /api/orders (double)", cl), c.client)
            self.tally.add(lambda t: setattr(t, "order_doubles", t.order_doubles + 1))
        else:
            ids = [self._post(body, "POST /api/orders", c.client)]
        got = {i for i in ids if i is not None}
        if not got:
            return
        oid = min(got)

        def record(t: Tally) -> None:
            t.accepted[key] = oid
            if len(got) > 1:
                t.splits.append(f"order key {key} answered with orders {sorted(got)}")

        self.tally.add(record)
        if rng.random() < self.pace.resend_order_share:
            self.resend.append((body, oid))
        if self.resend and rng.random() < 0.5:  # a client retrying an earlier order
            old, old_id = self.resend.pop(0)
            again = self._post(old, "POST /api/orders (resent)", c.client)

            def resent(t: Tally) -> None:
                t.order_resends += 1
                if again is not None and again != old_id:
                    t.splits.append(f"resent key {old['idempotency_key']}: {again} != {old_id}")

            self.tally.add(resent)
        self.rec.call(c.client, "GET /api/orders/<id>", "GET", f"/api/orders/{oid}")
        if rng.random() < 0.3:
            self.rec.call(c.client, "GET /orders", "GET", "/orders")

    def close(self) -> None:
        self.cust.client.close()


class Planner:
    def __init__(self, base_url: str, email: str, rec: Recorder, tally: Tally, pace: Pace) -> None:
        self.rec, self.tally, self.pace, self.rng = rec, tally, pace, random.Random(email)
        self.client = sign_in(base_url, rec, email, "/planner/")

    def _post(self, label: str, url: str, client: httpx.Client, **kw: Any) -> httpx.Response | None:
        return self.rec.call(client, label, "POST", url, **kw)

    def cycle(self, stop: threading.Event) -> None:
        cl, rng = self.client, self.rng
        self.rec.call(cl, "GET /planner/", "GET", "/planner/")
        self.rec.call(cl, "GET /planner/board.json", "GET", "/planner/board.json")
        data = {
            "objective": "due_dates",
            "time_limit_s": str(self.pace.solve_limit_s),
            "horizon_days": "14",
            "request_key": uuid.uuid4().hex,
        }

        def propose(client: httpx.Client) -> str:
            r = self._post("POST /planner/propose", "/planner/propose", client, data=data)
            return r.headers.get("location", "") if r is not None and r.status_code == 302 else ""

        double = rng.random() < self.pace.double_plan_share
        where = twice(propose, cl) if double else [propose(cl)]
        got = {w.rstrip("/").rsplit("/", 1)[-1] for w in where if w}

        def record(t: Tally) -> None:
            t.proposals += 1
            t.plan_doubles += int(double)
            if len(got) > 1:
                t.splits.append(f"one propose form made schedules {sorted(got)}")
            if not got:
                t.plans["propose refused"] += 1

        self.tally.add(record)
        if not got:
            return
        sid = min(got, key=int)
        deadline = time.monotonic() + 300
        solver = "PENDING"
        while solver == "PENDING" and time.monotonic() < deadline and not stop.is_set():
            stop.wait(1.0)
            panel = self.rec.call(
                cl, "GET /planner/schedules/<id>/panel", "GET", f"/planner/schedules/{sid}/panel"
            )
            m = SOLVER.search(panel.text) if panel is not None else None
            solver = m.group(1) if m else "PENDING"
        if stop.is_set():
            return  # the soak is over: not a refusal
        if solver not in PLANNED:
            self.tally.add(lambda t: t.plans.update([f"not planned ({solver})"]))
            return
        for step in ("approve", "release"):
            url = f"/planner/schedules/{sid}/{step}"

            def press(client: httpx.Client, step: str = step, url: str = url) -> int:
                r = self._post(f"POST /planner/schedules/<id>/{step}", url, client, headers=JSON)
                return r.status_code if r is not None else 0

            codes = twice(press, cl) if rng.random() < self.pace.double_plan_share else [press(cl)]

            def answered(t: Tally, step: str = step, codes: list[int] = codes) -> None:
                t.plans.update(f"{step} {x}" for x in codes)

            self.tally.add(answered)
            if 200 not in codes:
                return
        self.rec.call(cl, "GET /planner/schedules", "GET", "/planner/schedules")

    def close(self) -> None:
        self.client.close()


class Operator:
    def __init__(
        self,
        base_url: str,
        email: str,
        stations: list[str],
        rec: Recorder,
        tally: Tally,
        pace: Pace,
    ) -> None:
        self.rec, self.tally, self.pace, self.rng = rec, tally, pace, random.Random(email)
        self.stations = stations
        self.client = sign_in(base_url, rec, email, f"/operator/station/{stations[0]}")
        self.replays: list[tuple[str, dict[str, str], str]] = []

    def _station(self, machine: str) -> str:
        page = self.rec.call(
            self.client, "GET /operator/station/<id>", "GET", f"/operator/station/{machine}"
        )
        return page.text if page is not None and page.status_code == 200 else ""

    def _bed_clear(self, machine: str) -> None:
        data = {"check": ["bed clear", "last print passed QC"]}
        url = f"/operator/station/{machine}/bed-clear"

        def confirm(client: httpx.Client) -> None:
            self.rec.call(client, "POST /operator/station/<id>/bed-clear", "POST", url, data=data)

        if self.rng.random() < 0.3:
            twice(confirm, self.client)
        else:
            confirm(self.client)
        self.tally.add(lambda t: setattr(t, "bed_clears", t.bed_clears + 1))

    def _press(self, url: str, data: dict[str, str], action: str, replay: bool = False) -> None:
        def send(client: httpx.Client) -> str:
            r = self.rec.call(
                client, f"POST /operator/job/<id>/{action}", "POST", url, data=data, headers=JSON
            )
            if r is None:
                return "no reply"
            try:
                body = r.json()
            except ValueError:
                return f"http {r.status_code}"
            return str(body.get("code") or body.get("error", {}).get("code") or r.status_code)

        double = not replay and self.rng.random() < self.pace.double_press_share
        codes = twice(send, self.client) if double else [send(self.client)]
        ev = data["event_id"]

        def record(t: Tally) -> None:
            t.presses.update(f"{action} {c}" for c in codes)
            t.press_doubles += int(double)
            t.press_replays += int(replay)
            t.applied[ev] += codes.count("applied")
            if t.applied[ev] > 1:
                t.splits.append(f"event {ev} answered 'applied' {t.applied[ev]} times")

        self.tally.add(record)
        if not replay and self.rng.random() < self.pace.replay_press_share:
            self.replays.append((url, data, action))

    def cycle(self, stop: threading.Event) -> None:
        for machine in self.stations:
            if stop.is_set():
                return
            page = self._station(machine)
            if 'id="bed-clear"' in page:
                self._bed_clear(machine)
                page = self._station(machine)
            forms: dict[str, dict[str, tuple[str, str, str]]] = {}
            for url, job, action, body in FORM.findall(page):
                ev_m, member_m = EVENT_ID.search(body), MEMBER.search(body)
                if ev_m:
                    forms.setdefault(job, {})[action] = (
                        url,
                        ev_m.group(1),
                        member_m.group(1) if member_m else "",
                    )
            for acts in forms.values():
                if (
                    "complete" in acts
                    and "scrap" in acts
                    and self.rng.random() < self.pace.scrap_share
                ):
                    url, ev, member = acts["scrap"]
                    data = {"event_id": ev, "qty": "1", "reason": "soak: warped corner"}
                    self._press(url, data | ({"member": member} if member else {}), "scrap")
                for action in ("complete", "start"):
                    if action in acts:
                        url, ev, _ = acts[action]
                        self._press(url, {"event_id": ev}, action)
                        break
        while self.replays and self.rng.random() < 0.7:  # a retry of an earlier press
            url, data, action = self.replays.pop(0)
            self._press(url, data, action, replay=True)

    def close(self) -> None:
        self.client.close()


def run_loop(
    name: str,
    body: Callable[[threading.Event], None],
    every_s: float,
    stop: threading.Event,
    tally: Tally,
    seed: str,
) -> threading.Thread:
    """`body` every `every_s` (+-30 %) until `stop`; an exception is tallied and the loop goes on."""
    rng = random.Random(seed)

    def loop() -> None:
        stop.wait(rng.uniform(0, every_s / 3))  # the roles do not all start at once
        while not stop.is_set():
            try:
                body(stop)
            except Exception as exc:  # noqa: BLE001 - a soak keeps going; the crash is reported
                text = f"{name}: {exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=3)}"

                def crashed(t: Tally, text: str = text) -> None:
                    t.crashes.append(text)

                tally.add(crashed)
            stop.wait(every_s * rng.uniform(0.7, 1.3))

    thread = threading.Thread(target=loop, name=f"soak-{name}", daemon=True)
    thread.start()
    return thread
