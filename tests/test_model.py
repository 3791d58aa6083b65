"""The shared value objects."""

import doctest

import pytest

import mailflow.errors
import mailflow.model
from mailflow.errors import MailflowError
from mailflow.model import DsnStatus, Message, Notify, Recipient


@pytest.mark.parametrize("module", [mailflow.model, mailflow.errors], ids=lambda m: m.__name__)
def test_doctests(module):
    """The examples in the docstrings run."""
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("code", ["2.0", "6.0.0", "5.1.1 ", "x.y.z", ""])
def test_bad_status_codes_are_refused(code):
    """Only RFC 3463 shaped codes with class 2, 4 or 5 are accepted."""
    with pytest.raises(MailflowError):
        DsnStatus(code)


def test_notify_never_silences_everything():
    """NOTIFY=NEVER wins over any other keyword."""
    r = Recipient("a@example.com", notify={Notify.NEVER})
    assert not any(r.wants(k) for k in Notify)


def test_message_without_body_has_empty_body():
    """A message that is all headers has an empty body and full header block."""
    m = Message(b"Subject: x\nTo: y\n")
    assert m.body == b""
    assert m.header_values("to") == ["y"]


def test_folded_headers_are_unfolded_in_order():
    m = Message(b"Received: from a\n\tby b\nSubject: s\n\nbody")
    assert m.headers() == [("Received", "from a\n\tby b"), ("Subject", "s")]


def test_from_wire_converts_crlf():
    assert Message.from_wire(b"A: b\r\n\r\nx\r\n").data == b"A: b\n\nx\n"
