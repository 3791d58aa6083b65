"""The tree keeps its layers: I/O libraries stay at the edges, pure code never imports them.

The rules come from the style guide ("The shape we aim for"): ``asyncio``
appears only in ``adapters/`` and ``services/``; dnspython only in
``adapters/dns.py``; sqlitedict only in the two sqlite adapters; and the
pure packages (model, errors, interfaces, config, tables, address, cleanup,
qmgr, bounce) import nothing from ``services/``, ``adapters/`` or ``cli/``.
Imports are read with :mod:`ast` (a function-local import counts too), so the
check needs no import side effects and catches lazy imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mailflow"

# Modules allowed to import asyncio besides adapters/ and services/: the
# delivery agents' process runner and its timeout helper run commands
# (pipe(8), local(8)'s "|command") with a time limit, which is I/O by nature.
# The smtp/lmtp clients' socket module is the same kind of edge: it holds the
# connection, the per-stage timeouts and STARTTLS, and nothing else.
# ``mailflow explain --smtpd`` runs the (async) restriction engine once with
# asyncio.run: a command's own entry point, like the daemon's.
ASYNCIO_EXCEPTIONS = {"mailflow/delivery/command.py", "mailflow/delivery/agentutil.py",
                      "mailflow/delivery/smtp_session.py", "mailflow/cli/explain.py"}
DNS_MODULES = {"mailflow/adapters/dns.py"}
SQLITEDICT_MODULES = {"mailflow/adapters/sqlite_table.py",
                      "mailflow/adapters/sqlite_queue_store.py"}
PURE_PACKAGES = ("mailflow/model.py", "mailflow/errors.py", "mailflow/interfaces.py",
                 "mailflow/config/", "mailflow/tables/", "mailflow/address/",
                 "mailflow/cleanup/", "mailflow/qmgr/", "mailflow/bounce/")
EDGE_PACKAGES = ("mailflow.services", "mailflow.adapters", "mailflow.cli")

# Known violations, each with why it is still there. The last test fails
# once one is fixed, so this list cannot go stale.
KNOWN = {
    ("mailflow/submit.py", "asyncio"):
        "submit_async() runs submit() in a worker thread with asyncio.to_thread; "
        "it belongs in an adapter",
    ("mailflow/testing.py", "asyncio"):
        "MailSystem.deliver_all() starts its own event loop around the queue manager, "
        "so that tests without an event loop can run the whole mail system",
    ("mailflow/tables/__init__.py", "mailflow.adapters.sqlite_table"):
        "the built-in hash:/btree: openers import the sqlitedict adapter when such a "
        "table is opened, so that importing mailflow.tables registers every type",
}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports, anywhere in the file, relative imports resolved."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            # "from mailflow import services" imports a package too.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(path: Path) -> set[tuple[str, str]]:
    """(file, imported module) pairs that break a layering rule."""
    rel = relative(path)
    found = set()
    for name in imported_modules(path):
        if within(name, "asyncio") and not (
                rel.startswith(("mailflow/adapters/", "mailflow/services/"))
                or rel in ASYNCIO_EXCEPTIONS):
            found.add((rel, "asyncio"))
        if within(name, "dns") and rel not in DNS_MODULES:
            found.add((rel, "dns"))
        if within(name, "sqlitedict") and rel not in SQLITEDICT_MODULES:
            found.add((rel, "sqlitedict"))
        if rel.startswith(PURE_PACKAGES) and any(within(name, p) for p in EDGE_PACKAGES):
            found.add((rel, name))
    # "from m import x" is reported once, as m, not again as m.x.
    return {(f, n) for f, n in found if (f, n.rpartition(".")[0]) not in found}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_check_sees_the_whole_package():
    """The module list covers the pure packages and the edges, so no rule is checked on nothing."""
    seen = {relative(p) for p in MODULES}
    for prefix in PURE_PACKAGES + ("mailflow/adapters/", "mailflow/services/", "mailflow/cli/"):
        assert any(s.startswith(prefix) for s in seen), prefix


@pytest.mark.parametrize("source, expected", [
    ("import asyncio\n", {"asyncio"}),
    ("def f():\n    import dns.resolver\n", {"dns.resolver"}),
    ("from . import maps\n", {"mailflow.tables", "mailflow.tables.maps"}),
    ("from ..adapters.sqlite_table import DbTable\n",
     {"mailflow.adapters.sqlite_table", "mailflow.adapters.sqlite_table.DbTable"}),
], ids=["plain", "function-local", "relative-sibling", "relative-parent"])
def test_imports_are_read_with_relative_ones_resolved(tmp_path, source, expected):
    """Plain, function-local and relative imports all reach the check under their full names."""
    package = tmp_path / "mailflow" / "tables"
    package.mkdir(parents=True)
    module = package / "x.py"
    module.write_text(source)
    assert imported_modules(module, root=tmp_path) == expected


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_module_keeps_its_layer(path):
    """asyncio, dnspython, sqlitedict and the I/O packages are imported only where allowed."""
    assert violations(path) - set(KNOWN) == set()


@pytest.mark.parametrize("violation", sorted(KNOWN), ids=lambda v: f"{v[0]}->{v[1]}")
def test_known_violation_is_still_there(violation):
    """Each listed exception is still real; drop it from KNOWN once it is fixed."""
    assert violation in violations(ROOT / violation[0])
