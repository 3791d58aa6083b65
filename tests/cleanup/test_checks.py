"""header_checks, mime_header_checks, nested_header_checks and body_checks.

Expectations marked "Postfix" were obtained from a private Postfix 3.7.11
instance with this header_checks file (regexp:)::

    /^Subject: reject-me/ REJECT no spam here
    /^Subject: reject-plain/ REJECT
    /^Subject: hold-me/ HOLD parked
    /^Subject: warn-me/ WARN odd subject
    /^X-Prepend: / PREPEND X-Added: yes
    /^Subject: discard-me/ DISCARD

by submitting ``printf "Subject: S\\nX-Prepend: x\\n\\nhello\\n" | sendmail -f
alice bob@remote.example`` for each subject S and reading the maillog
(cleanup's lines, queue ID replaced) and ``postcat -bh``.
"""

from __future__ import annotations

import pytest

from tests.cleanup.conftest import submit

POSTFIX_RULES = """\
/^Subject: reject-me/ REJECT no spam here
/^Subject: reject-plain/ REJECT
/^Subject: hold-me/ HOLD parked
/^Subject: warn-me/ WARN odd subject
/^X-Prepend: / PREPEND X-Added: yes
/^Subject: discard-me/ DISCARD
"""
WHO = "from local; from=<alice@mx.example.test> to=<bob@remote.example>"

# (subject, action, status, the first cleanup log line Postfix wrote)
POSTFIX_CASES = [
    ("reject-me", "reject", "5.7.1 no spam here",
     f"QID: reject: header Subject: reject-me {WHO}: 5.7.1 no spam here"),
    ("reject-plain", "reject", "5.7.1 message content rejected",
     f"QID: reject: header Subject: reject-plain {WHO}: 5.7.1 message content rejected"),
    ("hold-me", "hold", None, f"QID: hold: header Subject: hold-me {WHO}: parked"),
    ("warn-me", "queue", None, f"QID: warning: header Subject: warn-me {WHO}: odd subject"),
    ("discard-me", "discard", None, f"QID: discard: header Subject: discard-me {WHO}"),
]


@pytest.mark.parametrize("subject, action, status, line", POSTFIX_CASES,
                         ids=[c[0] for c in POSTFIX_CASES])
def test_header_checks_act_and_log_as_postfix(pipeline, rules_file, subject, action, status, line):
    """Each header_checks action gives Postfix's outcome and log line."""
    p = pipeline(header_checks=rules_file(POSTFIX_RULES))
    r = submit(p, f"Subject: {subject}\nX-Prepend: x\n\nhello\n".encode(), queue_id="QID")
    assert r.action == action
    assert (str(r.status) if r.status else None) == status
    assert r.log[0] == line


def test_prepend_adds_header_before_the_matching_one_and_logs(pipeline, rules_file):
    """PREPEND puts its text before the header (Postfix: 'X-Added: yes' then 'X-Prepend: x')."""
    p = pipeline(header_checks=rules_file(POSTFIX_RULES))
    r = submit(p, b"Subject: plain\nX-Prepend: x\n\nhello\n", queue_id="QID")
    names = [n for n, _ in r.message.headers()]
    assert names[1:4] == ["Subject", "X-Added", "X-Prepend"]
    assert f"QID: prepend: header X-Prepend: x {WHO}: X-Added: yes" in r.log


@pytest.mark.parametrize("rule, header, expected", [
    ("/^X-Junk:/ IGNORE", "X-Junk: 1", None),
    ("/^X-Junk:/ REPLACE X-Clean: 1", "X-Junk: 1", "X-Clean: 1"),
    ("/^X-Junk:/ DUNNO", "X-Junk: 1", "X-Junk: 1"),
    ("/^X-Junk:/ OK", "X-Junk: 1", "X-Junk: 1"),
], ids=["ignore", "replace", "dunno", "ok"])
def test_header_editing_actions(pipeline, rules_file, rule, header, expected):
    """IGNORE removes, REPLACE swaps, DUNNO and OK keep the header."""
    r = submit(pipeline(header_checks=rules_file(rule + "\n")), f"{header}\n\nhi\n".encode())
    texts = [f"{n}: {v}" for n, v in r.message.headers()]
    assert (expected in texts) if expected else not any(t.startswith("X-Junk") for t in texts)
    assert r.action == "queue"


def test_reject_with_own_dsn_code_keeps_it(pipeline, rules_file):
    """REJECT text that starts with a 5.x.x code keeps that code (dsn_prepend)."""
    r = submit(pipeline(header_checks=rules_file("/^Subject: x/ REJECT 5.7.9 go away\n")),
               b"Subject: x\n\nhi\n")
    assert str(r.status) == "5.7.9 go away"


def test_defer_is_a_temporary_rejection(pipeline, rules_file):
    """DEFER rejects with a 4.x.x status, so the sender tries again."""
    r = submit(pipeline(header_checks=rules_file("/^Subject: x/ DEFER busy\n")), b"Subject: x\n\nhi\n")
    assert r.action == "reject" and r.status.is_temporary


@pytest.mark.parametrize("rule, field, value", [
    ("/^Subject: x/ REDIRECT other@example.org", "redirect", "other@example.org"),
    ("/^Subject: x/ FILTER smtp:[127.0.0.1]:10025", "filter", "smtp:[127.0.0.1]:10025"),
], ids=["redirect", "filter"])
def test_routing_actions_are_reported_for_qmgr(pipeline, rules_file, rule, field, value):
    """REDIRECT and FILTER are carried in the result for the queue manager."""
    r = submit(pipeline(header_checks=rules_file(rule + "\n")), b"Subject: x\n\nhi\n")
    assert getattr(r, field) == value and r.action == "queue"


def test_redirect_replaces_every_recipient(pipeline, rules_file):
    """REDIRECT sends the message to its address instead; the originals stay as orig_to."""
    r = submit(pipeline(header_checks=rules_file("/^Subject: x/ REDIRECT other@example.org\n")),
               b"Subject: x\n\nhi\n", rcpts=("a@x.example", "b@x.example"))
    assert [(x.address, x.original) for x in r.envelope.recipients] == [
        ("other@example.org", "a@x.example"), ("other@example.org", "b@x.example")]


def test_bcc_action_adds_a_recipient(pipeline, rules_file):
    """BCC adds its address to the envelope recipients."""
    r = submit(pipeline(header_checks=rules_file("/^Subject: x/ BCC archive@example.org\n")),
               b"Subject: x\n\nhi\n")
    assert [x.address for x in r.envelope.recipients] == ["bob@remote.example", "archive@example.org"]


def test_info_action_logs(pipeline, rules_file):
    """INFO logs an info line and changes nothing."""
    r = submit(pipeline(header_checks=rules_file("/^Subject: x/ INFO seen it\n")),
               b"Subject: x\n\nhi\n", queue_id="QID")
    assert r.action == "queue"
    assert any(line.startswith("QID: info: header Subject: x from local;") for line in r.log)


def test_reject_wins_over_an_earlier_hold(pipeline, rules_file):
    """A later REJECT overrides an earlier HOLD: the message is not accepted."""
    rules = "/^Subject: h/ HOLD\n/^X-Bad:/ REJECT bad\n"
    r = submit(pipeline(header_checks=rules_file(rules)), b"Subject: h\nX-Bad: 1\n\nhi\n")
    assert r.action == "reject"


def test_header_checks_see_folded_headers_whole(pipeline, rules_file):
    """A folded header is matched as one logical header."""
    r = submit(pipeline(header_checks=rules_file("/^Subject: one\\s+two/ HOLD\n")),
               b"Subject: one\n two\n\nhi\n")
    assert r.action == "hold"


def test_body_checks_reject(pipeline, rules_file):
    """body_checks REJECT on a body line rejects and logs the line (after the
    message-id line, which Postfix writes at the end of the headers)."""
    p = pipeline(body_checks=rules_file("/viagra/ REJECT no pills\n"))
    r = submit(p, b"Subject: x\n\nhello\nbuy viagra now\n", queue_id="QID")
    assert str(r.status) == "5.7.1 no pills"
    assert r.log[1].startswith("QID: reject: body buy viagra now from local;")


def test_body_checks_size_limit_stops_inspection(pipeline, rules_file):
    """Text past body_checks_size_limit is not inspected."""
    p = pipeline(body_checks=rules_file("/viagra/ REJECT\n"), body_checks_size_limit="100")
    body = b"x" * 60 + b"\n" + b"y" * 60 + b"\nviagra\n"
    assert submit(p, b"Subject: x\n\n" + body).action == "queue"


@pytest.mark.parametrize("rule, expected", [
    ("/^secret/ IGNORE", b"a\nb\n"),
    ("/^secret/ REPLACE [removed]", b"a\n[removed]\nb\n"),
    ("/^secret/ PREPEND note:", b"a\nnote:\nsecret\nb\n"),
], ids=["ignore", "replace", "prepend"])
def test_body_line_edits(pipeline, rules_file, rule, expected):
    """IGNORE, REPLACE and PREPEND edit body lines."""
    r = submit(pipeline(body_checks=rules_file(rule + "\n")), b"Subject: x\n\na\nsecret\nb\n")
    assert r.message.body == expected


MULTIPART = b"""\
Subject: parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="BND"

preamble
--BND
Content-Type: text/plain
X-Part: one

part one text
--BND
Content-Type: message/rfc822

Subject: inner
X-Inner: yes

inner body
--BND--
epilogue
"""


def test_mime_header_checks_see_part_headers(pipeline, rules_file):
    """mime_header_checks inspect the headers of each MIME part."""
    p = pipeline(mime_header_checks=rules_file("/^X-Part: one/ HOLD\n"))
    assert submit(p, MULTIPART).action == "hold"


def test_header_checks_do_not_see_part_headers(pipeline, rules_file):
    """header_checks alone (mime_header_checks set to nothing) never see MIME part headers."""
    p = pipeline(header_checks=rules_file("/^X-Part: one/ HOLD\n"), mime_header_checks="")
    assert submit(p, MULTIPART).action == "queue"


def test_nested_header_checks_see_attached_message_headers(pipeline, rules_file):
    """nested_header_checks inspect the headers of an attached message/rfc822."""
    p = pipeline(nested_header_checks=rules_file("/^X-Inner: yes/ REJECT nested\n"))
    assert str(submit(p, MULTIPART).status) == "5.7.1 nested"


def test_header_checks_default_to_nested_too(pipeline, rules_file):
    """nested_header_checks defaults to $header_checks (postconf -d)."""
    p = pipeline(header_checks=rules_file("/^Subject: inner/ HOLD\n"))
    assert submit(p, MULTIPART).action == "hold"


def test_body_checks_skip_mime_part_headers(pipeline, rules_file):
    """body_checks see body lines of parts, not the part headers."""
    p = pipeline(body_checks=rules_file("/^X-Part:/ REJECT\n/^part one text/ HOLD\n"))
    assert submit(p, MULTIPART).action == "hold"


def test_broken_table_defers_the_message(pipeline):
    """A check table that cannot answer rejects temporarily (4.3.0), never accepts."""
    from mailflow.errors import TableError
    from mailflow.tables import register_table_type

    class Broken:
        def get(self, key):
            raise TableError("database down")
    register_table_type("cleanuptest-broken", lambda name, cfg: Broken())
    r = submit(pipeline(header_checks="cleanuptest-broken:x"), b"Subject: x\n\nhi\n", queue_id="QID")
    assert r.action == "reject" and r.status.code == "4.3.0"
    assert "warning: QID: header_checks map lookup problem" in r.log[0]


def test_unknown_action_is_warned_and_ignored(pipeline, rules_file):
    """A table answer that is no action is logged and treated as no match, as Postfix does."""
    r = submit(pipeline(header_checks=rules_file("/^Subject:/ EXPLODE now\n")), b"Subject: x\n\nhi\n",
               queue_id="QID")
    assert r.action == "queue"
    assert "warning: QID: unknown command in header_checks map: EXPLODE now" in r.log


# Obtained from a private Postfix 3.7.11 by submitting MULTIPART with sendmail
# under each setting (rules file POSTFIX_MIME_RULES as regexp:) and reading
# the cleanup "hold:" line from the maillog (None: no hold line, queued).
POSTFIX_MIME_RULES = "/^X-Part: one/ HOLD xpart\n/^X-Inner: yes/ HOLD xinner\n/^part one text/ HOLD body\n"
POSTFIX_MIME_CASES = [
    ({"header_checks": "R"}, "header X-Part: one", "xpart"),
    ({"header_checks": "R", "mime_header_checks": ""}, "header X-Inner: yes", "xinner"),
    ({"header_checks": "R", "mime_header_checks": "", "nested_header_checks": ""}, None, None),
    ({"body_checks": "R"}, "body part one text", "body"),
]


@pytest.mark.parametrize("params, where, text", POSTFIX_MIME_CASES,
                         ids=["defaults-mime-sees-part", "nested-sees-attached", "neither", "body"])
def test_which_list_sees_what_as_postfix(pipeline, rules_file, params, where, text):
    """header/mime/nested/body checks see the same parts of a MIME message as in Postfix."""
    spec = rules_file(POSTFIX_MIME_RULES)
    r = submit(pipeline(**{k: (spec if v == "R" else v) for k, v in params.items()}), MULTIPART,
               queue_id="QID")
    holds = [line for line in r.log if ": hold: " in line]
    if where is None:
        assert holds == [] and r.action == "queue"
    else:
        assert holds == [f"QID: hold: {where} {WHO}: {text}"]


def test_rejected_message_still_logs_its_message_id(pipeline, rules_file):
    """Postfix logs the reject line, then the message-id line (maillog above)."""
    r = submit(pipeline(header_checks=rules_file(POSTFIX_RULES)),
               b"Subject: reject-me\nMessage-ID: <m@x>\n\nhi\n", queue_id="QID")
    assert r.log[1] == "QID: message-id=<m@x>"


def test_discarded_message_logs_no_message_id(pipeline, rules_file):
    """After DISCARD Postfix writes no message-id line."""
    r = submit(pipeline(header_checks=rules_file(POSTFIX_RULES)), b"Subject: discard-me\n\nhi\n")
    assert not any("message-id=" in line for line in r.log)


# Postfix 3.7.11, header_checks "/^From:/ IGNORE" and "/^X-R:/ REPLACE X-S: replaced",
# message "From: someone@else.example\nX-R: 1\nSubject: ign\n\nhi\n" from sendmail -f alice;
# postcat -h (without Received:) and the cleanup log line.
POSTFIX_IGNORE_REPLACE = ["X-S: replaced", "Subject: ign", "Message-Id: <20261129132401.QID@mx.example.test>",
                          "Date: Sun, 29 Nov 2026 13:24:01 +0000 (UTC)", "From: root <alice@mx.example.test>"]
POSTFIX_REPLACE_LOG = f"QID: replace: header X-R: 1 {WHO}: X-S: replaced"


def test_ignore_and_replace_as_postfix(pipeline, rules_file, utc):
    """An IGNOREd From: is added back from the envelope; REPLACE swaps and logs."""
    p = pipeline(header_checks=rules_file("/^From:/ IGNORE\n/^X-R:/ REPLACE X-S: replaced\n"))
    r = submit(p, b"From: someone@else.example\nX-R: 1\nSubject: ign\n\nhi\n", queue_id="QID",
               fullname="root")
    assert [f"{n}: {v}" for n, v in r.message.headers()][1:] == POSTFIX_IGNORE_REPLACE
    assert r.log[0] == POSTFIX_REPLACE_LOG
