"""Helpers every test package uses: concurrent duplicates and the text of generated PDFs."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


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
