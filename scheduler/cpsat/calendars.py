"""Machine calendars: each unavailability window becomes a fixed interval on that machine."""

from __future__ import annotations

from .variables import Ctx


def add_calendars(ctx: Ctx) -> None:
    """Windows are clipped to [0, horizon]; ``no_overlap`` keeps operations out of them."""
    for machine in ctx.problem.machines:
        fixed = []
        for k, w in enumerate(machine.calendar):
            s, e = max(w.start, 0), min(w.end, ctx.horizon)
            if e > s:
                fixed.append(
                    ctx.model.new_fixed_size_interval_var(s, e - s, f"w[{machine.id},{k}]")
                )
        ctx.downtime[machine.id] = fixed
