"""master.cf: columns, defaults, ``-o`` overrides, braces, errors and layout."""

from __future__ import annotations

import pytest

from mailflow.config.master_cf import format_service, parse_master_cf
from mailflow.errors import ConfigError


def one(text: str):
    [service] = list(parse_master_cf(text))
    return service


def test_columns_are_typed():
    """The seven columns become typed fields and the rest command + args."""
    s = one("qmgr unix n - n 300 1 qmgr\n")
    assert (s.service, s.type, s.private, s.unpriv, s.chroot, s.wakeup, s.wakeup_if_used,
            s.maxproc, s.command, s.args) == ("qmgr", "unix", False, True, False, 300, False,
                                              1, "qmgr", ())


def test_dash_means_the_master5_default():
    """``-`` gives private y, unpriv y, chroot n (Postfix 3.x), wakeup 0, maxproc default."""
    s = one("smtp unix - - - - - smtp\n")
    assert (s.private, s.unpriv, s.chroot, s.wakeup, s.maxproc, s.maxproc_is_default) == (
        True, True, False, 0, 100, True)


def test_maxproc_dash_uses_default_process_limit():
    """maxproc ``-`` is $default_process_limit as given to the parser."""
    m = parse_master_cf("smtp unix - - n - - smtp\n", default_process_limit=7)
    assert m["smtp/unix"].maxproc == 7


def test_inet_services_are_never_private():
    """An inet service with ``-`` in the private column is public (master(5))."""
    assert one("smtp inet - - n - - smtpd\n").private is False


def test_wakeup_question_mark_means_only_if_used():
    """A trailing ``?`` on wakeup marks "wake only when used"."""
    s = one("tlsmgr unix - - n 1000? 1 tlsmgr\n")
    assert (s.wakeup, s.wakeup_if_used) == (1000, True)


# (id, arguments after the command, overrides, remaining args)
OPTION_CASES = [
    ("-o name=value", "-o a=b", {"a": "b"}, ()),
    ("-oname=value", "-oa=b", {"a": "b"}, ()),
    ("-o { name = value with spaces }", "-o { a = b c }", {"a": "b c"}, ()),
    ("empty value", "-o content_filter=", {"content_filter": ""}, ()),
    ("several, last wins", "-o a=1 -o b=2 -o a=3", {"a": "3", "b": "2"}, ()),
    ("other flags kept", "-v -o a=b", {"a": "b"}, ("-v",)),
    ("options end at first argument", "-o a=b x -o c=d", {"a": "b"}, ("x", "-o", "c=d")),
    ("braced argument", "{ x y } z", {}, ("x y", "z")),
]


@pytest.mark.parametrize("argv,overrides,args", [c[1:] for c in OPTION_CASES],
                         ids=[c[0] for c in OPTION_CASES])
def test_command_options(argv, overrides, args):
    """Leading ``-o`` options become overrides; the rest stay arguments."""
    s = one(f"smtp inet n - n - - smtpd {argv}\n")
    assert (s.overrides, s.args) == (overrides, args)


def test_continuation_lines_and_comments():
    """Indented lines continue an entry; comment lines inside are skipped."""
    m = parse_master_cf("# header\nrelay unix - - n - - smtp\n# note\n"
                        "    -o syslog_name=relay\n\npickup unix n - n 60 1 pickup\n")
    assert [s.key for s in m] == ["relay/unix", "pickup/unix"]
    assert m["relay/unix"].overrides == {"syslog_name": "relay"}
    assert (m["relay/unix"].lineno, m["pickup/unix"].lineno) == (2, 6)


def test_lookup_by_key_name_and_transport():
    """Services are found by name/type, by name, and as a delivery transport."""
    m = parse_master_cf("smtp inet n - n - - smtpd\nsmtp unix - - n - - smtp\n")
    assert m["smtp/inet"].command == "smtpd"
    assert [s.type for s in m.named("smtp")] == ["inet", "unix"]
    assert m.transport("smtp").command == "smtp"
    assert m.transport("nosuch") is None and "x/unix" not in m


# (id, master.cf line, Postfix's message) -- from `postconf -c DIR -M` with
# that one line in master.cf (Postfix 3.7.11), plus file and line.
ERRORS = [
    ("too few fields", "smtp inet n - y - -", "master.cf, line 1: bad field count"),
    ("bad type", "smtp bogus n - y - - smtpd",
     'master.cf, line 1: invalid type field "bogus" in "smtp bogus n - y - - smtpd"'),
    ("bad private", "smtp inet x - y - - smtpd",
     'master.cf, line 1: invalid private field "x" in "smtp inet x - y - - smtpd"'),
    ("bad wakeup", "smtp inet n - y 5x - smtpd",
     'master.cf, line 1: invalid wakeup field "5x" in "smtp inet n - y 5x - smtpd"'),
    ("bad maxproc", "smtp inet n - y - abc smtpd",
     'master.cf, line 1: invalid process_limit field "abc" in "smtp inet n - y - abc smtpd"'),
]


@pytest.mark.parametrize("line,message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors_name_file_and_line(line, message):
    """A bad entry is a ConfigError worded as Postfix's, with file and line."""
    with pytest.raises(ConfigError) as info:
        parse_master_cf(line + "\n")
    assert str(info.value) == message


def test_unbalanced_brace_is_a_warning():
    """A missing ``}`` is warned about (as Postfix does) and the text kept."""
    warnings: list[str] = []
    m = parse_master_cf("smtp inet n - n - - smtpd -o {a=b\n", "master.cf", warnings)
    assert m["smtp/inet"].overrides == {"a": "b"}
    assert warnings == ['master.cf, line 1: missing \'}\' in "{a=b"']


# (id, master.cf entry, `postconf -M` line) -- captured from Postfix 3.7.11
# `postconf -c DIR -M` with the entry alone in DIR/master.cf.
LAYOUT = [
    ("short name", "pickup unix n - n 60 1 pickup",
     "pickup     unix  n       -       n       60      1       pickup"),
    ("long type pushes columns", "postlog   unix-dgram n  -       n       -       1       postlogd",
     "postlog    unix-dgram n  -       n       -       1       postlogd"),
    ("long service name", "scalemail-backend unix - n n - 2 pipe flags=R user=x argv=/bin/y",
     "scalemail-backend unix - n       n       -       2       pipe flags=R user=x argv=/bin/y"),
    ("address service", "127.0.0.1:10030 inet n - n - - smtpd",
     "127.0.0.1:10030 inet n   -       n       -       -       smtpd"),
    ("override with spaces braced", "smtp/inet inet n - y - - smtpd -o { a = b c }",
     "smtp/inet  inet  n       -       y       -       -       smtpd -o {a=b c}"),
    ("-oname=value split", "smtp inet n - n - - smtpd -oa=b {-v} { x y } -o { c = d }",
     "smtp       inet  n       -       n       -       -       smtpd -o a=b -v x y -o {c = d}"),
    ("braced command kept", "x unix - - n 10? 0 {pipe} argv=a {b c}",
     "x          unix  -       -       n       10?     0       {pipe} argv=a {b c}"),
]


@pytest.mark.parametrize("entry,printed", [c[1:] for c in LAYOUT], ids=[c[0] for c in LAYOUT])
def test_postconf_M_layout(entry, printed):
    """format_service() prints an entry exactly as ``postconf -M`` does."""
    assert format_service(one(entry + "\n")) == printed
