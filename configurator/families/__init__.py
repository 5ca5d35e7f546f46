"""Importing this package registers every product family (one module each)."""

from configurator.families import (  # noqa: F401
    bracket,
    device_stand,
    drawer_tray,
    enclosure,
    knob,
    nameplate,
    pipe_flange,
    spur_gear,
)
