"""The typed view, bad values, validate(), warnings and construction."""

from __future__ import annotations

import logging

import pytest

from mailflow.config import Config
from mailflow.config.params import PARAMS, Kind
from mailflow.errors import ConfigError

# (id, name, main.cf value, typed value)
TYPED = [
    ("list commas", "mydestination", "a, b", ["a", "b"]),
    ("list whitespace", "mydestination", "a b\tc", ["a", "b", "c"]),
    ("list both", "mydestination", "a,, b ,c", ["a", "b", "c"]),
    ("list keeps braces", "virtual_alias_maps", "inline:{ a=b, c=d }, hash:/x",
     ["inline:{ a=b, c=d }", "hash:/x"]),
    ("empty list", "relay_domains", "", []),
    ("int", "hopcount_limit", "50", 50),
    ("size", "message_size_limit", "20480000", 20480000),
    ("bool yes", "append_dot_mydomain", "yes", True),
    ("bool NO any case", "append_at_myorigin", "NO", False),
    ("time seconds", "minimal_backoff_time", "300s", 300),
    ("time minutes", "minimal_backoff_time", "5m", 300),
    ("time bare number uses seconds", "minimal_backoff_time", "600", 600),
    ("time bare number uses days", "maximal_queue_lifetime", "3", 3 * 86400),
    ("time bare number uses hours", "delay_warning_time", "4", 4 * 3600),
    ("time weeks", "maximal_queue_lifetime", "1w", 604800),
    ("string", "relayhost", "[mail.example]:587", "[mail.example]:587"),
    ("string keeps inner whitespace", "smtpd_banner", "a   b", "a   b"),
]


@pytest.mark.parametrize("name,value,typed", [c[1:] for c in TYPED], ids=[c[0] for c in TYPED])
def test_typed_values(name, value, typed):
    """Each parameter converts to its Python type."""
    cfg = Config.from_string(f"{name} = {value}\n")
    assert cfg[name] == typed
    assert getattr(cfg, name) == typed


def test_defaults_are_typed():
    """Unset parameters give their typed default."""
    cfg = Config(myhostname="mx.example.com", mydomain="example.com")
    assert (cfg.maximal_queue_lifetime, cfg.minimal_backoff_time, cfg.delay_warning_time,
            cfg.append_dot_mydomain, cfg.hash_queue_names, cfg.message_size_limit) == (
        5 * 86400, 300, 0, False, ["deferred", "defer"], 10240000)


def test_every_default_converts_to_its_type():
    """Every built-in default is a valid value of its own kind."""
    cfg = Config(myhostname="mx.example.com")
    bad = []
    for name in PARAMS:
        try:
            cfg[name]
        except ConfigError as exc:
            bad.append(str(exc))
    assert bad == []


def test_time_parameters_state_their_unit():
    """Every time parameter has a default unit that postconf(5) uses."""
    units = {p.unit for p in PARAMS.values() if p.kind is Kind.TIME}
    assert units <= {"s", "m", "h", "d", "w"}
    assert (PARAMS["maximal_queue_lifetime"].unit, PARAMS["minimal_backoff_time"].unit,
            PARAMS["delay_warning_time"].unit, PARAMS["bounce_queue_lifetime"].unit) == (
        "d", "s", "h", "d")


# (id, main.cf line, error text) -- file, line, parameter, value and expectation
BAD_VALUES = [
    ("time", "maximal_queue_lifetime = soon",
     "main.cf, line 2: maximal_queue_lifetime = soon: not a time value (expected a number"
     " with an optional unit s, m, h, d or w)"),
    ("time with two units", "minimal_backoff_time = 5mm",
     "main.cf, line 2: minimal_backoff_time = 5mm: not a time value (expected a number"
     " with an optional unit s, m, h, d or w)"),
    ("size", "message_size_limit = banana",
     "main.cf, line 2: message_size_limit = banana: not a number (expected a size in bytes)"),
    ("int", "hopcount_limit = 5x", "main.cf, line 2: hopcount_limit = 5x: not a number"),
    ("bool", "append_dot_mydomain = maybe",
     "main.cf, line 2: append_dot_mydomain = maybe: expected yes or no"),
    ("expanded value shown", "hopcount_limit = $mydomain",
     "main.cf, line 2: hopcount_limit = example.com: not a number"),
]


@pytest.mark.parametrize("line,message", [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES])
def test_bad_value_names_file_line_parameter_and_expectation(line, message):
    """Reading a bad value raises ConfigError with the full location and reason."""
    name = line.split()[0]
    cfg = Config.from_string(f"mydomain = example.com\n{line}\n")
    with pytest.raises(ConfigError) as info:
        cfg[name]
    assert str(info.value) == message
    assert (info.value.filename, info.value.lineno, info.value.name) == ("main.cf", 2, name)


def test_bad_value_reached_through_a_default_names_where_it_was_written():
    """A per-transport default that inherits a bad value points at the set line."""
    cfg = Config.from_string("\ndefault_destination_concurrency_limit = many\n")
    with pytest.raises(ConfigError) as info:
        cfg.smtp_destination_concurrency_limit
    assert str(info.value) == ("main.cf, line 2: default_destination_concurrency_limit = many:"
                               " not a number")


def test_validate_reports_every_bad_value_at_once():
    """validate() returns one error per bad parameter, in file order."""
    cfg = Config.from_string("maximal_queue_lifetime = soon\nrelayhost = ok\n"
                             "message_size_limit = banana\n")
    assert [(e.name, e.lineno) for e in cfg.validate()] == [
        ("maximal_queue_lifetime", 1), ("message_size_limit", 3)]


def test_validate_checks_master_cf_overrides():
    """A bad ``-o`` value is reported against master.cf and its line."""
    cfg = Config.from_string("", master="# c\nrelay unix - - n - - smtp\n"
                                        "  -o smtp_connect_timeout=slow\n")
    [error] = cfg.validate()
    assert str(error) == ("master.cf, line 2: smtp_connect_timeout = slow: not a time value"
                          " (expected a number with an optional unit s, m, h, d or w)")


def test_validate_of_a_good_config_is_empty():
    """A valid configuration has no errors, and check() does not raise."""
    cfg = Config.from_string("maximal_queue_lifetime = 1d\nmydestination = a b\n")
    assert cfg.validate() == []
    cfg.check()


def test_check_raises_the_first_error():
    """check() raises the first error validate() finds."""
    with pytest.raises(ConfigError, match="hopcount_limit"):
        Config.from_string("hopcount_limit = x\nmessage_size_limit = y\n").check()


def test_unknown_parameter_is_a_warning_with_a_suggestion(caplog):
    """An unknown name is warned about (with a close match) and logged, never fatal."""
    with caplog.at_level(logging.WARNING, logger="mailflow.config"):
        cfg = Config.from_string("# c\nrelay_host = [x]\n")
    expected = 'main.cf, line 2: unknown parameter "relay_host"; did you mean "relayhost"? (ignored)'
    assert cfg.warnings == [expected]
    assert [r.getMessage() for r in caplog.records] == [expected]
    assert cfg.relayhost == ""


def test_unknown_parameter_without_close_match_has_no_suggestion():
    """A name unlike any parameter gets the warning without "did you mean"."""
    cfg = Config.from_string("zzzz_qqqq = 1\n", log_warnings=False)
    assert cfg.warnings == ['main.cf, line 1: unknown parameter "zzzz_qqqq" (ignored)']


def test_postfix_parameter_mailflow_lacks_is_named_as_such():
    """A Postfix parameter that mailflow does not implement says so, not "unknown"."""
    cfg = Config.from_string("smtp_tls_loglevel = 1\n", log_warnings=False)
    assert cfg.warnings == ['main.cf, line 1: parameter "smtp_tls_loglevel" is not implemented'
                            ' by mailflow (ignored)']


def test_reference_to_an_undefined_parameter_is_warned_about():
    """``$name`` that can only expand to nothing is warned about, as Postfix does."""
    cfg = Config.from_string("myorigin = $mydomian\n", log_warnings=False)
    assert cfg.warnings == ['main.cf, line 1: myorigin: undefined parameter "mydomian"']


# Names that are not in the table but are not unknown either.
KNOWN_NAMES = [
    ("per-transport limit", "pipe_destination_recipient_limit = 1\n", ""),
    ("per-transport time limit", "mytransport_time_limit = 10s\n", ""),
    ("referenced from main.cf", "my_domains = a b\nrelay_domains = $my_domains\n", ""),
    ("referenced from master.cf -o", "my_filter = x\n",
     "relay unix - - n - - smtp -o content_filter=$my_filter\n"),
]


@pytest.mark.parametrize("main,master", [c[1:] for c in KNOWN_NAMES], ids=[c[0] for c in KNOWN_NAMES])
def test_names_that_are_not_unknown(main, master):
    """Per-transport names and user-defined names that something uses draw no warning."""
    assert Config.from_string(main, master=master, log_warnings=False).warnings == []


def test_reference_from_daemon_arguments_does_not_count():
    """``$name`` in a pipe's argv is pipe's own macro, so main.cf's name stays unknown."""
    cfg = Config.from_string("my_port = 1\n",
                             master="p unix - n n - - pipe argv=/bin/x $my_port\n",
                             log_warnings=False)
    assert cfg.warnings == ['main.cf, line 1: unknown parameter "my_port" (ignored)']


def test_unknown_override_in_master_cf_is_warned_about():
    """An ``-o`` name that no parameter has is warned about with master.cf's line."""
    cfg = Config.from_string("", master="smtp inet n - n - - smtpd -o smtpd_tls_levl=may\n",
                             log_warnings=False)
    assert cfg.warnings == ['master.cf, line 1: unknown parameter "smtpd_tls_levl"; did you'
                            ' mean "smtpd_tls_loglevel"? (ignored)']


def test_keyword_construction_accepts_python_values():
    """Keywords may be bools, lists and numbers; they read back typed."""
    cfg = Config(append_dot_mydomain=True, mydestination=["a", "b"], hopcount_limit=7)
    assert (cfg.append_dot_mydomain, cfg.mydestination, cfg.hopcount_limit) == (True, ["a", "b"], 7)
    assert cfg.raw("mydestination") == "a, b"


def test_with_overrides_replaces_and_keeps_the_rest():
    """with_overrides() changes only what it is given."""
    cfg = Config(relayhost="a", mydomain="example.com").with_overrides(relayhost="b")
    assert (cfg.relayhost, cfg.mydomain) == ("b", "example.com")


def test_for_service_applies_the_services_overrides():
    """for_service() gives main.cf plus that service's ``-o`` overrides."""
    cfg = Config.from_string("relayhost = main\n",
                             master="relay unix - - n - - smtp -o relayhost=[relay]\n")
    assert (cfg.relayhost, cfg.for_service("relay/unix").relayhost) == ("main", "[relay]")


def test_raw_view_is_unexpanded_text():
    """raw() is the text as written or the default; expand() substitutes."""
    cfg = Config(mydomain="example.com")
    assert (cfg.raw("myorigin"), cfg.raw("no_such_parameter")) == ("$myhostname", None)
    assert cfg.expand("mydestination").endswith("localhost.example.com, localhost")


def test_unknown_attribute_is_an_attribute_error():
    """Reading a name no parameter has raises AttributeError (KeyError by item)."""
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.no_such_parameter
    with pytest.raises(KeyError):
        cfg["no_such_parameter"]


def test_transport_param_falls_back_to_the_default_parameter():
    """TRANSPORT_suffix uses its own value when set, else the documented default."""
    cfg = Config(default_destination_concurrency_limit=7, smtp_destination_concurrency_limit=3,
                 initial_destination_concurrency=2, command_time_limit="60s")
    assert (cfg.transport_param("smtp", "destination_concurrency_limit"),
            cfg.transport_param("relay", "destination_concurrency_limit"),
            cfg.transport_param("relay", "initial_destination_concurrency"),
            cfg.transport_param("pipe", "time_limit")) == (3, 7, 2, 60)


# (id, gethostname(), mydomain set?, myhostname, mydomain) -- Postfix's mail_params.c
HOST_DEFAULTS = [
    ("short host name", "vm", None, "vm.localdomain", "localdomain"),
    ("short name with mydomain", "vm", "example.com", "vm.example.com", "example.com"),
    ("dotted host name", "mx.example.org", None, "mx.example.org", "example.org"),
]


@pytest.mark.parametrize("hostname,mydomain,want_host,want_domain",
                         [c[1:] for c in HOST_DEFAULTS], ids=[c[0] for c in HOST_DEFAULTS])
def test_host_dependent_defaults(monkeypatch, hostname, mydomain, want_host, want_domain):
    """myhostname and mydomain default the way Postfix derives them from the host."""
    monkeypatch.setattr("mailflow.config.host._gethostname", lambda: hostname)
    cfg = Config(**({"mydomain": mydomain} if mydomain else {}))
    assert (cfg.myhostname, cfg.mydomain) == (want_host, want_domain)


@pytest.mark.parametrize("name,value", [
    ("forward_path", "$home/.forward${recipient_delimiter}${extension}"),
    ("mailbox_command", "/usr/bin/procmail -a $EXTENSION"),
    ("luser_relay", "$user@other.example"),
    ("default_rbl_reply", "$rbl_code blocked by $rbl_domain"),
], ids=["forward_path", "mailbox_command", "luser_relay", "default_rbl_reply"])
def test_raw_parameters_are_left_for_the_daemon(name, value):
    """Parameters Postfix keeps raw are not $name-expanded: their daemon expands them."""
    cfg = Config.from_string(f"recipient_delimiter = +\n{name} = {value}\n")
    assert cfg.expand(name) == value
