"""Simulated customers against a running Hunar stack: the load harness shared by the load bench
(`bench/load_bench.py`, full size) and its end-to-end test (`tests/e2e/test_e2e_load.py`).

Each customer signs in through the login form, reads a family's configurator data, asks for a
quote, saves the design and places orders over the JSON API with an idempotency key; about a
third of the orders are submitted twice at once under the same key (a double click). A few
invalid designs and quantities are sent too and must be refused with a 4xx naming the field.
Designs come from a small palette, so the content-addressed CAD cache deduplicates the builds.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

import configurator
from bench.load_stack import PASSWORD
from configurator.params import Integer, Number
from configurator.samples import sample_configs

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Design:
    family: str
    params: dict[str, Any]


@dataclass
class Recorder:
    """Thread-safe latencies and status codes per endpoint, and every 5xx/transport error."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    server_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(
        self, client: httpx.Client, label: str, method: str, url: str, **kw: Any
    ) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            resp = client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            with self.lock:
                self.transport_errors.append(f"{label} {url}: {exc.__class__.__name__}: {exc}")
            return None
        elapsed = time.perf_counter() - t0
        with self.lock:
            self.latencies[label].append(elapsed)
            self.statuses[label][resp.status_code] += 1
            if resp.status_code >= 500:
                self.server_errors.append(f"{label} {url}: {resp.status_code} {resp.text[:300]}")
        return resp

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def count_5xx(self) -> int:
        return sum(n for c in self.statuses.values() for code, n in c.items() if code >= 500)


@dataclass
class Outcome:
    """What the customers saw: accepted keys (with the order id they got) and refusals."""

    attempted_keys: set[str] = field(default_factory=set)
    accepted: dict[str, int] = field(default_factory=dict)  # idempotency key -> order id
    double_submits: int = 0
    split_doubles: list[str] = field(default_factory=list)  # one key, two different order ids
    invalid_sent: int = 0
    invalid_refused_ok: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_palette(size: int, families: list[str] | None = None, seed: int = 7) -> list[Design]:
    """`size` distinct valid designs, round-robin across the families (defaults first)."""
    keys = families or [f.key for f in configurator.all_families()]
    per = -(-size // len(keys)) + 2
    pools = {k: sample_configs(configurator.get_family(k), per, seed=seed) for k in keys}
    out: list[Design] = []
    for i in range(per):
        for k in keys:
            if i < len(pools[k]) and len(out) < size:
                out.append(Design(k, dict(pools[k][i].values)))
    return out


def orderable_palette(base_url: str, candidates: list[Design], size: int) -> list[Design]:
    """Keep designs the seeded shop can make (a real customer sees 'cannot be made' first)."""
    keep: list[Design] = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for d in candidates:
            body = {"family": d.family, "params": d.params, "quantity": 1, "tier": "standard"}
            resp = client.post("/api/quote", json=body)
            if resp.status_code == 200 and resp.json().get("orderable"):
                keep.append(d)
            if len(keep) >= size:
                break
    if not keep:
        raise RuntimeError("no orderable design in the palette")
    return keep


def invalid_design(family: str) -> tuple[dict[str, Any], str] | None:
    """A family's default design with one number far out of range, and the field to blame."""
    fam = configurator.get_family(family)
    for p in fam.params:
        if isinstance(p, Number | Integer):
            bad = int(p.max * 10 + 1000) if isinstance(p, Integer) else float(p.max * 10 + 1000)
            return fam.default_raw() | {p.name: bad}, p.name
    return None


class Customer:
    """One signed-in shopper: a cookie session plus the page's CSRF token for API writes."""

    def __init__(
        self,
        base_url: str,
        email: str,
        rec: Recorder,
        out: Outcome,
        rng: random.Random,
        palette: list[Design],
    ) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=180, follow_redirects=False)
        self.email, self.rec, self.out, self.rng = email, rec, out, rng
        self.palette = palette
        self.headers: dict[str, str] = {}

    def login(self) -> bool:
        page = self.rec.call(self.client, "GET /login", "GET", "/login")
        token = CSRF.search(page.text) if page is not None else None
        if token is None:
            self.rec.problem(f"{self.email}: no login form")
            return False
        resp = self.rec.call(
            self.client,
            "POST /login",
            "POST",
            "/login",
            data={"csrf_token": token.group(1), "email": self.email, "password": PASSWORD},
        )
        if resp is None or resp.status_code != 302:
            self.rec.problem(f"{self.email}: login gave {resp.status_code if resp else 'no reply'}")
            return False
        acct = self.rec.call(self.client, "GET /account", "GET", "/account")
        found = CSRF.search(acct.text) if acct is not None else None
        if found is None:
            self.rec.problem(f"{self.email}: no CSRF token on /account")
            return False
        self.headers = {"X-CSRFToken": found.group(1)}
        return True

    def save(self, d: Design, qty: int) -> int | None:
        """Configurator data, live quote, then save: what the configurator page does."""
        self.rec.call(self.client, "GET /api/families/<key>", "GET", f"/api/families/{d.family}")
        self.rec.call(
            self.client,
            "POST /api/quote",
            "POST",
            "/api/quote",
            headers=self.headers,
            json={"family": d.family, "params": d.params, "quantity": qty},
        )
        resp = self.rec.call(
            self.client,
            "POST /api/configurations",
            "POST",
            "/api/configurations",
            headers=self.headers,
            json={"family": d.family, "params": d.params},
        )
        if resp is None or resp.status_code != 201:
            self.rec.problem(
                f"save {d.family}: {resp.status_code if resp else 'no reply'} "
                f"{resp.text[:200] if resp else ''}"
            )
            return None
        return int(resp.json()["id"])

    def place(self, lines: list[dict[str, Any]], double: bool) -> None:
        key = uuid.uuid4().hex
        body = {"lines": lines, "idempotency_key": key}
        with self.out.lock:
            self.out.attempted_keys.add(key)
        if not double:
            self._record(key, [self._post_order(body, "POST /api/orders")])
            return
        twin = httpx.Client(
            base_url=str(self.client.base_url), timeout=180, cookies=self.client.cookies
        )
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(self._post_order, body, "POST /api/orders")
            b = pool.submit(self._post_order, body, "POST /api/orders (double)", twin)
            results = [a.result(), b.result()]
        twin.close()
        with self.out.lock:
            self.out.double_submits += 1
        self._record(key, results)

    def _post_order(
        self, body: dict[str, Any], label: str, client: httpx.Client | None = None
    ) -> int | None:
        resp = self.rec.call(
            client or self.client, label, "POST", "/api/orders", headers=self.headers, json=body
        )
        if resp is None or resp.status_code not in (200, 201):
            self.rec.problem(
                f"order {body['idempotency_key']}: "
                f"{resp.status_code if resp else 'no reply'} {resp.text[:200] if resp else ''}"
            )
            return None
        return int(resp.json()["id"])

    def _record(self, key: str, ids: list[int | None]) -> None:
        got = {i for i in ids if i is not None}
        with self.out.lock:
            if len(got) > 1:
                self.out.split_doubles.append(f"{key}: {sorted(got)}")
            if got:
                self.out.accepted[key] = min(got)
        if got:
            oid = min(got)
            self.rec.call(self.client, "GET /api/orders/<id>", "GET", f"/api/orders/{oid}")

    def send_invalid(self, family: str) -> None:
        """An out-of-range design and a zero quantity: both a 4xx that names the field."""
        bad = invalid_design(family)
        checks: list[tuple[str, dict[str, Any], str]] = []
        if bad is not None:
            checks.append(("/api/quote", {"family": family, "params": bad[0]}, bad[1]))
        d = self.rng.choice(self.palette)
        checks.append(
            ("/api/quote", {"family": d.family, "params": d.params, "quantity": 0}, "quantity")
        )
        for url, body, field_name in checks:
            resp = self.rec.call(
                self.client, "POST invalid", "POST", url, headers=self.headers, json=body
            )
            fields = _error_fields(resp)
            with self.out.lock:
                self.out.invalid_sent += 1
                ok = resp is not None and 400 <= resp.status_code < 500 and field_name in fields
                self.out.invalid_refused_ok += int(ok)
            if not ok:
                self.rec.problem(
                    f"invalid {family}.{field_name} not refused by field: "
                    f"{resp.status_code if resp else 'no reply'} {fields}"
                )


def _error_fields(resp: httpx.Response | None) -> dict[str, Any]:
    try:
        return dict(resp.json()["error"]["fields"]) if resp is not None else {}
    except (ValueError, KeyError, TypeError):
        return {}


@dataclass(frozen=True)
class Plan:
    """How many orders each customer places and how (seeded, reproducible)."""

    orders_per_customer: list[int]
    double_share: float = 1 / 3
    invalid_share: float = 0.1
    max_lines: int = 2
    seed: int = 7


def split_orders(customers: int, orders: int) -> list[int]:
    base, extra = divmod(orders, customers)
    return [base + (1 if i < extra else 0) for i in range(customers)]


def run_customer(
    base_url: str,
    email: str,
    n_orders: int,
    palette: list[Design],
    plan: Plan,
    rec: Recorder,
    out: Outcome,
    index: int,
) -> None:
    rng = random.Random(f"{plan.seed}:{index}")
    cust = Customer(base_url, email, rec, out, rng, palette)
    try:
        if not cust.login():
            return
        doubles = rng.random() < plan.double_share  # about a third of customers double-click
        for _ in range(n_orders):
            lines = []
            for d in rng.sample(palette, k=rng.randint(1, min(plan.max_lines, len(palette)))):
                qty = rng.choice((1, 1, 2, 5))
                cid = cust.save(d, qty)
                if cid is not None:
                    lines.append(
                        {
                            "configuration_id": cid,
                            "quantity": qty,
                            "tier": rng.choice(("standard", "standard", "express")),
                        }
                    )
            if lines:
                cust.place(lines, double=doubles and rng.random() < 0.7)
            if rng.random() < plan.invalid_share:
                cust.send_invalid(rng.choice(palette).family)
    finally:
        cust.client.close()


def run_customers(
    base_url: str, emails: list[str], palette: list[Design], plan: Plan, rec: Recorder, out: Outcome
) -> float:
    """All customers at once (one thread each); returns the wall time of the load phase."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        futures = [
            pool.submit(run_customer, base_url, e, n, palette, plan, rec, out, i)
            for i, (e, n) in enumerate(zip(emails, plan.orders_per_customer, strict=True))
        ]
        for f in futures:
            f.result()
    return time.perf_counter() - t0


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, int(round(q / 100 * len(s))) - 1))]
