"""mailflow postlog: one Postfix-format line per text, to the configured destination."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

LINE = r"[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d mx "


@pytest.fixture
def logged(config_dir, tmp_path):
    """config_dir with maillog_file and myhostname set; returns a reader of the log lines."""
    with open(config_dir / "main.cf", "a") as fh:
        fh.write(f"maillog_file = {tmp_path / 'maillog'}\nmyhostname = mx.example.test\n"
                 "syslog_name = mailflow\n")
    return lambda: (tmp_path / "maillog").read_text().splitlines()


def test_priority_and_tag_as_postfix_writes_them(config_dir, run_cli, logged):
    """-p warning -t foo/bar gives 'foo/bar[PID]: warning: TEXT', as Postfix's postlog."""
    # Postfix 3.7: `postlog -c ETC -p warning -t foo/bar hello there` wrote this line
    # to its maillog_file.
    postfix = "Nov 29 13:24:05 mx foo/bar[11171]: warning: hello there"
    result = run_cli("-c", config_dir, "postlog", "-p", "warning", "-t", "foo/bar", "hello", "there")
    assert result.status == 0
    [ours] = logged()
    assert re.fullmatch(LINE + r"foo/bar\[\d+\]: warning: hello there", ours)
    assert ours.split(" ", 3)[3].split("[")[0] == postfix.split(" ", 3)[3].split("[")[0]
    assert ours.split("]", 1)[1] == postfix.split("]", 1)[1]


def test_default_tag_is_syslog_name_postlog(config_dir, run_cli, logged):
    """Without -t the tag is $syslog_name/postlog (Postfix: postfix/postlog)."""
    run_cli("-c", config_dir, "postlog", "hi")
    assert re.fullmatch(LINE + r"mailflow/postlog\[\d+\]: hi", logged()[0])


def test_each_stdin_line_is_logged(config_dir, run_cli, logged):
    """Without text arguments every line of standard input becomes one log line."""
    # Postfix 3.7: `printf 'line1\nline2\n' | postlog -t mytag` wrote two mytag[PID] lines.
    run_cli("-c", config_dir, "postlog", "-t", "mytag", stdin="line1\nline2\n")
    assert [line.split("]: ", 1)[1] for line in logged()] == ["line1", "line2"]


@pytest.mark.parametrize("priority,prefix", [
    ("info", ""), ("warning", "warning: "), ("error", "error: "), ("fatal", "fatal: "),
    ("panic", "panic: "),
], ids=["info", "warning", "error", "fatal", "panic"])
def test_priorities_become_postfix_prefixes(config_dir, run_cli, logged, priority, prefix):
    """Each priority gets msg(3)'s prefix; even fatal exits 0, as Postfix's postlog."""
    assert run_cli("-c", config_dir, "postlog", "-p", priority, "boom").status == 0
    assert logged()[0].endswith(f"]: {prefix}boom")


def test_unknown_priority_fails(config_dir, run_cli):
    """An unknown priority is refused with exit 1."""
    result = run_cli("-c", config_dir, "postlog", "-p", "bogus", "x")
    assert (result.status, result.err) == (1, "postlog: fatal: unknown priority value: bogus\n")


def test_without_maillog_file_the_line_goes_to_stderr(config_dir, run_cli):
    """With no maillog_file configured postlog writes to stderr."""
    result = run_cli("-c", config_dir, "postlog", "-t", "x/y", "to stderr")
    assert re.search(r" x/y\[\d+\]: to stderr\n$", result.err)


@pytest.mark.skipif(shutil.which("pflogsumm") is None, reason="pflogsumm is not installed")
def test_pflogsumm_lists_a_postlog_warning(config_dir, run_cli, logged, tmp_path):
    """A warning written by postlog shows in pflogsumm's warnings section."""
    run_cli("-c", config_dir, "postlog", "-p", "warning", "-t", "mailflow/smtpd", "disk low")
    out = subprocess.run(["pflogsumm", "--syslog-name=mailflow", str(tmp_path / "maillog")],
                         capture_output=True, text=True, check=True).stdout
    assert "disk low" in out
