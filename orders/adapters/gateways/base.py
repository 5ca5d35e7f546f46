"""The one payment-provider interface: what the checkout asks of a hosted-checkout gateway.

A provider module (one per gateway) turns a `Checkout` into the signed form the customer's
browser posts to the gateway's hosted page, reads the gateway's answer when the customer comes
back (verifying its signature in constant time), and asks the gateway's status-inquiry API about
a transaction whose answer never came. It never touches the database: the checkout command
decides what an answer means for the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

Outcome = Literal["paid", "failed", "pending"]


class BadSignature(Exception):
    """The answer's signature does not match: it did not come from the gateway (or was
    changed on the way). Nothing in it is believed."""


class GatewayUnavailable(Exception):
    """The gateway could not be asked (network, timeout, an unreadable reply): try later."""


@dataclass(frozen=True)
class Checkout:
    """One hosted-checkout attempt, as the checkout command asks for it."""

    txn_ref: str
    amount: Decimal  # rupees to the paisa; each provider writes it its own way
    currency: str
    bill_reference: str
    description: str
    return_url: str
    created_at: datetime


@dataclass(frozen=True)
class HostedForm:
    """A form the customer's browser posts (auto-submitted) to `url`."""

    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """What the gateway says about one transaction.

    `verified`: the answer itself is authentic (a signature checked, or the inquiry API asked
    over TLS); an unverified answer only names the transaction to ask about.
    """

    txn_ref: str
    outcome: Outcome
    amount: Decimal | None
    currency: str | None
    code: str
    message: str
    verified: bool = True


class Provider(Protocol):
    name: str  # the PaymentMethod value: "jazzcash", "easypaisa"
    label: str  # what the customer reads

    def hosted_form(self, checkout: Checkout) -> HostedForm: ...

    def read_callback(self, fields: Mapping[str, str]) -> Answer | HostedForm:
        """The gateway's answer brought back by the customer's browser (or its server).
        A `HostedForm` is a further step the browser must post (Easypaisa's confirm step)."""
        ...

    def inquire(self, txn_ref: str) -> Answer: ...
