"""`mailflow postlock`: run a command under the mailbox delivery lock."""

import os
import subprocess
import sys

import pytest

# Exit statuses of Postfix 3.7.11's /usr/sbin/postlock, obtained by running
#   postlock                                  -> 75 (usage)
#   postlock FILE /bin/sh -c 'exit 3'          -> 3  (the command's status)
#   postlock -l bogus FILE /bin/true           -> 75 (bad lock style)
#   postlock FILE /nonexistent                 -> 1  (exec failed in the child)
#   postlock /nonexist/dir/mbox /bin/true      -> 75 (cannot create the lock)
POSTFIX_STATUS = [
    ("usage", [], 75),
    ("command-status", ["{mbox}", "/bin/sh", "-c", "exit 3"], 3),
    ("bad-lock-style", ["-l", "bogus", "{mbox}", "/bin/true"], 75),
    ("exec-fails", ["{mbox}", "/nonexistent"], 1),
    ("cannot-lock", ["{tmp}/nonexist/mbox", "/bin/true"], 75),
]


def _args(args, tmp_path):
    return [a.format(mbox=tmp_path / "mbox", tmp=tmp_path) for a in args]


@pytest.mark.parametrize("name,args,status", POSTFIX_STATUS, ids=[c[0] for c in POSTFIX_STATUS])
def test_exit_status_matches_postfix(name, args, status, tmp_path, config_dir, run_cli):
    """Exit statuses are Postfix's: the command's own, else 75 (or 1 for a failed exec)."""
    assert run_cli("-c", config_dir, "postlock", *_args(args, tmp_path)).status == status


@pytest.mark.skipif(not os.path.exists("/usr/sbin/postlock"), reason="Postfix's postlock is not installed")
@pytest.mark.parametrize("name,args,status", POSTFIX_STATUS, ids=[c[0] for c in POSTFIX_STATUS])
def test_real_postlock_agrees(name, args, status, tmp_path):
    """The installed Postfix postlock gives the recorded statuses too."""
    proc = subprocess.run(["/usr/sbin/postlock", *_args(args, tmp_path)], capture_output=True)
    assert proc.returncode == status


def test_command_runs_while_the_mailbox_is_locked(tmp_path, config_dir, run_cli):
    """While the command runs, the dot-lock exists and an fcntl lock is refused."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY)\n"
        "try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n    sys.exit(0)\n"
        "sys.exit(9)\n")
    mbox = tmp_path / "mbox"
    result = run_cli("-c", config_dir, "postlock", mbox, "/bin/sh", "-c",
                     f"test -e {mbox}.lock && {sys.executable} {probe} {mbox}")
    assert result.status == 0
    assert not (tmp_path / "mbox.lock").exists()


def test_lock_style_option_selects_flock(tmp_path, config_dir, run_cli):
    """-l flock takes only a flock() lock: no dot-lock file appears."""
    mbox = tmp_path / "mbox"
    result = run_cli("-c", config_dir, "postlock", "-l", "flock", mbox, "/bin/sh", "-c",
                     f"test ! -e {mbox}.lock")
    assert result.status == 0


def test_held_lock_gives_tempfail(tmp_path, config_dir, run_cli):
    """A mailbox locked by someone else gives 75 after the lock attempts."""
    (config_dir / "main.cf").write_text((config_dir / "main.cf").read_text()
                                        + "deliver_lock_attempts = 2\ndeliver_lock_delay = 1s\n")
    mbox = tmp_path / "mbox"
    (tmp_path / "mbox.lock").write_text("")
    assert run_cli("-c", config_dir, "postlock", mbox, "/bin/true").status == 75
