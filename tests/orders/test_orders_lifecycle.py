"""The lifecycle table: the main path, holds, cancellations, and typed errors naming both states."""

from __future__ import annotations

import pytest

from orders.errors import IllegalTransition
from orders.lifecycle import (
    CANCELLABLE,
    MAIN_PATH,
    STAFF_CANCELLABLE,
    TERMINAL,
    TRANSITIONS,
    Status,
    can_transition,
    check_transition,
)


def test_main_path_is_legal_step_by_step() -> None:
    for a, b in zip(MAIN_PATH, MAIN_PATH[1:], strict=False):
        assert can_transition(a, b), (a, b)


def test_no_skipping_steps_on_main_path() -> None:
    for i, a in enumerate(MAIN_PATH):
        for b in MAIN_PATH[i + 2 :]:
            assert not can_transition(a, b), f"{a} -> {b} skips a step"


def test_terminal_states() -> None:
    assert TERMINAL == {Status.DELIVERED, Status.CANCELLED}


def test_hold_entries_and_exits() -> None:
    assert can_transition(Status.PLACED, Status.ON_HOLD)
    assert can_transition(Status.IN_PRODUCTION, Status.ON_HOLD)
    assert not can_transition(Status.DRAFT, Status.ON_HOLD)
    assert not can_transition(Status.SHIPPED, Status.ON_HOLD)
    assert TRANSITIONS[Status.ON_HOLD] == {
        Status.PLACED,
        Status.CAD_READY,
        Status.SCHEDULED,
        Status.CANCELLED,
    }


def test_customers_cancel_before_the_floor_staff_until_shipping() -> None:
    """The table allows what staff may do; customers' narrower rule is CANCELLABLE."""
    for s in (Status.RELEASED, Status.IN_PRODUCTION, Status.QC, Status.COMPLETED):
        assert s not in CANCELLABLE and s in STAFF_CANCELLABLE
        assert can_transition(s, Status.CANCELLED)
    for s in (Status.SHIPPED, Status.DELIVERED):
        assert s not in STAFF_CANCELLABLE and not can_transition(s, Status.CANCELLED)


@pytest.mark.parametrize(
    "current,target",
    [
        (Status.DRAFT, Status.SHIPPED),
        (Status.SHIPPED, Status.DRAFT),
        (Status.CANCELLED, Status.PLACED),
        (Status.SHIPPED, Status.CANCELLED),
    ],
)
def test_illegal_transition_names_both_states(current: Status, target: Status) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition("order", current, target)
    assert current.value in str(info.value) and target.value in str(info.value)
    assert info.value.code == "illegal_transition"


def test_every_state_reachable_from_draft() -> None:
    seen, todo = {Status.DRAFT}, [Status.DRAFT]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(Status)
