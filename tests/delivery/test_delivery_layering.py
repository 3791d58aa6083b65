"""The delivery package's decision modules stay pure; I/O lives in the agent modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mailflow" / "delivery"
PURE = ["sysexits.py", "mailcopy.py", "pipe_argv.py", "local_expand.py", "trivial.py",
        "registry.py", "settings.py", "users.py"]
FORBIDDEN = {"asyncio", "socket", "dns", "sqlitedict", "subprocess", "fcntl",
             "mailflow.adapters", "mailflow.services", "mailflow.delivery.command",
             "mailflow.delivery.locking", "mailflow.delivery.mbox", "mailflow.delivery.maildir"}


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("name", PURE)
def test_decision_module_imports_no_io(name):
    """Expansion, argv, exit-code and quoting rules import no I/O module."""
    bad = {n for n in imports(PACKAGE / name) for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not bad


def test_dnspython_and_sqlitedict_are_never_imported():
    """No delivery module imports dnspython or sqlitedict directly."""
    for path in PACKAGE.glob("*.py"):
        assert not {n for n in imports(path) if n.split(".")[0] in ("dns", "sqlitedict")}, path.name
