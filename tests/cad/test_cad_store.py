"""The artifact store: content-addressed layout, atomic writes, manifest-last visibility."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cad.store import (
    ArtifactRecord,
    ArtifactStore,
    LocalArtifactStore,
    Manifest,
    StoreError,
    key_prefix,
)

HASH = "ab" + "cd" * 31


def _src(tmp_path: Path, data: bytes = b"solid part\n") -> Path:
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    return path


def test_layout_is_content_addressed_and_records_sha256_and_size(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    data = b"x" * 5000
    relpath, digest, size = store.put_file(
        HASH, "enclosure-b1", "run1", "part.stl", _src(tmp_path, data)
    )
    assert relpath == f"ab/{HASH[2:]}/enclosure-b1/run1/part.stl"
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), 5000)
    assert (tmp_path / "root" / relpath).read_bytes() == data
    assert not list(store.stale_temp_files())
    assert isinstance(store, ArtifactStore)


def test_build_is_invisible_until_the_manifest_is_written(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    relpath, digest, size = store.put_file(HASH, "v1", "run1", "part.step", _src(tmp_path))
    assert store.get_manifest(HASH, "v1") is None  # files alone are never served
    rec = ArtifactRecord("step", relpath, digest, size, "v1", {"k": 1})
    store.put_manifest(Manifest(HASH, "v1", (rec,), {"analysis": {"volume_mm3": 1.0}}))
    got = store.get_manifest(HASH, "v1")
    assert got is not None and got.artifacts == (rec,)
    assert got.metadata["analysis"]["volume_mm3"] == 1.0
    assert store.verify(got) == []
    assert store.unreferenced_runs(HASH, "v1") == []


def test_manifest_whose_file_is_missing_or_truncated_is_not_served(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    relpath, digest, size = store.put_file(HASH, "v1", "run1", "part.step", _src(tmp_path))
    store.put_manifest(Manifest(HASH, "v1", (ArtifactRecord("step", relpath, digest, size, "v1"),)))
    store.path(relpath).write_bytes(b"short")
    assert store.get_manifest(HASH, "v1") is None
    store.path(relpath).unlink()
    assert store.get_manifest(HASH, "v1") is None


def test_verify_detects_changed_content_of_same_size(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    relpath, digest, size = store.put_file(HASH, "v1", "r", "a.stl", _src(tmp_path, b"aaaa"))
    manifest = Manifest(HASH, "v1", (ArtifactRecord("stl", relpath, digest, size, "v1"),))
    store.put_manifest(manifest)
    store.path(relpath).write_bytes(b"bbbb")
    assert store.verify(manifest) == [relpath]


def test_killed_writer_leaves_only_a_temp_file_never_a_partial_artifact(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    missing = tmp_path / "does-not-exist"
    with pytest.raises(FileNotFoundError):
        store.put_file(HASH, "v1", "run1", "part.stl", missing)
    base = tmp_path / "root" / key_prefix(HASH, "v1") / "run1"
    assert not (base / "part.stl").exists()
    assert list(base.iterdir()) == []  # the temp file was removed too


@pytest.mark.parametrize(
    ("config_hash", "version"),
    [("XYZ", "v1"), ("../../etc", "v1"), (HASH, "../v1"), (HASH, "a/b"), ("ab", "v1")],
)
def test_unsafe_keys_are_refused(config_hash: str, version: str) -> None:
    with pytest.raises(StoreError):
        key_prefix(config_hash, version)


def test_paths_cannot_escape_the_root(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    with pytest.raises(StoreError):
        store.path("../outside.txt")
    with pytest.raises(StoreError):
        store.put_file(HASH, "v1", "run1", "../x", _src(tmp_path))
