"""scheduler/ stays pure: stdlib and ortools only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "scheduler"


def test_scheduler_imports_only_stdlib_and_ortools() -> None:
    bad = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for n in names:
                top = n.split(".")[0]
                if top not in sys.stdlib_module_names and top != "ortools":
                    bad.append(f"{path.name}: {n}")
    assert bad == []
