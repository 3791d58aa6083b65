"""explain: canonical mapping, alias expansion and routing, from Python and the CLI."""

from __future__ import annotations

import json

import pytest

from mailflow.address.resolve import TrivialRewrite
from mailflow.config import Config
from mailflow.errors import TableError
from mailflow.address.explain import ExplainEntry, Explainer, explain, explain_report
from mailflow.tables import CallableTable, register_table_type

MAIN_CF = """\
myhostname = mx.example.com
mydomain = example.com
mydestination = $myhostname, localhost, example.com
inet_interfaces = 127.0.0.1
alias_maps = inline:{ {postmaster=root}, {root=admin, /var/mail/archive}, {help="|/usr/bin/ticket --new"} }
virtual_alias_domains = virt.example
virtual_alias_maps = inline:{ {sales@virt.example=ann@virt.example, bob@example.org}, ann@virt.example=Ann+Desk@Example.COM }
transport_maps = inline:{ example.org=smtp:[127.0.0.1]:2525, example.com=lmtp:unix:private/dovecot-lmtp }
recipient_canonical_maps = inline:{ old@example.com=new@example.com }
canonical_maps = inline:{ new@example.com=newer@example.com }
recipient_delimiter = +
"""


@pytest.fixture
def cfg() -> Config:
    return Config.from_string(MAIN_CF)


def entry(given, final, klass, transport, nexthop):
    return ExplainEntry(given, final, klass, transport, nexthop)


def test_entries_compare_without_steps(cfg):
    """A user's test can compare explain() with hand-written entries."""
    assert explain("sales@virt.example", cfg) == [
        entry("sales@virt.example", "Ann+Desk@example.com", "local", "lmtp",
              "unix:private/dovecot-lmtp"),
        entry("sales@virt.example", "bob@example.org", "default", "smtp", "[127.0.0.1]:2525"),
    ]


def test_final_lowercases_domain_keeps_local_part(cfg):
    """final is trivial-rewrite's canonical form: domain lowercased, local part and +ext kept."""
    assert explain("Ann+Desk@EXAMPLE.com", cfg)[0].final == "Ann+Desk@example.com"


def test_class_is_the_domain_class_when_transport_maps_override(cfg):
    """class stays local although transport_maps sends example.com to lmtp."""
    e = explain("someone@example.com", cfg)[0]
    assert (e.class_, e.transport) == ("local", "lmtp")


def test_nexthop_as_configured(cfg):
    """A [host]:port nexthop is reported exactly as written."""
    assert explain("x@example.org", cfg)[0].nexthop == "[127.0.0.1]:2525"


def test_canonical_maps_in_cleanup_order(cfg):
    """recipient_canonical_maps applies first, then canonical_maps; both appear in the steps."""
    e = explain("old@example.com", cfg)[0]
    assert e.final == "newer@example.com"
    assert e.steps == ("recipient_canonical_maps: old@example.com -> new@example.com",
                       "canonical_maps: new@example.com -> newer@example.com")


def test_canonical_classes_without_envelope_recipient(cfg):
    """canonical_classes without envelope_recipient leaves envelope recipients alone."""
    c = cfg.with_overrides(canonical_classes="envelope_sender, header_recipient")
    assert explain("old@example.com", c)[0].final == "old@example.com"


def test_local_alias_to_command_and_file(cfg):
    """Local aliases to a command or a file give that target as final."""
    finals = [e.final for e in explain("help", cfg) + explain("root", cfg)]
    assert finals == ["|/usr/bin/ticket --new", "admin@mx.example.com", "/var/mail/archive"]


def test_unknown_user_in_virtual_alias_domain(cfg):
    """An unknown user of a virtual alias domain is an error entry with Postfix's text."""
    assert explain("nobody@virt.example", cfg) == [entry(
        "nobody@virt.example", "nobody@virt.example", "virtual_alias", "error",
        "5.1.1 User unknown in virtual alias table")]


def test_virtual_alias_loop_is_a_retry_entry():
    """A virtual alias loop gives one retry entry with 4.6.0, not an exception."""
    c = Config(myhostname="mx.example.com", alias_maps="",
               virtual_alias_maps="inline:{ a@x.example=b@x.example, b@x.example=a@x.example }")
    [e] = explain("a@x.example", c)
    assert (e.transport, e.nexthop) == ("retry", "4.6.0 Alias expansion error")


def test_virtual_table_failure_is_a_retry_entry():
    """A virtual_alias_maps lookup failure defers with cleanup's 4.3.0 text."""
    def fail(key):
        raise TableError("down")
    register_table_type("explainfailtest", lambda name, cfg: CallableTable(fail))
    c = Config(myhostname="mx.example.com", alias_maps="", virtual_alias_maps="explainfailtest:x")
    [e] = explain("a@x.example", c)
    assert (e.transport, e.nexthop) == ("retry", "4.3.0 virtual_alias_maps map lookup problem")


def test_sender_reaches_sender_dependent_maps():
    """The sender selects a sender_dependent_relayhost_maps entry."""
    c = Config(myhostname="mx.example.com", alias_maps="",
               sender_dependent_relayhost_maps="inline:{ @vip.example=[fast.example] }")
    assert explain("u@o.example", c, sender="boss@vip.example")[0].nexthop == "[fast.example]"
    assert explain("u@o.example", c)[0].nexthop == "o.example"


def test_accepts_trivial_rewrite_and_explainer(cfg):
    """explain() takes a Config, a TrivialRewrite or an Explainer."""
    want = explain("x@example.org", cfg)
    assert explain("x@example.org", TrivialRewrite.from_config(cfg)) == want
    assert explain(["x@example.org"], Explainer.from_config(cfg)) == want


def test_report_text(cfg):
    """explain_report shows the expansion tree and one line per final recipient."""
    report = explain_report(cfg, ["sales@virt.example"])
    assert report.splitlines() == [
        "<sales@virt.example>",
        "  virtual alias expansion:",
        "    sales@virt.example",
        "      ann@virt.example",
        "        Ann+Desk@Example.COM",
        "      bob@example.org",
        "  -> Ann+Desk@example.com: class local, transport lmtp, nexthop unix:private/dovecot-lmtp",
        "  -> bob@example.org: class default, transport smtp, nexthop [127.0.0.1]:2525",
    ]


# --- the command line ---------------------------------------------------------

@pytest.fixture
def etc(config_dir):
    (config_dir / "main.cf").write_text((config_dir / "main.cf").read_text() + MAIN_CF)
    return config_dir


def test_cli_human_report(etc, run_cli):
    """mailflow explain prints each step and a line per final recipient, exit 0."""
    result = run_cli("-c", etc, "explain", "postmaster", "old@example.com")
    assert result.status == 0
    assert result.out.splitlines() == [
        "<postmaster>",
        "  rewrite: postmaster -> postmaster@mx.example.com",
        "  alias_maps: postmaster -> root",
        "  alias_maps: root -> admin",
        "  -> admin@mx.example.com: class local, transport local, nexthop mx.example.com",
        "  alias_maps: postmaster -> root",
        "  alias_maps: root -> /var/mail/archive",
        "  -> /var/mail/archive: class local, transport local, nexthop mx.example.com",
        "<old@example.com>",
        "  recipient_canonical_maps: old@example.com -> new@example.com",
        "  canonical_maps: new@example.com -> newer@example.com",
        "  -> newer@example.com: class local, transport lmtp, nexthop unix:private/dovecot-lmtp",
    ]


def test_cli_json(etc, run_cli):
    """--json prints one object per final recipient with exactly the documented keys."""
    result = run_cli("-c", etc, "explain", "--json", "sales@virt.example")
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert result.status == 0
    assert rows == [
        {"recipient": "sales@virt.example", "final": "Ann+Desk@example.com", "class": "local",
         "transport": "lmtp", "nexthop": "unix:private/dovecot-lmtp"},
        {"recipient": "sales@virt.example", "final": "bob@example.org", "class": "default",
         "transport": "smtp", "nexthop": "[127.0.0.1]:2525"},
    ]


def test_cli_sender_option(config_dir, run_cli):
    """--sender selects sender-dependent routing."""
    (config_dir / "main.cf").write_text(
        (config_dir / "main.cf").read_text() + "alias_maps =\n"
        "sender_dependent_default_transport_maps = inline:{ @vip.example=fast: }\n")
    result = run_cli("-c", config_dir, "explain", "--json", "--sender", "a@vip.example", "u@o.example")
    assert json.loads(result.out)["transport"] == "fast"


def test_cli_quoted_address(etc, run_cli):
    """A quoted local part is accepted and shown in internal form."""
    result = run_cli("-c", etc, "explain", "--json", '"a b"@example.org')
    assert json.loads(result.out)["final"] == "a b@example.org"


@pytest.mark.parametrize("address", ["a b@example.org", '"open@example.org', "<a@b>>", "a@[1.2"])
def test_cli_unparseable_address(etc, run_cli, address):
    """An address that does not parse exits with EX_DATAERR (65)."""
    result = run_cli("-c", etc, "explain", address)
    assert result.status == 65
    assert "bad address syntax" in result.err


def test_cli_usage(etc, run_cli):
    """No address, or an unknown option, is a usage error (64)."""
    assert run_cli("-c", etc, "explain").status == 64
    assert run_cli("-c", etc, "explain", "--bogus", "a@b").status == 64


def test_routing_doc_examples_run():
    """Every example in docs/routing.md runs as shown."""
    import doctest
    from pathlib import Path
    page = Path(__file__).resolve().parents[1] / "docs" / "routing.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted > 0 and result.failed == 0


CLASSES_CF = """\
myhostname = mx.example.com
mydomain = example.com
mydestination = $myhostname, localhost
inet_interfaces = 127.0.0.1
alias_maps =
virtual_alias_domains = va.example
virtual_mailbox_domains = vm.example
virtual_transport = lmtp:unix:private/dovecot-lmtp
relay_domains = relay.example
relay_transport = relay:[gw.example]
relayhost = [smarthost.example]:587
transport_maps = inline:{ {bounce.example=error:5.7.1 no mail here}, drop.example=discard: }
"""


@pytest.mark.parametrize("address, expected", [
    pytest.param("u@mx.example.com", ("local", "local", "mx.example.com"), id="local"),
    pytest.param("u@[127.0.0.1]", ("local", "local", "mx.example.com"), id="local-literal"),
    pytest.param("u@va.example", ("virtual_alias", "error",
                                  "5.1.1 User unknown in virtual alias table"), id="virtual-alias"),
    pytest.param("u@vm.example", ("virtual_mailbox", "lmtp", "unix:private/dovecot-lmtp"),
                 id="virtual-mailbox"),
    pytest.param("u@relay.example", ("relay", "relay", "[gw.example]"), id="relay"),
    pytest.param("u@other.example", ("default", "smtp", "[smarthost.example]:587"), id="relayhost"),
    pytest.param("u@bounce.example", ("default", "error", "5.7.1 no mail here"), id="error-transport"),
    pytest.param("u@drop.example", ("default", "discard", "drop.example"), id="discard-transport"),
    pytest.param("u@-bad.example", ("default", "error", "5.1.3 bad address syntax"), id="bad-domain"),
])
def test_cli_classes_and_transports(config_dir, run_cli, address, expected):
    """explain --json reports each class's transport and nexthop from main.cf."""
    (config_dir / "main.cf").write_text((config_dir / "main.cf").read_text() + CLASSES_CF)
    result = run_cli("-c", config_dir, "explain", "--json", address)
    row = json.loads(result.out)
    assert (result.status, row["class"], row["transport"], row["nexthop"]) == (0,) + expected


def test_docstring_examples_run():
    """The examples in mailflow.address.explain's docstrings run as shown."""
    import doctest

    import mailflow.address.explain
    result = doctest.testmod(mailflow.address.explain)
    assert result.attempted > 0 and result.failed == 0
