"""The pipe agent running real programs (python -c scripts) with no shell."""

import json
import os
import sys

import pytest

from mailflow.config import Config
from mailflow.delivery import ServiceEntry, create_agent

from delivery_helpers import deliver, make_request

# A program that records its argv and stdin, then exits with argv[1].
RECORDER = ("import json, sys; data = sys.stdin.buffer.read(); "
            "open(sys.argv[2], 'w').write(json.dumps({'argv': sys.argv[3:], "
            "'stdin': data.decode()})); print(sys.argv[4] if len(sys.argv) > 4 and "
            "sys.argv[1] != '0' else '', end=''); sys.exit(int(sys.argv[1]))")


def pipe_agent(tmp_path, *, flags="", code=0, extra=(), name="mytransport", cfg=None, size=None):
    args = [f"flags={flags}"] + ([f"size={size}"] if size else []) + [
        f"argv={sys.executable}", "-c", RECORDER, str(code), str(tmp_path / "out.json"), *extra]
    return create_agent(name, cfg or Config(), ServiceEntry(name, "pipe", tuple(args)))


def recorded(tmp_path):
    return json.loads((tmp_path / "out.json").read_text())


def test_argv_gets_sender_and_every_recipient(tmp_path):
    """${sender} and ${recipient} expand; two recipients give two arguments."""
    agent = pipe_agent(tmp_path, extra=("-f", "${sender}", "--", "${recipient}"))
    outs = deliver(agent, make_request("a@example.com", "b@example.com"))
    assert [str(o.status) for o in outs] == ["2.0.0 delivered via mytransport service"] * 2
    assert {o.relay for o in outs} == {"mytransport"}
    assert recorded(tmp_path)["argv"] == ["-f", "sender@example.org", "--", "a@example.com",
                                          "b@example.com"]


def test_message_on_stdin_with_flag_headers(tmp_path):
    """Flags F, R, D add the From line, Return-Path and Delivered-To to stdin."""
    agent = pipe_agent(tmp_path, flags="FRD")
    deliver(agent, make_request("a@example.com"))
    stdin = recorded(tmp_path)["stdin"]
    lines = stdin.splitlines()
    assert lines[0].startswith("From sender@example.org  ")
    assert lines[1:4] == ["Return-Path: <sender@example.org>", "Delivered-To: a@example.com",
                          "Subject: test"]


def test_plain_stdin_without_flags(tmp_path):
    """With no flags the program reads the message exactly as queued."""
    deliver(pipe_agent(tmp_path), make_request("a@example.com", data=b"Subject: s\n\n.dot\n"))
    assert recorded(tmp_path)["stdin"] == "Subject: s\n\n.dot\n"


def test_exit_75_defers_with_output(tmp_path):
    """EX_TEMPFAIL defers 4.3.0 with the program's output in the text."""
    [out] = deliver(pipe_agent(tmp_path, code=75, extra=("x", "queue is busy")),
                    make_request("a@example.com"))
    assert str(out.status) == "4.3.0 temporary failure. Command output: queue is busy"


def test_exit_67_bounces_user_unknown(tmp_path):
    """EX_NOUSER bounces 5.1.1."""
    [out] = deliver(pipe_agent(tmp_path, code=67), make_request("a@example.com"))
    assert str(out.status) == "5.1.1 user unknown"


def test_other_exit_status_bounces_command_died(tmp_path):
    """A non-sysexits exit code bounces with "Command died with status N"."""
    [out] = deliver(pipe_agent(tmp_path, code=3), make_request("a@example.com"))
    assert out.status.code == "5.3.0"
    assert out.status.text == f'Command died with status 3: "{sys.executable}"'


# Recorded from Postfix 3.7.11: a pipe service `argv=/bin/sleep 30` with
# slow_time_limit = 3s logged "dsn=5.3.0, status=bounced (Command time
# limit exceeded: "/bin/sleep")".
POSTFIX_TIME_LIMIT = ("5.3.0", 'Command time limit exceeded: "/bin/sleep"')


def test_time_limit_bounces(tmp_path):
    """A program running past TRANSPORT_time_limit is killed and bounced with Postfix's status and text."""
    cfg = Config(slow_time_limit="1s")
    agent = create_agent("slow", cfg, ServiceEntry("slow", "pipe", (
        f"argv={sys.executable}", "-c", "import time; time.sleep(30)")))
    [out] = deliver(agent, make_request("a@example.com"))
    assert out.status.code == POSTFIX_TIME_LIMIT[0]
    assert out.status.text == POSTFIX_TIME_LIMIT[1].replace("/bin/sleep", sys.executable)


def test_program_that_cannot_start_defers(tmp_path):
    """A program that cannot be executed defers, with Postfix 3.7's text (recorded
    from a private instance: pipe service `argv=/nonexistent/prog`, mail sent
    with sendmail, log line "status=deferred (temporary failure. Command
    output: pipe: fatal: pipe_command: execvp /nonexistent/prog: No such file
    or directory )")."""
    agent = create_agent("x", Config(), ServiceEntry("x", "pipe", ("argv=/nonexistent/prog",)))
    [out] = deliver(agent, make_request("a@example.com"))
    assert (out.status.code, out.status.text) == (
        "4.3.0", "temporary failure. Command output: pipe: fatal: pipe_command: "
                 "execvp /nonexistent/prog: No such file or directory ")


def test_size_limit_bounces_without_running(tmp_path):
    """size= bounces larger messages 5.2.3 and never starts the program."""
    agent = pipe_agent(tmp_path, size=10)
    [out] = deliver(agent, make_request("a@example.com"))
    assert str(out.status) == "5.2.3 message too large"
    assert not (tmp_path / "out.json").exists()


def test_delivered_to_loop_is_refused_with_flag_d(tmp_path):
    """With flag D a message already delivered to the recipient bounces 5.4.6."""
    agent = pipe_agent(tmp_path, flags="D")
    [out] = deliver(agent, make_request("a@example.com",
                                        data=b"Delivered-To: A@example.com\nSubject: x\n\nx\n"))
    assert str(out.status) == "5.4.6 mail forwarding loop for a@example.com"


def test_flag_d_runs_once_per_recipient(tmp_path):
    """With flag D every recipient gets its own command and Delivered-To."""
    agent = pipe_agent(tmp_path, flags="D", extra=("${recipient}",))
    outs = deliver(agent, make_request("a@example.com", "b@example.com"))
    assert [o.status.code for o in outs] == ["2.0.0", "2.0.0"]
    # the file holds the last run: only b's argument and b's header
    got = recorded(tmp_path)
    assert got["argv"] == ["b@example.com"]
    assert "Delivered-To: b@example.com\n" in got["stdin"]


def test_no_shell_is_involved(tmp_path):
    """Shell metacharacters in an address reach the program as plain text."""
    agent = pipe_agent(tmp_path, extra=("${recipient}",))
    deliver(agent, make_request("$(touch pwned)@example.com"))
    assert recorded(tmp_path)["argv"] == ["$(touch pwned)@example.com"]
    assert not (tmp_path / "pwned").exists()


def test_unknown_macro_defers_as_configuration_error(tmp_path):
    """A bad macro in argv= is a configuration error: deferred, not bounced."""
    agent = pipe_agent(tmp_path, extra=("${bogus}",))
    [out] = deliver(agent, make_request("a@example.com"))
    assert out.status.code == "4.3.5"


def test_user_is_ignored_with_a_warning_when_not_root(tmp_path, monkeypatch, caplog):
    """user= without root: a warning, and the command runs as the current user."""
    import mailflow.delivery.pipe as pipe_module
    monkeypatch.setattr(pipe_module, "is_root", lambda: False)
    agent = create_agent("u1", Config(), ServiceEntry("u1", "pipe", ("user=nobody", "argv=/bin/true")))
    assert agent.user is None
    assert "user=nobody ignored: not running as root" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a command as another user")
def test_user_is_honoured_as_root(tmp_path):
    """Running as root, user= runs the command as that user."""
    import pwd
    # The uid comes back in the command output (exit 75 keeps it in the text).
    agent = create_agent("u2", Config(), ServiceEntry("u2", "pipe", (
        "user=nobody", "argv=/bin/sh", "-c", "id -u; exit 75")))
    [result] = deliver(agent, make_request("a@example.com"))
    assert result.status.text == f"temporary failure. Command output: {pwd.getpwnam('nobody').pw_uid} "
