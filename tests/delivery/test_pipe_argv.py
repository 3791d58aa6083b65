"""pipe(8) argument parsing and macro expansion, without running anything."""

import pytest

from mailflow.delivery.pipe_argv import (
    expand, expand_argv, message_macros, parse_pipe_args, recipient_macros, split_recipient,
)
from mailflow.errors import ConfigError
from mailflow.model import ClientInfo


def test_argv_takes_every_word_after_it():
    """Words after argv= belong to the command, even ones that look like attributes."""
    spec = parse_pipe_args(["flags=F", "argv=/bin/prog", "size=3", "${sender}"])
    assert spec.argv == ("/bin/prog", "size=3", "${sender}")
    assert spec.size_limit == 0


@pytest.mark.parametrize("args,message", [
    (["flags=R"], "pipe: missing argv= command-line attribute"),
    (["colour=red", "argv=/bin/x"], "pipe: unknown attribute name: colour"),
    (["size=big", "argv=/bin/x"], "pipe: bad size= value: big"),
], ids=["no-argv", "unknown-attribute", "bad-size"])
def test_bad_arguments_are_config_errors(args, message):
    """Mistakes in the master.cf entry are reported in Postfix's words."""
    with pytest.raises(ConfigError, match=message):
        parse_pipe_args(args)


def test_user_with_group_and_size_and_eol():
    """user=name:group, size= and eol= with C escapes are parsed."""
    spec = parse_pipe_args(["user=vmail:mail", "size=1000", r"eol=\r\n", "argv=/bin/x"])
    assert (spec.user, spec.group, spec.size_limit, spec.eol) == ("vmail", "mail", 1000, "\r\n")


def test_unknown_flags_are_kept_for_a_warning():
    """Letters pipe(8) does not know are set aside (warned about, then ignored)."""
    assert parse_pipe_args(["flags=RZz", "argv=/bin/x"]).unknown_flags == "Zz"


def test_recipient_macros_expand_into_one_argument_each():
    """${recipient} in one argv element gives one element per recipient."""
    rcpts = [recipient_macros(a, a, "") for a in ("a@x", "b@y")]
    argv = expand_argv(["/bin/x", "-r", "${recipient}", "--", "$domain"], {}, rcpts)
    assert argv == ["/bin/x", "-r", "a@x", "b@y", "--", "x", "y"]


def test_message_macros():
    """Per-message macros come from the envelope, the request and the client."""
    client = ClientInfo(name="mx.example.net", address="192.0.2.1", helo="helo.example",
                        protocol="ESMTP", sasl_username="joe")
    macros = message_macros(sender="s@x", nexthop="example.com", queue_id="Q1", size=42,
                            client=client)
    argv = expand_argv(["${sender}", "${nexthop}", "${queue_id}", "${size}", "${client_address}",
                        "${client_helo}", "${client_hostname}", "${client_protocol}",
                        "${sasl_username}"], macros, [])
    assert argv == ["s@x", "example.com", "Q1", "42", "192.0.2.1", "helo.example",
                    "mx.example.net", "ESMTP", "joe"]


def test_null_sender_becomes_null_sender_setting():
    """The null sender expands to null_sender= (default MAILER-DAEMON)."""
    assert message_macros(sender="", nexthop="", queue_id="", size=0)["sender"] == "MAILER-DAEMON"
    assert message_macros(sender="", nexthop="", queue_id="", size=0, null_sender="")["sender"] == ""


@pytest.mark.parametrize("flags,want", [
    ("", ("Joe+Tag", "Joe", "Tag", "Example.COM", "Joe+Tag@Example.COM")),
    ("u", ("joe+tag", "joe", "Tag", "Example.COM", "joe+tag@Example.COM")),
    ("h", ("Joe+Tag", "Joe", "Tag", "example.com", "Joe+Tag@example.com")),
    ("hu", ("joe+tag", "joe", "Tag", "example.com", "joe+tag@example.com")),
], ids=["none", "u", "h", "hu"])
def test_case_folding_flags(flags, want):
    """Flag u lowercases the user part, h the domain (pipe(8))."""
    m = recipient_macros("Joe+Tag@Example.COM", "x", "+", flags)
    assert (m["mailbox"], m["user"], m["extension"], m["domain"], m["recipient"]) == want


def test_q_flag_quotes_addresses():
    """Flag q quotes a local part that needs it (RFC 5322 quoted string)."""
    assert recipient_macros("a b@x", "a b@x", "", "q")["recipient"] == '"a b"@x'


def test_conditional_forms():
    """${name?text} and ${name:text} expand only when set / unset."""
    values = {"extension": "", "user": "joe"}
    assert expand("${user?u=$user}${extension?+$extension}${extension:none}", values) == "u=joenone"


@pytest.mark.parametrize("text, want", [
    ("cost$$5", "cost$5"),
    ("${user?{a}:{b}}", "a"),
    ("${extension?{+${extension}}}", ""),
], ids=["double-dollar", "braced-alternatives", "nested-braces"])
def test_macro_language_is_main_cf_s(text, want):
    """Argument macros follow mac_expand, the same language as main.cf values."""
    assert expand(text, {"user": "joe", "extension": ""}) == want


def test_unknown_macro_is_an_error():
    """A macro pipe(8) does not define is an error, not an empty string."""
    with pytest.raises(ConfigError, match='unknown macro name: "bogus"'):
        expand("${bogus}", {})


@pytest.mark.parametrize("address,delimiter,want", [
    ("joe@x", "+", ("joe", "joe", "", "x")),
    ("joe+a+b@x", "+", ("joe+a+b", "joe", "a+b", "x")),
    ("+joe@x", "+", ("+joe", "+joe", "", "x")),
    ("joe-a@x", "+-", ("joe-a", "joe", "a", "x")),
    ("joe", "", ("joe", "joe", "", "")),
], ids=["plain", "first-delimiter", "leading-delimiter", "several-delimiters", "no-domain"])
def test_split_recipient(address, delimiter, want):
    """The extension starts at the first delimiter that is not the first character."""
    assert split_recipient(address, delimiter) == want
