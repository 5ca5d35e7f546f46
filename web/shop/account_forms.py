"""The account pages' forms: sign-up, sign-in, password change, forgot and reset, API tokens.

Shape only (present, length caps, the two new passwords agree, a token id is a whole number);
whether an address, a password or a token is acceptable is for `orders.commands.accounts`,
`.sign_in`, `.staff` and `.password_reset` to say.
"""

from __future__ import annotations

from typing import ClassVar

from flask import request

from web import last_value
from web.form_rules import (
    HunarForm,
    LastText,
    WholeNumber,
    at_most,
    required,
    same_as,
    stripped,
    whole_id,
)

EMAIL_CHARS = 300  # more than any address (254): a longer one is not a person's typing
PASSWORD_CHARS = 1024  # argon2 takes any length: a cap keeps hashing cheap
NAME_CHARS = 120
FORM_KEY_CHARS = 64
DIFFER = "the two new passwords differ"


def _email() -> LastText:
    return LastText("e-mail", [required, at_most(EMAIL_CHARS)])


def _password(label: str) -> LastText:
    return LastText(label, [required, at_most(PASSWORD_CHARS)])


def _password_again() -> LastText:
    return LastText("new password again", [required, at_most(PASSWORD_CHARS), same_as("password")])


def _lower(value: str | None) -> str:
    return (value or "").strip().lower()


class SignupForm(HunarForm):
    email = _email()
    name = LastText("name", [at_most(NAME_CHARS)], filters=[stripped])
    password = _password("password")


class LoginForm(HunarForm):
    """E-mail and password; `next` is where to go after (checked by the view, not here)."""

    email = LastText("e-mail", [required, at_most(EMAIL_CHARS)], filters=[_lower])
    password = _password("password")
    next = LastText("next")


class PasswordForm(HunarForm):
    """The user's own new password, typed twice; the current one proves it is them."""

    current_password = _password("current password")
    password = _password("new password")
    password_again = _password_again()
    sentences: ClassVar[dict[str, str]] = {"password_again": DIFFER}


class ForgotForm(HunarForm):
    """The address to send a reset link to; the form's one-off key makes a double submit send
    one link."""

    email = _email()
    request_key = LastText("form key", [at_most(FORM_KEY_CHARS)])


class ResetForm(HunarForm):
    """A new password from an e-mailed link, typed twice."""

    password = _password("new password")
    password_again = _password_again()
    sentences: ClassVar[dict[str, str]] = {"password_again": DIFFER}


class NewTokenForm(HunarForm):
    """An API token's name (empty: "api client")."""

    name = LastText("name", [at_most(NAME_CHARS)], filters=[stripped])


class RevokeTokenForm(HunarForm):
    """Revoke one of the user's own tokens."""

    token_id = WholeNumber("token", [required, whole_id()])

    def chosen(self) -> int:
        """The token's id, once the form is checked (`required` saw a whole number)."""
        number: int | None = self.token_id.data
        if number is None:
            raise RuntimeError("RevokeTokenForm.chosen() before checked()")
        return number


def token_form() -> NewTokenForm | RevokeTokenForm:
    """The account page's two token forms, told apart by the `action` the revoke button sends
    (anything else creates a token, as the create form sends no action)."""
    if last_value(request.form, "action") == "revoke":
        return RevokeTokenForm()
    return NewTokenForm()
