"""The local agent on real files: aliases, .forward, :include:, mailboxes, commands."""

import mailbox
import sys

import pytest

from mailflow.config import Config
from mailflow.delivery.local import LocalAgent

from delivery_helpers import deliver, make_request


@pytest.fixture
def homes(tmp_path):
    """Home directories for alice, bob and carol under tmp_path."""
    out = {}
    for name in ("alice", "bob", "carol"):
        home = tmp_path / "home" / name
        home.mkdir(parents=True)
        out[name] = str(home)
    return out


def local_agent(tmp_path, homes, **kw):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    kw.setdefault("alias_maps", {})
    return LocalAgent(kw.pop("cfg", None), None, users=homes, mail_spool_directory=str(spool), **kw)


def spool_messages(tmp_path, user):
    box = mailbox.mbox(str(tmp_path / "spool" / user))
    try:
        return [dict(m.items()) | {"body": m.get_payload()} for m in box]
    finally:
        box.close()


def test_spool_mbox_gets_envelope_headers(tmp_path, homes):
    """A user's mail goes to mail_spool_directory/USER with Return-Path, X-Original-To, Delivered-To."""
    [out] = deliver(local_agent(tmp_path, homes),
                    make_request("alice@localhost", originals={"alice@localhost": "Alice@Example.com"}))
    assert (str(out.status), out.relay) == ("2.0.0 delivered to mailbox", "local")
    [msg] = spool_messages(tmp_path, "alice")
    assert (msg["Return-Path"], msg["X-Original-To"], msg["Delivered-To"]) == \
        ("<sender@example.org>", "Alice@Example.com", "alice@localhost")


def test_home_mailbox_maildir(tmp_path, homes):
    """home_mailbox = Maildir/ delivers into ~/Maildir."""
    agent = local_agent(tmp_path, homes, home_mailbox="Maildir/")
    [out] = deliver(agent, make_request("bob@localhost"))
    assert str(out.status) == "2.0.0 delivered to maildir"
    assert [m["subject"] for m in mailbox.Maildir(homes["bob"] + "/Maildir", create=False)] == ["test"]


def test_home_mailbox_mbox_file(tmp_path, homes):
    """home_mailbox = Mailbox delivers to an mbox file in the home directory."""
    agent = local_agent(tmp_path, homes, home_mailbox="Mailbox")
    deliver(agent, make_request("bob@localhost"))
    box = mailbox.mbox(homes["bob"] + "/Mailbox")
    try:
        assert len(box) == 1
    finally:
        box.close()


def test_unknown_user_bounces_with_local_wording(tmp_path, homes):
    """Neither user nor alias: 5.1.1 'unknown user', as Postfix 3.7's local(8)
    logs for `sendmail nosuchuser` (recorded from a private instance:
    "dsn=5.1.1, status=bounced (unknown user: "nosuchuser")")."""
    [out] = deliver(local_agent(tmp_path, homes), make_request("nosuchuser@localhost"))
    assert str(out.status) == '5.1.1 unknown user: "nosuchuser"'


def test_explicit_local_recipient_maps_reject_unlisted(tmp_path, homes):
    """With local_recipient_maps set, a recipient it does not list bounces 5.1.1."""
    agent = local_agent(tmp_path, homes, local_recipient_maps={"alice": "x"})
    outs = deliver(agent, make_request("bob@localhost", "alice@localhost"))
    assert [str(o.status) for o in outs] == ["5.1.1 User unknown in local recipient table",
                                             "2.0.0 delivered to mailbox"]


def test_passwd_in_local_recipient_maps_means_the_user_database(tmp_path, homes):
    """unix:passwd.byname in local_recipient_maps consults the agent's user
    database; an alias is not a user unless the aliases are listed too."""
    agent = local_agent(tmp_path, homes, local_recipient_maps="proxy:unix:passwd.byname",
                        alias_maps={"team": "alice"})
    outs = deliver(agent, make_request("carol@localhost", "team@localhost", "zed@localhost"))
    assert [o.status.code for o in outs] == ["2.0.0", "5.1.1", "5.1.1"]


def test_alias_fans_out_to_several_mailboxes(tmp_path, homes):
    """An alias to two users fills both spool mailboxes; Delivered-To is the alias."""
    agent = local_agent(tmp_path, homes, alias_maps={"team": "alice, bob"})
    [out] = deliver(agent, make_request("team@localhost"))
    assert out.status.code == "2.0.0"
    for user in ("alice", "bob"):
        [msg] = spool_messages(tmp_path, user)
        assert msg["Delivered-To"] == "team@localhost"


def test_alias_to_file_and_command(tmp_path, homes):
    """Alias targets /file and |command are delivered (allowed for aliases by default)."""
    script = tmp_path / "save.py"
    script.write_text("import sys\nopen(sys.argv[1], 'wb').write(sys.stdin.buffer.read())\n")
    saved = tmp_path / "cmd-out"
    aliases = {"log": f'{tmp_path}/archive, "|{sys.executable} {script} {saved}"'}
    agent = local_agent(tmp_path, homes, alias_maps=aliases)
    [out] = deliver(agent, make_request("log@localhost"))
    assert out.status.code == "2.0.0", out.status
    box = mailbox.mbox(str(tmp_path / "archive"))
    try:
        assert [m["subject"] for m in box] == ["test"]
    finally:
        box.close()
    data = saved.read_bytes()
    assert data.startswith(b"From sender@example.org  ")
    assert b"Delivered-To: log@localhost\nSubject: test\n" in data


def test_command_exit_75_defers_the_recipient(tmp_path, homes):
    """A command that exits EX_TEMPFAIL defers the whole recipient."""
    agent = local_agent(tmp_path, homes, alias_maps={"x": 'alice, "|exit 75"'})
    [out] = deliver(agent, make_request("x@localhost"))
    assert str(out.status) == "4.3.0 temporary failure"


def test_include_file(tmp_path, homes):
    """:include: reads a list of recipients from a file."""
    members = tmp_path / "members"
    members.write_text("# the list\nalice\ncarol\n")
    agent = local_agent(tmp_path, homes, alias_maps={"list": f":include:{members}"})
    deliver(agent, make_request("list@localhost"))
    assert len(spool_messages(tmp_path, "alice")) == len(spool_messages(tmp_path, "carol")) == 1


def test_forward_file_redirects_and_keeps_copy(tmp_path, homes):
    """~/.forward with \\bob and carol: bob keeps a copy, carol gets one too."""
    (tmp_path / "home/bob/.forward").write_text("\\bob, carol\n")
    deliver(local_agent(tmp_path, homes), make_request("bob@localhost"))
    assert len(spool_messages(tmp_path, "bob")) == 1
    assert len(spool_messages(tmp_path, "carol")) == 1


def test_forward_to_remote_address_is_resubmitted(tmp_path, homes):
    """A remote address in .forward is handed to resubmit with Delivered-To added."""
    (tmp_path / "home/bob/.forward").write_text("bob@mobile.example\n")
    submitted = []

    def resubmit(envelope, message):
        submitted.append((envelope, message))
        return "5FWD001"
    agent = local_agent(tmp_path, homes, resubmit=resubmit)
    [out] = deliver(agent, make_request("bob@localhost"))
    assert str(out.status) == "2.0.0 forwarded as 5FWD001"
    [(env, msg)] = submitted
    assert env.sender == "sender@example.org"
    assert [(r.address, r.original) for r in env.recipients] == [("bob@mobile.example", "bob@localhost")]
    assert msg.header_values("delivered-to") == ["bob@localhost"]


def test_forwarding_without_resubmit_defers(tmp_path, homes):
    """With no resubmit hook forwarded mail waits (4.3.5) rather than vanishing."""
    agent = local_agent(tmp_path, homes, alias_maps={"x": "someone@remote.example"})
    [out] = deliver(agent, make_request("x@localhost"))
    assert out.status.code == "4.3.5"


def test_owner_alias_is_sender_of_forwarded_mail(tmp_path, homes):
    """A list with owner-list re-submits with owner-list as envelope sender."""
    submitted = []
    agent = local_agent(tmp_path, homes, cfg=Config(myorigin="example.com"),
                        alias_maps={"list": "far@remote.example", "owner-list": "alice"},
                        resubmit=lambda e, m: submitted.append(e) or "Q2")
    deliver(agent, make_request("list@localhost"))
    assert submitted[0].sender == "owner-list@example.com"


def test_delivered_to_loop_bounces(tmp_path, homes):
    """A message already carrying Delivered-To for the recipient bounces 5.4.6
    (Postfix 3.7 local(8), recorded: "dsn=5.4.6, status=bounced (mail
    forwarding loop for root@mx.example.test)")."""
    agent = local_agent(tmp_path, homes)
    [out] = deliver(agent, make_request("alice@localhost",
                                        data=b"Delivered-To: alice@localhost\nSubject: x\n\nx\n"))
    assert str(out.status) == "5.4.6 mail forwarding loop for alice@localhost"


def test_commands_in_forward_files_can_be_forbidden(tmp_path, homes):
    """allow_mail_to_commands = alias refuses |command in .forward (5.7.1)."""
    (tmp_path / "home/carol/.forward").write_text("|/bin/cat\n")
    agent = local_agent(tmp_path, homes, cfg=Config(allow_mail_to_commands="alias"))
    [out] = deliver(agent, make_request("carol@localhost"))
    assert str(out.status) == "5.7.1 mail to command is restricted"


def test_mailbox_command_gets_environment(tmp_path, homes):
    """mailbox_command runs via /bin/sh -c with HOME, USER, EXTENSION, RECIPIENT set."""
    out_file = tmp_path / "env-out"
    agent = local_agent(tmp_path, homes, cfg=Config(recipient_delimiter="+"),
                        mailbox_command=f'echo "$HOME $USER $EXTENSION $RECIPIENT" > {out_file}')
    [out] = deliver(agent, make_request("alice+news@localhost"))
    assert out.status.code == "2.0.0"
    assert out_file.read_text().split() == [homes["alice"], "alice", "news", "alice+news@localhost"]


def test_mailbox_size_limit(tmp_path, homes):
    """mailbox_size_limit bounces a message that would make the mailbox too big."""
    agent = local_agent(tmp_path, homes, cfg=Config(mailbox_size_limit="100"))
    [out] = deliver(agent, make_request("alice@localhost", data=b"Subject: s\n\n" + b"x" * 200))
    assert out.status.code == "5.2.2"


def test_recipient_delimiter_extension_reaches_user_mailbox(tmp_path, homes):
    """alice+tag is delivered to alice's mailbox."""
    agent = local_agent(tmp_path, homes, cfg=Config(recipient_delimiter="+"))
    [out] = deliver(agent, make_request("alice+tag@localhost"))
    assert out.status.code == "2.0.0"
    assert len(spool_messages(tmp_path, "alice")) == 1


def test_broken_alias_table_defers(tmp_path, homes):
    """An alias table that cannot be opened defers instead of bouncing."""
    agent = local_agent(tmp_path, homes, alias_maps="nosuchtype:/etc/aliases")
    [out] = deliver(agent, make_request("alice@localhost"))
    assert out.status.is_temporary


def test_aliases_file_built_by_postalias(tmp_path, homes, config_dir, run_cli):
    """An aliases(5) file compiled with `mailflow postalias` drives local delivery."""
    script = tmp_path / "save.py"
    script.write_text("import sys\nopen(sys.argv[1], 'wb').write(sys.stdin.buffer.read())\n")
    aliases = tmp_path / "aliases"
    aliases.write_text(f"postmaster: root\nroot: alice,\n  bob\n"
                       f"saver: |\"{sys.executable} {script} {tmp_path}/saved\"\n")
    result = run_cli("-c", config_dir, "postalias", f"hash:{aliases}")
    assert result.status == 0, result.err
    cfg = Config(alias_maps=f"hash:{aliases}")
    agent = LocalAgent(cfg, None, users=homes, mail_spool_directory=str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    outs = deliver(agent, make_request("postmaster@localhost", "saver@localhost"))
    assert [o.status.code for o in outs] == ["2.0.0", "2.0.0"], outs
    assert len(spool_messages(tmp_path, "alice")) == len(spool_messages(tmp_path, "bob")) == 1
    assert (tmp_path / "saved").read_bytes().endswith(b"Subject: test\n\nhello\n")


def test_spool_directory_ending_in_slash_holds_maildirs(tmp_path, homes):
    """mail_spool_directory ending in "/" delivers into spool/USER/ Maildirs."""
    agent = LocalAgent(None, None, users=homes, alias_maps={},
                       mail_spool_directory=str(tmp_path / "maildirs") + "/")
    [out] = deliver(agent, make_request("carol@localhost"))
    assert str(out.status) == "2.0.0 delivered to maildir"
    assert len(mailbox.Maildir(str(tmp_path / "maildirs" / "carol"), create=False)) == 1


def test_alias_loop_bounces_with_a_warning(tmp_path, homes, caplog):
    """Aliases that expand without end bounce 5.4.6 and log a warning."""
    aliases = {f"a{i}": f"a{i + 1}" for i in range(300)}
    [out] = deliver(local_agent(tmp_path, homes, alias_maps=aliases), make_request("a0@localhost"))
    assert out.status.code == "5.4.6"
    assert "alias database loop for a0@localhost" in caplog.text


def test_resubmit_hook_given_through_create_agent(tmp_path, homes):
    """The daemon passes resubmit= through create_agent to the local agent."""
    from mailflow.delivery import create_agent
    submitted = []
    agent = create_agent("local", Config(), None, users=homes, alias_maps={"x": "y@remote.example"},
                         resubmit=lambda env, msg: submitted.append(env) or "QX")
    [out] = deliver(agent, make_request("x@localhost"))
    assert str(out.status) == "2.0.0 forwarded as QX"
    assert [r.address for r in submitted[0].recipients] == ["y@remote.example"]
