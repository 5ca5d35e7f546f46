"""mes_bridge stays on its floor: no orders/web imports, no database libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import mes_bridge

FORBIDDEN = ("orders", "web", "sqlalchemy", "psycopg", "flask", "rq", "redis", "alembic")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_mes_bridge_imports_nothing_above_its_floor():
    root = Path(mes_bridge.__file__).parent
    modules = sorted(root.rglob("*.py"))
    assert len(modules) >= 10
    offenders = {str(p.relative_to(root)): sorted(_imports(p) & set(FORBIDDEN)) for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_checker_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from orders.models import Order\nimport sqlalchemy.orm\n")
    assert _imports(bad) & set(FORBIDDEN) == {"orders", "sqlalchemy"}
