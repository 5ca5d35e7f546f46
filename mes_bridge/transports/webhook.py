"""Signed webhook transport and the receiving side's signature check.

The signature is HMAC-SHA256 over ``<timestamp>.<body>`` so a captured request
cannot be replayed later (the timestamp is checked against a tolerance) or altered
(any byte change breaks the MAC). Receivers also dedupe by the idempotency key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import httpx

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryReceipt,
    DeliveryRejected,
    JobState,
    Packet,
    StartResult,
    Transport,
    TransportUnavailable,
    now_utc,
)
from mes_bridge.transports.registry import SiteConfig

SIGNATURE_HEADER = "X-Hunar-Signature"
TIMESTAMP_HEADER = "X-Hunar-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class HeaderItems(Protocol):
    """Request headers as (name, value) pairs: a plain dict, or a web request's headers."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` over ``b"<timestamp>." + body``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, now: datetime) -> dict[str, str]:
    ts = int(now.timestamp())
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}


def _header(headers: HeaderItems, name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify_signature(
    secret: bytes, headers: HeaderItems, body: bytes, now: datetime, tolerance_s: float
) -> str:
    """Return "" when valid, else the reason (missing header, stale/future timestamp, bad MAC)."""
    ts_text, sig = _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
    if ts_text is None or sig is None:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
    try:
        ts = int(ts_text)
    except ValueError:
        return f"{TIMESTAMP_HEADER}: not an integer"
    age = now.timestamp() - ts
    if age > tolerance_s:
        return f"{TIMESTAMP_HEADER}: too old ({age:.0f}s > {tolerance_s:.0f}s), possible replay"
    if age < -tolerance_s:
        return f"{TIMESTAMP_HEADER}: in the future by {-age:.0f}s"
    if not hmac.compare_digest(sign(secret, ts, body), sig):
        return f"{SIGNATURE_HEADER}: does not match the body"
    return ""


class WebhookTransport(Transport):
    """POST the packet JSON to a URL; 2xx is confirmation, 4xx is rejection, 5xx retry."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes, timeout_s: float = 10.0) -> None:
        super().__init__()
        if not secret:
            raise ValueError("secret: must not be empty")
        self.url, self.secret, self.timeout_s = url, secret, timeout_s
        self._client: httpx.Client | None = None

    def connect(self) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        self._state = ConnectionState.CONNECTED

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._state = ConnectionState.DISCONNECTED

    def _post(self, body: bytes, idempotency_key: str) -> httpx.Response:
        if self._client is None:
            self.connect()
        assert self._client is not None
        headers = signed_headers(self.secret, body, now_utc())
        headers |= {IDEMPOTENCY_HEADER: idempotency_key, "Content-Type": "application/json"}
        try:
            resp = self._client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as exc:
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"webhook {self.url}: {exc}") from exc
        if resp.status_code in _RETRYABLE_STATUS:
            raise TransportUnavailable(f"webhook {self.url}: HTTP {resp.status_code}")
        if resp.status_code >= 300:
            raise DeliveryRejected(f"webhook {self.url}: HTTP {resp.status_code} {resp.text[:200]}")
        self._state = ConnectionState.CONNECTED
        return resp

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        resp = self._post(packet.json_bytes(), idempotency_key)
        return DeliveryReceipt(
            self.name,
            packet.job.job_order_id,
            idempotency_key,
            now_utc(),
            f"HTTP {resp.status_code}",
            duplicate=resp.status_code == 208,
        )

    def read_state(self, job_id: str) -> JobState:
        """Webhooks are fire-and-confirm; state comes back through intake, not polling."""
        return JobState.UNKNOWN

    def start(self, job_id: str) -> StartResult:
        """Webhook receivers start work themselves; there is no remote start to send."""
        return StartResult(job_id, False, JobState.UNKNOWN, "webhook peers self-start")


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport | None:
    """A signed webhook; None (the default transport) without both URL and secret."""
    if not (config.get("url") and config.get("secret")):
        return None
    return WebhookTransport(str(config["url"]), str(config["secret"]).encode())
