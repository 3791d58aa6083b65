"""The virtual agent delivering into real Maildirs and mbox files in tmp_path."""

import mailbox
import os

import pytest

from mailflow.config import Config
from mailflow.delivery import create_agent
from mailflow.delivery.virtual import VirtualAgent

from delivery_helpers import deliver, make_request

MAPS = {"bob@example.com": "example.com/bob/", "ann@example.com": "example.com/ann.mbox",
        "@catchall.example": "catchall/"}


def agent_for(tmp_path, **kw):
    return VirtualAgent(None, None, mailbox_base=str(tmp_path), mailbox_maps=MAPS, **kw)


def test_path_ending_in_slash_is_a_maildir(tmp_path):
    """bob's path ends in "/": the message is a Maildir file with envelope headers."""
    [out] = deliver(agent_for(tmp_path), make_request("bob@example.com", transport="virtual"))
    assert (out.status.code, out.status.text, out.relay) == ("2.0.0", "delivered to maildir", "virtual")
    [msg] = list(mailbox.Maildir(str(tmp_path / "example.com/bob"), create=False))
    assert (msg["return-path"], msg["delivered-to"], msg["subject"]) == \
        ("<sender@example.org>", "bob@example.com", "test")


def test_other_path_is_an_mbox_file(tmp_path):
    """ann's path has no trailing "/": the message is appended to an mbox."""
    [out] = deliver(agent_for(tmp_path), make_request("ann@example.com"))
    assert out.status.text == "delivered to mailbox"
    box = mailbox.mbox(str(tmp_path / "example.com/ann.mbox"))
    try:
        assert [m["subject"] for m in box] == ["test"]
    finally:
        box.close()


def test_unknown_recipient_bounces_511(tmp_path):
    """A recipient not in virtual_mailbox_maps bounces 5.1.1."""
    [out] = deliver(agent_for(tmp_path), make_request("nobody@example.com"))
    assert str(out.status) == f'5.1.1 unknown user: "{out.recipient.address}"'


def test_extension_and_catchall_lookups(tmp_path):
    """user+ext falls back to user@domain; @domain catches everyone else."""
    agent = VirtualAgent(None, None, mailbox_base=str(tmp_path), mailbox_maps=MAPS)
    agent.delimiter = "+"
    outs = deliver(agent, make_request("bob+news@example.com", "x@catchall.example"))
    assert [o.status.code for o in outs] == ["2.0.0", "2.0.0"]
    assert len(list(mailbox.Maildir(str(tmp_path / "catchall"), create=False))) == 1


def test_mailbox_limit_bounces(tmp_path):
    """A message larger than virtual_mailbox_limit bounces 5.2.2."""
    [out] = deliver(agent_for(tmp_path, mailbox_limit=50),
                    make_request("bob@example.com", data=b"Subject: big\n\n" + b"x" * 100))
    assert out.status.code == "5.2.2"


def test_one_outcome_per_recipient(tmp_path):
    """A request with several recipients gets one outcome each, in order."""
    outs = deliver(agent_for(tmp_path), make_request("bob@example.com", "nobody@example.com",
                                                     "ann@example.com"))
    assert [(o.recipient.address, o.status.code) for o in outs] == [
        ("bob@example.com", "2.0.0"), ("nobody@example.com", "5.1.1"), ("ann@example.com", "2.0.0")]


def test_built_from_main_cf_settings(tmp_path):
    """virtual_mailbox_base and virtual_mailbox_maps come from main.cf."""
    cfg = Config(virtual_mailbox_base=str(tmp_path),
                 virtual_mailbox_maps="inline:{ carl@example.com=carl/ }")
    agent = create_agent("virtual", cfg)
    [out] = deliver(agent, make_request("Carl@Example.com"))
    assert out.status.code == "2.0.0"
    assert len(list(mailbox.Maildir(str(tmp_path / "carl"), create=False))) == 1


def test_broken_table_defers(tmp_path):
    """A table that cannot answer defers (4.x), never bounces as unknown."""
    def broken(key):
        from mailflow.errors import TableError
        raise TableError("database unavailable")
    agent = VirtualAgent(None, None, mailbox_base=str(tmp_path), mailbox_maps=broken)
    [out] = deliver(agent, make_request("bob@example.com"))
    assert out.status.is_temporary


def test_uid_maps_are_ignored_when_not_root(tmp_path, monkeypatch, caplog):
    """virtual_uid_maps without root: a warning, and delivery as the current user."""
    import mailflow.delivery.virtual as virtual_module
    monkeypatch.setattr(virtual_module, "is_root", lambda: False)
    agent = agent_for(tmp_path, uid_maps="static:5000", gid_maps="static:5000")
    [out] = deliver(agent, make_request("bob@example.com"))
    assert out.status.code == "2.0.0"
    assert agent.uid_maps is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another user")
def test_uid_maps_set_the_owner_as_root(tmp_path):
    """Running as root, delivered Maildir files belong to the mapped uid/gid."""
    agent = agent_for(tmp_path, uid_maps="static:5000", gid_maps="static:5001")
    [out] = deliver(agent, make_request("bob@example.com"))
    assert out.status.code == "2.0.0"
    [name] = os.listdir(tmp_path / "example.com/bob/new")
    st = os.stat(tmp_path / "example.com/bob/new" / name)
    assert (st.st_uid, st.st_gid) == (5000, 5001)
