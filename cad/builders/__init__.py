"""Importing this package registers one CadQuery builder per product family."""

from cad.builders import (  # noqa: F401
    bracket,
    device_stand,
    drawer_tray,
    enclosure,
    knob,
    nameplate,
    pipe_flange,
    spur_gear,
)
