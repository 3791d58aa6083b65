"""Size and count limits: message_size_limit, hopcount_limit, header_size_limit,
header_address_token_limit, and a message without recipients.

Postfix expectations (private Postfix 3.7.11, submitted with sendmail, maillog):

* hopcount_limit = 3, message with ``Received: a``, ``Delivered-To: c``:
  accepted; with ``Received: a``, ``Received: b``, ``Delivered-To: c``:
  ``warning: QID: message rejected: hopcount exceeded`` and the bounce says
  ``dsn=5.4.0, status=bounced (too many hops)``.
* message_size_limit = 2000 and a 3000-byte message: ``message file too big``.
"""

from __future__ import annotations

import pytest

from tests.cleanup.conftest import submit


@pytest.mark.parametrize("hop_headers, action", [
    (b"Received: a\nDelivered-To: c\n", "queue"),
    (b"Received: a\nReceived: b\nDelivered-To: c\n", "reject"),
], ids=["two-hops-accepted", "three-hops-rejected"])
def test_hopcount_limit_as_postfix(pipeline, hop_headers, action):
    """hopcount_limit = 3 accepts two hop headers and rejects three, as Postfix does."""
    r = submit(pipeline(hopcount_limit="3"), hop_headers + b"Subject: hops\n\nhello\n", queue_id="QID")
    assert r.action == action
    if action == "reject":
        assert str(r.status) == "5.4.0 too many hops"
        assert "warning: QID: message rejected: hopcount exceeded" in r.log


def test_message_size_limit(pipeline):
    """Content over message_size_limit is rejected with 5.3.4 message file too big."""
    r = submit(pipeline(message_size_limit="2000"), b"Subject: big\n\n" + b"x" * 3000 + b"\n")
    assert (r.action, str(r.status)) == ("reject", "5.3.4 message file too big")


def test_message_size_limit_zero_means_no_limit(pipeline):
    """message_size_limit = 0 turns the limit off (postconf(5))."""
    assert submit(pipeline(message_size_limit="0"), b"\n" + b"x" * 5000).action == "queue"


def test_header_size_limit_truncates_a_long_header(pipeline):
    """A header longer than header_size_limit is cut at the limit."""
    long_value = b"a" * 50 + b"\n " + b"b" * 200
    r = submit(pipeline(header_size_limit="100"), b"X-Long: " + long_value + b"\nSubject: s\n\nhi\n")
    (value,) = r.message.header_values("x-long")
    assert len(value) < 100 and r.message.header_values("subject") == ["s"]


def test_header_address_token_limit_leaves_header_unrewritten(pipeline):
    """An address header over header_address_token_limit is not rewritten, with a warning."""
    r = submit(pipeline(header_address_token_limit="5"), b"To: a, b, c, d\n\nhi\n", queue_id="QID")
    assert r.message.header_values("to") == ["a, b, c, d"]
    assert any("too many address tokens" in line for line in r.log)


def test_no_recipients_is_rejected(pipeline):
    """A message without envelope recipients is rejected with 5.1.0 (cleanup_strerror)."""
    r = submit(pipeline(), b"Subject: x\n\nhi\n", rcpts=())
    assert str(r.status) == "5.1.0 no recipients specified"


def test_one_megabyte_body_is_not_scanned_without_body_rules(pipeline):
    """Without body rules a large body passes through as the same bytes."""
    body = b"line of text\n" * 80000
    r = submit(pipeline(), b"Subject: big\n\n" + body)
    assert r.message.body == body


def test_bad_number_is_a_config_error(pipeline):
    """A limit that is not a number is a ConfigError naming the parameter."""
    from mailflow.errors import ConfigError
    with pytest.raises(ConfigError, match="hopcount_limit = many: not a number"):
        pipeline(hopcount_limit="many")
