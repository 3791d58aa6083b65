"""mailflow sendmail: flags, stdin conventions, exit codes, and the maildrop file it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName as Q
from mailflow.model import Notify, Ret

ROOT = Path(__file__).resolve().parents[2]

# Postfix 3.7.11's sendmail (private instance, `sendmail -C DIR ...` as root) says
#   "sendmail: invalid option -- 'Z'" + "sendmail: fatal: usage: sendmail [options]",
#   "sendmail: fatal: root(0): Recipient addresses must be specified on the command line or via the -t option",
#   "sendmail: fatal: root(0): No recipient addresses found in message header" (with -t),
# all with exit 75; mailflow keeps the wording and uses 64/65 as sysexits.h means them.


@pytest.fixture
def spool(config_dir) -> FileQueueStore:
    """The file spool named by the test config's queue_directory."""
    return FileQueueStore(config_dir.parent / "spool", create=False)


def _only(spool: FileQueueStore):
    ids = list(spool.ids(Q.MAILDROP))
    assert len(ids) == 1, ids
    return spool.read(ids[0], Q.MAILDROP)


def test_message_lands_in_maildrop(run_cli, config_dir, spool):
    """A plain submission writes one maildrop file with the envelope given."""
    r = run_cli("-c", config_dir, "sendmail", "-f", "alice@example.com", "bob@example.net",
                stdin="Subject: hi\n\nhello\n")
    assert (r.status, r.out, r.err) == (0, "", "")
    msg = _only(spool)
    assert msg.envelope.sender == "alice@example.com"
    assert [x.address for x in msg.envelope.recipients] == ["bob@example.net"]
    assert msg.message.data == b"Subject: hi\n\nhello\n"


def test_crlf_input_is_stored_with_lf(run_cli, config_dir, spool):
    """CRLF line ends become the spool's LF (sendmail_fix_line_endings = always)."""
    run_cli("-c", config_dir, "sendmail", "b@x.test", stdin=b"Subject: a\r\n\r\nbody\r\n")
    assert _only(spool).message.data == b"Subject: a\n\nbody\n"


@pytest.mark.parametrize("flags,expected", [
    pytest.param([], b"a\n", id="dot-ends-input"),
    pytest.param(["-i"], b"a\n.\nb\n", id="-i-keeps-dot"),
    pytest.param(["-oi"], b"a\n.\nb\n", id="-oi-keeps-dot"),
])
def test_lone_dot(run_cli, config_dir, spool, flags, expected):
    """A line with a lone dot ends input unless -i/-oi is given."""
    run_cli("-c", config_dir, "sendmail", *flags, "b@x.test", stdin="a\n.\nb\n")
    assert _only(spool).message.data == expected


def test_dsn_flags_are_recorded(run_cli, config_dir, spool):
    """-N, -R and -V end up in the envelope."""
    run_cli("-c", config_dir, "sendmail", "-N", "success,delay", "-R", "hdrs", "-V", "env-1",
            "-f", "<>", "b@x.test", stdin="x\n")
    env = _only(spool).envelope
    assert env.sender == "" and env.ret is Ret.HDRS and env.envid == "env-1"
    assert env.recipients[0].notify == {Notify.SUCCESS, Notify.DELAY}


def test_t_takes_recipients_from_headers_and_removes_bcc(run_cli, config_dir, spool):
    """-t reads To, Cc and Bcc (folded too), and the Bcc header is not stored."""
    text = ("To: a@x.test,\n \"B C\" <b@x.test>\nCc: c@x.test\nBcc: hidden@x.test\n"
            "Subject: s\n\nBcc: not a header\n")
    r = run_cli("-c", config_dir, "sendmail", "-t", "extra@x.test", stdin=text)
    assert r.status == 0, r.err
    msg = _only(spool)
    assert [x.address for x in msg.envelope.recipients] == [
        "extra@x.test", "a@x.test", "b@x.test", "c@x.test", "hidden@x.test"]
    assert b"hidden" not in msg.message.header_bytes
    assert msg.message.body == b"Bcc: not a header\n"


def test_t_uses_resent_headers_when_present(run_cli, config_dir, spool):
    """With Resent- headers, -t takes Resent-To/Cc/Bcc only."""
    run_cli("-c", config_dir, "sendmail", "-t",
            stdin="To: old@x.test\nResent-To: new@x.test\nResent-Bcc: r@x.test\n\nx\n")
    msg = _only(spool)
    assert [x.address for x in msg.envelope.recipients] == ["new@x.test", "r@x.test"]
    assert b"Resent-Bcc" not in msg.message.data


def test_fullname_makes_a_from_header(run_cli, config_dir, spool):
    """-F adds From: with the full name when the message has none."""
    run_cli("-c", config_dir, "sendmail", "-F", "Joe User", "-f", "joe@x.test", "b@x.test", stdin="S: x\n\nb\n")
    assert _only(spool).message.header_values("from") == ["Joe User <joe@x.test>"]


def test_default_sender_is_the_login_name(run_cli, config_dir, spool):
    """Without -f the sender is the user running sendmail, unqualified (cleanup qualifies it)."""
    import pwd
    run_cli("-c", config_dir, "sendmail", "b@x.test", stdin="x\n")
    assert _only(spool).envelope.sender == pwd.getpwuid(os.getuid()).pw_name


def test_ignored_options_are_accepted(run_cli, config_dir, spool):
    """-o options, -B, -G, -U, -v, -L, -h, -m and -n are accepted and ignored as Postfix does."""
    r = run_cli("-c", config_dir, "sendmail", "-om", "-o7", "-B", "8BITMIME", "-G", "-U", "-v",
                "-L", "x", "-h", "5", "-m", "-n", "-bm", "b@x.test", stdin="x\n")
    assert r.status == 0, r.err
    assert len(list(spool.ids(Q.MAILDROP))) == 1


def test_config_dir_from_capital_c(run_cli, config_dir, spool, tmp_path):
    """-C DIR selects the configuration, like `mailflow -c DIR`."""
    r = run_cli("sendmail", "-C", config_dir, "b@x.test", stdin="x\n")
    assert r.status == 0, r.err
    assert len(list(spool.ids(Q.MAILDROP))) == 1


@pytest.mark.parametrize("args,stdin,status,message", [
    pytest.param(["-Z", "b@x.test"], "x\n", 64, "sendmail: invalid option -- 'Z'", id="bad-flag"),
    pytest.param(["-N", "sometimes", "b@x.test"], "x\n", 64, "bad -N option value", id="bad-notify"),
    pytest.param(["-R", "most", "b@x.test"], "x\n", 64, "bad -R option value", id="bad-ret"),
    pytest.param(["-bs"], "", 64, "unsupported: -bs", id="unsupported-mode"),
    pytest.param([], "x\n", 64, "Recipient addresses must be specified on the command line "
                 "or via the -t option", id="no-recipients"),
    pytest.param(["-t"], "Subject: x\n\nx\n", 65, "No recipient addresses found in message header",
                 id="t-without-recipients"),
    pytest.param(["a b@x.test"], "x\n", 65, "malformed recipient address", id="bad-recipient"),
    pytest.param(["-f", "<a@x", "b@x.test"], "x\n", 65, "-f option specified malformed sender",
                 id="bad-sender"),
    pytest.param(["-t"], "To: <<bad\n\nx\n", 65, "malformed address in message header", id="bad-to-header"),
])
def test_errors_exit_with_sysexits_and_say_why(run_cli, config_dir, spool, args, stdin, status, message):
    """Each refusal has its sysexits code, a clear stderr line, and writes nothing."""
    r = run_cli("-c", config_dir, "sendmail", *args, stdin=stdin)
    assert r.status == status
    assert message in r.err
    assert list(spool.ids(Q.MAILDROP)) == []


def test_unwritable_spool_is_a_temporary_failure(run_cli, tmp_path):
    """When the spool cannot be created or written, exit 75 (EX_TEMPFAIL) and say where."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    etc = tmp_path / "etc2"
    etc.mkdir()
    (etc / "main.cf").write_text(f"queue_directory = {blocker}/spool\n")
    r = run_cli("-c", etc, "sendmail", "b@x.test", stdin="x\n")
    assert r.status == 75
    assert "sendmail: fatal: cannot write to the maildrop queue" in r.err and str(blocker) in r.err


def test_bp_lists_the_queue(run_cli, config_dir, spool):
    """sendmail -bp is mailq."""
    run_cli("-c", config_dir, "sendmail", "-f", "a@x.test", "b@x.test", stdin="x\n")
    r = run_cli("-c", config_dir, "sendmail", "-bp")
    assert r.status == 0
    assert r.out.startswith("----Queue ID----- --Size--") and "a@x.test" in r.out
    assert r.out.endswith("-- 0 Kbytes in 1 Request.\n")


def test_bv_prints_the_explain_report(run_cli, config_dir):
    """sendmail -bv shows how the addresses would be routed, and sends nothing."""
    r = run_cli("-c", config_dir, "sendmail", "-bv", "u@example.org")
    assert r.status == 0
    assert "<u@example.org>" in r.out and "transport" in r.out


def test_real_process_exits_zero_only_when_durable(config_dir, spool):
    """As a separate process, sendmail exits 0 and the file is already readable."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(config_dir), "sendmail",
                        "-f", "a@x.test", "b@x.test"], input=b"Subject: p\n\nbody\n",
                       capture_output=True, env=env, timeout=60)
    assert (p.returncode, p.stderr) == (0, b"")
    assert _only(spool).message.data == b"Subject: p\n\nbody\n"


def test_real_process_bad_flag_exits_64(config_dir):
    """As a separate process, an unknown flag gives EX_USAGE and Postfix's usage line."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(config_dir), "sendmail", "-Q"],
                       input=b"", capture_output=True, env=env, timeout=60)
    assert p.returncode == 64
    assert b"sendmail: fatal: usage: sendmail [options]" in p.stderr
