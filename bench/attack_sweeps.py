"""The sweeps of bench/attack_bench.py: concurrency, IDOR, authentication and files.

- concurrency: N identical requests at once (one session, N connections) to the state-changing
  routes that have a logical action to count: an order per idempotency key, a design save, a
  sign-up per e-mail, an API token past the cap, a proposal per form, approve and release of
  one plan, an operator's press per event id. The effects are counted in the database at the
  end (soak_bench.duplicate_effects and `extra_duplicates`).
- IDOR: a customer asks for every other customer's orders, designs, their PDFs and files, by
  sequential id, and for aliases of ids ("01", "١"): each must be a 404; posts to another's
  order (cancel, amend, pay) too.
- authentication: every route that is not public, GET and POST, without a session: 302/401/403.
- files: traversal URLs under /files, /static and /catalogue: never 2xx with a file outside.

Each sweep's rule broken is a `finding` with the request that broke it.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa

from bench.attack_parts import URL_IDS, Hits, Who, fill

OK_ANON = (302, 303, 401, 403)  # an anonymous request to a route that needs a session
TRAVERSAL = [
    "/files/../../etc/passwd",
    "/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/files/..%2f..%2fetc",
    "/files/%2fetc%2fpasswd",
    "/files/1%00",
    "/files/1%00.step",
    "/files/..%5c..%5cetc%5cpasswd",
    "/files/1/..%2f..%2fetc",
    "/api/artifacts/..%2f..%2fetc%2fpasswd",
    "/static/../web/__init__.py",
    "/static/%2e%2e/web/__init__.py",
    "/static/..%2fweb%2fauth.py",
    "/static/%2fetc%2fpasswd",
    "/catalogue/..%2f..%2fetc/thumbnail.svg",
    "/api/preview/..%2f..%2fetc%2fpasswd/model.glb",
]
LEAKS = (b"root:x:0:0", b"def create_app", b"import ")


def public_endpoints() -> set[str]:
    """Endpoints the role matrix lets anonymous visitors reach (tests/web/security)."""
    import sys

    from bench.attack_parts import REPO

    sys.path.insert(0, str(REPO / "tests/web/security"))
    sys.path.insert(0, str(REPO / "tests/web"))
    from test_security_matrix import ANON, EXPECTED  # type: ignore[import-not-found]

    return {e for e, a in EXPECTED.items() if ANON in a.roles} | {"floor.events"}


def twin(client: httpx.Client) -> httpx.Client:
    return httpx.Client(
        base_url=str(client.base_url),
        timeout=180,
        cookies=client.cookies,
        headers=client.headers,
        follow_redirects=False,
    )


def burst(hits: Hits, clients: list[httpx.Client], method: str, url: str, **kw: Any) -> list[int]:
    """The same request from every client at once (a barrier before the send)."""
    gate = threading.Barrier(len(clients))

    def go(c: httpx.Client) -> int:
        gate.wait()
        r = hits.send("concurrency", c, method, url, **kw)
        return r.status_code if r is not None else 0

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(go, clients))


def concurrency(
    hits: Hits, who: Who, n: int, fresh: Callable[[], Any], stations: list[str]
) -> list[str]:
    """Returns a line per case: the answers the N duplicates got."""
    from bench.soak_traffic import EVENT_ID, FORM, SOLVER

    out: list[str] = []

    def case(label: str, make: list[httpx.Client], method: str, url: str, **kw: Any) -> list[int]:
        codes = burst(hits, make, method, url, **kw)
        for c in make:
            c.close()
        out.append(f"{label}: {dict(sorted({c: codes.count(c) for c in codes}.items()))}")
        return codes

    cust, planner = who.sessions["customer"], who.sessions["planner"]
    bearer = {"Authorization": f"Bearer {who.bearers[0]}"}
    line = {"configuration_id": int(who.ids["config_id"]), "quantity": 1, "tier": "standard"}
    order = {"lines": [line], "idempotency_key": uuid.uuid4().hex}
    anon = [httpx.Client(base_url=who.base_url, timeout=180) for _ in range(n)]
    case("POST /api/orders (one key)", anon, "POST", "/api/orders", json=order, headers=bearer)
    body = who.design
    case("POST /api/configurations", [twin(cust) for _ in range(n)], "POST",
         "/api/configurations", json=body)  # fmt: skip
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    signups = [fresh() for _ in range(n)]
    codes = burst(hits, [c for c, _ in signups], "POST", "/signup", data={
        "email": email, "name": "Race", "password": "correct horse battery 9"})  # fmt: skip
    out.append(f"POST /signup (one e-mail, own sessions): {sorted(codes)}")
    for c, _ in signups:
        c.close()
    case("POST /account (token, past the cap)", [twin(cust) for _ in range(n)], "POST",
         "/account", data={"name": "race", "csrf_token": who.csrf["customer"]})  # fmt: skip
    form = {"objective": "due_dates", "time_limit_s": "2", "horizon_days": "14",
            "request_key": uuid.uuid4().hex, "csrf_token": who.csrf["planner"]}  # fmt: skip
    codes = case("POST /planner/propose (one form)", [twin(planner) for _ in range(n)], "POST",
                 "/planner/propose", data=form)  # fmt: skip
    r = hits.send("concurrency", planner, "POST", "/planner/propose", data=form)
    sid = (r.headers.get("location", "") if r is not None else "").rstrip("/").rsplit("/", 1)[-1]
    if sid.isdigit():
        import time

        solver, deadline = "PENDING", time.monotonic() + 240
        while solver == "PENDING" and time.monotonic() < deadline:
            time.sleep(1)
            p = hits.send("concurrency", planner, "GET", f"/planner/schedules/{sid}/panel")
            m = SOLVER.search(p.text) if p is not None else None
            solver = m.group(1) if m else "PENDING"
        if solver not in ("OPTIMAL", "FEASIBLE") and p is not None:
            text = " ".join(re.sub(r"<[^>]+>", " ", p.text).split())
            out.append(f"proposal {sid} {solver}: {text[:400]}")
        for step in ("approve", "release"):
            case(f"POST /planner/schedules/<id>/{step} ({solver})",
                 [twin(planner) for _ in range(n)], "POST", f"/planner/schedules/{sid}/{step}",
                 data={"csrf_token": who.csrf["planner"]})  # fmt: skip
    op = who.sessions["operator"]
    for machine in stations:
        page = hits.send("concurrency", op, "GET", f"/operator/station/{machine}")
        for url, _job, action, inner in FORM.findall(page.text if page is not None else ""):
            ev = EVENT_ID.search(inner)
            if ev and action in ("start", "complete"):
                data = {"event_id": ev.group(1), "csrf_token": who.csrf["operator"]}
                case(f"POST /operator/job/<id>/{action} (one event id)",
                     [twin(op) for _ in range(n)], "POST", url, data=data)  # fmt: skip
                return out
    out.append("operator: no start or complete form on the stations (no floor case)")
    return out


def idor(hits: Hits, who: Who, db_url: str, attacker: str) -> int:
    """Every other customer's objects by id, as `attacker` (the 'customer' session)."""
    from orders.models import Artifact, Order, OrderLine, ProductConfiguration, Quote, User

    cfg = ProductConfiguration
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        me = conn.scalar(sa.select(User.id).where(User.email == attacker))
        orders = conn.scalars(sa.select(Order.id).where(Order.customer_id != me)).all()
        owned = set(conn.scalars(sa.select(cfg.id).where(cfg.created_by_id.is_not(None))))
        owned |= set(
            conn.scalars(sa.select(Quote.configuration_id).where(Quote.customer_id.is_not(None)))
        )
        mine = set(conn.scalars(sa.select(cfg.id).where(cfg.created_by_id == me)))
        mine |= set(conn.scalars(sa.select(Quote.configuration_id).where(Quote.customer_id == me)))
        mine |= set(
            conn.scalars(
                sa.select(OrderLine.configuration_id).join(Order).where(Order.customer_id == me)
            )
        )
        designs = sorted(owned - mine)
        arts = conn.scalars(
            sa.select(Artifact.id).where(Artifact.configuration_id.in_(designs or [-1]))
        ).all()
    engine.dispose()
    c, csrf = who.sessions["customer"], who.csrf["customer"]
    gets = [f"/orders/{i}" for i in orders] + [f"/api/orders/{i}" for i in orders]
    for suffix in ("confirmation.pdf", "invoice.pdf", "delivery-note.pdf"):
        gets += [f"/orders/{i}/{suffix}" for i in orders]
    for i in designs:
        gets += [f"/api/configurations/{i}", f"/api/configurations/{i}/preview"]
        gets += [f"/designs/{i}/quote.pdf"]
    gets += [f"/files/{i}" for i in arts] + [f"/api/artifacts/{i}" for i in arts]
    gets += [f"/api/orders/{v}" for v in URL_IDS] + [f"/files/{v}" for v in URL_IDS]
    posts = [f"/orders/{i}/{a}" for i in orders for a in ("cancel", "amend", "pay")]
    bad = 0

    def check(method: str, url: str, **kw: Any) -> None:
        nonlocal bad
        r = hits.send("idor", c, method, url, **kw)
        if r is not None and r.status_code != 404 and r.status_code < 500:
            bad += 1
            hits.finding(f"IDOR: {method} {url} as {attacker} -> {r.status_code}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda u: check("GET", u), gets))
        list(pool.map(lambda u: check("POST", u, data={"csrf_token": csrf, "line_id": "1"}), posts))
    return len(gets) + len(posts)


def auth(hits: Hits, who: Who, rules: list[tuple[str, str, str]], fresh: Callable[[], Any]) -> int:
    """Every non-public route without a session (a fresh anonymous one, with its CSRF token)."""
    import random

    public, rng, sent = public_endpoints(), random.Random(5), 0
    client, csrf = fresh()
    for endpoint, method, rule in rules:
        if endpoint in public:
            continue
        for url in fill(rule, who.ids, rng, False):
            kw: dict[str, Any] = {"data": {"csrf_token": csrf}} if method == "POST" else {}
            if url.startswith("/api/") and method == "POST":
                kw = {"json": {}, "headers": {"X-CSRFToken": csrf}}
            r = hits.send("auth", client, method, url, **kw)
            sent += 1
            if r is not None and r.status_code not in OK_ANON and r.status_code < 500:
                hits.finding(f"auth: {method} {url} without a session -> {r.status_code}")
    client.close()
    return sent


def files(hits: Hits, who: Who) -> int:
    sent = 0
    for role in ("customer", "admin"):
        for url in TRAVERSAL:
            r = hits.send("files", who.sessions[role], "GET", url)
            sent += 1
            if r is not None and (200 <= r.status_code < 300 or any(x in r.content for x in LEAKS)):
                hits.finding(f"files: GET {url} as {role} -> {r.status_code} {r.content[:80]!r}")
    return sent


def extra_duplicates(db_url: str) -> dict[str, int]:
    """What soak_bench.duplicate_effects does not count: sign-ups, tokens, plan events."""
    from orders.commands.accounts import MAX_TOKENS
    from orders.models import ApiToken, Event, User

    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            emails = conn.execute(
                sa.select(sa.func.count())
                .select_from(User)
                .group_by(sa.func.lower(User.email))
                .having(sa.func.count() > 1)
            ).all()
            tokens = conn.execute(
                sa.select(sa.func.count())
                .select_from(ApiToken)
                .where(ApiToken.revoked.is_(False))
                .group_by(ApiToken.user_id)
                .having(sa.func.count() > MAX_TOKENS)
            ).all()
            named = conn.execute(
                sa.select(sa.func.count())
                .select_from(ApiToken)
                .where(ApiToken.revoked.is_(False))
                .group_by(ApiToken.user_id, ApiToken.name)
                .having(sa.func.count() > 1)
            ).all()
            plan_events = conn.execute(
                sa.select(sa.func.count())
                .select_from(Event)
                .where(Event.entity_type == "schedule")
                .group_by(Event.entity_id, Event.from_state, Event.to_state)
                .having(sa.func.count() > 1)
            ).all()
    finally:
        engine.dispose()
    return {
        "accounts per e-mail > 1": sum(n - 1 for (n,) in emails),
        f"live API tokens beyond {MAX_TOKENS}": sum(n - MAX_TOKENS for (n,) in tokens),
        "live API tokens per (user, name) > 1": sum(n - 1 for (n,) in named),
        "plan transitions made twice": sum(n - 1 for (n,) in plan_events),
    }
