"""The delivery line of a recipient handed to mailbox_transport carries the
delivering agent's tag (``mailflow/lmtp[pid]``), as Postfix's lmtp writes
that line, while mail local delivers itself stays ``mailflow/local``: the
outcome names the delivering service, and the queue manager writes the line
on that service's logger (as here; the formatter is the daemon's)."""

from __future__ import annotations

import logging

from delivery_helpers import deliver, make_request
from test_mailbox_transport import Recorder, local_agent

from mailflow.maillog import PostfixFormatter
from mailflow.qmgr.status_log import delivery_line


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(PostfixFormatter(hostname="mx", syslog_name="mailflow", pid=7))
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


def qmgr_lines(outcomes, queue_id="4ABC123"):
    """Log the outcomes as the queue manager does: on the logger of the
    outcome's service, else of the agent it called (local)."""
    handler = Lines()
    root = logging.getLogger("mailflow")
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.INFO)
    try:
        for o in outcomes:
            logging.getLogger(f"mailflow.{o.service or 'local'}").info(
                "%s", delivery_line(queue_id, o, delay=0.1, delays=(0, 0, 0, 0.1)))
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    return [line.split(" ", 4)[4] for line in handler.lines]


def test_handed_over_recipient_is_logged_by_lmtp_and_others_by_local(tmp_path):
    agent = local_agent(tmp_path, mailbox_transport="lmtp:unix:/run/lmtp",
                        agents={"lmtp": Recorder()},
                        alias_maps={"files": str(tmp_path / "file.mbox")})
    outcomes = deliver(agent, make_request("alice@localhost", "files@localhost"))
    lmtp_line, file_line = qmgr_lines(outcomes)
    assert lmtp_line.startswith("mailflow/lmtp[7]: 4ABC123: to=<alice@localhost>, "
                                "relay=mail.example.com[/run/lmtp], ")
    assert file_line.startswith("mailflow/local[7]: 4ABC123: to=<files@localhost>, relay=local, ")
    assert [o.service for o in outcomes] == ["lmtp", None]


def test_the_tag_is_the_master_cf_command_of_the_transport(tmp_path, monkeypatch):
    """A service named dovecot running the lmtp command logs as lmtp."""
    import mailflow.delivery.registry as registry
    from mailflow.config import Config
    from mailflow.config.master_cf import parse_master_cf
    from mailflow.delivery.local import LocalAgent

    cfg = Config()
    cfg.master = parse_master_cf("dovecot unix - - n - - lmtp\n")
    recorder = Recorder()
    built = []
    monkeypatch.setattr(registry, "create_agent",
                        lambda name, cfg, entry: built.append((name, entry.command)) or recorder)
    agent = LocalAgent(cfg, None, users={"alice": str(tmp_path)}, alias_maps={},
                       mailbox_transport="dovecot:unix:/run/lmtp", read_file=lambda p: None)
    outcomes = deliver(agent, make_request("alice@localhost"))
    assert built == [("dovecot", "lmtp")]
    assert qmgr_lines(outcomes)[0].startswith("mailflow/lmtp[7]: 4ABC123: to=<alice@localhost>")


def test_a_hand_over_that_does_not_decide_the_recipient_is_not_tagged(tmp_path):
    """An alias to a mailbox (handed over, delivered) and to a file that
    cannot be written: the deferral decides, and it is local's own line."""
    agent = local_agent(tmp_path, mailbox_transport="lmtp:unix:/run/lmtp",
                        agents={"lmtp": Recorder()},
                        alias_maps={"both": f"alice, {tmp_path}/nodir/file"})
    [o] = deliver(agent, make_request("both@localhost"))
    assert o.status.code == "4.2.0" and o.relay == "local"
    assert qmgr_lines([o])[0].startswith("mailflow/local[7]: 4ABC123: to=<both@localhost>")
