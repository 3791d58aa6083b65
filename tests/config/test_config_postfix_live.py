"""Live comparison with the installed Postfix ``postconf`` (skipped without it).

These run /usr/sbin/postconf on the same files mailflow reads and compare
answers: every built-in default, ``$name`` expansion, the sample
configuration's listings and the edits. The captured versions of the same
comparisons (which run everywhere) are in test_config_postconf_cli.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mailflow.config import Config
from mailflow.config.params import PARAMS
from mailflow.config.postfix_names import POSTFIX_ONLY

from test_config_expand import CASES as EXPANSION_CASES
from test_config_postconf_cli import EDITS, GOLDEN, SHOW, without_config_directory

POSTCONF = shutil.which("postconf") or ("/usr/sbin/postconf"
                                        if Path("/usr/sbin/postconf").exists() else None)
pytestmark = pytest.mark.skipif(POSTCONF is None, reason="Postfix's postconf is not installed")

# Defaults Postfix computes from the host (see docs/reference/differences.md).
HOST_DEPENDENT = {name for name, p in PARAMS.items() if p.host}
# Deliberate differences (differs=).
DIFFERS = {name for name, p in PARAMS.items() if p.differs}


def postconf(*args: str) -> subprocess.CompletedProcess:
    # Postfix waits until a freshly written main.cf/master.cf is a second
    # old before reading it; back-date the files so each call is quick.
    config_dir = Path(args[args.index("-c") + 1])
    for name in ("main.cf", "master.cf"):
        path = config_dir / name
        if path.exists():
            past = time.time() - 10
            os.utime(path, (past, past))
    return subprocess.run([POSTCONF, *args], capture_output=True, text=True, check=False)


def empty_dir(tmp_path: Path) -> Path:
    d = tmp_path / "pf"
    d.mkdir()
    (d / "main.cf").write_text("")
    (d / "master.cf").write_text("")
    return d


def postfix_defaults(config_dir: Path) -> dict[str, str]:
    result = postconf("-c", str(config_dir), "-d", *sorted(PARAMS))
    pairs = (line.partition(" =") for line in result.stdout.splitlines())
    return {name: value.strip() for name, _, value in pairs}


def test_every_default_equals_postfix(tmp_path):
    """Each default is ``postconf -d NAME``'s, Postfix's level expressions
    evaluated at compatibility_level 3.6; host-dependent and deliberately
    different defaults are skipped (they are listed in differences.md)."""
    theirs = postfix_defaults(empty_dir(tmp_path))
    at_36 = Config(compatibility_level="3.6")
    mismatches = []
    for name in sorted(set(PARAMS) - HOST_DEPENDENT - DIFFERS):
        want = theirs.get(name)
        if want is None:
            continue  # a legacy name postconf -d accepts but does not list
        if "<level" in want:
            want = at_36.expand_text(want)
        if PARAMS[name].default != want:
            mismatches.append((name, PARAMS[name].default, want))
    assert mismatches == []


def test_host_defaults_equal_postfix_on_this_host(tmp_path):
    """myhostname and mydomain are derived from the host as Postfix derives them."""
    theirs = postfix_defaults(empty_dir(tmp_path))
    cfg = Config()
    assert (cfg.myhostname, cfg.mydomain) == (theirs["myhostname"], theirs["mydomain"])


@pytest.mark.parametrize("text,expected", [c[1:] for c in EXPANSION_CASES],
                         ids=[c[0] for c in EXPANSION_CASES])
def test_expansion_equals_postconf_x(tmp_path, text, expected):
    """``postconf -xh`` expands each expression as mailflow does."""
    d = empty_dir(tmp_path)
    (d / "main.cf").write_text("full = x\nempty =\nn3 = 3\nn10 = 10\nlevel = 3.6\nref = $full\n"
                               f"smtpd_banner = {text}\n")
    theirs = postconf("-c", str(d), "-xh", "smtpd_banner").stdout.strip()
    ours = " ".join(Config.from_directory(d, log_warnings=False).expand("smtpd_banner").split())
    assert ours == theirs


@pytest.fixture
def twin_dirs(tmp_path):
    """Two copies of the golden configuration: one for Postfix, one for mailflow."""
    dirs = []
    for name in ("postfix", "mailflow"):
        d = tmp_path / name
        d.mkdir()
        shutil.copy(GOLDEN / "main.cf", d / "main.cf")
        shutil.copy(GOLDEN / "master.cf", d / "master.cf")
        dirs.append(d)
    return dirs


@pytest.mark.parametrize("args", [c[1] for c in SHOW], ids=[c[0] for c in SHOW])
def test_listing_equals_postfix(run_cli, twin_dirs, args):
    """Listings of the same files print the same lines (config_directory aside)."""
    pf_dir, mf_dir = twin_dirs
    theirs = without_config_directory(postconf("-c", str(pf_dir), *args).stdout)
    ours = without_config_directory(run_cli("-c", mf_dir, "postconf", *args).out)
    assert ours == theirs


@pytest.mark.parametrize("args,filename", [(c[1], c[2]) for c in EDITS], ids=[c[0] for c in EDITS])
def test_edit_equals_postfix(run_cli, twin_dirs, args, filename):
    """The same edit leaves the same file."""
    pf_dir, mf_dir = twin_dirs
    postconf("-c", str(pf_dir), *args)
    run_cli("-c", mf_dir, "postconf", *args)
    assert (mf_dir / filename).read_text() == (pf_dir / filename).read_text()


def test_every_postfix_parameter_is_either_implemented_or_listed(tmp_path):
    """Each name ``postconf -d`` lists is in PARAMS or in POSTFIX_ONLY, never both."""
    result = postconf("-c", str(empty_dir(tmp_path)), "-d")
    theirs = {line.partition(" =")[0] for line in result.stdout.splitlines()}
    assert theirs - set(PARAMS) - POSTFIX_ONLY == set()
    assert set(PARAMS) & POSTFIX_ONLY == set()


def test_full_listing_agrees_with_postfix(run_cli, twin_dirs):
    """Plain ``postconf`` on the same files shows the same line for every
    parameter both know, apart from the documented differences."""
    pf_dir, mf_dir = twin_dirs

    def entries(text: str) -> dict[str, str]:
        return {line.partition(" =")[0]: line for line in text.splitlines()}

    theirs = entries(postconf("-c", str(pf_dir)).stdout)
    ours = entries(run_cli("-c", mf_dir, "postconf").out)
    skip = HOST_DEPENDENT | DIFFERS | {"config_directory"}
    mismatches = [(name, line, theirs[name]) for name, line in ours.items()
                  if name in theirs and name not in skip and "<level" not in theirs[name]
                  and line != theirs[name]]
    assert mismatches == []
    assert len(set(ours) & set(theirs)) > 500


def test_raw_parameters_match_postfix(run_cli, tmp_path):
    """``postconf -xd`` leaves the same parameters unexpanded as mailflow does."""
    d = empty_dir(tmp_path)
    names = sorted(n for n, p in PARAMS.items() if p.raw)
    theirs = postconf("-c", str(d), "-xd", *names).stdout
    assert run_cli("-c", d, "postconf", "-xd", *names).out == theirs
