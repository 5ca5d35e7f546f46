"""The order lifecycle as an explicit state machine, shared by orders and order lines.

The table is data so it can be rendered in docs and checked by tests; the only
way to change a status is `transition()`, which also writes the audit event in
the caller's transaction.
"""

from __future__ import annotations

import enum
from typing import Protocol

from orders.errors import IllegalTransition


class Status(enum.StrEnum):
    DRAFT = "draft"
    QUOTED = "quoted"
    PLACED = "placed"
    CAD_READY = "cad_ready"
    SCHEDULED = "scheduled"
    RELEASED = "released"
    IN_PRODUCTION = "in_production"
    QC = "qc"
    COMPLETED = "completed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"


S = Status
MAIN_PATH: tuple[Status, ...] = (
    S.DRAFT,
    S.QUOTED,
    S.PLACED,
    S.CAD_READY,
    S.SCHEDULED,
    S.RELEASED,
    S.IN_PRODUCTION,
    S.QC,
    S.COMPLETED,
    S.SHIPPED,
    S.DELIVERED,
)

# States from which work can be put on hold (something went wrong before it was finished).
HOLDABLE = frozenset({S.PLACED, S.CAD_READY, S.SCHEDULED, S.RELEASED, S.IN_PRODUCTION, S.QC})
# On hold, an order resumes where planning can pick it up again, or is cancelled.
RESUME_TO = frozenset({S.PLACED, S.CAD_READY, S.SCHEDULED})
# What a customer may cancel: nothing once the work is released to the floor (it must be
# finished, or the shop cancels it).
CANCELLABLE = frozenset({S.DRAFT, S.QUOTED, S.PLACED, S.CAD_READY, S.SCHEDULED, S.ON_HOLD})
# Staff may cancel until the parcel leaves (with a reason): a machine may still be printing,
# which the operator finishes or stops; shipped goods are a return, not a cancellation.
STAFF_CANCELLABLE = CANCELLABLE | {S.RELEASED, S.IN_PRODUCTION, S.QC, S.COMPLETED}

EXTRA_EDGES: dict[Status, frozenset[Status]] = {
    S.QUOTED: frozenset({S.DRAFT}),  # customer edits the design again
    S.RELEASED: frozenset({S.SCHEDULED}),  # a rescheduled plan supersedes a release
    S.SCHEDULED: frozenset({S.CAD_READY}),  # removed from a superseded plan
    S.QC: frozenset({S.IN_PRODUCTION}),  # QC failed: rework
}


def _build_table() -> dict[Status, frozenset[Status]]:
    table: dict[Status, set[Status]] = {s: set() for s in Status}
    for a, b in zip(MAIN_PATH, MAIN_PATH[1:], strict=False):
        table[a].add(b)
    for s in HOLDABLE:
        table[s].add(S.ON_HOLD)
    table[S.ON_HOLD] |= RESUME_TO
    for s in STAFF_CANCELLABLE:
        table[s].add(S.CANCELLED)
    for s, targets in EXTRA_EDGES.items():
        table[s] |= targets
    return {s: frozenset(t) for s, t in table.items()}


TRANSITIONS: dict[Status, frozenset[Status]] = _build_table()
TERMINAL = frozenset(s for s, t in TRANSITIONS.items() if not t)


def can_transition(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def check_transition(entity: str, current: Status, target: Status) -> None:
    """Raise `IllegalTransition` naming both states unless current → target is legal."""
    if not can_transition(current, target):
        raise IllegalTransition(entity, current.value, target.value)


class HasStatus(Protocol):
    status: Status
