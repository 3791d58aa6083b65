"""``mailflow check`` and ``mailflow start`` refuse a broken plug-in, naming
the entry point and the exception (real processes; the plug-in directory is
on their PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_dist(site: Path, dist: str, entry_points: str, modules: dict[str, str]) -> None:
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    d = tmp_path / "etc"
    d.mkdir()
    (d / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\n"
                               f"maillog_file = {tmp_path / 'maillog'}\n"
                               "myhostname = mx.example.test\n")
    (d / "master.cf").write_text(
        "pickup    unix  n       -       n       60      1       pickup\n"
        "cleanup   unix  n       -       n       -       0       cleanup\n")
    return d


def mailflow(etc: Path, site: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(ROOT), str(site))))
    return subprocess.run([sys.executable, "-m", "mailflow", "-c", str(etc), *args],
                          capture_output=True, text=True, env=env, timeout=60, cwd=str(ROOT))


BROKEN = "[mailflow.agents]\nwebhook = brokenhook:Agent\n"
BROKEN_TEXT = ('cannot load mailflow.agents entry point "webhook = brokenhook:Agent" '
               "(brokenhook 1.0): ModuleNotFoundError: No module named 'requests_nowhere'")


def test_check_names_the_plugin_that_fails_to_import(etc, tmp_path):
    site = tmp_path / "site"
    write_dist(site, "brokenhook", BROKEN, {"brokenhook": "import requests_nowhere\n"})
    result = mailflow(etc, site, "check")
    assert result.returncode == 78, result.stderr
    assert f"mailflow: error: {BROKEN_TEXT}\n" in result.stderr


def test_start_refuses_a_plugin_that_fails_to_import(etc, tmp_path):
    site = tmp_path / "site"
    write_dist(site, "brokenhook", BROKEN, {"brokenhook": "import requests_nowhere\n"})
    result = mailflow(etc, site, "start")
    assert result.returncode == 78, result.stderr
    assert BROKEN_TEXT in result.stderr
    assert not (tmp_path / "spool" / "pid" / "master.pid").exists()


def test_check_reports_a_name_two_plugins_claim(etc, tmp_path):
    site = tmp_path / "site"
    write_dist(site, "one", "[mailflow.tables]\nyaml = one:open\n", {"one": "open = None\n"})
    write_dist(site, "two", "[mailflow.tables]\nyaml = two:open\n", {"two": "open = None\n"})
    result = mailflow(etc, site, "check")
    assert result.returncode == 78, result.stderr
    assert ('mailflow: error: table type name "yaml" is claimed by 2 plug-ins: '
            'mailflow.tables entry point "yaml = one:open" (one 1.0); '
            'mailflow.tables entry point "yaml = two:open" (two 1.0)\n') in result.stderr


def test_check_passes_with_working_plugins_and_cleanup_rules(etc, tmp_path):
    site = tmp_path / "site"
    write_dist(site, "goodrule", "[mailflow.cleanup_rules]\nnoop = goodrule:Noop\n",
               {"goodrule": "class Noop:\n    def check_body(self, line):\n        return None\n"})
    with open(etc / "main.cf", "a") as f:
        f.write("cleanup_rules = noop\n")
    result = mailflow(etc, site, "check")
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr
    with open(etc / "main.cf", "a") as f:
        f.write("cleanup_rules = noop, nosuch\n")
    result = mailflow(etc, site, "check")
    assert result.returncode == 78
    assert 'mailflow: error: cleanup_rules: unknown cleanup rule "nosuch"' in result.stderr
