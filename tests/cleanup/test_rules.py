"""Rules written in Python: functions and classes added to a pipeline."""

from __future__ import annotations

import pytest

from mailflow.cleanup import CleanupPipeline, Verdict, body_rule, header_rule
from tests.cleanup.conftest import submit


def test_function_header_rule_holds(pipeline):
    """A header function returning "HOLD" parks the message."""
    p = pipeline().add_rule(header_rule(lambda n, v: "HOLD" if n == "X-Park" else None))
    assert submit(p, b"X-Park: 1\n\nhi\n").action == "hold"


def test_function_body_rule_rejects_with_text(pipeline):
    """A body function returning a Verdict rejects with its text."""
    p = pipeline().add_rule(body_rule(lambda line: Verdict("REJECT", "no pills") if "pills" in line else None))
    assert str(submit(p, b"Subject: x\n\ncheap pills\n").status) == "5.7.1 no pills"


class ArchiveEverything:
    """A class rule with both hooks: Bcc on a header, note on body lines."""

    def __init__(self):
        self.lines = []

    def check_header(self, header, kind):
        return Verdict("BCC", "archive@example.org") if header.lname == "subject" else None

    def check_body(self, line):
        self.lines.append(line)
        return None


def test_class_rule_with_both_hooks(pipeline):
    """A class with check_header and check_body is added to both lists."""
    rule = ArchiveEverything()
    r = submit(pipeline().add_rule(rule), b"Subject: x\n\none\ntwo\n")
    assert [x.address for x in r.envelope.recipients][-1] == "archive@example.org"
    assert rule.lines == ["one", "two"]


def test_table_rules_run_before_python_rules(pipeline, rules_file):
    """header_checks decide first; a Python rule is asked only when they have no verdict."""
    seen = []
    p = pipeline(header_checks=rules_file("/^Subject: a/ DUNNO\n"))
    p.add_rule(header_rule(lambda n, v: seen.append(v) or "HOLD"))
    r = submit(p, b"Subject: a\nX-Other: b\n\nhi\n")
    assert "a" not in seen and "b" in seen and r.action == "hold"


def test_rules_run_in_the_order_added(pipeline):
    """The first rule with a verdict decides for that header."""
    p = pipeline()
    p.add_rule(header_rule(lambda n, v: "WARN first" if n == "Subject" else None))
    p.add_rule(header_rule(lambda n, v: "REJECT second" if n == "Subject" else None))
    assert submit(p, b"Subject: x\n\nhi\n").action == "queue"


def test_header_rule_kinds(pipeline):
    """A rule limited to kind "header" does not see MIME headers."""
    p = pipeline().add_rule(header_rule(lambda n, v: "HOLD", kinds=("header",)))
    p2 = pipeline().add_rule(header_rule(lambda n, v: "HOLD" if n == "Content-Type" else None,
                                         kinds=("header",)))
    assert submit(p, b"Subject: x\n\nhi\n").action == "hold"
    assert submit(p2, b"Content-Type: text/plain\n\nhi\n").action == "queue"


def test_rule_that_raises_fails_temporarily(pipeline):
    """A rule that raises rejects with 4.3.0: never an accept."""
    def broken(name, value):
        raise RuntimeError("boom")
    r = submit(pipeline().add_rule(header_rule(broken)), b"Subject: x\n\nhi\n", queue_id="QID")
    assert r.action == "reject" and r.status.code == "4.3.0"
    assert r.log[0].startswith("warning: QID: cleanup rule")


def test_rules_from_constructor():
    """Rules given to from_config are used like added ones."""
    p = CleanupPipeline.from_config(None, body_rules=[body_rule(lambda line: "DISCARD")])
    assert submit(p, b"Subject: x\n\nhi\n").action == "discard"


def test_object_without_hooks_is_refused(pipeline):
    """add_rule refuses an object with neither hook."""
    with pytest.raises(TypeError):
        pipeline().add_rule(object())


@pytest.mark.parametrize("text, action, rest", [
    ("REJECT", "REJECT", ""),
    ("hold  for review", "HOLD", "for review"),
    ("PREPEND X-Seen: yes", "PREPEND", "X-Seen: yes"),
], ids=["bare", "lowercase-with-text", "prepend"])
def test_verdict_parse(text, action, rest):
    """Table text 'ACTION text' parses into a Verdict."""
    assert Verdict.parse(text) == Verdict(action, rest)


@pytest.mark.parametrize("text", ["EXPLODE now", "REDIRECT", "PREPEND"], ids=["unknown", "redirect-no-address", "prepend-no-text"])
def test_verdict_refuses_bad_actions(text):
    """Unknown actions and actions missing their text are errors."""
    with pytest.raises(ValueError):
        Verdict.parse(text)
