"""Properties of editing and splitting that must hold for any input (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailflow.config.edit import comment_main, edit_main, remove_main
from mailflow.config.main_cf import parse_main_cf
from mailflow.config.master_cf import format_service, parse_master_cf
from mailflow.config.values import split_list

names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
values = st.from_regex(r"[A-Za-z0-9.,:@\[\]/$ -]{0,30}", fullmatch=True).map(str.strip)
words = st.from_regex(r"[A-Za-z0-9.:@/=+-]{1,12}", fullmatch=True)
main_cf = st.lists(st.tuples(names, values, st.booleans()), max_size=8).map(
    lambda items: "".join(f"# note\n{n} = {v}\n" if c else f"{n} = {v}\n" for n, v, c in items))


@given(main_cf, names, values)
def test_edit_then_read_gives_the_new_value(text, name, value):
    """After ``-e name=value`` main.cf reads back that value for name."""
    assert parse_main_cf(edit_main(text, {name: value}))[name].value == value


@given(main_cf, names, values)
def test_edit_keeps_every_other_definition_and_comment(text, name, value):
    """``-e`` changes nothing but the edited name's definitions."""
    edited = edit_main(text, {name: value})
    before = {n: e.value for n, e in parse_main_cf(text).items() if n != name}
    after = {n: e.value for n, e in parse_main_cf(edited).items() if n != name}
    assert after == before
    assert edited.count("# note") == text.count("# note")


@given(main_cf, names)
def test_remove_and_comment_out_leave_the_name_undefined(text, name):
    """After ``-X`` or ``-#`` the name is no longer defined; the rest stays."""
    others = {n: e.value for n, e in parse_main_cf(text).items() if n != name}
    for edited in (remove_main(text, [name]), comment_main(text, [name])):
        assert {n: e.value for n, e in parse_main_cf(edited).items()} == others


@given(st.lists(words, max_size=10), st.sampled_from([",", " ", ", ", "\t", " ,, "]))
def test_split_list_recovers_the_items(items, separator):
    """Items joined by any mix of commas and whitespace split back unchanged."""
    assert split_list(separator.join(items)) == [i for i in items if i]


@given(st.sampled_from(["smtp", "relay", "127.0.0.1:25", "a-b"]),
       st.sampled_from(["inet", "unix", "unix-dgram", "fifo", "pass"]),
       st.lists(st.sampled_from(["y", "n", "-"]), min_size=3, max_size=3),
       st.sampled_from(["-", "0", "60", "1000?"]), st.sampled_from(["-", "0", "1", "100"]),
       st.lists(words, min_size=1, max_size=5),
       st.dictionaries(names, st.from_regex(r"[a-z0-9/$]{0,8}", fullmatch=True), max_size=3))
def test_postconf_M_line_parses_back_to_the_same_service(service, type_, flags, wakeup,
                                                         maxproc, command, overrides):
    """An entry printed the way ``postconf -M`` prints it reads back identically."""
    options = "".join(f" -o {k}={v}" for k, v in overrides.items())
    line = f"{service} {type_} {' '.join(flags)} {wakeup} {maxproc} {command[0]}{options}" \
           f" {' '.join(command[1:])}"
    parsed = parse_master_cf(line + "\n")[f"{service}/{type_}"]
    again = parse_master_cf(format_service(parsed) + "\n")[f"{service}/{type_}"]
    assert again == parsed
