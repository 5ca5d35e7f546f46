"""The staff page's forms: shape only (present, length caps, at most 100 stations).

Whether a role, a station or an address is acceptable is `orders.commands.staff`'s to say (the
same rules `hunar user` meets); these classes only refuse input no person would send.
"""

from __future__ import annotations

from typing import ClassVar

from web.form_rules import (
    HunarForm,
    LastText,
    MultiText,
    at_most,
    at_most_items,
    each_at_most,
    one_of,
    required,
)

MAX_STATIONS = 100  # more than the shop has machines: a longer list is not a person's choice
STATION_ID_CHARS = 64


def _stations() -> MultiText:
    return MultiText("stations", [at_most_items(MAX_STATIONS), each_at_most(STATION_ID_CHARS)])


def _role() -> LastText:
    return LastText("role", [at_most(40)])  # `staff.parse_role` names the roles if it is empty


class AddUserForm(HunarForm):
    """Add a person; the generated password is shown once by the view."""

    email = LastText("e-mail", [required, at_most(300)])
    display_name = LastText("display name", [required, at_most(200)])
    role = _role()
    stations = _stations()


class RoleForm(HunarForm):
    role = _role()


class StationsForm(HunarForm):
    """The person's whole set of stations (a multi-select; none is a valid choice)."""

    stations = _stations()


class ActiveForm(HunarForm):
    active = LastText("active", [one_of("0", "1", rule="0 or 1")])
    sentences: ClassVar[dict[str, str]] = {"active": "say whether the account is active"}


class ResetPasswordForm(HunarForm):
    """An admin's reset: the password typed, or empty for a generated one; the form's key
    makes a double submit reset once."""

    password = LastText("password", [at_most(1024)])
    request_key = LastText("form key", [at_most(64)])
