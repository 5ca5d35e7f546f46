"""What every Flask-WTF form of the web app shares: field types and the one refusal rule.

WHY one module: the pages answered bad input the same way by hand (the last value of a field
counts, a length cap, a field-named 422), and the forms must keep doing so. A form only parses
and checks shape here; the business rules stay in `orders.commands`. A form that fails its
rules becomes `FormInvalid`, a `DomainError` whose `fields` name each field and its rule, so a
view refuses it exactly like a refusal from the order book (`domain_status` gives 422).

CSRF: `FlaskForm` checks the same `csrf_token` field as the app's global `CSRFProtect`, which
has already refused a bad token before any view runs (and marks the request valid, which
`FlaskForm` honours); should a form still see a bad token, the answer is the same 400.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import Field, SelectMultipleField, StringField
from wtforms.validators import AnyOf, EqualTo, Length, NumberRange, StopValidation
from wtforms.validators import ValidationError as FieldRuleBroken
from wtforms.widgets import TextInput

from orders.errors import DomainError
from web import MAX_ID, whole_number


class FormInvalid(DomainError):
    """A form broke a field rule (missing, too long, not a number): 422 naming the fields."""

    code = "invalid_form"


class LastText(StringField):
    """Text where the last value sent counts (`web.last_value`'s rule for every form field);
    "" when the field is absent."""

    def __init__(self, label: str | None = None, validators: Sequence[Any] = (), **kw: Any):
        super().__init__(label, list(validators), default="", **kw)

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            self.data = valuelist[-1]


class MultiText(SelectMultipleField):
    """A multi-select whose options are checked by the order book (which knows the machines),
    not here: every value sent, in order; [] when none."""

    def __init__(self, label: str | None = None, validators: Sequence[Any] = (), **kw: Any):
        super().__init__(label, list(validators), validate_choice=False, default=(), **kw)


class WholeNumber(Field):
    """A whole number by `web.whole_number` (ASCII digits, no sign or leading zero): `int("١")`
    and `int("1_0")` succeed, so WTForms' IntegerField would let them through."""

    widget = TextInput()

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist:
            self.data = whole_number(valuelist[-1])
            if self.data is None:
                raise ValueError("a whole number")

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


Rule = Callable[[Any, Any], None]


def required(form: Any, field: Any) -> None:
    """The field must be sent and not empty (a value that did not parse is named as such)."""
    if field.process_errors:
        raise StopValidation()  # its parse error already names the rule
    if field.data is None or field.data == "" or field.data == []:
        raise StopValidation("required")


def at_most(limit: int) -> Rule:
    return Length(max=limit, message=f"at most {limit} characters")


def one_of(*values: str, rule: str) -> Rule:
    return AnyOf(list(values), message=rule)


def same_as(other: str) -> Rule:
    return EqualTo(other, message="must match")


def whole_id() -> Rule:
    """A row id: what the URLs' `id` converter accepts, so an absurd one never reaches SQL."""
    return NumberRange(min=0, max=MAX_ID, message=f"at most {MAX_ID}")


def at_most_items(limit: int) -> Rule:
    def rule(form: Any, field: Any) -> None:
        if len(field.data or ()) > limit:
            raise StopValidation(f"at most {limit}")

    return rule


def each_at_most(limit: int) -> Rule:
    def rule(form: Any, field: Any) -> None:
        if any(len(v) > limit for v in field.data or ()):
            raise FieldRuleBroken(f"each at most {limit} characters")

    return rule


def stripped(value: str | None) -> str:
    return (value or "").strip()


class HunarForm(FlaskForm):
    """A FlaskForm whose `checked()` is either the valid form or a `FormInvalid` to refuse.

    `sentences`: the plain-words message for a field's failure, where the page has always said
    it that way (e.g. "the two new passwords differ"); otherwise "<label>: <rule>"."""

    sentences: ClassVar[dict[str, str]] = {}

    def checked(self) -> Self:
        """The form if its fields keep their rules; else raises its `FormInvalid`."""
        problem = self.problem()
        if problem is not None:
            raise problem
        return self

    def problem(self) -> FormInvalid | None:
        """None if the fields keep their rules; else the refusal naming each broken one (a bad
        CSRF token raises `CSRFError`, the app's 400, as the global check would)."""
        if self.validate():
            return None
        errors = {name: list(found) for name, found in self.errors.items() if name and found}
        token_field = self.meta.csrf_field_name if self.meta.csrf else None
        if token_field in errors:
            raise CSRFError(str(errors[token_field][0]))
        fields = {name: str(found[0]) for name, found in errors.items()}
        said = [
            self.sentences.get(name) or f"{self[name].label.text}: {rule}"
            for name, rule in fields.items()
        ]
        return FormInvalid("; ".join(dict.fromkeys(said)), fields=fields)
