"""The cleanup package stays pure: no I/O modules, no event loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mailflow" / "cleanup"
FORBIDDEN = {"asyncio", "socket", "dns", "sqlitedict", "subprocess", "mailflow.adapters",
             "mailflow.services"}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_cleanup_module_imports_no_io(path):
    """No module of mailflow.cleanup imports an I/O module or a service."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    bad = {n for n in names for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not bad
