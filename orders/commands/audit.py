"""Who did what: every status change writes an event row in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from orders.errors import IllegalTransition
from orders.lifecycle import Status, check_transition
from orders.models import Event, Order, OrderLine


@dataclass(frozen=True)
class Actor:
    """The person, worker or device behind a change."""

    label: str
    user_id: int | None = None

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(label=what)


def record_event(
    session: Session,
    actor: Actor,
    entity: str,
    entity_id: object,
    from_state: str | None,
    to_state: str | None,
    payload: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        actor_id=actor.user_id,
        actor=actor.label,
        entity_type=entity,
        entity_id=str(entity_id),
        from_state=from_state,
        to_state=to_state,
        payload=payload or {},
    )
    session.add(event)
    return event


def _label(obj: Order | OrderLine) -> str:
    return "order" if isinstance(obj, Order) else "order_line"


def transition(
    session: Session,
    obj: Order | OrderLine,
    target: Status,
    actor: Actor,
    *,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Move an order or line to `target` if the lifecycle allows it, with its audit event."""
    entity = _label(obj)
    current = Status(obj.status)
    if obj.id is not None and current == target:
        raise IllegalTransition(entity, current.value, target.value)
    check_transition(entity, current, target)
    obj.status = target
    obj.hold_reason = reason if target == Status.ON_HOLD else None
    session.flush()
    body = dict(payload or {})
    if reason:
        body["reason"] = reason
    record_event(session, actor, entity, obj.id, current.value, target.value, body)
