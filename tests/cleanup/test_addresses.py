"""Envelope and header address rewriting, and virtual alias expansion.

POSTFIX_* expectations come from a private Postfix 3.7.11 instance
(myhostname = mx.example.test, mydomain = example.test) with::

    canonical_maps = inline:{ joe@mx.example.test=joseph.doe@example.test }
    sender_canonical_maps = inline:{ alice@mx.example.test=ann@example.test }
    masquerade_domains = example.test
    virtual_alias_maps = texthash:virtual   (VIRTUAL below)

and ``sendmail -f alice joe@mx.example.test sales@example.test
dave@host.sub.example.test sales@example.test`` of MESSAGE, read back with
``postcat -q`` (envelope records and headers).
"""

from __future__ import annotations

import pytest

from mailflow.model import Recipient
from tests.cleanup.conftest import submit

VIRTUAL = ("sales@example.test ann@example.test, bob@example.test\n"
           "loop1@example.test loop2@example.test\n"
           "loop2@example.test loop1@example.test\n")
MESSAGE = (b'From: carol\nTo: joe, Joe Two <joe@mx.example.test>\n'
           b'Cc: dave@host.sub.example.test, "Quoted, Name" <erin@a.b.example.test>\n'
           b'Reply-To: frank@x.example.test\nSender: alice\nSubject: rw\n\nhello\n')
RCPTS = ("joe@mx.example.test", "sales@example.test", "dave@host.sub.example.test",
         "sales@example.test")

POSTFIX_SENDER = "ann@example.test"
# (recipient, original_recipient) as postcat shows them
POSTFIX_RECIPIENTS = [
    ("joseph.doe@example.test", "joe@mx.example.test"),
    ("ann@example.test", "sales@example.test"),
    ("bob@example.test", "sales@example.test"),
    ("dave@host.sub.example.test", "dave@host.sub.example.test"),
]
POSTFIX_HEADERS = [
    ("From", "carol@example.test"),
    ("To", "joseph.doe@example.test, Joe Two <joseph.doe@example.test>"),
    ("Cc", 'dave@example.test, "Quoted, Name" <erin@example.test>'),
    ("Reply-To", "frank@example.test"),
    ("Sender", "ann@example.test"),
    ("Subject", "rw"),
]


@pytest.fixture
def rewriting(pipeline, tmp_path):
    virtual = tmp_path / "virtual"
    virtual.write_text(VIRTUAL)

    def make(**extra):
        params = dict(canonical_maps="inline:{ joe@mx.example.test=joseph.doe@example.test }",
                      sender_canonical_maps="inline:{ alice@mx.example.test=ann@example.test }",
                      masquerade_domains="example.test",
                      virtual_alias_maps=f"texthash:{virtual}")
        params.update(extra)
        return pipeline(**params)
    return make


def test_envelope_sender_as_postfix(rewriting):
    """The envelope sender gets @myorigin, then sender_canonical_maps."""
    assert submit(rewriting(), MESSAGE, rcpts=RCPTS).envelope.sender == POSTFIX_SENDER


def test_envelope_recipients_as_postfix(rewriting):
    """Recipients: canonical, virtual expansion, duplicates removed, originals kept,
    and no masquerading (envelope_recipient is not in masquerade_classes)."""
    r = submit(rewriting(), MESSAGE, rcpts=RCPTS)
    assert [(x.address, x.original) for x in r.envelope.recipients] == POSTFIX_RECIPIENTS


def test_header_addresses_as_postfix(rewriting):
    """Header addresses get @myorigin, canonical mapping and masquerading."""
    r = submit(rewriting(), MESSAGE, rcpts=RCPTS)
    assert r.message.headers()[1:7] == POSTFIX_HEADERS


@pytest.mark.parametrize("classes, sender, header_from", [
    ("envelope_sender", "ann@example.test", "alice@mx.example.test"),
    ("header_sender", "alice@mx.example.test", "ann@example.test"),
], ids=["envelope-only", "header-only"])
def test_sender_canonical_classes(rewriting, classes, sender, header_from):
    """sender_canonical_classes limits where sender_canonical_maps applies."""
    r = submit(rewriting(sender_canonical_classes=classes, masquerade_domains=""),
               b"From: alice\n\nhi\n", rcpts=("x@y.example",))
    assert r.envelope.sender == sender
    assert r.message.header_values("from") == [header_from]


def test_canonical_classes_exclude_envelope_recipient(rewriting):
    """Without envelope_recipient in canonical_classes, recipients keep their address."""
    r = submit(rewriting(canonical_classes="envelope_sender, header_sender, header_recipient",
                         virtual_alias_maps=""), b"\nhi\n", rcpts=("joe@mx.example.test",))
    assert r.envelope.recipients[0].address == "joe@mx.example.test"


def test_masquerade_exception_list(rewriting):
    """masquerade_exceptions users keep their full domain."""
    r = submit(rewriting(masquerade_exceptions="carol"), b"From: carol\n\nhi\n", rcpts=("x@y.example",))
    assert r.message.header_values("from") == ["carol@mx.example.test"]


def test_masquerade_envelope_recipient_when_in_classes(rewriting):
    """Adding envelope_recipient to masquerade_classes masquerades recipients."""
    r = submit(rewriting(masquerade_classes="envelope_recipient"), b"\nhi\n",
               rcpts=("dave@host.sub.example.test",))
    assert r.envelope.recipients[0].address == "dave@example.test"


def test_remote_mail_headers_use_remote_rewrite_domain(pipeline):
    """Remote (smtpd) mail: bare header addresses get remote_header_rewrite_domain."""
    from mailflow.model import ClientInfo
    client = ClientInfo("c.example", "192.0.2.1", "c.example")
    r = submit(pipeline(remote_header_rewrite_domain="domain.invalid"), b"From: carol\nTo: dan\n\nhi\n",
               origin="smtpd", client=client)
    assert r.message.header_values("from") == ["carol@domain.invalid"]
    assert r.message.header_values("to") == ["dan@domain.invalid"]


def test_remote_mail_headers_left_alone_by_default(pipeline):
    """With an empty remote_header_rewrite_domain remote headers are not rewritten."""
    from mailflow.model import ClientInfo
    client = ClientInfo("c.example", "192.0.2.1", "c.example")
    r = submit(pipeline(), b"From: carol\n\nhi\n", origin="smtpd", client=client)
    assert r.message.header_values("from") == ["carol"]


def test_enable_original_recipient_off(rewriting):
    """enable_original_recipient = no drops the pre-expansion address."""
    r = submit(rewriting(enable_original_recipient="no"), b"\nhi\n", rcpts=("sales@example.test",))
    assert [(x.address, x.original) for x in r.envelope.recipients] == [
        ("ann@example.test", "ann@example.test"), ("bob@example.test", "bob@example.test")]


def test_duplicates_with_different_originals_are_kept(pipeline, tmp_path):
    """Two originals expanding to one address stay two recipients (different orig_to)."""
    virtual = tmp_path / "v"
    virtual.write_text("a@x.example c@x.example\nb@x.example c@x.example\n")
    r = submit(pipeline(virtual_alias_maps=f"texthash:{virtual}"), b"\nhi\n",
               rcpts=("a@x.example", "b@x.example"))
    assert [(x.address, x.original) for x in r.envelope.recipients] == [
        ("c@x.example", "a@x.example"), ("c@x.example", "b@x.example")]


def test_alias_loop_defers_that_recipient_only(rewriting):
    """An alias loop keeps the recipient unexpanded, with 4.6.0 in ``deferred``;
    the others are delivered. (Postfix defers the whole message: 'unreasonable
    virtual_alias_maps map nesting for loop1@example.test -- message not
    accepted, try again later'.)"""
    r = submit(rewriting(), b"\nhi\n", rcpts=("loop1@example.test", "sales@example.test"), queue_id="QID")
    assert r.action == "queue"
    assert [x.address for x in r.envelope.recipients] == ["loop1@example.test", "ann@example.test",
                                                           "bob@example.test"]
    assert {a: str(s) for a, s in r.deferred_for.items()} == {
        "loop1@example.test": "4.6.0 Alias expansion error"}
    assert any("unreasonable virtual_alias_maps map nesting for loop1@example.test" in x for x in r.log)


def test_expansion_limit_defers(pipeline, tmp_path):
    """More results than virtual_alias_expansion_limit defer the recipient."""
    virtual = tmp_path / "v"
    virtual.write_text("big@x.example " + ", ".join(f"u{i}@y.example" for i in range(5)) + "\n")
    r = submit(pipeline(virtual_alias_maps=f"texthash:{virtual}", virtual_alias_expansion_limit="3"),
               b"\nhi\n", rcpts=("big@x.example",))
    assert [x.address for x in r.envelope.recipients] == ["big@x.example"]
    assert r.deferred_for["big@x.example"].code == "4.6.0"


def test_virtual_table_error_refuses_for_now(pipeline):
    """A virtual_alias_maps table that cannot answer refuses the message with
    4.3.0 (it is expanded when offered again), never queues it unexpanded."""
    from mailflow.errors import TableError
    from mailflow.tables import register_table_type

    class Down:
        def get(self, key):
            raise TableError("down")
    register_table_type("cleanuptest-down", lambda name, cfg: Down())
    r = submit(pipeline(virtual_alias_maps="cleanuptest-down:x"), b"\nhi\n", rcpts=("a@x.example",),
               queue_id="QID")
    assert (r.action, str(r.status)) == ("reject", "4.3.0 queue file write error")
    assert r.log[-1] == ("warning: QID: virtual_alias_maps map lookup problem for a@x.example"
                         " -- message not accepted, try again later: down")


def test_catch_all_with_user_override(pipeline, tmp_path):
    """@domain catches all users, but a user-specific entry wins."""
    virtual = tmp_path / "v"
    virtual.write_text("@x.example all@y.example\nboss@x.example boss@y.example\n")
    r = submit(pipeline(virtual_alias_maps=f"texthash:{virtual}"), b"\nhi\n",
               rcpts=("boss@x.example", "anyone@x.example"))
    assert [x.address for x in r.envelope.recipients] == ["boss@y.example", "all@y.example"]


def test_recipient_canonical_maps_before_canonical_maps(pipeline):
    """recipient_canonical_maps is applied first, then canonical_maps."""
    p = pipeline(recipient_canonical_maps="inline:{ a@x.example=b@x.example }",
                 canonical_maps="inline:{ b@x.example=c@x.example }")
    r = submit(p, b"\nhi\n", rcpts=(Recipient("a@x.example"),))
    assert r.envelope.recipients[0].address == "c@x.example"


def test_canonical_table_error_refuses_for_now(pipeline):
    """A canonical map that cannot answer refuses the message with 4.3.0, never accepts it."""
    from mailflow.errors import TableError
    from mailflow.tables import register_table_type

    class Down:
        def get(self, key):
            raise TableError("canonical database down")
    register_table_type("cleanuptest-down2", lambda name, cfg: Down())
    r = submit(pipeline(canonical_maps="cleanuptest-down2:x"), b"\nhi\n", queue_id="QID")
    assert (r.action, str(r.status)) == ("reject", "4.3.0 queue file write error")
    assert r.log[0].startswith("warning: QID: canonical database down")
