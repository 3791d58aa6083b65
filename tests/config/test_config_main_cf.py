"""main.cf syntax: logical lines, comments, continuations, errors and warnings."""

from __future__ import annotations

import pytest

from mailflow.config import Config
from mailflow.config.main_cf import parse_main_cf
from mailflow.errors import ConfigError

# (id, main.cf text, expected name -> value)
PARSE_CASES = [
    ("simple", "myorigin = example.com\n", {"myorigin": "example.com"}),
    ("no spaces around =", "myorigin=example.com\n", {"myorigin": "example.com"}),
    ("comment lines", "# a comment\nrelayhost = x\n", {"relayhost": "x"}),
    ("indented comment", "   # indented\nrelayhost = x\n", {"relayhost": "x"}),
    ("blank lines", "\n\n  \nrelayhost = x\n\n", {"relayhost": "x"}),
    ("continuation keeps its leading whitespace", "mydestination = a,\n    b\n",
     {"mydestination": "a,    b"}),
    ("comment inside a continued line is skipped", "mydestination = a,\n# note\n  b\n",
     {"mydestination": "a,  b"}),
    ("trailing whitespace stripped", "relayhost = x   \t\n", {"relayhost": "x"}),
    ("no trailing comments", "mydomain = x # not a comment\n", {"mydomain": "x # not a comment"}),
    ("empty value", "relayhost =\n", {"relayhost": ""}),
    ("last definition wins", "relayhost = a\nrelayhost = b\n", {"relayhost": "b"}),
    ("equals sign in value", "smtpd_banner = a=b\n", {"smtpd_banner": "a=b"}),
    ("no final newline", "relayhost = x", {"relayhost": "x"}),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in PARSE_CASES],
                         ids=[c[0] for c in PARSE_CASES])
def test_parse_cases(text, expected):
    """Each main.cf text yields the name/value pairs Postfix reads from it."""
    assert {n: e.value for n, e in parse_main_cf(text).items()} == expected


def test_entries_remember_their_line():
    """An entry records the line its logical line starts on."""
    entries = parse_main_cf("# c\n\nmydestination = a,\n  b\nrelayhost = x\n")
    assert (entries["mydestination"].lineno, entries["relayhost"].lineno) == (3, 5)


def test_winning_definition_takes_its_own_place_in_file_order():
    """The order of entries is the order of the definitions that won."""
    entries = parse_main_cf("a = 1\nb = 2\na = 3\n")
    assert list(entries) == ["b", "a"]


def test_redefinition_is_warned_about():
    """A second definition gets Postfix's "overriding earlier entry" warning."""
    warnings: list[str] = []
    parse_main_cf("relayhost = a\nrelayhost = b\n", "main.cf", warnings)
    assert warnings == ["main.cf, line 2: overriding earlier entry: relayhost=a"]


def test_leading_whitespace_line_at_start_is_ignored_with_warning():
    """A first line that starts with whitespace continues nothing: warned and skipped."""
    warnings: list[str] = []
    entries = parse_main_cf("   leading = x\n     more\nrelayhost = y\n", "main.cf", warnings)
    assert list(entries) == ["relayhost"]
    assert warnings == ['main.cf, line 1: logical line must not start with whitespace:'
                        ' "   leading = x"']


# (id, line, Postfix's message) -- messages from `postconf -c DIR -n` on a
# main.cf holding just that line (Postfix 3.7.11).
SYNTAX_ERRORS = [
    ("no equals sign", "myhostname", "main.cf, line 1: missing '=' after attribute name: \"myhostname\""),
    ("space in name", "my hostname = x",
     "main.cf, line 1: missing '=' after attribute name: \"my hostname = x\""),
    ("no name", "= x", "main.cf, line 1: missing attribute name: \"= x\""),
]


@pytest.mark.parametrize("line,message", [c[1:] for c in SYNTAX_ERRORS],
                         ids=[c[0] for c in SYNTAX_ERRORS])
def test_syntax_errors_name_file_and_line(line, message):
    """A line that is not ``name = value`` is an error worded as Postfix's."""
    with pytest.raises(ConfigError) as info:
        parse_main_cf(line + "\n", "main.cf")
    assert str(info.value) == message


def test_from_directory_reads_main_and_master(tmp_path):
    """A directory's main.cf and master.cf are both read."""
    (tmp_path / "main.cf").write_text("relayhost = [mail.example]:587\n")
    (tmp_path / "master.cf").write_text("smtp inet n - n - - smtpd\n")
    cfg = Config.from_directory(tmp_path)
    assert cfg.relayhost == "[mail.example]:587"
    assert [s.key for s in cfg.master] == ["smtp/inet"]
    assert cfg.config_directory == str(tmp_path)


def test_from_directory_error_names_the_file(tmp_path):
    """A syntax error in DIR/main.cf names that file and the line."""
    (tmp_path / "main.cf").write_text("# ok\nbroken line\n")
    with pytest.raises(ConfigError, match=r"main\.cf, line 2: missing '='"):
        Config.from_directory(tmp_path)
