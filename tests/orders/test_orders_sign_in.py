"""Per-account sign-in throttle: backoff after a few failures, shared through the database,
the same for registered and unknown addresses, exact under concurrent attempts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from factories import make_user

from orders.commands.sign_in import sign_in, throttle_key
from orders.context import AppContext
from orders.models import LoginThrottle
from orders.shop import shop_numbers

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _try(ctx: AppContext, email: str, password: str, at: datetime = T0):
    with ctx.db.transaction() as s:
        return sign_in(s, email, password, at)


def _user(ctx: AppContext) -> tuple[str, str]:
    with ctx.db.transaction() as s:
        user = make_user(s)
        return user.email, "correct horse battery"


def test_backoff_locks_the_account_even_for_the_right_password(ctx: AppContext) -> None:
    email, good = _user(ctx)
    limits = shop_numbers().sign_in
    for _ in range(limits.free_failures - 1):
        assert not _try(ctx, email, "wrong").locked
    assert _try(ctx, email, good).user is not None, "under the free count the right one works"
    for _ in range(limits.free_failures):
        _try(ctx, email, "wrong")
    locked = _try(ctx, email, good)
    assert locked.user is None and locked.retry_after_s == limits.base_lockout_seconds
    later = T0 + timedelta(seconds=limits.base_lockout_seconds + 1)
    assert not _try(ctx, email, "wrong", later).locked  # the wait is over: one more try...
    again = _try(ctx, email, good, later)
    assert again.retry_after_s == 2 * limits.base_lockout_seconds  # ...which doubled the wait
    done = later + timedelta(seconds=limits.max_lockout_seconds)
    assert _try(ctx, email, good, done).user is not None, "the right password resets it"
    with ctx.db.sessions() as s:
        row = s.get_one(LoginThrottle, throttle_key(email))
        assert row.failures == 0 and row.locked_until is None


def test_an_unknown_address_is_throttled_exactly_like_a_registered_one(ctx: AppContext) -> None:
    email, _ = _user(ctx)
    unknown = "nobody-here@example.com"
    seen = {}
    for who in (email, unknown):
        seen[who] = [_try(ctx, who, "wrong").retry_after_s for _ in range(8)]
    assert seen[email] == seen[unknown] and seen[email][-1] > 0


def test_lockout_never_exceeds_the_cap_and_a_quiet_day_forgets(ctx: AppContext) -> None:
    limits = shop_numbers().sign_in
    assert limits.lockout_seconds(limits.free_failures - 1) == 0
    assert limits.lockout_seconds(10_000) == limits.max_lockout_seconds
    email, _ = _user(ctx)
    for _ in range(limits.free_failures - 1):
        _try(ctx, email, "wrong")
    next_day = T0 + timedelta(days=1, seconds=1)
    assert not _try(ctx, email, "wrong", next_day).locked, "yesterday's failures are forgotten"
    with ctx.db.sessions() as s:
        assert s.get_one(LoginThrottle, throttle_key(email)).failures == 1


def test_parallel_wrong_passwords_are_all_counted(ctx: AppContext) -> None:
    """Twelve wrong passwords at once from twelve workers: twelve failures, none lost."""
    email, good = _user(ctx)
    n = 12
    gate = threading.Barrier(n)

    def attempt(_: int) -> int:
        gate.wait()
        return _try(ctx, email, "wrong").retry_after_s

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(attempt, range(n)))
    with ctx.db.sessions() as s:
        row = s.get_one(LoginThrottle, throttle_key(email))
        free = shop_numbers().sign_in.free_failures
        assert row.failures == free, "attempts while locked are refused, not counted"
    assert _try(ctx, email, good).locked
