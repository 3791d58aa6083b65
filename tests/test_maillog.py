"""Postfix-format log lines: rendering, destinations, and a real log tool reading them."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time

import pytest

from mailflow.config import Config
from mailflow.maillog import PostfixFormatter, configure_logging, level_prefix, service_of

STAMP = time.mktime((2026, 11, 9, 8, 5, 3, 0, 0, -1))   # local time Nov  9 08:05:03


@pytest.fixture(autouse=True)
def reset_logging():
    """Leave the mailflow logger as the test found it."""
    yield
    configure_logging(Config(), foreground=False)


def record(name="mailflow.qmgr", level=logging.INFO, msg="%s: removed", args=("4139C20C313",),
           created=STAMP, **extra):
    rec = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    rec.created = created
    rec.__dict__.update(extra)
    return rec


def test_line_has_postfix_layout():
    """Time, short host name, syslog_name/service[pid]: text, as Postfix's maillog_file."""
    fmt = PostfixFormatter(hostname="mx.example.test", syslog_name="mailflow", pid=10819)
    # Postfix 3.7's own line for comparison (a private instance, maillog_file):
    # "Nov 29 13:24:03 mx postfix/qmgr[10820]: 4139C20C313: removed" -- day zero-padded
    # ("%b %d", msg_logger.c), host = first label of myhostname.
    assert fmt.format(record()) == "Nov 09 08:05:03 mx mailflow/qmgr[10819]: 4139C20C313: removed"


def test_pid_defaults_to_the_logging_process():
    """Without a fixed pid the record's process id is shown."""
    line = PostfixFormatter(hostname="mx", syslog_name="mailflow").format(record())
    assert re.search(r" mailflow/qmgr\[(\d+)\]: ", line).group(1) == str(record().process)


@pytest.mark.parametrize("level,prefix", [
    (logging.DEBUG, ""), (logging.INFO, ""), (logging.WARNING, "warning: "),
    (logging.ERROR, "error: "), (logging.CRITICAL, "fatal: "),
], ids=["debug", "info", "warning", "error", "fatal"])
def test_level_prefixes_are_postfixs(level, prefix):
    """Levels map to msg(3)'s prefixes: warning:, error:, fatal:."""
    assert level_prefix(level) == prefix
    line = PostfixFormatter(hostname="mx", pid=1).format(record(level=level))
    assert line.endswith(f"mailflow/qmgr[1]: {prefix}4139C20C313: removed")


@pytest.mark.parametrize("logger,service", [
    ("mailflow.pickup", "pickup"), ("mailflow.qmgr.scheduler", "qmgr"),
    ("mailflow", "mailflow"), ("myapp.mail", "myapp"),
], ids=["service", "submodule", "bare", "foreign"])
def test_service_comes_from_the_logger_name(logger, service):
    """The service shown is the first name below mailflow."""
    assert service_of(logger) == service


def test_tag_and_service_fields_override_the_logger_name():
    """extra={'tag': ...} replaces name/service (postlog -t); 'service' only the service."""
    fmt = PostfixFormatter(hostname="mx", syslog_name="mailflow", pid=7)
    assert " foo/bar[7]: " in fmt.format(record(tag="foo/bar"))
    assert " mailflow/smtp[7]: " in fmt.format(record(service="smtp"))


def test_traceback_is_folded_into_one_line():
    """An exception keeps the event on one line (one syslog record)."""
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("mailflow.qmgr", logging.ERROR, __file__, 1, "failed", (),
                                __import__("sys").exc_info())
    line = PostfixFormatter(hostname="mx", pid=1).format(rec)
    assert "\n" not in line and line.endswith("ValueError: boom")


def test_maillog_file_is_appended_to(tmp_path):
    """maillog_file gets one line per record, after what the file held."""
    path = tmp_path / "maillog"
    path.write_text("older line\n")
    configure_logging(Config(maillog_file=str(path), myhostname="mx.example.test",
                             syslog_name="mailflow"))
    logging.getLogger("mailflow.pickup").info("%s: uid=%d from=<%s>", "ABC", 0, "a@example.com")
    lines = path.read_text().splitlines()
    assert lines[0] == "older line"
    assert re.fullmatch(r"[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d mx mailflow/pickup\[\d+\]: "
                        r"ABC: uid=0 from=<a@example.com>", lines[1])
    assert len(lines) == 2


def test_configuring_again_replaces_the_destination(tmp_path):
    """A second configure_logging (reload) does not duplicate lines."""
    cfg = Config(maillog_file=str(tmp_path / "maillog"))
    configure_logging(cfg)
    configure_logging(cfg)
    logging.getLogger("mailflow.qmgr").info("once")
    assert (tmp_path / "maillog").read_text().count("once") == 1


def test_dev_stdout_is_allowed(capsys):
    """maillog_file = /dev/stdout writes the lines to standard output."""
    configure_logging(Config(maillog_file="/dev/stdout", myhostname="mx"))
    logging.getLogger("mailflow.qmgr").warning("hello")
    assert capsys.readouterr().out.endswith("]: warning: hello\n")


def test_foreground_without_maillog_file_uses_stderr(capsys):
    """Under start-fg with no maillog_file, lines go to stderr."""
    configure_logging(Config(myhostname="mx", syslog_name="mailflow"), foreground=True)
    logging.getLogger("mailflow.master").info("daemon started")
    assert re.search(r" mx mailflow/master\[\d+\]: daemon started\n$", capsys.readouterr().err)


def test_library_use_without_destination_leaves_records_to_the_application(caplog):
    """No maillog_file and not foreground: nothing installed, records propagate."""
    assert configure_logging(Config(), foreground=False) is None
    logging.getLogger("mailflow.qmgr").info("for the app")
    assert [r.getMessage() for r in caplog.records] == ["for the app"]


# One message's life as mailflow's services log it; pflogsumm must count it.
LIFE = [
    ("mailflow.pickup", logging.INFO, "4139C20C313: uid=0 from=<a@example.com>"),
    ("mailflow.cleanup", logging.INFO,
     "4139C20C313: message-id=<20261129132403.4139C20C313@mx.example.test>"),
    ("mailflow.qmgr", logging.INFO,
     "4139C20C313: from=<a@example.com>, size=264, nrcpt=1 (queue active)"),
    ("mailflow.local", logging.INFO,
     "4139C20C313: to=<b@mx.example.test>, relay=local, delay=0.02, delays=0.01/0/0/0, "
     "dsn=2.0.0, status=sent (delivered to mailbox)"),
    ("mailflow.qmgr", logging.INFO, "4139C20C313: removed"),
    ("mailflow.smtpd", logging.WARNING, "hostname example.net does not resolve to address 192.0.2.1"),
]


@pytest.mark.skipif(shutil.which("pflogsumm") is None, reason="pflogsumm is not installed")
def test_pflogsumm_reads_the_lines(tmp_path):
    """pflogsumm --syslog-name=mailflow counts the received and delivered message."""
    fmt = PostfixFormatter(hostname="mx.example.test", syslog_name="mailflow", pid=4242)
    log = tmp_path / "maillog"
    log.write_text("".join(fmt.format(record(name, level, text, ())) + "\n"
                           for name, level, text in LIFE))
    out = subprocess.run(["pflogsumm", "--syslog-name=mailflow", str(log)],
                         capture_output=True, text=True, check=True).stdout
    counts = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+(\w[\w ]*?)\s*$",
                                                               out, re.M)}
    assert (counts["received"], counts["delivered"], counts["bounced"]) == (1, 1, 0)
    assert re.search(r"^\s+264\s+bytes received$", out, re.M)
    assert "does not resolve to address 192.0.2.1" in out     # warnings section


def test_docs_examples_run():
    """The examples in docs/logging.md run as shown."""
    import doctest
    from pathlib import Path
    page = Path(__file__).resolve().parents[1] / "docs" / "logging.md"
    result = doctest.testfile(str(page), module_relative=False,
                              optionflags=doctest.ELLIPSIS, verbose=False)
    assert (result.failed, result.attempted > 0) == (0, True)
