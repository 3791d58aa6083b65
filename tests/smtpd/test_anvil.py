"""anvil in process: connection counts and event rates per (service, client),
with Postfix's replies and warnings, an injected clock and bounded memory."""

from __future__ import annotations

import pytest

from mailflow.config import Config
from mailflow.config.params import PARAMS, Kind, Param
from mailflow.smtpd.anvil import Anvil, ClientLimits, ExceptionList, Refusal
from mailflow.testing import FakeClock

CLIENT = "192.0.2.1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000_000)


@pytest.fixture
def anvil(clock) -> Anvil:
    return Anvil(clock)


def limits(**kw) -> ClientLimits:
    kw.setdefault("hostname", "mx.example.com")
    return ClientLimits(**kw)


def test_connection_count_limit_refuses_the_one_too_many(anvil):
    """With count limit 2 the third simultaneous connection gets 421 and Postfix's warning."""
    lim = limits(connection_count=2)
    sessions = [anvil.connect(lim, "smtp", CLIENT, "client.example") for _ in range(3)]
    assert [s.refusal for s in sessions[:2]] == [None, None]
    assert sessions[2].refusal == Refusal(
        421, "4.7.0", "mx.example.com Error: too many connections from 192.0.2.1",
        "Connection concurrency limit exceeded: 3 from client.example[192.0.2.1] "
        "for service smtp")


def test_closing_a_connection_frees_its_place(anvil):
    """After one of two connections closes, a new one fits under a limit of 2."""
    lim = limits(connection_count=2)
    first, _second = anvil.connect(lim, "smtp", CLIENT), anvil.connect(lim, "smtp", CLIENT)
    first.close()
    first.close()                       # twice is harmless: counted once
    assert anvil.connect(lim, "smtp", CLIENT).refusal is None
    assert anvil.connect(lim, "smtp", CLIENT).refusal is not None


def test_refused_connection_still_counts_until_closed(anvil):
    """A connection refused for the count limit is counted as open until the session closes it (as in Postfix)."""
    lim = limits(connection_count=1)
    anvil.connect(lim, "smtp", CLIENT)
    refused = anvil.connect(lim, "smtp", CLIENT)
    assert anvil.lookup("smtp", CLIENT).count == 2
    refused.close()
    assert anvil.lookup("smtp", CLIENT).count == 1


def test_connection_rate_limit_per_time_unit(anvil, clock):
    """Three connections a minute are fine, the fourth is refused; a minute later the rate starts again."""
    lim = limits(connection_rate=3)
    got = []
    for _ in range(4):
        session = anvil.connect(lim, "smtp", CLIENT)
        got.append(session.refusal)
        session.close()
    assert got[:3] == [None] * 3
    assert str(got[3]) == "421 4.7.0 mx.example.com Error: too many connections from 192.0.2.1"
    assert got[3].warning == ("Connection rate limit exceeded: 4 from unknown[192.0.2.1] "
                              "for service smtp")
    clock.advance(30)
    assert anvil.connect(lim, "smtp", CLIENT).refusal is not None      # same unit
    clock.advance(31)
    assert anvil.connect(lim, "smtp", CLIENT).refusal is None          # a new unit


def test_count_limit_is_checked_before_rate_limit(anvil):
    """When both limits are exceeded, the concurrency warning is the one given."""
    lim = limits(connection_count=1, connection_rate=1)
    anvil.connect(lim, "smtp", CLIENT)
    assert anvil.connect(lim, "smtp", CLIENT).refusal.warning.startswith(
        "Connection concurrency limit exceeded: 2")


@pytest.mark.parametrize("event, limit_name, reply, warning", [
    ("mail", "message_rate", "450 4.7.1 Error: too much mail from 192.0.2.1",
     "Message delivery request rate limit exceeded: 3 from host.example[192.0.2.1] "
     "for service smtp"),
    ("rcpt", "recipient_rate", "450 4.7.1 Error: too many recipients from 192.0.2.1",
     "Recipient address rate limit exceeded: 3 from host.example[192.0.2.1] for service smtp"),
    ("auth", "auth_rate", "450 4.7.1 Error: too many AUTH commands from 192.0.2.1",
     "AUTH command rate limit exceeded: 3 from host.example[192.0.2.1] for service smtp"),
    ("new_tls", "new_tls_rate",
     "421 4.7.0 mx.example.com Error: too many new TLS sessions from host.example[192.0.2.1]",
     "New TLS session rate limit exceeded: 3 from host.example[192.0.2.1] for service smtp"),
], ids=["mail", "rcpt", "auth", "newtls"])
def test_event_rate_limits(anvil, event, limit_name, reply, warning):
    """The third event with a limit of 2 gets Postfix's reply and warning."""
    session = anvil.connect(limits(**{limit_name: 2}), "smtp", CLIENT, "host.example")
    check = getattr(session, event)
    assert [check(), check()] == [None, None]
    refusal = check()
    assert (str(refusal), refusal.warning) == (reply, warning)


def test_rates_are_shared_by_the_clients_connections(anvil):
    """Messages from two connections of one client add up."""
    lim = limits(message_rate=2)
    a, b = anvil.connect(lim, "smtp", CLIENT), anvil.connect(lim, "smtp", CLIENT)
    assert a.mail() is None and b.mail() is None
    assert b.mail() is not None


def test_services_and_clients_are_counted_apart(anvil):
    """The same client on another service, or another client, has its own counters."""
    lim = limits(connection_count=1)
    anvil.connect(lim, "smtp", CLIENT)
    assert anvil.connect(lim, "submission", CLIENT).refusal is None
    assert anvil.connect(lim, "smtp", "192.0.2.2").refusal is None


def test_zero_limits_count_but_never_refuse(anvil):
    """Limits of 0 are off, but connections are still counted (for the other limits' sake)."""
    lim = limits(connection_count=0)
    sessions = [anvil.connect(lim, "smtp", CLIENT) for _ in range(100)]
    assert all(s.refusal is None and s.mail() is None for s in sessions)
    assert anvil.lookup("smtp", CLIENT).count == 100


def test_a_resumed_tls_session_is_not_counted(anvil):
    """Only new (not resumed) TLS sessions count against the new-TLS rate."""
    session = anvil.connect(limits(new_tls_rate=1), "smtp", CLIENT)
    assert session.new_tls() is None
    assert session.new_tls(reused=True) is None
    assert session.new_tls() is not None


def test_starttls_is_refused_once_the_rate_is_used_up(anvil):
    """A client over its new-TLS rate gets 454 to STARTTLS, before any handshake."""
    lim = limits(new_tls_rate=1)
    session = anvil.connect(lim, "smtp", CLIENT, "h.example")
    assert session.starttls() is None
    session.new_tls()
    assert session.starttls() is None          # at the limit, not over it
    session.new_tls()
    refusal = session.starttls()
    assert str(refusal) == "454 4.7.0 Error: too many new TLS sessions from h.example[192.0.2.1]"
    assert refusal.warning == "Refusing STARTTLS request from h.example[192.0.2.1] for service smtp"


def test_exempt_clients_are_not_counted(anvil):
    """A client in the exceptions list is neither counted nor refused, and its close changes nothing."""
    lim = limits(connection_count=1, message_rate=1, exceptions=("192.0.2.0/24",))
    sessions = [anvil.connect(lim, "smtp", CLIENT) for _ in range(3)]
    assert all(s.refusal is None and s.mail() is None and s.mail() is None for s in sessions)
    for s in sessions:
        s.close()
    assert len(anvil) == 0


def test_idle_entries_are_forgotten_after_a_time_unit(anvil, clock):
    """A client with no open connection is forgotten one time unit after its last close."""
    lim = limits()
    for n in range(1000):
        anvil.connect(lim, "smtp", f"10.0.{n // 256}.{n % 256}").close()
    held = anvil.connect(lim, "smtp", CLIENT)
    assert len(anvil) == 1001
    clock.advance(59)
    assert len(anvil) == 1001
    clock.advance(2)
    assert len(anvil) == 1                    # only the open connection's entry
    held.close()
    clock.advance(61)
    assert len(anvil) == 0


def test_an_entry_that_comes_back_before_expiry_keeps_its_rates(anvil, clock):
    """Reconnecting within the time unit keeps counting the same rate (anvil cancels the expiry)."""
    lim = limits(connection_rate=2)
    anvil.connect(lim, "smtp", CLIENT).close()
    clock.advance(30)
    anvil.connect(lim, "smtp", CLIENT).close()
    clock.advance(20)
    assert anvil.connect(lim, "smtp", CLIENT).refusal is not None


def test_limits_from_configuration():
    """ClientLimits reads the smtpd_client_* parameters and the exceptions' default $mynetworks."""
    cfg = Config(myhostname="mx.example.com", smtpd_client_connection_count_limit="10",
                 smtpd_client_connection_rate_limit="30", smtpd_client_message_rate_limit="5",
                 smtpd_client_recipient_rate_limit="50",
                 smtpd_client_new_tls_session_rate_limit="7", smtpd_client_auth_rate_limit="3",
                 mynetworks="192.0.2.0/24")
    lim = ClientLimits.from_config(cfg)
    assert (lim.connection_count, lim.connection_rate, lim.message_rate, lim.recipient_rate,
            lim.new_tls_rate, lim.auth_rate, lim.time_unit, lim.hostname) == (
        10, 30, 5, 50, 7, 3, 60, "mx.example.com")
    assert lim.is_exempt("192.0.2.200") and not lim.is_exempt("198.51.100.1")


def test_limits_exceptions_set_explicitly_replace_mynetworks():
    """smtpd_client_event_limit_exceptions, when set, is the list (not $mynetworks)."""
    lim = ClientLimits.from_config(Config(
        smtpd_client_event_limit_exceptions="198.51.100.1, !192.0.2.9 192.0.2.0/24"))
    assert lim.is_exempt("198.51.100.1") and lim.is_exempt("192.0.2.8")
    assert not lim.is_exempt("192.0.2.9") and not lim.is_exempt("127.0.0.1")


def test_legacy_exceptions_parameter_expands_as_postfix_does():
    """A non-empty smtpd_client_connection_limit_exceptions makes the default
    ${...:$mynetworks} empty (postconf -x shows the same): nobody is exempt."""
    lim = ClientLimits.from_config(Config(smtpd_client_connection_limit_exceptions="198.51.100.1"))
    assert lim.exceptions == ()
    assert not lim.is_exempt("127.0.0.1")


def test_time_unit_from_configuration(clock, monkeypatch):
    """anvil_rate_time_unit, a Postfix time value, sets the time unit once it is a known parameter."""
    monkeypatch.setitem(PARAMS, "anvil_rate_time_unit",
                        Param("anvil_rate_time_unit", "60s", Kind.TIME))
    cfg = Config.from_string("anvil_rate_time_unit = 2m\n", log_warnings=False)
    assert ClientLimits.from_config(cfg).time_unit == 120
    assert ClientLimits.from_config(Config()).time_unit == 60
    anvil = Anvil(clock)
    session = anvil.connect(limits(message_rate=1, time_unit=120), "smtp", CLIENT)
    session.mail()
    clock.advance(90)
    assert session.mail() is not None        # still inside the 2-minute unit


@pytest.mark.parametrize("patterns, address, name, want", [
    (["192.0.2.1"], "192.0.2.1", "unknown", True),
    (["[192.0.2.1]"], "192.0.2.1", "unknown", True),
    (["192.0.2.0/24"], "192.0.2.77", "unknown", True),
    (["192.0.2.0/24"], "192.0.3.1", "unknown", False),
    (["[::1]/128"], "::1", "unknown", True),
    (["[::ffff:127.0.0.0]/104"], "127.0.0.1", "unknown", True),
    (["127.0.0.0/8"], "::ffff:127.0.0.1", "unknown", True),
    (["!192.0.2.1", "192.0.2.0/24"], "192.0.2.1", "unknown", False),
    (["mail.example.com"], "198.51.100.1", "MAIL.example.com", True),
    (["mail.example.com"], "198.51.100.1", "x.mail.example.com", False),
    ([".example.com"], "198.51.100.1", "x.mail.example.com", True),
    (["hash:/etc/postfix/hoggers"], "198.51.100.1", "unknown", False),
    ([], "192.0.2.1", "unknown", False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_exception_patterns(patterns, address, name, want):
    """Exception patterns match as Postfix's client lists: addresses, CIDR, names, !negation."""
    assert ExceptionList(patterns).match(address, name) is want


def test_statistics_report_peaks_then_reset(anvil):
    """statistics() gives anvil's peak lines once, then nothing until new peaks."""
    lim = limits(message_rate=100)
    a = anvil.connect(lim, "smtp", CLIENT)
    anvil.connect(lim, "smtp", CLIENT)
    a.mail()
    lines = [line.split(" at ")[0] for line in anvil.statistics()]
    assert lines == ["statistics: max connection rate 2/60s for (smtp:192.0.2.1)",
                     "statistics: max connection count 2 for (smtp:192.0.2.1)",
                     "statistics: max message rate 1/60s for (smtp:192.0.2.1)",
                     "statistics: max cache size 1"]
    assert anvil.statistics() == []


def test_unknown_event_is_an_error(anvil):
    """Anvil.count refuses an event name it does not keep."""
    with pytest.raises(ValueError):
        anvil.count("helo", "smtp", CLIENT)
