"""A small fixed-window rate limiter: in-process, or shared through Redis when configured.

Limits are `(max requests, window seconds)` per bucket in `app.config["HUNAR_RATE_LIMITS"]`.
With several gunicorn workers and no Redis, each worker counts on its own (documented).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request
from flask_login import current_user
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from web.errors import ApiError

DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "login": (10, 60),
    "signup": (5, 300),
    "quote": (120, 60),
    "token": (10, 300),
    "design": (60, 300),  # saved designs (each adds a quote row): generous for people, not bots
    # anonymous 3D previews that store a new design or start a CAD build: per visitor, and for
    # all visitors together (a shared bucket), so no crowd of addresses makes unbounded rows
    "anon_preview": (10, 300),
    "anon_preview_all": (120, 3600),
    "preview_poll": (300, 60),  # following a build: cheap, cached reads
}


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._redis = (
            Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
            if redis_url
            else None
        )
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_s: int) -> int:
        """Count one request; returns 0 if allowed, else the seconds until the window resets."""
        now = time.time()
        window = int(now // window_s)
        retry = max(1, int((window + 1) * window_s - now))
        try:
            count = self._shared(key, window, window_s) if self._redis is not None else None
        except (RedisConnectionError, RedisTimeoutError):
            count = None  # Redis is away: limit in this process rather than refuse everyone
        if count is None:
            with self._lock:
                self._prune(window)
                count = self._counts.get((key, window), 0) + 1
                self._counts[(key, window)] = count
        return 0 if count <= limit else retry

    def _shared(self, key: str, window: int, window_s: int) -> int:
        assert self._redis is not None
        rkey = f"hunar:rl:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(rkey)
        pipe.expire(rkey, window_s + 1)
        return int(pipe.execute()[0])

    def _prune(self, window: int) -> None:
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}


def _client_key(bucket: str) -> str:
    who = f"u{current_user.id}" if current_user.is_authenticated else (request.remote_addr or "-")
    return f"{bucket}:{who}"


def check(bucket: str, *, shared: bool = False) -> None:
    """Raise a 429 ApiError when this client (`shared`: everyone together) is over the bucket's
    limit."""
    limits = current_app.config.get("HUNAR_RATE_LIMITS", DEFAULT_LIMITS)
    if bucket not in limits:
        return
    limit, window = limits[bucket]
    limiter: RateLimiter = current_app.extensions["hunar_ratelimit"]
    retry = limiter.hit(f"{bucket}:*" if shared else _client_key(bucket), limit, window)
    if retry:
        raise ApiError(
            429,
            "rate_limited",
            f"too many {bucket} requests; try again in {retry} s",
            headers={"Retry-After": str(retry)},
        )


def limited(bucket: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: count POSTs (form submissions and API calls) against `bucket`."""

    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method == "POST":
                check(bucket)
            return view(*args, **kwargs)

        return wrapper

    return deco
