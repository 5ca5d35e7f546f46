"""Helpers every test package uses: concurrent duplicates, the text of generated PDFs and a
real SMTP server that keeps what it receives."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler


def at_once(n: int, action: Callable[[], Any]) -> list[Any]:
    """Run `action` in n threads released together; exceptions are returned, not raised."""
    gate = threading.Barrier(n)

    def run() -> Any:
        gate.wait()
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each caller saw
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: run(), range(n)))


def pdf_text(pdf: bytes) -> str:
    """The text drawn on an uncompressed reportlab page (its `(...) Tj` strings)."""
    found = re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", pdf)
    return "\n".join(s.replace(rb"\(", b"(").replace(rb"\)", b")").decode("latin-1") for s in found)


class MailInbox(MessageHandler):
    """What an aiosmtpd server accepted, in arrival order (the handler the server calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def handle_message(self, message: Message) -> None:
        self.messages.append(message)

    def subjects_to(self, address: str) -> list[str]:
        return [str(m["Subject"]) for m in self.messages if m["To"] == address]


@dataclass
class SmtpServer:
    """A running SMTP server on 127.0.0.1: point `smtp_host`/`smtp_port` at it."""

    port: int
    inbox: MailInbox = field(default_factory=MailInbox)


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free local port for the block."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        server = SmtpServer(int(s.getsockname()[1]))
    controller = Controller(server.inbox, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
