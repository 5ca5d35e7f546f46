"""JazzCash hosted checkout: "HTTP POST Page Redirection" (pp_Version 1.1).

As JazzCash's Payment Gateway Integration Guide for Merchants describes it: the browser posts
the pp_ fields to the merchant form; `pp_Amount` is in paisa, `pp_TxnRefNo` is the merchant's
unique transaction reference, times are PKT `yyyyMMddHHmmss`. `pp_SecureHash` is
HMAC-SHA256, keyed with the integrity salt, over the integrity salt followed by the values of
every non-empty `pp...` field (pp_SecureHash itself excluded) sorted by field name, joined with
'&'. The answer comes back to `pp_ReturnURL` signed the same way; `pp_ResponseCode` "000" is a
success. The Payment Status Inquiry API is asked with pp_TxnRefNo, pp_MerchantID and
pp_Password, signed the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from orders.adapters.gateways.base import (
    Answer,
    BadSignature,
    Checkout,
    GatewayUnavailable,
    HostedForm,
    Outcome,
)
from orders.settings import Settings

PKT = ZoneInfo("Asia/Karachi")
SUCCESS = "000"
PENDING = frozenset({"124", "157"})  # awaiting completion (voucher), pending at the bank
INQUIRY_PAID = frozenset({"000", "121"})  # "121": transaction has been completed


def secure_hash(fields: Mapping[str, str], salt: str) -> str:
    """pp_SecureHash of these fields (upper-case hex), as the integration guide specifies."""
    values = [
        str(fields[k])
        for k in sorted(fields)
        if k.lower().startswith("pp") and k != "pp_SecureHash" and str(fields[k]) != ""
    ]
    message = "&".join([salt, *values])
    return hmac.new(salt.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def verify(fields: Mapping[str, str], salt: str) -> None:
    """Raise BadSignature unless pp_SecureHash matches (constant-time comparison)."""
    given = str(fields.get("pp_SecureHash", "")).upper()
    if not given or not hmac.compare_digest(given, secure_hash(fields, salt)):
        raise BadSignature("pp_SecureHash does not match")


def to_paisa(amount: Decimal) -> str:
    return str(int((amount * 100).to_integral_value()))


def from_paisa(raw: str) -> Decimal | None:
    text = str(raw or "").strip()
    return Decimal(int(text)) / 100 if text.isdigit() else None


def _outcome(code: str) -> Outcome:
    return "paid" if code == SUCCESS else "pending" if code in PENDING else "failed"


class JazzCash:
    name = "jazzcash"
    label = "JazzCash (mobile account or card)"

    def __init__(
        self,
        merchant_id: str,
        password: str,
        salt: str,
        url: str,
        inquiry_url: str,
        timeout_s: float = 15.0,
    ) -> None:
        self.merchant_id, self.password, self.salt = merchant_id, password, salt
        self.url, self.inquiry_url, self.timeout_s = url, inquiry_url, timeout_s

    def hosted_form(self, checkout: Checkout) -> HostedForm:
        at = checkout.created_at.astimezone(PKT)
        fields = {
            "pp_Version": "1.1",
            "pp_TxnType": "",  # blank: the customer picks wallet or card on the hosted page
            "pp_Language": "EN",
            "pp_MerchantID": self.merchant_id,
            "pp_SubMerchantID": "",
            "pp_Password": self.password,
            "pp_BankID": "",
            "pp_ProductID": "",
            "pp_TxnRefNo": checkout.txn_ref,
            "pp_Amount": to_paisa(checkout.amount),
            "pp_TxnCurrency": checkout.currency,
            "pp_TxnDateTime": at.strftime("%Y%m%d%H%M%S"),
            "pp_BillReference": checkout.bill_reference[:20],
            "pp_Description": checkout.description[:200],
            "pp_TxnExpiryDateTime": (at + timedelta(days=1)).strftime("%Y%m%d%H%M%S"),
            "pp_ReturnURL": checkout.return_url,
            **{f"ppmpf_{i}": "" for i in range(1, 6)},
        }
        fields["pp_SecureHash"] = secure_hash(fields, self.salt)
        return HostedForm(self.url, fields)

    def read_callback(self, fields: Mapping[str, str]) -> Answer:
        verify(fields, self.salt)
        if fields.get("pp_MerchantID", self.merchant_id) != self.merchant_id:
            raise BadSignature("the answer is for another merchant")
        code = str(fields.get("pp_ResponseCode", ""))
        return Answer(
            txn_ref=str(fields.get("pp_TxnRefNo", "")),
            outcome=_outcome(code),
            amount=from_paisa(str(fields.get("pp_Amount", ""))),
            currency=str(fields.get("pp_TxnCurrency", "")) or None,
            code=code,
            message=str(fields.get("pp_ResponseMessage", ""))[:500],
        )

    def inquire(self, txn_ref: str) -> Answer:
        body = {
            "pp_TxnRefNo": txn_ref,
            "pp_MerchantID": self.merchant_id,
            "pp_Password": self.password,
        }
        body["pp_SecureHash"] = secure_hash(body, self.salt)
        try:
            reply = httpx.post(self.inquiry_url, json=body, timeout=self.timeout_s)
            reply.raise_for_status()
            data = {str(k): "" if v is None else str(v) for k, v in reply.json().items()}
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise GatewayUnavailable(f"JazzCash inquiry: {exc}") from exc
        if data.get("pp_SecureHash"):
            verify(data, self.salt)
        if data.get("pp_ResponseCode") != SUCCESS:  # the inquiry itself failed
            why = data.get("pp_ResponseMessage") or "no answer"
            raise GatewayUnavailable(f"JazzCash inquiry refused: {why}")
        code = data.get("pp_PaymentResponseCode") or data.get("pp_ResponseCode", "")
        outcome: Outcome = "paid" if code in INQUIRY_PAID else _outcome(code)
        return Answer(
            txn_ref=data.get("pp_TxnRefNo") or txn_ref,
            outcome=outcome,
            amount=from_paisa(data.get("pp_Amount", "")),
            currency=data.get("pp_TxnCurrency") or None,
            code=code,
            message=(data.get("pp_PaymentResponseMessage") or data.get("pp_ResponseMessage", ""))[
                :500
            ],
        )


def from_settings(settings: Settings) -> JazzCash | None:
    """The configured JazzCash account, or None (then JazzCash is not offered)."""
    if not (
        settings.jazzcash_merchant_id
        and settings.jazzcash_password
        and settings.jazzcash_integrity_salt
    ):
        return None
    return JazzCash(
        settings.jazzcash_merchant_id,
        settings.jazzcash_password.get_secret_value(),
        settings.jazzcash_integrity_salt.get_secret_value(),
        settings.jazzcash_url,
        settings.jazzcash_inquiry_url,
        settings.gateway_timeout_s,
    )
