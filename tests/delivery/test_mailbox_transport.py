"""local(8)'s mailbox_transport and mailbox_transport_maps: after aliases and
.forward, a mailbox delivery goes to another transport's agent, whose
outcome becomes the recipient's. A recording agent stands in for the far
end here; Dovecot's LMTP through the daemon is in test_mailbox_transport_dovecot."""

from __future__ import annotations

from delivery_helpers import deliver, make_request

from mailflow.config import Config
from mailflow.delivery.local import LocalAgent
from mailflow.model import DsnStatus, Outcome


class Recorder:
    """An agent that answers every recipient with ``status`` and remembers the requests."""

    def __init__(self, status=DsnStatus("2.0.0", "250 2.0.0 <b> Saved")):
        self.status = status
        self.requests = []

    async def deliver(self, request):
        self.requests.append(request)
        return [Outcome(r, self.status, relay="mail.example.com[/run/lmtp]",
                        remote_mta="mail.example.com", diagnostic=f"lmtp; {self.status.text}")
                for r in request.recipients]


def local_agent(tmp_path, **kw):
    kw.setdefault("alias_maps", {})
    return LocalAgent(None, None, users={"alice": str(tmp_path / "alice")},
                      mail_spool_directory=str(tmp_path / "spool"), read_file=lambda p: None, **kw)


def test_mailbox_delivery_goes_to_the_transport_with_its_nexthop_and_outcome(tmp_path):
    lmtp = Recorder()
    agent = local_agent(tmp_path, alias_maps={"postmaster": "alice"},
                        mailbox_transport="lmtp:unix:/run/lmtp", agents={"lmtp": lmtp})
    [out] = deliver(agent, make_request("postmaster@localhost"))
    assert out.status == DsnStatus("2.0.0", "250 2.0.0 <b> Saved")
    assert out.relay == "mail.example.com[/run/lmtp]" and out.remote_mta == "mail.example.com"
    assert out.recipient.address == "postmaster@localhost"
    [req] = lmtp.requests
    # Postfix hands over the queue file's recipient, with the transport's next hop.
    assert (req.transport, req.nexthop) == ("lmtp", "unix:/run/lmtp")
    assert [r.address for r in req.recipients] == ["postmaster@localhost"]
    assert req.message.data == b"Subject: test\n\nhello\n"
    assert not (tmp_path / "spool").exists()        # nothing written here


def test_a_user_the_password_database_does_not_know_goes_to_the_transport_too(tmp_path):
    lmtp = Recorder()
    agent = local_agent(tmp_path, mailbox_transport="lmtp:unix:/run/lmtp", agents={"lmtp": lmtp})
    [out] = deliver(agent, make_request("nobody@localhost"))
    assert out.status.code == "2.0.0" and len(lmtp.requests) == 1


def test_transport_without_nexthop_keeps_the_request_nexthop(tmp_path):
    lmtp = Recorder()
    agent = local_agent(tmp_path, mailbox_transport="lmtp", agents={"lmtp": lmtp})
    deliver(agent, make_request("alice@localhost", nexthop="mail.example.com"))
    assert lmtp.requests[0].nexthop == "mail.example.com"


def test_the_transport_bounce_and_deferral_are_the_recipient_s(tmp_path):
    bounce = DsnStatus("5.1.1", "host mail[/run/lmtp] said: 550 5.1.1 <alice> User doesn't exist")
    agent = local_agent(tmp_path, mailbox_transport="lmtp:unix:/run/lmtp",
                        agents={"lmtp": Recorder(bounce)})
    [out] = deliver(agent, make_request("alice@localhost"))
    assert out.status == bounce and out.diagnostic.startswith("lmtp; ")
    defer = DsnStatus("4.2.0", "host mail[/run/lmtp] said: 451 4.2.0 try later")
    agent = local_agent(tmp_path, mailbox_transport="lmtp:unix:/run/lmtp",
                        agents={"lmtp": Recorder(defer)})
    assert deliver(agent, make_request("alice@localhost"))[0].status == defer


def test_aliases_files_and_forwarding_stay_local(tmp_path):
    lmtp = Recorder()
    box = tmp_path / "box"
    agent = local_agent(tmp_path, alias_maps={"list": f"alice, {box}"},
                        mailbox_transport="lmtp:unix:/run/lmtp", agents={"lmtp": lmtp})
    [out] = deliver(agent, make_request("list@localhost"))
    assert out.status.code == "2.0.0"
    assert b"Subject: test" in box.read_bytes()
    assert len(lmtp.requests) == 1


def test_two_aliases_to_mailboxes_hand_the_recipient_over_once(tmp_path):
    lmtp = Recorder()
    agent = LocalAgent(None, None, users={"alice": "/nonexistent", "bob": "/nonexistent"},
                       alias_maps={"team": "alice, bob"}, read_file=lambda p: None,
                       mailbox_transport="lmtp:unix:/run/lmtp", agents={"lmtp": lmtp})
    deliver(agent, make_request("team@localhost"))
    assert len(lmtp.requests) == 1


def test_mailbox_transport_maps_by_user_name_before_mailbox_transport(tmp_path):
    lmtp, other = Recorder(), Recorder()
    agent = local_agent(tmp_path, alias_maps={"info": "alice"},
                        mailbox_transport_maps={"alice": "other:inet:127.0.0.1:24"},
                        mailbox_transport="lmtp:unix:/run/lmtp",
                        agents={"lmtp": lmtp, "other": other})
    deliver(agent, make_request("info@localhost", "bob@localhost"))
    assert [r.recipients[0].address for r in other.requests] == ["info@localhost"]
    assert other.requests[0].nexthop == "inet:127.0.0.1:24"
    assert [r.recipients[0].address for r in lmtp.requests] == ["bob@localhost"]


def test_a_failing_mailbox_transport_maps_defers(tmp_path):
    def broken(key):
        from mailflow.errors import TableError
        raise TableError("hash:/etc/postfix/mbt: cannot open")
    agent = local_agent(tmp_path, mailbox_transport_maps=[broken], agents={})
    [out] = deliver(agent, make_request("alice@localhost"))
    assert out.status == DsnStatus("4.3.0", "table lookup failure")


def test_an_unknown_transport_defers_as_unavailable(tmp_path):
    agent = local_agent(tmp_path, mailbox_transport="nosuchagent:x")
    [out] = deliver(agent, make_request("alice@localhost"))
    assert out.status == DsnStatus("4.3.0", "mail transport unavailable")


def test_parameters_from_main_cf_and_the_agent_from_master_cf(tmp_path):
    cfg = Config.from_string("mailbox_transport = mylmtp:unix:/nonexistent/lmtp\n",
                           master="mylmtp unix - - n - - lmtp -o lmtp_connect_timeout=1s\n")
    agent = LocalAgent(cfg, None, users={"alice": "/nonexistent"}, alias_maps={},
                       read_file=lambda p: None)
    [out] = deliver(agent, make_request("alice@localhost"))
    # The lmtp agent built from master.cf tried the socket: its own failure text.
    assert out.status.code == "4.4.1", out
    assert "/nonexistent/lmtp" in out.status.text
    assert type(agent._agents["mylmtp"]).__name__ == "LmtpAgent"


def test_a_mailbox_transport_naming_this_local_service_defers_instead_of_looping(tmp_path):
    agent = local_agent(tmp_path, mailbox_transport="local")
    [out] = deliver(agent, make_request("alice@localhost"))
    assert out.status.code == "4.3.5"
    assert "mailbox_transport local loops back to local" in out.status.text
