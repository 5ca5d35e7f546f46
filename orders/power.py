"""Where each machine's power comes from during load-shedding ([power] in data/shop.toml).

The utility cuts a feeder; a machine on the grid alone stops with it, one on a UPS runs for the
UPS's minutes, one on a generator runs throughout. The machines one backup carries share its
kilowatts. Planning turns this into calendar windows and backup power limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from orders.shop import SHOP_TOML, ShopDataError, shop_data

BACKUP_KINDS = ("ups", "generator")


@dataclass(frozen=True)
class Backup:
    """A UPS (`minutes` of autonomy) or a generator (`minutes` None: the whole outage)."""

    name: str
    kind: str
    kw: float
    minutes: int | None


@dataclass(frozen=True)
class MachinePower:
    feeder: str
    draw_kw: float
    backup: Backup | None

    def carried_minutes(self, outage_minutes: int) -> int:
        """How much of an outage this machine can work through from its backup."""
        if self.backup is None:
            return 0
        if self.backup.minutes is None:
            return outage_minutes
        return min(self.backup.minutes, outage_minutes)


@dataclass(frozen=True)
class PowerRules:
    default_feeder: str
    draw_kw: dict[str, float]
    backups: dict[str, Backup]
    machines: dict[str, dict[str, Any]]

    def for_machine(self, machine_id: str, process: str) -> MachinePower:
        own = self.machines.get(machine_id, {})
        backup = self.backups.get(own["backup"]) if "backup" in own else None
        draw = own.get("draw_kw", self.draw_kw.get(process, self.draw_kw.get("other", 0.0)))
        return MachinePower(str(own.get("feeder", self.default_feeder)), float(draw), backup)

    @property
    def feeders(self) -> list[str]:
        named = {str(m["feeder"]) for m in self.machines.values() if "feeder" in m}
        return sorted(named | {self.default_feeder})


def _number(value: object, where: str, lowest: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < lowest:
        raise ShopDataError(f"{where} must be a number >= {lowest:g}, got {value!r}")
    return float(value)


def _backup(name: str, raw: object) -> Backup:
    where = f"power.backups.{name}"
    if not isinstance(raw, dict) or raw.get("kind") not in BACKUP_KINDS:
        raise ShopDataError(f"{where}.kind must be one of {BACKUP_KINDS}")
    minutes = raw.get("minutes")
    if raw["kind"] == "ups":
        minutes = int(_number(minutes, f"{where}.minutes", 1))
    elif minutes is not None:
        raise ShopDataError(f"{where}.minutes: a generator runs as long as the outage")
    return Backup(name, str(raw["kind"]), _number(raw.get("kw"), f"{where}.kw", 0.001), minutes)


def parse_power(raw: dict[str, Any]) -> PowerRules:
    """Checks every number and every backup a machine names (a programmer error otherwise)."""
    draw = {str(k): _number(v, f"power.draw_kw.{k}") for k, v in raw.get("draw_kw", {}).items()}
    backups = {str(k): _backup(str(k), v) for k, v in raw.get("backups", {}).items()}
    machines: dict[str, dict[str, Any]] = {}
    for mid, own in raw.get("machines", {}).items():
        if not isinstance(own, dict) or not set(own) <= {"feeder", "backup", "draw_kw"}:
            raise ShopDataError(f"power.machines.{mid} takes feeder, backup and draw_kw only")
        if "backup" in own and own["backup"] not in backups:
            raise ShopDataError(f"power.machines.{mid}.backup: no backup {own['backup']!r}")
        if "draw_kw" in own:
            _number(own["draw_kw"], f"power.machines.{mid}.draw_kw")
        machines[str(mid)] = dict(own)
    feeder = raw.get("default_feeder", "main")
    if not isinstance(feeder, str) or not feeder:
        raise ShopDataError("power.default_feeder must be a feeder name")
    return PowerRules(feeder, draw, backups, machines)


@cache
def power_rules(path: Path = SHOP_TOML) -> PowerRules:
    return parse_power(shop_data(path).get("power", {}))
