"""Transports as registered plugins: a machine row names its transport and carries its config.

Each transport module provides `from_config(machine_id, config, site) -> Transport | None`
(None when its config is incomplete; the machine then falls back to MQTT, the default). The
registry names modules, not classes, so a process imports only the network libraries it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mes_bridge.transports.base import Transport

DEFAULT = "mqtt"


@dataclass(frozen=True)
class SiteConfig:
    """Plant-wide transport settings a machine's own config may override."""

    site: str
    mqtt_host: str
    mqtt_port: int
    opcua_endpoint: str
    hotfolder_root: Path


Factory = Callable[[str, Mapping[str, Any], SiteConfig], Transport | None]

_MODULES: dict[str, str] = {
    "mqtt": "mes_bridge.transports.mqtt",
    "opcua": "mes_bridge.transports.opcua",
    "octoprint": "mes_bridge.transports.octoprint",
    "webhook": "mes_bridge.transports.webhook",
    "folder": "mes_bridge.transports.folder",
    "moonraker": "mes_bridge.transports.moonraker",
    "prusalink": "mes_bridge.transports.prusalink",
    "bambu": "mes_bridge.transports.bambu",
}
_FACTORIES: dict[str, Factory] = {}


class UnknownTransport(ValueError):
    """A machine names a transport nobody registered (a configuration error)."""


def register(name: str, factory: Factory) -> None:
    """Add a transport (a plugin outside this package, or a test's stand-in)."""
    _FACTORIES[name] = factory


def names() -> tuple[str, ...]:
    return tuple(sorted(set(_MODULES) | set(_FACTORIES)))


def _factory(name: str) -> Factory:
    if name not in _FACTORIES:
        if name not in _MODULES:
            raise UnknownTransport(f"unknown transport {name!r}; registered: {', '.join(names())}")
        module = importlib.import_module(_MODULES[name])
        _FACTORIES[name] = module.from_config
    return _FACTORIES[name]


def make_transport(
    name: str, machine_id: str, config: Mapping[str, Any] | None, site: SiteConfig
) -> Transport:
    """The machine's transport, or the default one when its config is incomplete."""
    made = _factory(name)(machine_id, config or {}, site)
    if made is None:
        made = _factory(DEFAULT)(machine_id, config or {}, site)
    if made is None:
        raise UnknownTransport(f"the default transport {DEFAULT!r} could not be made")
    return made
