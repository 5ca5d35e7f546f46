"""The `hunar` command: database, seed data, web server and queue workers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from orders.cli_power import outages
from orders.cli_staff import staff_change, user
from orders.cli_stock import stock
from orders.settings import load_settings

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what click.progressbar() returns
    from sqlalchemy.orm import Session

    from orders.commands.audit import Actor
    from orders.context import AppContext


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Hunar: made-to-order manufacturing, from configured product to shop floor."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations to the configured database (SQLite or PostgreSQL)."""
    from orders import migrate

    settings = load_settings()
    if not settings.database_url:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url(), revision)
    click.echo(f"database at {_safe_url(settings.resolved_database_url())} is at {revision}")


@main.command()
def seed() -> None:
    """Fill the shop: one user per role, 12 machines, a shift calendar, a maintenance window."""
    from orders.context import AppContext
    from orders.seed import seed_shop

    ctx = AppContext.from_settings(load_settings())
    with ctx.db.transaction() as session:
        report = seed_shop(session)
    click.echo(
        f"machines added: {report.machines_added}, calendars added: {report.calendars_added}"
    )
    if report.passwords:
        click.echo("demo users (passwords are shown only this once):")
        for email, password in report.passwords.items():
            click.echo(f"  {email:28} {password}")
    else:
        click.echo("demo users already exist; their passwords were printed when they were made")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app under gunicorn (a dependency). The app is named by its import string,
    so the order book's CLI does not import the web layer above it.

    Workers are recycled after about a thousand requests: with jobs in-process a worker also
    runs CAD, whose OCCT memory is not given back; a job cut short by the recycling is run
    again by the next worker (``requeue_orphans``)."""
    args = [
        "gunicorn",
        "--workers",
        str(workers),
        "--max-requests",
        "1000",
        "--max-requests-jitter",
        "100",
        "--bind",
        f"{host}:{port}",
        "--access-logfile",
        "-",
        "web:create_app()",
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *args])


@main.command()
@click.argument("queues", nargs=-1)
@click.option(
    "--max-jobs", type=int, default=None, help="Exit after N jobs (recycles OCCT memory)."
)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
def worker(queues: tuple[str, ...], max_jobs: int | None, burst: bool) -> None:
    """Run an RQ worker on the named queues (default: cad plan)."""
    from redis import Redis
    from rq import Queue, Worker

    from orders.adapters.queue import QUEUES
    from orders.context import worker_context

    names = queues or QUEUES
    unknown = sorted(set(names) - set(QUEUES))
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {unknown}; choose from {list(QUEUES)}")
    ctx = worker_context()
    from orders.jobs import warm_up

    warm_up()  # preload CadQuery once; each forked job inherits it

    if not ctx.settings.redis_url:
        raise click.UsageError("HUNAR_REDIS_URL is not set: without Redis, jobs run in-process")
    # Frequent maintenance: a job whose worker was killed (heartbeat expired) is retried within
    # about a minute and a half, not after RQ's default ten-minute sweep.
    # The worker blocks on BLPOP for minutes, so its connection has no read timeout.
    conn = Redis.from_url(ctx.settings.redis_url, socket_connect_timeout=5)
    w = Worker(
        [Queue(n, connection=conn) for n in names],
        connection=conn,
        maintenance_interval=20,
        job_monitoring_interval=10,
        worker_ttl=35,
    )
    w.work(burst=burst, max_jobs=max_jobs, with_scheduler=True)


@main.command()
@click.option("--loop", is_flag=True, help="Keep dispatching until interrupted.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
def dispatch(loop: bool, interval: float) -> None:
    """Deliver the outbox: queue requests, job orders to the shop floor, e-mails (retried)."""
    import time

    from orders.adapters.floor_dispatch import dispatch_job_orders, transports_for
    from orders.adapters.mail import flush_mail
    from orders.adapters.outbox import flush_enqueues, requeue_lost
    from orders.context import AppContext

    ctx = AppContext.from_settings(load_settings())
    transports = transports_for(ctx)
    try:
        while True:
            queued = flush_enqueues(ctx) + requeue_lost(ctx)
            report = dispatch_job_orders(ctx, transports)
            mailed = flush_mail(ctx)
            click.echo(
                f"queued {queued}, delivered {report['delivered']}, "
                f"retry later {report['retry_later']}, rejected {report['rejected']}, "
                f"e-mails sent {mailed}"
            )
            _prune_when_due(ctx)
            _reconcile_payments(ctx)
            if not loop:
                break
            time.sleep(interval)
    finally:
        for t in transports.values():
            t.close()


def _prune_when_due(ctx: AppContext) -> None:
    """The dispatcher's housekeeping: old anonymous previews, every [preview] prune_every_minutes
    (a failure is said and tried again next time; delivery goes on)."""
    from sqlalchemy.exc import SQLAlchemyError

    from orders.commands.prune import prune_when_due

    try:
        pruned = prune_when_due(ctx)
    except (SQLAlchemyError, OSError) as exc:
        click.echo(f"anonymous previews not pruned: {exc}", err=True)
        return
    if pruned is not None and pruned.pruned:
        click.echo(f"anonymous previews pruned {len(pruned.pruned)}")


def _reconcile_payments(ctx: AppContext) -> None:
    """The dispatcher asks the gateways about payments whose answer never came (a failure is
    said and tried again next pass; delivery goes on)."""
    from sqlalchemy.exc import SQLAlchemyError

    from orders.commands.reconcile_payments import reconcile

    try:
        done = reconcile(ctx)
    except (SQLAlchemyError, OSError) as exc:
        click.echo(f"payments not reconciled: {exc}", err=True)
        return
    if done.settled:
        click.echo(f"payments reconciled {len(done.settled)}")


@main.group()
def payments() -> None:
    """Online payments (JazzCash, Easypaisa)."""


@payments.command("reconcile")
def payments_reconcile() -> None:
    """Ask the gateways about open payments whose callback never came, and apply the answers
    (the dispatcher loop does this too). Exit status 1 when a gateway could not be asked."""
    from orders.commands.reconcile_payments import reconcile
    from orders.context import AppContext

    ctx = AppContext.from_settings(load_settings())
    try:
        done = reconcile(ctx)
    finally:
        ctx.close()
    for a in done.settled:
        click.echo(f"{a.provider} {a.txn_ref} (order {a.order_id}): {a.state.value}")
    click.echo(
        f"open payments asked about: {done.asked}; settled: {len(done.settled)}; "
        f"gateway unreachable: {len(done.unreachable)}"
    )
    if done.unreachable:
        sys.exit(1)


@main.command()
def prune() -> None:
    """Delete anonymous previews nobody saved, ordered or is building, older than [preview]
    keep_hours in data/shop.toml: their rows and their files in the artifact store."""
    from orders.commands.prune import prune_previews
    from orders.context import AppContext

    ctx = AppContext.from_settings(load_settings())
    try:
        report = prune_previews(ctx)
    finally:
        ctx.close()
    click.echo(
        f"anonymous preview designs pruned: {len(report.pruned)}; "
        f"in use at that moment, kept: {report.skipped}"
    )


@main.group()
def fleet() -> None:
    """The fleet board's live printer status."""


@fleet.command("poll")
@click.option("--loop", is_flag=True, help="Keep polling until interrupted.")
@click.option("--interval", default=0.5, show_default=True, help="Seconds between passes.")
def fleet_poll(loop: bool, interval: float) -> None:
    """Read every printer's status and store what changed (for /planner/fleet).

    Its own process, not a step of `hunar dispatch`: an upload or a start confirmation can keep
    a dispatch pass busy for seconds, and the board must still change within two."""
    from orders.adapters.fleet_poll import FleetPoller, PollReport, poll_loop
    from orders.adapters.floor_dispatch import transports_for
    from orders.context import AppContext

    ctx = AppContext.from_settings(load_settings())
    transports = transports_for(ctx)

    def say(r: PollReport) -> None:
        click.echo(
            f"read {r.read}, changed {r.changed}, refreshed {r.touched}, waiting {r.waiting}"
        )

    try:
        if loop:
            poll_loop(ctx, transports, interval, say)
        else:
            poller = FleetPoller(transports)
            try:
                say(poller.poll_once(ctx))
            finally:
                poller.close()
    finally:
        for t in transports.values():
            t.close()
        ctx.close()


@main.command()
@click.argument("order_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--carrier", required=True, help="Carrier's name, e.g. TCS.")
@click.option("--tracking", required=True, help="The carrier's tracking number.")
def ship(order_id: int, carrier: str, tracking: str) -> None:
    """Ship a completed order: store its delivery note and tell the customer how it travels."""
    from orders.commands.fulfilment import ship_order

    def change(session: Session, actor: Actor) -> str:
        s = ship_order(session, order_id, carrier, tracking, actor)
        return f"order {order_id} shipped with {s.carrier}, tracking {s.tracking_number}"

    staff_change("ship", change)


@main.command()
@click.argument("order_id", type=click.IntRange(1, 2**31 - 1))
def deliver(order_id: int) -> None:
    """Mark a shipped order delivered."""
    from orders.commands.fulfilment import deliver_order

    def change(session: Session, actor: Actor) -> str:
        deliver_order(session, order_id, actor)
        return f"order {order_id} delivered"

    staff_change("deliver", change)


@main.command()
@click.argument("order_id", type=click.IntRange(1, 2**31 - 1))
@click.option(
    "--method",
    required=True,
    type=click.Choice(["bank_transfer", "cash_on_delivery"]),
    help="How the money came in.",
)
@click.option("--amount", required=True, help="Amount received, e.g. 1500 or 1500.50.")
@click.option("--reference", default="", help="The bank's transaction number (bank transfers).")
@click.option("--key", default=None, help="Idempotency key: the same key records once.")
def pay(order_id: int, method: str, amount: str, reference: str, key: str | None) -> None:
    """Record a payment received for an order (refused above the balance due)."""
    import uuid

    from orders.commands.payments import record_payment

    def change(session: Session, actor: Actor) -> str:
        done = record_payment(
            session,
            order_id,
            method=method,
            amount=amount,
            reference=reference,
            idempotency_key=key or uuid.uuid4().hex,
            actor=actor,
        )
        p = done.payment
        what = "recorded" if done.created else "was already recorded"
        return f"payment {p.id} of {p.currency} {p.amount} for order {order_id} {what}"

    staff_change("pay", change)


@main.command()
@click.argument("order_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--reason", required=True, help="Why the order is cancelled (kept in the audit).")
def cancel(order_id: int, reason: str) -> None:
    """Cancel an order as staff (until it ships); a re-plan is proposed if it had planned work."""
    from orders.commands.fulfilment import cancel_order

    def change(session: Session, actor: Actor) -> str:
        r = cancel_order(session, order_id, actor, reason)
        if not r.changed:
            return f"order {order_id} was already cancelled"
        replan = f"; re-plan proposed (schedule {r.proposal_id})" if r.proposal_id else ""
        return (
            f"order {order_id} cancelled: {r.operations_withdrawn} operations and "
            f"{r.messages_withdrawn} job orders withdrawn{replan}"
        )

    staff_change("cancel", change)


@main.command()
def intake() -> None:
    """Listen for shop-floor status on MQTT (hunar/<site>/+/status) and apply it to the orders."""
    import time

    from orders.context import AppContext
    from orders.floor_intake import MqttIntake

    listener = MqttIntake(AppContext.from_settings(load_settings()))
    listener.start()
    click.echo(f"listening on {listener.topic}")
    try:
        while True:
            time.sleep(30)
            click.echo(f"intake counts: {dict(listener.stats.counts)}")
    finally:
        listener.stop()


@main.command()
@click.option("--customers", default=40, show_default=True)
@click.option("--lines", default=120, show_default=True)
@click.option("--plan-seconds", default=20.0, show_default=True, help="Solver time limit.")
@click.option("--seed", default=7, show_default=True)
def demo(customers: int, lines: int, plan_seconds: float, seed: int) -> None:
    """Tell the whole story: customers, CAD, plan with plates, release, operators, breakdown."""
    from contextlib import contextmanager

    from orders import migrate
    from orders.context import AppContext
    from orders.demo import run_demo

    settings = load_settings()
    if not settings.redis_url:
        settings.inprocess_jobs = "sync"  # no workers: run each job right here, in order
    if not settings.database_url:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url())
    ctx = AppContext.from_settings(settings)

    @contextmanager
    def progress(label: str, total: int) -> Iterator[ProgressBar[int]]:
        with click.progressbar(length=total, label=label) as bar:
            yield bar

    _, path = run_demo(
        ctx,
        progress,
        click.echo,
        customers=customers,
        lines=lines,
        seed=seed,
        plan_seconds=plan_seconds,
        workdir=settings.var_dir / "demo",
    )
    click.echo(f"HTML report: {path}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


main.add_command(user)
main.add_command(stock)
main.add_command(outages)

if __name__ == "__main__":  # after every command is added (`python -m orders.cli user` too)
    main()
