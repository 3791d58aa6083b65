"""mailflow postkick CLASS SERVICE REQUEST: write a request into a wake-up channel."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def fifo(config_dir, tmp_path):
    """A reader on public/qmgr under the configured queue directory."""
    public = tmp_path / "spool" / "public"
    public.mkdir(parents=True)
    os.mkfifo(public / "qmgr")
    fd = os.open(public / "qmgr", os.O_RDONLY | os.O_NONBLOCK)
    yield fd
    os.close(fd)


def test_request_reaches_the_service_with_escapes_decoded(config_dir, run_cli, fifo):
    """The request is written with C escapes decoded (\\101 is 'A'), exit 0."""
    result = run_cli("-c", config_dir, "postkick", "public", "qmgr", r"F\101")
    assert result.status == 0
    assert os.read(fifo, 100) == b"FA"


def test_nobody_listening_is_reported_as_postfix_does(config_dir, run_cli):
    """With no listener postkick prints Postfix's warning and exits 1."""
    # Postfix 3.7 with the mail system stopped: `postkick -c ETC public pickup W` printed
    # this line and exited 1.
    result = run_cli("-c", config_dir, "postkick", "public", "pickup", "W")
    assert (result.status, result.err) == (
        1, "postkick: warning: Cannot contact class public service pickup"
           " - perhaps the mail system is down\n")


@pytest.mark.parametrize("args", [[], ["public", "qmgr"], ["-x", "public", "qmgr", "W"]],
                         ids=["no-args", "two-args", "bad-flag"])
def test_usage_errors_print_postfixs_usage(config_dir, run_cli, args):
    """Wrong arguments print Postfix's usage line and exit 1 (as postkick does)."""
    result = run_cli("-c", config_dir, "postkick", *args)
    assert (result.status, result.err) == (
        1, "postkick: fatal: usage: postkick [-c config_dir] [-v] class service request\n")


def test_service_name_cannot_leave_the_queue_directory(config_dir, run_cli):
    """A service name with a slash is refused, never opened."""
    result = run_cli("-c", config_dir, "postkick", "public", "../pid/master.pid", "W")
    assert result.status == 1
