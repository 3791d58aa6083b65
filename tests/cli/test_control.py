"""start/stop/reload/status/check/flush against a real daemon process."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName
from mailflow.model import Envelope, Message, Recipient

ROOT = Path(__file__).resolve().parents[2]
# Postfix's maillog_file line: "Mon DD HH:MM:SS HOST NAME/SERVICE[PID]: TEXT"
LINE = re.compile(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d mx mailflow/(\w[\w-]*)\[(\d+)\]: (.*)$")


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A config dir with pickup in master.cf and the log in tmp_path/maillog."""
    d = tmp_path / "etc"
    d.mkdir()
    (d / "main.cf").write_text(
        f"queue_directory = {tmp_path / 'spool'}\nmaillog_file = {tmp_path / 'maillog'}\n"
        "myhostname = mx.example.test\nsyslog_name = mailflow\n")
    (d / "master.cf").write_text(
        "pickup    unix  n       -       n       60      1       pickup\n"
        "cleanup   unix  n       -       n       -       0       cleanup\n")
    return d


def mailflow(etc: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run ``mailflow -c ETC ARGS`` as a separate process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mailflow", "-c", str(etc), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT))


def spool(etc: Path) -> Path:
    return etc.parent / "spool"


def pid_file(etc: Path) -> Path:
    return spool(etc) / "pid" / "master.pid"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry))
    return found


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def daemon(etc):
    """A started daemon (``mailflow start``); stopped, or killed, afterwards."""
    result = mailflow(etc, "start")
    assert result.returncode == 0, result.stderr
    pid = int(pid_file(etc).read_text())
    yield pid
    if pid_file(etc).exists():
        mailflow(etc, "stop")
    for member in group_members(pid):
        os.kill(member, signal.SIGKILL)


def test_start_returns_with_the_master_running(etc, daemon):
    """After start, status says running with the pid from master.pid (exit 0)."""
    result = mailflow(etc, "status")
    assert (result.returncode, result.stderr) == (
        0, f"mailflow: the mail system is running: PID: {daemon}\n")
    # The pid file uses Postfix's layout: right-aligned in 32 columns.
    assert pid_file(etc).read_text() == f"{daemon:>32}\n"


def test_stop_leaves_no_process_behind(etc, daemon):
    """stop returns once the master is gone; nothing of its process group is left."""
    assert group_members(daemon) == [daemon]
    result = mailflow(etc, "stop")
    assert (result.returncode, result.stderr) == (0, "mailflow: stopping the mail system\n")
    assert group_members(daemon) == []
    assert not pid_file(etc).exists()
    status = mailflow(etc, "status")
    assert (status.returncode, status.stderr) == (1, "mailflow: the mail system is not running\n")


def test_start_while_running_is_refused(etc, daemon):
    """A second start says the mail system is already running and exits 1."""
    result = mailflow(etc, "start")
    assert (result.returncode, result.stderr) == (
        1, "mailflow: fatal: the mail system is already running\n")


def test_stop_when_not_running_fails(etc):
    """stop without a master says so and exits 1 (postfix-script's wording)."""
    result = mailflow(etc, "stop")
    assert (result.returncode, result.stderr) == (
        1, "mailflow: fatal: the mail system is not running\n")


def test_stale_pid_file_is_not_a_running_master(etc):
    """A pid file left by a crash (no lock held) reads as not running, and start works."""
    (spool(etc) / "pid").mkdir(parents=True)
    pid_file(etc).write_text(f"{os.getpid():>32}\n")       # a live pid, but no lock
    assert mailflow(etc, "status").returncode == 1
    assert mailflow(etc, "start").returncode == 0
    try:
        assert int(pid_file(etc).read_text()) != os.getpid()
    finally:
        assert mailflow(etc, "stop").returncode == 0


def test_submitted_mail_reaches_incoming_and_is_logged(etc, daemon):
    """A maildrop file plus a kick reaches incoming; pickup's line is in maillog_file."""
    from mailflow.adapters.kick import kick
    store = FileQueueStore(str(spool(etc)))
    store.enqueue(QueueName.MAILDROP, Envelope("a@example.com", (Recipient("b@example.com"),)),
                  Message(b"Subject: hi\n\nhello\n"))
    assert kick(str(spool(etc)), "pickup")
    wait_for(lambda: list(store.ids(QueueName.INCOMING)))
    qid = list(store.ids(QueueName.INCOMING))[0]
    wait_for(lambda: f"{qid}: uid=" in (etc.parent / "maillog").read_text())
    lines = (etc.parent / "maillog").read_text().splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert (parsed[0].group(1), parsed[0].group(3)) == (
        "master", f"daemon started -- version 0.1.0, configuration {etc}")
    pickup = [m for m in parsed if m.group(1) == "pickup"]
    assert [(m.group(2), m.group(3)) for m in pickup] == [
        (str(daemon), f"{qid}: uid={os.getuid()} from=<a@example.com>")]


def test_reload_and_sighup_reread_the_configuration(etc, daemon):
    """reload (and a plain SIGHUP) make the master log a reload and keep running."""
    result = mailflow(etc, "reload")
    assert (result.returncode, result.stderr) == (0, "mailflow: refreshing the mail system\n")
    log = etc.parent / "maillog"
    wait_for(lambda: log.read_text().count("reload -- version") == 1)
    os.kill(daemon, signal.SIGHUP)
    wait_for(lambda: log.read_text().count("reload -- version") == 2)
    assert mailflow(etc, "status").returncode == 0


def test_sigterm_is_a_graceful_stop(etc, daemon):
    """SIGTERM to the master stops it and removes the pid file, with Postfix's log line."""
    os.kill(daemon, signal.SIGTERM)
    wait_for(lambda: not group_members(daemon))
    assert not pid_file(etc).exists()
    assert "master[%d]: terminating on signal 15" % daemon in (etc.parent / "maillog").read_text()


def test_bad_config_fails_start_with_file_and_line(etc):
    """start with a bad value exits 78 naming file, line, parameter and value; no daemon."""
    with open(etc / "main.cf", "a") as fh:
        fh.write("message_size_limit = banana\n")
    result = mailflow(etc, "start")
    assert result.returncode == 78
    assert result.stderr.startswith(f"mailflow/start: fatal: {etc}/main.cf, line 5: "
                                    "message_size_limit = banana: not a number")
    assert not pid_file(etc).exists()


def test_start_reports_why_the_daemon_failed(etc):
    """A failure inside the daemon (unwritable maillog_file) is reported by start, exit 1."""
    (etc.parent / "maillog").mkdir()      # a directory cannot be the log file
    result = mailflow(etc, "start")
    assert result.returncode == 1
    assert result.stderr.startswith("mailflow: starting the mail system\n"
                                    "mailflow: fatal: the mail system did not start: ")
    assert "Is a directory" in result.stderr
    assert not pid_file(etc).exists()


def test_start_fg_logs_to_stderr_without_maillog_file(etc):
    """start-fg with no maillog_file logs Postfix-format lines on stderr; SIGTERM ends it."""
    (etc / "main.cf").write_text(
        f"queue_directory = {spool(etc)}\nmyhostname = mx.example.test\nsyslog_name = mailflow\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with subprocess.Popen([sys.executable, "-m", "mailflow", "-c", str(etc), "start-fg"],
                          stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            first = proc.stderr.readline()
            proc.send_signal(signal.SIGTERM)
            rest = proc.stderr.read()
            assert proc.wait(10) == 0
        finally:
            proc.kill()
    assert LINE.match(first.rstrip("\n")).group(1, 2, 3) == (
        "master", str(proc.pid), f"daemon started -- version 0.1.0, configuration {etc}")
    assert f"mailflow/master[{proc.pid}]: terminating on signal 15" in rest


def test_check_creates_missing_queue_directories(etc):
    """check creates the spool's missing directories, naming each, and exits 0."""
    (spool(etc) / "incoming").mkdir(parents=True)
    result = mailflow(etc, "check")
    assert result.returncode == 0
    assert "mailflow: warning: creating missing mailflow maildrop directory\n" in result.stderr
    assert "incoming directory" not in result.stderr
    assert {"maildrop", "incoming", "active", "deferred", "hold", "corrupt"} <= set(
        os.listdir(spool(etc)))


def test_check_names_master_cf_services_not_implemented(etc):
    """check warns about master.cf services that start would skip."""
    with open(etc / "master.cf", "a") as fh:
        fh.write("foo unix - - n - - nosuchdaemon\n")
    result = mailflow(etc, "check")
    assert result.returncode == 0
    assert result.stderr.endswith("mailflow: warning: master.cf: foo/unix: service nosuchdaemon "
                                  "is not implemented yet (skipped at start)\n")


def test_flush_without_a_queue_manager_fails_like_postqueue(etc):
    """flush with nobody on public/qmgr exits 69 with postqueue -f's message."""
    result = mailflow(etc, "flush")
    assert (result.returncode, result.stderr) == (
        69, "mailflow/flush: fatal: Cannot flush mail queue - mail system is down\n")


def test_flush_sends_postqueue_f_requests_to_qmgr(etc):
    """flush writes Postfix's flush requests (F, A, D, I) to public/qmgr."""
    public = spool(etc) / "public"
    public.mkdir(parents=True)
    os.mkfifo(public / "qmgr")
    reader = os.open(public / "qmgr", os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = mailflow(etc, "flush")
        assert result.returncode == 0, result.stderr
        assert os.read(reader, 100) == b"FADI"
    finally:
        os.close(reader)


def test_check_reports_every_bad_value(etc):
    """check lists each bad parameter with file and line and exits 78 (EX_CONFIG)."""
    with open(etc / "main.cf", "a") as fh:
        fh.write("message_size_limit = banana\nmaximal_queue_lifetime = soon\n")
    result = mailflow(etc, "check")
    assert result.returncode == 78
    lines = result.stderr.splitlines()
    assert [line.split(": ", 2)[:2] for line in lines] == [["mailflow", "error"]] * 2
    assert f"{etc}/main.cf, line 5: message_size_limit = banana" in lines[0]
    assert f"{etc}/main.cf, line 6: maximal_queue_lifetime = soon" in lines[1]


def test_mail_flows_through_the_daemon_to_a_maildir(tmp_path):
    """maildrop → pickup → cleanup → qmgr → virtual: the message lands in the Maildir."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(
        f"queue_directory = {tmp_path / 'spool'}\nmaillog_file = {tmp_path / 'maillog'}\n"
        "myhostname = mx.example.test\nsyslog_name = mailflow\n"
        "virtual_mailbox_domains = example.com\n"
        f"virtual_mailbox_base = {tmp_path / 'mail'}\n"
        "virtual_mailbox_maps = inline:{ b@example.com=b/Maildir/ }\n")
    (etc / "master.cf").write_text(
        "pickup    unix  n       -       n       60      1       pickup\n"
        "cleanup   unix  n       -       n       -       0       cleanup\n"
        "qmgr      unix  n       -       n       300     1       qmgr\n"
        "virtual   unix  -       n       n       -       -       virtual\n")
    assert mailflow(etc, "start").returncode == 0
    pid = int(pid_file(etc).read_text())
    try:
        from mailflow.adapters.kick import kick
        FileQueueStore(str(spool(etc))).enqueue(
            QueueName.MAILDROP, Envelope("a@example.com", (Recipient("b@example.com"),)),
            Message(b"Subject: hi\n\nhello\n"))
        assert kick(str(spool(etc)), "pickup")
        new = tmp_path / "mail" / "b" / "Maildir" / "new"
        wait_for(lambda: new.is_dir() and os.listdir(new))
        assert b"\n\nhello\n" in (new / os.listdir(new)[0]).read_bytes()
    finally:
        assert mailflow(etc, "stop").returncode == 0
    assert group_members(pid) == []
    services = [LINE.match(line).group(1) for line in (tmp_path / "maillog").read_text().splitlines()]
    assert {"master", "pickup", "cleanup", "qmgr", "virtual"} <= set(services)
    if shutil.which("pflogsumm"):       # a Postfix log tool reads the daemon's own log
        out = subprocess.run(["pflogsumm", "--syslog-name=mailflow", str(tmp_path / "maillog")],
                             capture_output=True, text=True, check=True).stdout
        assert re.search(r"^\s+1\s+received$", out, re.M)
        assert re.search(r"^\s+1\s+delivered$", out, re.M)


def test_killed_master_is_not_running_and_can_be_started_again(etc, daemon):
    """After SIGKILL the pid file stays but its lock is gone: status 1, start works again."""
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not group_members(daemon))
    assert pid_file(etc).exists()
    assert mailflow(etc, "status").returncode == 1
    assert mailflow(etc, "start").returncode == 0
    assert int(pid_file(etc).read_text()) != daemon


def test_sendmail_to_a_running_daemon_reaches_incoming_without_waiting_for_a_scan(etc, daemon):
    """`mailflow sendmail` kicks pickup: the message leaves maildrop long before the 60 s scan."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    sent = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(etc), "sendmail",
                           "-f", "a@example.com", "b@example.com"],
                          input="Subject: hi\n\nhello\n", capture_output=True, text=True,
                          env=env, timeout=30)
    assert sent.returncode == 0, sent.stderr
    store = FileQueueStore(str(spool(etc)))
    wait_for(lambda: list(store.ids(QueueName.INCOMING)) and not list(store.ids(QueueName.MAILDROP)))
