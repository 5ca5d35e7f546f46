"""Concurrency sweep (issue 22): N identical requests at once to every state-changing route of
`app.url_map`, on SQLite and PostgreSQL; each must have exactly one effect, never a 5xx, and
the duplicates get the answer their Case declares ("already done", a conflict or a redirect).

The table is in `concurrency_cases.py`; a new POST/PUT/PATCH/DELETE route fails here until it
has a Case there (or an EXEMPT entry saying why it changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from concurrency_cases import CASES, EXEMPT, STATE_CHANGING, Case, Request
from floor_helpers import module_floor
from security_helpers import World, build_world
from shared_helpers import at_once

pytestmark = pytest.mark.slow  # a seeded world per engine, then N requests per route
N = 8
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module", params=BACKENDS)
def engine_world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    artifact_cache: Path,
) -> Iterator[World]:
    """The security world (customers, orders, a released plan, staff) on one engine."""
    floors = module_floor(
        request,
        tmp_path_factory,
        sqlite_template,
        artifact_cache,
        "sweep",
        floor_webhook_secret="sweep-secret",
    )
    yield build_world(next(floors))
    next(floors, None)


def _state_changing(w: World) -> set[str]:
    return {
        rule.endpoint
        for rule in w.app.url_map.iter_rules()
        if STATE_CHANGING & set(rule.methods or ())
    }


def send_at_once(w: World, r: Request) -> list[Any]:
    """N requests released together, each on its own client carrying the same session cookie
    (one browser double-clicking), the same CSRF token and the same body."""
    cookie = r.who.client.get_cookie("session")

    def one() -> Any:
        client = w.app.test_client()
        if cookie is not None:
            client.set_cookie("session", cookie.value)
        headers, method = dict(r.headers), r.method
        if r.raw is not None:
            return client.open(r.url, method=method, data=r.raw, headers=headers)
        if r.json is not None:
            headers["X-CSRFToken"] = r.who.csrf
            return client.open(r.url, method=method, json=r.json, headers=headers)
        form = {"csrf_token": r.who.csrf, **(r.form or {})}
        return client.open(r.url, method=method, data=form, headers=headers)

    return at_once(N, one)


def test_every_state_changing_route_is_covered(engine_world: World) -> None:
    endpoints = _state_changing(engine_world)
    missing = endpoints - set(CASES) - set(EXEMPT)
    assert not missing, (
        f"state-changing routes without a concurrency case: {sorted(missing)}; add a Case to "
        "CASES in tests/web/security/concurrency_cases.py (or an EXEMPT entry with the reason)"
    )
    assert set(CASES) | set(EXEMPT) <= endpoints, "stale entries in CASES/EXEMPT"
    assert not set(CASES) & set(EXEMPT)


@pytest.mark.parametrize("endpoint", list(CASES))
def test_duplicates_at_once_have_one_effect(engine_world: World, endpoint: str) -> None:
    case: Case = CASES[endpoint]
    w = engine_world
    if endpoint not in _state_changing(w):
        pytest.fail(f"{endpoint} is no longer a state-changing route: remove its Case")
    r = case.build(w)
    before = case.effect(w, r)
    answers = send_at_once(w, r)
    if case.settle is not None:
        case.settle(w, r)
    crashed = [a for a in answers if isinstance(a, Exception)]
    assert not crashed, crashed
    codes = sorted(a.status_code for a in answers)
    assert all(c < 500 for c in codes), f"{endpoint}: {codes}"
    assert set(codes) <= case.answers, (
        f"{endpoint}: {codes}, expected within {sorted(case.answers)}"
    )
    assert case.effect(w, r) - before == 1, (
        f"{endpoint}: {case.effect(w, r) - before} effects of {N} identical requests "
        f"({case.rule}); answers {codes}"
    )
