"""Closed-loop HTTP load on loopback, for the web bench when wrk is not installed.

Like wrk: ``connections`` clients each send their next request as soon as the previous answer
has arrived, for ``seconds``. HTTP/1.1 keep-alive when the server allows it (gunicorn's sync
workers close every connection: the client then reconnects, as wrk does). Latency runs from
writing the request to the last byte of the answer. One asyncio process: on a 2-core machine it
takes a share of the CPU the server would otherwise have (so does wrk, less of it).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 300)

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile (q in 0..100) of the latencies, in milliseconds."""
        if not self.latencies_s:
            return float("nan")
        s = sorted(self.latencies_s)
        return s[max(0, min(len(s) - 1, round(q / 100 * len(s)) - 1))] * 1000


def _request_bytes(
    method: str, host: str, path: str, body: bytes, headers: dict[str, str] | None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: hunar-bench"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server closes the connection) after reading one whole answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = 0, False, lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection":
            close = value == "close"
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _client(
    host: str, port: int, request: bytes, deadline: float, timeout_s: float, out: LoadResult
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    clock = time.perf_counter
    while clock() < deadline:
        try:
            async with asyncio.timeout(timeout_s):
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                t0 = clock()
                writer.write(request)
                status, close = await _read_answer(reader)
            out.latencies_s.append(clock() - t0)
            out.statuses[status] = out.statuses.get(status, 0) + 1
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            out.errors.append(f"{exc.__class__.__name__}: {exc}")
            close = True
            await asyncio.sleep(0.01)
        if close and writer is not None:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _run(
    url: str,
    seconds: float,
    connections: int,
    method: str,
    body: bytes,
    headers: dict[str, str] | None,
    timeout_s: float,
) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    request = _request_bytes(method, parts.netloc, path, body, headers)
    out = LoadResult()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_client(host, port, request, deadline, timeout_s, out) for _ in range(connections))
    )
    out.seconds = time.perf_counter() - start
    return out


def run_load(
    url: str,
    seconds: float,
    connections: int,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> LoadResult:
    """``connections`` closed-loop clients on ``url`` for ``seconds`` (bounded in time)."""
    return asyncio.run(_run(url, seconds, connections, method, body, headers, timeout_s))
