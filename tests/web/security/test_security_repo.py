"""No secrets in the repository, and artifact files are never reachable by path."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from cad.store import LocalArtifactStore, StoreError

REPO = Path(__file__).resolve().parents[3]
SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"),
    "assigned password": re.compile(
        r"(?i)\b(password|passwd|secret_key)\s*=\s*['\"][^'\"\s]{12,}['\"]"
    ),
}
ALLOWED = {".env.example"}  # documents placeholders only


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / p for p in out.stdout.splitlines() if p and Path(p).name not in ALLOWED]


def test_no_secrets_are_committed() -> None:
    found = []
    for path in _tracked():
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        for name, pattern in SECRET_PATTERNS.items():
            if pattern.search(text):
                found.append(f"{path.relative_to(REPO)}: {name}")
    assert found == []


def test_the_scan_would_catch_a_key() -> None:
    # built at run time, so this file itself never contains a match
    sample = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIE\n"
    assert SECRET_PATTERNS["private key"].search(sample)
    assert SECRET_PATTERNS["assigned password"].search("PASS" + 'WORD = "hunter2-but-longer"')


def test_env_and_generated_secret_are_ignored_by_git() -> None:
    for rel in (".env", "var/secret_key"):
        out = subprocess.run(["git", "check-ignore", rel], cwd=REPO, capture_output=True, text=True)
        assert out.returncode == 0, f"{rel} is not git-ignored"


@pytest.mark.parametrize("relpath", ["../x", "../../etc/passwd", "/etc/passwd", "ab/../../x"])
def test_store_refuses_paths_outside_its_root(tmp_path: Path, relpath: str) -> None:
    with pytest.raises(StoreError):
        LocalArtifactStore(tmp_path / "store").path(relpath)


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_every_dependency_is_pinned_in_the_constraints_file() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + [
        d for ds in project["optional-dependencies"].values() for d in ds
    ]
    pins = _pins(REPO / "constraints.txt")
    names = {
        re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~;\s]", d, maxsplit=1)[0]).lower() for d in wanted
    }
    assert sorted(names - pins.keys()) == []
    assert "octoprint" in _pins(REPO / "constraints-octoprint.txt")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "-c constraints.txt" in makefile and "-c constraints-octoprint.txt" in makefile
    assert "-c constraints.txt" in (REPO / "Dockerfile").read_text(encoding="utf-8")
