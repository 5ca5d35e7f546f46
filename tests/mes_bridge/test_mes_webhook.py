"""Webhook transport against a real HTTP receiver that verifies signatures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mes_factories import make_job

from mes_bridge.transports.base import DeliveryRejected, Packet, TransportUnavailable
from mes_bridge.transports.webhook import (
    IDEMPOTENCY_HEADER,
    WebhookTransport,
    sign,
    verify_signature,
)

SECRET = b"webhook-secret"


class Receiver:
    def __init__(self) -> None:
        self.accepted: dict[str, dict] = {}
        self.rejections: list[str] = []
        self.force_status: int | None = None


def _handler(rx: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if rx.force_status is not None:
                return self._reply(rx.force_status)
            problem = verify_signature(SECRET, dict(self.headers), body, datetime.now(UTC), 60)
            if problem:
                rx.rejections.append(problem)
                return self._reply(401)
            key = self.headers[IDEMPOTENCY_HEADER]
            if key in rx.accepted:
                return self._reply(208)
            rx.accepted[key] = json.loads(body)
            self._reply(200)

        def _reply(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rx = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rx))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rx, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


def test_signed_post_is_accepted_once_and_redelivery_is_a_duplicate(receiver):
    rx, url = receiver
    packet = Packet.from_job(make_job())
    with WebhookTransport(url, SECRET) as hook:
        first = hook.deliver(packet, "key-1")
        again = hook.deliver(packet, "key-1")
    assert not first.duplicate and again.duplicate
    assert rx.accepted["key-1"]["job_order_id"] == packet.job.job_order_id


def test_wrong_secret_is_rejected_not_retried(receiver):
    rx, url = receiver
    with WebhookTransport(url, b"wrong") as hook, pytest.raises(DeliveryRejected, match="401"):
        hook.deliver(Packet.from_job(make_job()), "k")
    assert rx.rejections and "does not match" in rx.rejections[0]


def test_server_errors_are_retryable(receiver):
    rx, url = receiver
    rx.force_status = 503
    with WebhookTransport(url, SECRET) as hook, pytest.raises(TransportUnavailable, match="503"):
        hook.deliver(Packet.from_job(make_job()), "k")


def test_unreachable_receiver_is_retryable():
    hook = WebhookTransport("http://127.0.0.1:9/hook", SECRET, timeout_s=2)
    with pytest.raises(TransportUnavailable):
        hook.deliver(Packet.from_job(make_job()), "k")
    hook.close()


def test_verify_signature_rejects_future_and_garbage_timestamps():
    now = datetime(2026, 11, 22, tzinfo=UTC)
    ts = int(now.timestamp())
    body = b"{}"
    ok = {"X-Hunar-Timestamp": str(ts), "X-Hunar-Signature": sign(SECRET, ts, body)}
    assert verify_signature(SECRET, ok, body, now, 60) == ""
    future = {"X-Hunar-Timestamp": str(ts + 600), "X-Hunar-Signature": sign(SECRET, ts + 600, body)}
    assert "future" in verify_signature(SECRET, future, body, now, 60)
    garbage = {"X-Hunar-Timestamp": "soon", "X-Hunar-Signature": "sha256=00"}
    assert "not an integer" in verify_signature(SECRET, garbage, body, now, 60)
    # the signature binds the timestamp: moving it breaks the MAC
    moved = {"X-Hunar-Timestamp": str(ts + 1), "X-Hunar-Signature": sign(SECRET, ts, body)}
    assert "does not match" in verify_signature(SECRET, moved, body, now, 60)
