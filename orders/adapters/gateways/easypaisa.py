"""Easypaisa (Easypay) hosted checkout, as its merchant integration guide describes it.

The browser posts storeId, amount (rupees, e.g. "1500.0"), postBackURL, orderRefNum,
expiryDate (`yyyyMMdd HHmmss`), autoRedirect and merchantHashedReq to Index.jsf.
merchantHashedReq is the request's fields sorted by name as a query string
(`amount=..&autoRedirect=..&...`), encrypted with AES/ECB/PKCS5Padding under the store's hash
key, base64-encoded. Easypay sends the browser back to postBackURL with an `auth_token`, which
the browser posts with postBackURL to Confirm.jsf; the final redirect carries `status`, `desc`
and `orderRefNumber`. That last redirect is not signed, so it is never believed: it only names
the order to ask about, and the inquire-transaction API (Basic `Credentials` header, over TLS)
gives the verified answer: `transactionStatus` PAID, with `transactionAmount`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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
HASHED = ("amount", "autoRedirect", "expiryDate", "orderRefNum", "postBackURL", "storeId")
PENDING = frozenset({"PENDING", "INITIATED"})


def hashed_request(fields: Mapping[str, str], hash_key: str) -> str:
    """merchantHashedReq: AES/ECB/PKCS5 of the sorted non-empty fields as a query string."""
    plain = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k in HASHED and fields[k])
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(hash_key.encode()), modes.ECB()).encryptor()  # noqa: S305
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def rupees(amount: Decimal) -> str:
    """Easypay's amount: rupees with one decimal ("1500.0"), two when paisa need them."""
    return f"{amount:.1f}" if amount == round(amount, 1) else f"{amount:.2f}"


class Easypaisa:
    name = "easypaisa"
    label = "Easypaisa (mobile account)"

    def __init__(
        self,
        store_id: str,
        hash_key: str,
        credentials: tuple[str, str],
        account: str,
        url: str,
        inquiry_url: str,
        timeout_s: float = 15.0,
    ) -> None:
        self.store_id, self.hash_key, self.credentials = store_id, hash_key, credentials
        self.account, self.url, self.inquiry_url = account, url, inquiry_url
        self.timeout_s = timeout_s

    def hosted_form(self, checkout: Checkout) -> HostedForm:
        at = checkout.created_at.astimezone(PKT)
        fields = {
            "storeId": self.store_id,
            "amount": rupees(checkout.amount),
            "postBackURL": checkout.return_url,
            "orderRefNum": checkout.txn_ref,
            "expiryDate": (at + timedelta(days=1)).strftime("%Y%m%d %H%M%S"),
            "autoRedirect": "1",
        }
        fields["merchantHashedReq"] = hashed_request(fields, self.hash_key)
        return HostedForm(self.url, fields)

    def read_callback(self, fields: Mapping[str, str]) -> Answer | HostedForm:
        token = str(fields.get("auth_token", ""))
        if token:  # step 2: the browser confirms the token with Easypay
            confirm = self.url.rsplit("/", 1)[0] + "/Confirm.jsf"
            back = str(fields.get("postBackURL", ""))
            return HostedForm(confirm, {"auth_token": token, "postBackURL": back})
        ref = str(fields.get("orderRefNumber", "") or fields.get("orderRefNum", ""))
        if not ref:
            raise BadSignature("no orderRefNumber: not an Easypay answer")
        status = str(fields.get("status", ""))
        return Answer(ref, "pending", None, None, status, str(fields.get("desc", ""))[:500], False)

    def inquire(self, txn_ref: str) -> Answer:
        user, password = self.credentials
        header = base64.b64encode(f"{user}:{password}".encode()).decode()
        body = {"orderId": txn_ref, "storeId": self.store_id, "accountNum": self.account}
        try:
            reply = httpx.post(
                self.inquiry_url,
                json=body,
                headers={"Credentials": header},
                timeout=self.timeout_s,
            )
            reply.raise_for_status()
            data = reply.json()
            code = str(data.get("responseCode", ""))
            status = str(data.get("transactionStatus", "")).upper()
            raw_amount = data.get("transactionAmount")
            amount = None if raw_amount is None else Decimal(str(raw_amount))
        except (httpx.HTTPError, ValueError, AttributeError, InvalidOperation) as exc:
            raise GatewayUnavailable(f"Easypaisa inquiry: {exc}") from exc
        if code != "0000":
            raise GatewayUnavailable(f"Easypaisa inquiry refused: {data.get('responseDesc')}")
        outcome: Outcome = (
            "paid" if status == "PAID" else "pending" if status in PENDING else "failed"
        )
        return Answer(txn_ref, outcome, amount, "PKR", status, str(data.get("responseDesc", "")))


def from_settings(settings: Settings) -> Easypaisa | None:
    """The configured Easypaisa store, or None (then Easypaisa is not offered)."""
    s = settings
    if not (s.easypaisa_store_id and s.easypaisa_hash_key and s.easypaisa_username):
        return None
    return Easypaisa(
        s.easypaisa_store_id,
        s.easypaisa_hash_key.get_secret_value(),
        (
            s.easypaisa_username,
            s.easypaisa_password.get_secret_value() if s.easypaisa_password else "",
        ),
        s.easypaisa_account or "",
        s.easypaisa_url,
        s.easypaisa_inquiry_url,
        s.gateway_timeout_s,
    )
