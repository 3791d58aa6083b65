"""Fixtures for the plug-in tests: installed distributions made on disk.

``installed`` writes a real ``NAME-1.0.dist-info`` directory (METADATA and
entry_points.txt) and the plug-in's modules into a directory on sys.path, so
discovery goes through importlib.metadata exactly as for a pip-installed
package. Everything registered or imported is forgotten after the test.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from mailflow import plugins
from mailflow.tables import registry as table_registry

_serial = itertools.count()


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory at the front of sys.path."""
    d = tmp_path / "site"
    d.mkdir()
    monkeypatch.syspath_prepend(str(d))
    # Table types registered from plug-ins go away with the test.
    monkeypatch.setattr(table_registry, "_REGISTRY", dict(table_registry._REGISTRY))
    plugins.reset()
    yield d
    plugins.reset()


@pytest.fixture
def installed(site_dir: Path) -> Callable[..., str]:
    """``installed(dist, {group: {name: "module:attr"}}, {module: source})``;
    returns the prefix that makes module names unique to this test."""
    prefix = f"mfplug{next(_serial)}_"
    made: list[str] = []

    def install(dist: str, entry_points: dict[str, dict[str, str]],
                modules: dict[str, str] | None = None) -> str:
        info = site_dir / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = []
        for group, names in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {prefix}{value}" for name, value in names.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in (modules or {}).items():
            (site_dir / f"{prefix}{module}.py").write_text(textwrap.dedent(source))
            made.append(prefix + module)
        plugins.reset()
        return prefix

    yield install
    for module in made:
        sys.modules.pop(module, None)
