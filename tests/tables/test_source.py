"""The postmap source format: logical lines, key/value split, warnings."""

import pytest

from mailflow.tables.source import logical_lines, parse_source, split_entry


@pytest.mark.parametrize("text, want", [
    ("a 1\n  b\n", [(1, "a 1  b")]),
    ("a 1\n\tb\n", [(1, "a 1\tb")]),
    ("a 1\n # note\n  more\n", [(1, "a 1  more")]),
    ("\n\n# c\nx y\n", [(4, "x y")]),
    ("a 1\nb 2\n", [(1, "a 1"), (2, "b 2")]),
], ids=["spaces-kept", "tab-kept", "indented-comment-skipped", "blank-and-comment", "two-lines"])
def test_logical_lines(text, want):
    """Continuation lines join the previous line verbatim; comments and blanks vanish."""
    assert list(logical_lines(text)) == want


@pytest.mark.parametrize("line, want", [
    ("key value", ("key", "value")),
    ("key   spaced   value  ", ("key", "spaced   value")),
    ('"a b" c', ('"a b"', "c")),
    ('"d\\"e" esc', ('"d\\"e"', "esc")),
], ids=["plain", "inner-spaces", "quoted-key", "escaped-quote"])
def test_split_entry(line, want):
    """A key ends at whitespace or at its closing quote; quotes stay in the key."""
    assert split_entry(line) == want


@pytest.mark.parametrize("line, reason", [
    ("novalue", "expected format: key whitespace value"),
    ('"open x', "unbalanced '\"' in '\"open x' -- ignoring this line"),
], ids=["no-value", "unbalanced-quote"])
def test_split_entry_rejects(line, reason):
    """A line without a value or with an open quote is refused with Postfix's reason."""
    with pytest.raises(ValueError, match="^" + reason.replace("(", r"\(") .replace('"', '"')[:20]):
        split_entry(line)


def test_bad_line_warns_with_file_and_line_and_rest_still_parses():
    """A bad line is reported as FILE, line N and skipped; later lines still count."""
    warnings = []
    got = list(parse_source("a 1\nbad\nc 3\n", "f", warn=warnings.append))
    assert got == [(1, "a", "1"), (3, "c", "3")]
    assert warnings == ["f, line 2: expected format: key whitespace value"]


def test_keys_fold_unless_told_not_to():
    """Keys are lowercased by default and kept as written with fold=False."""
    assert [k for _, k, _ in parse_source("AbC 1\n", "f")] == ["abc"]
    assert [k for _, k, _ in parse_source("AbC 1\n", "f", fold=False)] == ["AbC"]


# Postfix 3.7.11, `postmap -s texthash:FILE` on a file holding
# "  orphan 1\n   more\nb 2\n  c\n": prints only "b<TAB>2  c" and warns
# 'FILE: logical line must not start with whitespace: "  orphan 1   more"'
# (mailflow quotes only the block's first line).
def test_leading_continuation_is_skipped_with_warning():
    """A whitespace-led block at the start continues nothing: warned about and skipped."""
    warnings: list[str] = []
    entries = list(parse_source("  orphan 1\n   more\nb 2\n  c\n", "src", warn=warnings.append))
    assert entries == [(3, "b", "2  c")]
    assert warnings == ['src: logical line must not start with whitespace: "  orphan 1"']
