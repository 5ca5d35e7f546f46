"""Content-addressed artifact store: files keyed by config hash + builder version.

Layout under the root: ``ab/cdef…/<builder_version>/<run_id>/<name>`` where ``abcdef…``
is the config hash and ``run_id`` is unique per build attempt, so two workers building the
same configuration at once never overwrite each other's files; the manifest
(``ab/cdef…/<builder_version>/manifest.json``) names the one complete run that is served. Every file is written to a temporary name and renamed into place, and the
manifest is written LAST (also atomically): a directory without a manifest is an
unfinished build and is never served, so a worker killed mid-build (``kill -9``) leaves
nothing a reader can mistake for a result. The ``ArtifactStore`` protocol is the seam
where an S3-compatible store can replace the local disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1
_HEX = re.compile(r"^[0-9a-f]{8,128}$")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_CHUNK = 1 << 20


class StoreError(Exception):
    """A store operation failed or was called with an unusable key (programmer error)."""


@dataclass(frozen=True)
class ArtifactRecord:
    """One stored file as a value: what the database records per artifact."""

    kind: str  # "step", "stl", "3mf", "dxf", "svg", "glb", "gcode"
    relpath: str  # relative to the store root, forward slashes
    sha256: str
    bytes: int
    builder_version: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactRecord:
        return cls(
            kind=str(data["kind"]),
            relpath=str(data["relpath"]),
            sha256=str(data["sha256"]),
            bytes=int(data["bytes"]),
            builder_version=str(data["builder_version"]),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True)
class Manifest:
    """The completion marker of one build: which artifacts exist, plus build-level facts."""

    config_hash: str
    builder_version: str
    artifacts: tuple[ArtifactRecord, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": MANIFEST_SCHEMA,
                "config_hash": self.config_hash,
                "builder_version": self.builder_version,
                "artifacts": [a.to_dict() for a in self.artifacts],
                "metadata": self.metadata,
            },
            sort_keys=True,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("schema") != MANIFEST_SCHEMA:
            raise StoreError(f"unknown manifest schema {data.get('schema')!r}")
        return cls(
            config_hash=data["config_hash"],
            builder_version=data["builder_version"],
            artifacts=tuple(ArtifactRecord.from_dict(a) for a in data["artifacts"]),
            metadata=dict(data.get("metadata") or {}),
        )

    def artifact(self, kind: str) -> ArtifactRecord | None:
        return next((a for a in self.artifacts if a.kind == kind), None)


@runtime_checkable
class ArtifactStore(Protocol):
    """What the pipeline needs from a store; a local disk or an S3 bucket can provide it."""

    def put_file(
        self, config_hash: str, builder_version: str, run_id: str, name: str, src: Path
    ) -> tuple[str, str, int]:
        """Store ``src`` atomically under one build run; return (relpath, sha256, size)."""
        ...

    def put_manifest(self, manifest: Manifest) -> str:
        """Publish the manifest (last step of a build); return its relpath."""
        ...

    def get_manifest(self, config_hash: str, builder_version: str) -> Manifest | None:
        """The manifest of a complete build whose files are all present, else None."""
        ...

    def open(self, relpath: str) -> BinaryIO:
        """Open a stored file for reading."""
        ...


def sha256_file(path: Path) -> tuple[str, int]:
    """Hash a file in chunks; return (hex digest, size in bytes)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def key_prefix(config_hash: str, builder_version: str) -> str:
    """Relative directory of one build: ``ab/cd…/<builder_version>``."""
    if not _HEX.match(config_hash):
        raise StoreError(f"config_hash must be lowercase hex (8-128 chars), got {config_hash!r}")
    if not _SAFE.match(builder_version):
        raise StoreError(f"builder_version has unsafe characters: {builder_version!r}")
    return f"{config_hash[:2]}/{config_hash[2:]}/{builder_version}"


class LocalArtifactStore:
    """Artifacts on a local (or network) filesystem under ``root``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    def path(self, relpath: str) -> Path:
        """Absolute path of a stored file; refuses paths that escape the root."""
        target = (self.root / relpath).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise StoreError(f"path escapes the store root: {relpath!r}")
        return target

    def put_file(
        self, config_hash: str, builder_version: str, run_id: str, name: str, src: Path
    ) -> tuple[str, str, int]:
        if not _SAFE.match(name) or not _SAFE.match(run_id):
            raise StoreError(f"unusable artifact name {name!r} or run id {run_id!r}")
        relpath = f"{key_prefix(config_hash, builder_version)}/{run_id}/{name}"
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                while chunk := inp.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return relpath, digest.hexdigest(), size

    def put_manifest(self, manifest: Manifest) -> str:
        relpath = f"{key_prefix(manifest.config_hash, manifest.builder_version)}/{MANIFEST_NAME}"
        target = self.path(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(target, manifest.to_json())
        return relpath

    def get_manifest(self, config_hash: str, builder_version: str) -> Manifest | None:
        relpath = f"{key_prefix(config_hash, builder_version)}/{MANIFEST_NAME}"
        target = self.path(relpath)
        try:
            manifest = Manifest.from_json(target.read_text())
        except FileNotFoundError:
            return None
        for art in manifest.artifacts:  # cheap stat check; a full re-hash is verify()
            try:
                if self.path(art.relpath).stat().st_size != art.bytes:
                    return None
            except FileNotFoundError:
                return None
        return manifest

    def verify(self, manifest: Manifest) -> list[str]:
        """Re-hash every artifact; return the relpaths whose sha256 or size differ."""
        bad = []
        for art in manifest.artifacts:
            try:
                digest, size = sha256_file(self.path(art.relpath))
            except FileNotFoundError:
                bad.append(art.relpath)
                continue
            if (digest, size) != (art.sha256, art.bytes):
                bad.append(art.relpath)
        return bad

    def open(self, relpath: str) -> BinaryIO:
        return open(self.path(relpath), "rb")

    def discard(self, config_hash: str, builder_version: str) -> None:
        """Delete one build directory (e.g. an unfinished one) entirely."""
        shutil.rmtree(self.path(key_prefix(config_hash, builder_version)), ignore_errors=True)

    def stale_temp_files(self) -> Iterator[Path]:
        """Leftover ``*.tmp`` files from killed writers; safe to delete when no build runs."""
        return self.root.glob("*/*/*/*/.*.tmp")

    def unreferenced_runs(self, config_hash: str, builder_version: str) -> list[Path]:
        """Run directories the manifest does not point at (killed or superseded builds)."""
        base = self.path(key_prefix(config_hash, builder_version))
        manifest = self.get_manifest(config_hash, builder_version)
        keep = {a.relpath.rsplit("/", 2)[-2] for a in manifest.artifacts} if manifest else set()
        if not base.is_dir():
            return []
        return [p for p in base.iterdir() if p.is_dir() and p.name not in keep]


def _atomic_write_text(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
