"""local(8)'s alias/.forward/:include: decisions, with lookups passed in."""

import pytest

from mailflow.delivery.local_expand import (
    LocalPolicy, forward_files, parse_alias_value, plan_local,
)
from mailflow.delivery.users import LocalUser

USERS = {n: LocalUser(n, f"/home/{n}") for n in ("alice", "bob", "carol")}


def plan(address, aliases=None, files=None, policy=None, local_domains=("example.com",)):
    return plan_local(address, policy or LocalPolicy(), aliases=(aliases or {}).get,
                      users=USERS.get, read_file=(files or {}).get,
                      is_local=lambda d: d in local_domains)


def summary(deliveries):
    return [(d.kind, d.target if d.kind != "status" else str(d.status)) for d in deliveries]


def test_user_without_alias_gets_mailbox():
    """A known user with no alias and no .forward is delivered to the mailbox."""
    assert summary(plan("alice@example.com")) == [("mailbox", "alice")]


def test_unknown_user_bounces_as_local_does():
    """No alias and no such user: 5.1.1 with local(8)'s wording."""
    assert summary(plan("nobody@example.com")) == [("status", '5.1.1 unknown user: "nobody"')]


def test_luser_relay_catches_unknown_users():
    """luser_relay forwards mail for unknown users, with $user expanded."""
    got = plan("zed@example.com", policy=LocalPolicy(luser_relay="$user@relay.example"))
    assert summary(got) == [("forward", "zed@relay.example")]


def test_alias_chain_and_self_reference():
    """An alias may name itself: that name is then delivered to its mailbox."""
    aliases = {"postmaster": "root", "root": "alice", "alice": "alice, bob"}
    assert summary(plan("postmaster@example.com", aliases)) == [("mailbox", "alice"),
                                                                ("mailbox", "bob")]


def test_alias_to_remote_address_is_forwarded():
    """An address in a non-local domain is forwarded (re-submitted)."""
    assert summary(plan("alice@example.com", {"alice": "alice@elsewhere.net"})) == \
        [("forward", "alice@elsewhere.net")]


def test_alias_lookup_ignores_case_and_tries_without_extension():
    """Alias keys are lowercased; user+ext falls back to user."""
    assert summary(plan("Staff+x@example.com", {"staff": "carol"},
                        policy=LocalPolicy(recipient_delimiter="+"))) == [("mailbox", "carol")]


def test_commands_and_files_obey_allow_lists():
    """allow_mail_to_commands/files decide per class; refusals bounce 5.7.1."""
    policy = LocalPolicy(allow_mail_to_commands=frozenset({"forward"}),
                         allow_mail_to_files=frozenset())
    got = plan("x@example.com", {"x": "|/bin/prog, /var/log/x"}, policy=policy)
    assert summary(got) == [("status", "5.7.1 mail to command is restricted"),
                            ("status", "5.7.1 mail to file is restricted")]


def test_include_file_members_are_expanded_in_class_include():
    """:include: reads the file; commands there need "include" in the allow list."""
    files = {"/etc/staff": "# staff list\nalice\n|/bin/notify\n"}
    got = plan("staff@example.com", {"staff": ":include:/etc/staff"}, files)
    assert summary(got) == [("mailbox", "alice"), ("status", "5.7.1 mail to command is restricted")]
    policy = LocalPolicy(allow_mail_to_commands=frozenset({"include"}))
    got = plan("staff@example.com", {"staff": ":include:/etc/staff"}, files, policy)
    assert summary(got) == [("mailbox", "alice"), ("command", "/bin/notify")]


def test_missing_include_file_bounces():
    """An :include: file that does not exist is a 5.3.0 error."""
    got = plan("staff@example.com", {"staff": ":include:/nope"})
    assert summary(got) == [("status", "5.3.0 cannot open include file /nope: "
                                       "No such file or directory")]


def test_forward_file_with_backslash_self_keeps_a_copy():
    """A .forward with \\user keeps a copy in the mailbox and forwards the rest."""
    files = {"/home/bob/.forward": '\\bob\nbob@mobile.example\n"|/usr/bin/vacation bob"\n'}
    assert summary(plan("bob@example.com", files=files)) == [
        ("mailbox", "bob"), ("forward", "bob@mobile.example"), ("command", "/usr/bin/vacation bob")]


def test_forward_file_naming_the_user_itself_does_not_loop():
    """"bob" in bob's own .forward means bob's mailbox, not another expansion."""
    files = {"/home/bob/.forward": "bob, carol"}
    assert summary(plan("bob@example.com", files=files)) == [("mailbox", "bob"),
                                                             ("mailbox", "carol")]


def test_forward_path_with_extension():
    """$home/.forward${recipient_delimiter}${extension} is tried first."""
    policy = LocalPolicy(recipient_delimiter="+")
    files = {"/home/bob/.forward+lists": "carol", "/home/bob/.forward": "alice"}
    assert summary(plan("bob+lists@example.com", files=files, policy=policy)) == \
        [("mailbox", "carol")]
    assert forward_files(policy, USERS["bob"], "bob+lists@example.com") == \
        ["/home/bob/.forward+lists", "/home/bob/.forward"]


def test_owner_alias_becomes_sender():
    """With owner-NAME defined, deliveries for NAME carry owner-NAME as sender."""
    aliases = {"list": "alice, far@remote.net", "owner-list": "carol"}
    got = plan("list@example.com", aliases, policy=LocalPolicy(owner_domain="example.com"))
    assert [d.sender for d in got] == ["owner-list@example.com", "owner-list@example.com"]


def test_alias_loop_is_cut():
    """Aliases that keep expanding to new names stop at the depth limit."""
    aliases = {f"a{i}": f"a{i + 1}" for i in range(200)}
    got = plan("a0@example.com", aliases, policy=LocalPolicy(max_depth=20))
    assert got[0].kind == "status" and got[0].status.code == "5.4.6"
    assert "alias database loop" in got[0].status.text


@pytest.mark.parametrize("value,kinds", [
    ('"|/bin/a b, c"', [("command", "/bin/a b, c")]),
    ("/tmp/f, alice", [("file", "/tmp/f"), ("address", "alice")]),
    (":include:/x", [("include", "/x")]),
    ("<a@b>", [("address", "a@b")]),
], ids=["quoted-command", "file-and-user", "include", "angle-brackets"])
def test_parse_alias_value(value, kinds):
    """aliases(5) values split on commas outside quotes and are classified."""
    assert [(t.kind, t.text) for t in parse_alias_value(value)] == kinds


def test_unquoted_command_with_arguments_splits_as_postfix():
    """An unquoted space ends a command target, as local(8) parses an alias value (Postfix 3.7.11)."""
    files = {"/home/bob/.forward": "|/usr/bin/true --new\n"}
    assert summary(plan("bob@example.com", files=files))[0] == ("command", "/usr/bin/true")
