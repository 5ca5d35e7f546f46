"""Planner console and operator station bench.

Run: ``.venv/bin/python bench/planner_bench.py [--ops 2000] [--presses 50] [--browser]
[--database-url postgresql://...]``

* Gantt page = server time of GET /planner/schedules/<id> (HTML shell) and of the Gantt JSON
  (``gantt.json``) for a released plan of ``--ops`` operations; target ≤ 1 s;
* browser paint (``--browser``) = navigation until vis-timeline has drawn the plan
  (``#gantt[data-ready=true]``) in Debian's Chromium; target ≤ 2 s;
* button → board = an operator's "start" (button event through the MES intake, recorded) and
  then the planner board's poll returning the changed fragment; target p95 ≤ 1 s.

Rows are inserted directly (no CAD, no solve): the bench measures the pages, not the solver.
The database is a SQLite file in a temporary folder (removed at the end) unless
``--database-url`` names one. ``--smoke`` walks every row, the browser's included, at the
smallest size (40 operations, 2 runs, 3 presses).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import configurator  # noqa: E402
from orders import migrate  # noqa: E402
from orders.commands.accounts import create_user  # noqa: E402
from orders.commands.designs import save_configuration  # noqa: E402
from orders.lifecycle import Status  # noqa: E402
from orders.models import (  # noqa: E402
    Assignment,
    Operation,
    OperationStatus,
    Order,
    OrderLine,
    Role,
    Schedule,
    ScheduleState,
)
from orders.seed import seed_shop  # noqa: E402
from orders.settings import Settings  # noqa: E402
from web import create_app  # noqa: E402

PASSWORD = "correct horse battery"
STEPS = (("print", "fdm"), ("support_removal", "post"), ("qc", "qc"), ("pack", "pack"))
FDM = ("fdm-mk4-01", "fdm-mk4-02", "fdm-mk4-03", "fdm-mk4-04", "fdm-xl-01", "fdm-xl-02")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def build_plan(ctx, n_ops: int) -> int:  # type: ignore[no-untyped-def]
    """A released plan with n_ops operations (4 per line) packed onto the machines."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with ctx.db.transaction() as s:
        seed_shop(s)
        cust = create_user(s, "bench-customer@example.com", PASSWORD, Role.CUSTOMER)
        cfg = save_configuration(s, "enclosure", configurator.get_family("enclosure").default_raw())
        plan = Schedule(
            version=1,
            objective="due_dates",
            solver_status="OPTIMAL",
            state=ScheduleState.RELEASED,
            released_at=now,
            kpis={"origin": now.isoformat()},
            params={},
        )
        s.add(plan)
        cursor = {m: now for m in (*FDM, "post-01", "qc-01", "pack-01")}
        for i in range(n_ops // len(STEPS)):
            order = Order(
                customer_id=cust.id,
                idempotency_key=f"b{i}",
                request_sha256="0" * 64,
                status=Status.RELEASED,
                currency="PKR",
                total=Decimal("100"),
            )
            line = OrderLine(
                configuration_id=cfg.id,
                quantity=1,
                tier="standard",
                unit_price=Decimal("100"),
                status=Status.RELEASED,
            )
            order.lines.append(line)
            s.add(order)
            s.flush()
            ready = now
            for seq, (step, process) in enumerate(STEPS):
                machine = FDM[i % len(FDM)] if process == "fdm" else f"{process}-01"
                minutes = 90 if process == "fdm" else 10
                op = Operation(
                    order_line_id=line.id,
                    seq=seq,
                    step=step,
                    process=process,
                    quantity=1,
                    eligible={machine: minutes},
                    status=OperationStatus.RELEASED,
                )
                s.add(op)
                s.flush()
                start = max(cursor[machine], ready)
                end = start + timedelta(minutes=minutes)
                setup = 8 if process == "fdm" and i % 5 == 0 else 0
                plan.assignments.append(
                    Assignment(
                        operation_id=op.id,
                        machine_id=machine,
                        start=start + timedelta(minutes=setup),
                        end=end + timedelta(minutes=setup),
                        setup_minutes=setup,
                    )
                )
                cursor[machine] = ready = end + timedelta(minutes=setup)
        s.flush()
        return plan.id


def login(app, role: Role, station: str | None = None):  # type: ignore[no-untyped-def]
    import re

    email = f"{role.value}-{uuid.uuid4().hex[:6]}@example.com"
    with app.extensions["hunar"].db.transaction() as s:
        create_user(s, email, PASSWORD, role, "bench", station)
    client = app.test_client()
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)
    )
    client.post("/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD})  # type: ignore[union-attr]
    csrf = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/account").get_data(as_text=True)
    )
    return client, csrf.group(1)  # type: ignore[union-attr]


def bench_gantt(app, plan_id: int, runs: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    client, _ = login(app, Role.PLANNER)
    out: dict[str, list[float]] = {"page": [], "gantt.json": []}
    for _ in range(runs):
        for name, url in (
            ("page", f"/planner/schedules/{plan_id}"),
            ("gantt.json", f"/planner/schedules/{plan_id}/gantt.json"),
        ):
            t0 = time.perf_counter()
            resp = client.get(url)
            out[name].append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.status_code
    n_items = len(client.get(f"/planner/schedules/{plan_id}/gantt.json").json["items"])
    print(f"gantt items: {n_items}")
    return out


def bench_buttons(app, presses: int) -> list[float]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    ctx = app.extensions["hunar"]
    with ctx.db.sessions() as s:
        jobs = (
            s.execute(
                select(Assignment.operation_id)
                .join(Operation, Operation.id == Assignment.operation_id)
                .where(Operation.seq == 0)
                .order_by(Assignment.start)
                .limit(presses)
            )
            .scalars()
            .all()
        )
    operator, csrf = login(app, Role.ADMIN)
    planner, _ = login(app, Role.PLANNER)
    etag = planner.get("/planner/board").headers["ETag"]
    times = []
    for op_id in jobs:
        t0 = time.perf_counter()
        resp = operator.post(
            f"/operator/job/JO-{op_id}-v1/start",
            data={"csrf_token": csrf, "event_id": uuid.uuid4().hex},
            headers={"Accept": "application/json"},
        )
        assert resp.status_code == 200 and resp.json["code"] == "applied", resp.json
        board = planner.get("/planner/board", headers={"If-None-Match": etag})
        times.append(time.perf_counter() - t0)
        assert board.status_code == 200, "the board must see the event"
        etag = board.headers["ETag"]
    return times


def bench_browser(app, plan_id: int, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    email = f"planner-{uuid.uuid4().hex[:6]}@example.com"
    with app.extensions["hunar"].db.transaction() as s:
        create_user(s, email, PASSWORD, Role.PLANNER)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    out: list[float] = []
    wall: list[float] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", PASSWORD)
            page.click("form.stack button[type=submit]")
            page.wait_for_load_state()
            for _ in range(runs):
                t0 = time.perf_counter()
                page.goto(f"{base}/planner/schedules/{plan_id}")
                page.wait_for_selector("#gantt[data-ready=true] .vis-item.op", timeout=30_000)
                wall.append(time.perf_counter() - t0)
                painted = page.get_attribute("#gantt", "data-painted-ms")  # since navigation start
                out.append(float(painted or "nan") / 1000)
            browser.close()
    finally:
        server.shutdown()
    print(f"browser wall time incl. Playwright round trips: median {statistics.median(wall):.3f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--presses", type=int, default=50)
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--database-url", default=None)
    ap.add_argument(
        "--smoke", action="store_true", help="--ops 40 --runs 2 --presses 3 --browser (seconds)"
    )
    args = ap.parse_args()
    if args.smoke:
        args.ops, args.runs, args.presses, args.browser = 40, 2, 3, True
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="planner-bench-"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    migrate.upgrade(url)
    # No CAD here: without Redis the app would import CadQuery in a background thread (for
    # in-process CAD jobs), competing for the GIL with the plan build and the pages measured.
    import orders.jobs

    orders.jobs.warm_up = lambda: None
    app = create_app(
        Settings(
            var_dir=tmp,
            database_url=url,
            secret_key="bench",
            redis_url=None,
            artifact_dir=tmp / "artifacts",
        )
    )
    app.config["HUNAR_RATE_LIMITS"] = {}
    try:
        measure(app, args, url)
    finally:
        app.extensions["hunar"].close()


def measure(app, args: argparse.Namespace, url: str) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    plan_id = build_plan(app.extensions["hunar"], args.ops)
    print(
        f"built a {args.ops}-operation released plan in {time.perf_counter() - t0:.1f} s ({url.split(':')[0]})"
    )
    rows = [
        (f"{k} ({args.ops} ops)", v, 1.0) for k, v in bench_gantt(app, plan_id, args.runs).items()
    ]
    if args.browser:
        rows.append(
            (
                "browser paint (nav → Gantt drawn)",
                bench_browser(app, plan_id, max(3, args.runs // 2)),
                2.0,
            )
        )
    rows.append(("button → event → board", bench_buttons(app, args.presses), 1.0))
    print(f"{'measure':34} {'n':>4} {'median s':>9} {'p95 s':>8} {'max s':>8} {'target':>7}")
    for name, values, target in rows:
        p95 = _pct(values, 0.95)
        print(
            f"{name:34} {len(values):>4} {statistics.median(values):>9.3f} {p95:>8.3f} "
            f"{max(values):>8.3f} {f'≤ {target:.0f} s':>7} {'ok' if p95 <= target else 'SLOW'}"
        )


if __name__ == "__main__":
    main()
