"""Every parser that reads outside input, fuzzed on a small budget.

The same targets as ``fuzz/run.py`` (which runs them at a large budget):
no input may raise anything but the target's documented error types, or
take more than a second.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz.targets import SLOW, TARGETS, SlowInput, Target, check


@pytest.mark.parametrize("name", list(TARGETS))
def test_parser_survives_fuzzing(name):
    """The target returns or raises a documented error, fast, for every generated input."""
    target = TARGETS[name]

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(target.inputs)
    def fuzz(value):
        check(target, value)
    fuzz()


def test_check_reports_what_breaks_the_promise():
    """check() lets documented errors through quietly and reports others and slow inputs (so the fuzz tests can fail)."""
    import time

    def boom(value):
        raise {"doc": ValueError, "bug": IndexError}[value]("x")
    target = Target("t", None, boom, (ValueError,))
    check(target, "doc")
    with pytest.raises(IndexError):
        check(target, "bug")
    slow = Target("slow", None, lambda v: time.sleep(SLOW + 0.05))     # slow every time
    with pytest.raises(SlowInput):
        check(slow, "x")


def test_empty_dsn_code_is_a_documented_error():
    """An empty status code is refused with a MailflowError like any bad code."""
    from mailflow.errors import MailflowError
    from mailflow.model import DsnStatus
    with pytest.raises(MailflowError):
        DsnStatus.parse("")


def test_myhostname_from_mydomain_is_an_expansion_loop():
    """A main.cf whose myhostname refers to the default mydomain is a ConfigError (a loop), not a crash."""
    from mailflow.config import Config
    from mailflow.errors import ConfigError
    with pytest.raises(ConfigError):
        Config(myhostname="$mydomain")["myhostname"]


# --- found by the SMTP engine targets, fixed; kept as regression tests ----------------

@pytest.mark.parametrize("line", [b'MAIL FROM:<a@example.com> "x\ry"\r\n',
                                  b"RCPT TO:<b@example.com> <x\ry>\r\n"])
def test_engine_refuses_a_parameter_with_a_carriage_return(line):
    """A quoted or bracketed parameter holding a CR is refused with 555, not a crash of the engine."""
    from mailflow.smtp.events import BadCommand
    from mailflow.smtp.server import ServerEngine
    engine = ServerEngine()
    engine.receive_data(line)
    event = engine.next_event()
    assert isinstance(event, BadCommand) and event.reply.code == 555
    assert b"\r" not in event.reply.format()[:-2]


def test_reply_parser_takes_a_carriage_return_inside_a_line():
    """A reply line with a CR inside it is a reply or a protocol error, never a ValueError."""
    from mailflow.smtp.errors import SmtpProtocolError
    from mailflow.smtp.reply import ReplyParser
    try:
        ReplyParser().feed(b"250 a\rb\r\n")
    except SmtpProtocolError:
        pass


@pytest.mark.parametrize("side", ["server", "client"])
def test_reply_code_of_non_ascii_digits_is_a_protocol_error(side):
    """A reply code written with superscript digits ('2²²') is a malformed reply line."""
    from mailflow.smtp import client, reply
    from mailflow.smtp.errors import SmtpProtocolError
    parser = reply.ReplyParser() if side == "server" else client.ReplyParser()
    with pytest.raises(SmtpProtocolError):
        parser.feed("2\u00b2\u00b2 ok\r\n".encode())


def test_smtp_server_target_checks_the_buffer_bound(monkeypatch):
    """The engine target reports an engine that buffers more than a line (so its bound check can fail)."""
    from mailflow.smtp.server import ServerEngine
    monkeypatch.setattr(ServerEngine, "_limit", lambda self: 10**6)   # buffers any line whole
    value = ((b"x" * 200, [200]), (False, "normalize", 16, 16, False, [True]))
    with pytest.raises(AssertionError, match="engine buffer"):
        check(TARGETS["smtp-server"], value)


@pytest.mark.parametrize("name", [n for n, t in TARGETS.items() if t.from_bytes is not None])
def test_raw_bytes_become_inputs_for_atheris(name):
    """What atheris gives (any bytes, none at all included) becomes an input the target runs on."""
    import random
    rng = random.Random(name)
    target = TARGETS[name]
    for size in [0, 1, 2, 7] + [rng.randrange(200) for _ in range(50)]:
        check(target, target.from_bytes(bytes(rng.randrange(256) for _ in range(size))))
