"""The pure cores import no web, database, queue or network library (architecture rule 1)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = (
    "flask",
    "werkzeug",
    "sqlalchemy",
    "alembic",
    "rq",
    "redis",
    "requests",
    "httpx",
    "urllib3",
    "aiohttp",
    "paho",
    "asyncua",
    "socket",
    "http",
    "psycopg",
    "web",
    "orders",
    "cad",
    "mes_bridge",
)
PURE = ("configurator", "scheduler")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PURE)
def test_no_forbidden_import_statements(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {str(f.relative_to(REPO)): sorted(_imports(f) & set(FORBIDDEN)) for f in files}
    assert {f: bad for f, bad in offenders.items() if bad} == {}


@pytest.mark.parametrize("package", PURE)
def test_importing_pulls_in_nothing_forbidden(package: str) -> None:
    """Catches indirect imports too: what is loaded after `import <package>` in a clean process."""
    code = (
        f"import sys, json, {package}, pkgutil, importlib\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert loaded & set(FORBIDDEN) - {"socket", "http"} == set()


def test_the_check_would_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import json\nfrom sqlalchemy.orm import Session\n", encoding="utf-8")
    assert "sqlalchemy" in _imports(bad) & set(FORBIDDEN)
