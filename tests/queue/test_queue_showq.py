"""The mailq and JSON layouts, compared with Postfix 3.7's own output."""

from __future__ import annotations

import json
import time

import pytest

from mailflow.interfaces import QueueName, QueuedMessage
from mailflow.model import Envelope, Message, Recipient, RecipientState
from mailflow.queue.showq import MAILQ_HEADER, json_entry, mailq_entry, mailq_trailer

# Captured from a private Postfix 3.7.11 (enable_long_queue_ids = yes, relayhost
# [127.0.0.1]:1 so mail defers) with `postqueue -c DIR -p` and `postqueue -c DIR -j`
# after `sendmail -f sender@example.com b@remote.test c@remote.test`,
# `sendmail -f '' d@remote.test`, then `postsuper -h`/`-e` on them; TZ=UTC.
POSTFIX_MAILQ = """\
----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------
4jcpB45NThzJBkk!       270 Sun Nov 29 13:37:48 sender@example.com
                       (connect to 127.0.0.1[127.0.0.1]:1: Connection refused)
                                               b@remote.test
                                               c@remote.test

4jcpB45MFxzJBk7!#      255 Sun Nov 29 13:37:48 MAILER-DAEMON
                       (connect to 127.0.0.1[127.0.0.1]:1: Connection refused)
                                               d@remote.test

-- 0 Kbytes in 2 Requests.
"""
POSTFIX_JSON = ('{"queue_name": "hold", "queue_id": "4jcpB45MFxzJBk7", "arrival_time": 1795959468, '
                '"message_size": 255, "forced_expire": true, "sender": "MAILER-DAEMON", "recipients": '
                '[{"address": "d@remote.test", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:1: '
                'Connection refused"}]}')
REASON = "connect to 127.0.0.1[127.0.0.1]:1: Connection refused"


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC, as on the machine the Postfix output was captured."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _held(qid, sender, rcpts, size, expired=False):
    env = Envelope(sender, tuple(Recipient(r) for r in rcpts), arrival_time=1795959468.7)
    return QueuedMessage(qid, QueueName.HOLD, env, Message(b""), size, forced_expire=expired)


def test_mailq_matches_postfix_byte_for_byte(utc):
    """Two held messages, one force-expired, print exactly as Postfix's postqueue -p."""
    a = _held("4jcpB45NThzJBkk", "sender@example.com", ["b@remote.test", "c@remote.test"], 270)
    b = _held("4jcpB45MFxzJBk7", "", ["d@remote.test"], 255, expired=True)
    reasons = {r: REASON for r in ("b@remote.test", "c@remote.test", "d@remote.test")}
    text = (MAILQ_HEADER + "\n" + mailq_entry(a, reasons) + "\n" + mailq_entry(b, reasons) + "\n"
            + mailq_trailer(270 + 255, 2) + "\n")
    assert text == POSTFIX_MAILQ


def test_json_matches_postfix(utc):
    """postqueue -j's object has Postfix's keys, order and values."""
    msg = _held("4jcpB45MFxzJBk7", "", ["d@remote.test"], 255, expired=True)
    assert json_entry(msg, {"d@remote.test": REASON}) == POSTFIX_JSON
    assert list(json.loads(POSTFIX_JSON)) == list(json.loads(json_entry(msg, {})))[:6] + ["recipients"]


def test_done_recipients_are_not_listed(utc):
    """Recipients already delivered do not appear in mailq."""
    env = Envelope("a@x", (Recipient("done@y", state=RecipientState.DELIVERED), Recipient("todo@y")),
                   arrival_time=0)
    text = mailq_entry(QueuedMessage("4jcpB45MFxzJBk7", QueueName.DEFERRED, env, Message(b""), 1), {})
    assert "todo@y" in text and "done@y" not in text


@pytest.mark.parametrize("queue,marks", [
    pytest.param(QueueName.ACTIVE, "*", id="active-star"),
    pytest.param(QueueName.HOLD, "!", id="hold-bang"),
    pytest.param(QueueName.DEFERRED, "", id="deferred-plain"),
    pytest.param(QueueName.INCOMING, "", id="incoming-plain"),
])
def test_queue_marks(utc, queue, marks):
    """The character after the ID says active (*) or on hold (!)."""
    env = Envelope("a@x", (Recipient("b@y"),), arrival_time=0)
    line = mailq_entry(QueuedMessage("4jcpB45MFxzJBk7", queue, env, Message(b""), 1), {}).split("\n")[0]
    assert line.startswith("4jcpB45MFxzJBk7" + marks + " ")
