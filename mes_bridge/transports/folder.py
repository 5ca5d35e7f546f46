"""Hot-folder transport for legacy machines that watch a directory.

A packet appears atomically: everything is written into a hidden temp dir on the same
filesystem, fsynced, then renamed to ``<job_order_id>/``. A watcher therefore never
sees a half-written packet. A re-delivery with an existing folder for the same
idempotency key is a no-op (reported as duplicate); the machine reports state by
writing ``<job_order_id>/state`` (one JobState value).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryReceipt,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    StartResult,
    Transport,
    TransportUnavailable,
    now_utc,
)
from mes_bridge.transports.registry import SiteConfig

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _safe_name(name: str, field_name: str) -> str:
    if not _SAFE.match(name) or name in (".", ".."):
        raise DeliveryRejected(f"{field_name}: {name!r} is not a safe file name")
    return name


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class FolderTransport(Transport):
    name = "folder"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)

    def connect(self) -> None:
        if not self.root.is_dir():
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"hot folder {self.root} does not exist")
        self._state = ConnectionState.CONNECTED

    def close(self) -> None:
        self._state = ConnectionState.DISCONNECTED

    def _job_dir(self, job_id: str) -> Path:
        return self.root / _safe_name(job_id, "job_order_id")

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        self.connect()
        job_id = packet.job.job_order_id
        final = self._job_dir(job_id)
        names = {name: _safe_name(name, "file name") for name in packet.files}
        if final.exists():
            return self._existing(final, packet, idempotency_key)
        tmp = Path(tempfile.mkdtemp(prefix=f".{job_id}.", dir=self.root))
        try:
            _write(tmp / "job.json", packet.json_bytes())
            _write(tmp / "job.xml", packet.xml)
            _write(tmp / "idempotency_key", idempotency_key.encode())
            for name, data in packet.files.items():
                _write(tmp / names[name], data)
            os.rename(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.exists():
                return self._existing(final, packet, idempotency_key)
            raise TransportUnavailable(f"hot folder {self.root}: {exc}") from exc
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return DeliveryReceipt(self.name, job_id, idempotency_key, now_utc(), str(final))

    def _existing(self, final: Path, packet: Packet, key: str) -> DeliveryReceipt:
        stored = (final / "idempotency_key").read_text()
        if stored != key:
            raise DeliveryRejected(f"hot folder {final} holds another packet (key {stored!r})")
        return DeliveryReceipt(
            self.name, packet.job.job_order_id, key, now_utc(), str(final), duplicate=True
        )

    def read_state(self, job_id: str) -> JobState:
        job_dir = self._job_dir(job_id)
        state_file = job_dir / "state"
        if state_file.is_file():
            try:
                return JobState(state_file.read_text().strip())
            except ValueError:
                return JobState.UNKNOWN
        if (job_dir / "job.json").is_file():
            return JobState.ALLOWED_TO_START
        return JobState.UNKNOWN

    def start(self, job_id: str) -> StartResult:
        """Drop a ``start`` marker once; existing marker or a started state means no-op."""
        state = self.read_state(job_id)
        if state is JobState.UNKNOWN:
            raise NotReady(f"hot folder has no packet for {job_id} yet")
        marker = self._job_dir(job_id) / "start"
        if state is not JobState.ALLOWED_TO_START or marker.exists():
            return StartResult(job_id, False, state, "not startable or start already requested")
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return StartResult(job_id, False, state, "start already requested")
        with os.fdopen(fd, "w") as fh:
            json.dump({"requested_at": now_utc().isoformat()}, fh)
        return StartResult(job_id, True, state, str(marker))


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport:
    """A hot folder per machine: the configured path, else one under the site's hot-folder root."""
    root = Path(config.get("path") or site.hotfolder_root / machine_id)
    root.mkdir(parents=True, exist_ok=True)
    return FolderTransport(root)
