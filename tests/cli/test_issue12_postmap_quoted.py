"""A table key with a quoted local part: postmap stores it as written, and the
virtual agent finds it for the unquoted address, as in Postfix 3.7.

Postfix 3.7.11 reference (``postmap hash:t`` then ``postmap -s hash:t``): the
source line ``"john..doe"@example.com  johndoe/`` is stored under the key
``"john..doe"@example.com``; ``postmap -q '"john..doe"@example.com'`` finds
``johndoe/`` and ``postmap -q john..doe@example.com`` finds nothing; virtual(8)
delivers ``john..doe@example.com`` to ``johndoe/`` because it looks up the
address in external (quoted) form.
"""

from __future__ import annotations

import pytest

from mailflow.testing import MailSystem

SOURCE = '"john..doe"@example.com  johndoe/\nplain@example.com  plain/\n'


@pytest.fixture
def table(tmp_path, run_cli, config_dir):
    """``hash:DIR/vmailbox`` built by ``mailflow postmap`` from SOURCE."""
    source = tmp_path / "vmailbox"
    source.write_text(SOURCE)
    result = run_cli("-c", config_dir, "postmap", f"hash:{source}")
    assert (result.status, result.err) == (0, "")
    return source


def test_postmap_stores_the_quoted_key_as_written(run_cli, config_dir, table):
    """The key keeps its quotes: found as written, not in internal form (Postfix's answers)."""
    listing = run_cli("-c", config_dir, "postmap", "-s", f"hash:{table}")
    assert sorted(listing.out.splitlines()) == ['"john..doe"@example.com\tjohndoe/',
                                                "plain@example.com\tplain/"]
    found = run_cli("-c", config_dir, "postmap", "-q", '"john..doe"@example.com', f"hash:{table}")
    assert (found.status, found.out) == (0, "johndoe/\n")
    missing = run_cli("-c", config_dir, "postmap", "-q", "john..doe@example.com", f"hash:{table}")
    assert (missing.status, missing.out) == (1, "")


@pytest.mark.parametrize("line, key", [
    ('"q"x  y', '"q"x'),
    ('k"a b"  v', 'k"a b"'),
    ('a\\ b  v', 'a\\ b'),
    ('""  e', '""'),
], ids=["text-after-quote", "quote-inside", "escaped-space", "empty-quotes"])
def test_key_ends_at_whitespace_outside_quotes(run_cli, config_dir, tmp_path, line, key):
    """Postfix 3.7's split: whitespace inside quotes or after a backslash does not end the key."""
    source = tmp_path / "t"
    source.write_text(line + "\n")
    assert run_cli("-c", config_dir, "postmap", f"hash:{source}").err == ""
    listing = run_cli("-c", config_dir, "postmap", "-s", f"hash:{source}")
    assert listing.out.split("\t")[0] == key


def test_unbalanced_quote_is_skipped_with_postfix_warning(run_cli, config_dir, tmp_path):
    """An open quote ends the line unusable: Postfix's warning, the other lines still built."""
    source = tmp_path / "t"
    source.write_text('ab"c\nok 1\n')
    result = run_cli("-c", config_dir, "postmap", f"hash:{source}")
    assert result.err == (f"postmap: warning: {source}, line 1: unbalanced '\"' in 'ab\"c'"
                          " -- ignoring this line\n")
    assert run_cli("-c", config_dir, "postmap", "-s", f"hash:{source}").out == "ok\t1\n"


def test_delivery_finds_the_quoted_key_through_virtual_mailbox_maps(tmp_path, table):
    """john..doe@example.com is delivered to the Maildir the quoted key names."""
    base = tmp_path / "vmail"
    system = MailSystem(myhostname="mx.example.net", mydestination="",
                        virtual_mailbox_domains="example.com", virtual_mailbox_base=str(base),
                        virtual_mailbox_maps=f"hash:{table}", real=["virtual"])
    system.send(b"Subject: dots\n\nhello\n", "sender@example.org",
                ["john..doe@example.com", "plain@example.com"])
    system.deliver_all()
    assert sorted((d.recipient, d.transport, str(d.status)) for d in system.delivered
                  if d.transport == "virtual") == [
        ("john..doe@example.com", "virtual", "2.0.0 delivered to maildir"),
        ("plain@example.com", "virtual", "2.0.0 delivered to maildir")]
    delivered = list((base / "johndoe" / "new").iterdir())
    assert len(delivered) == 1 and b"hello" in delivered[0].read_bytes()
    assert system.bounced == []
