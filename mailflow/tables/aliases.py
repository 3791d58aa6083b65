"""aliases(5) files: ``name: value, value`` as postalias(1) reads them.

Owns the RFC 822 tokenizer postalias uses (Postfix tok822_scan), turning a
logical line into a key (internal, unquoted form) and a value (external,
quoted form, re-spaced the way Postfix writes it), and splitting a value
into its targets. It never writes a database (the postalias command does)
and never expands an alias (the local delivery agent does).

>>> list(parse_aliases('Root: alice,bob,\\n   carol\\n"a b": |"/bin/prog x"\\n', "aliases"))
[(1, 'root', 'alice, bob, carol'), (3, 'a b', '|"/bin/prog x"')]
"""

from __future__ import annotations

from typing import Iterator

import attrs

from mailflow.tables.source import Warn, parse_source

__all__ = ["Token", "tokenize", "parse_alias_line", "parse_aliases", "alias_targets"]

ATOM, QSTRING, COMMENT, DOMLIT = "atom", "qstring", "comment", "domlit"
# Postfix tok822_parse.c: single-character operators ("|%!" plus RFC 822 specials).
_OPCHARS = '|"(),.:;<>@[]%!'
_NON_OPERATORS = (ATOM, QSTRING, COMMENT, DOMLIT)


@attrs.frozen
class Token:
    """One RFC 822 token: ``kind`` is atom/qstring/comment/domlit or the operator."""

    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    """Split text into RFC 822 tokens (Postfix tok822_scan).

    >>> [(t.kind, t.text) for t in tokenize('a.b "q \\\\" x" (c) [1.2]')]
    [('atom', 'a'), ('.', '.'), ('atom', 'b'), ('qstring', 'q " x'), ('comment', '(c)'), ('domlit', '1.2')]
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            depth, j = 0, i
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            tokens.append(Token(COMMENT, text[i:j + 1]))
            i = j + 1
        elif ch in '"[':
            close = '"' if ch == '"' else "]"
            j, buf = i + 1, []
            while j < n and text[j] != close:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            tokens.append(Token(QSTRING if ch == '"' else DOMLIT, "".join(buf)))
            i = j + 1
        elif ch in _OPCHARS:
            tokens.append(Token(ch, ch))
            i += 1
        else:
            j, buf = i, []
            while j < n and not text[j].isspace() and text[j] not in _OPCHARS:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            tokens.append(Token(ATOM, "".join(buf)))
            i = j
    return tokens


def _space_after(tok: Token, nxt: Token | None) -> bool:
    # tok822_append_space(): after a comma, before '<', and between two words.
    if nxt is None:
        return False
    if tok.kind == "," or nxt.kind == "<":
        return True
    return tok.kind in _NON_OPERATORS and nxt.kind in _NON_OPERATORS


def _quote(text: str, specials: str) -> str:
    return "".join("\\" + c if c in specials else c for c in text)


def internalize(tokens: list[Token]) -> str:
    """Tokens back to text in internal (unquoted) form."""
    out = []
    for i, tok in enumerate(tokens):
        out.append(f"[{tok.text}]" if tok.kind == DOMLIT else tok.text)
        if _space_after(tok, tokens[i + 1] if i + 1 < len(tokens) else None):
            out.append(" ")
    return "".join(out).rstrip()


def externalize(tokens: list[Token]) -> str:
    """Tokens back to text in external (quoted) form (tok822_externalize)."""
    out = []
    for i, tok in enumerate(tokens):
        if tok.kind == QSTRING:
            out.append('"' + _quote(tok.text, '"\\\r\n') + '"')
        elif tok.kind == DOMLIT:
            out.append("[" + _quote(tok.text, "\\\r\n") + "]")
        else:
            out.append(tok.text)
        if _space_after(tok, tokens[i + 1] if i + 1 < len(tokens) else None):
            out.append(" ")
    return "".join(out).rstrip()


def parse_alias_line(line: str) -> tuple[str, str]:
    """Split one logical aliases(5) line into (key, value).

    Raises ValueError with Postfix's wording for a line it would skip.

    >>> parse_alias_line("fwd: :include:/etc/list, /var/mail/f")
    ('fwd', ':include:/etc/list, /var/mail/f')
    >>> parse_alias_line("user@example.com: x")
    Traceback (most recent call last):
    ...
    ValueError: name must be local
    """
    tokens = tokenize(line)
    colon = next((i for i, t in enumerate(tokens) if t.kind == ":"), None)
    if (colon is None or colon == 0 or colon == len(tokens) - 1
            or any(t.kind == "," for t in tokens[:colon])):
        raise ValueError("need name:value pair")
    if any(t.kind in "@%" for t in tokens[:colon]):
        raise ValueError("name must be local")
    return internalize(tokens[:colon]), externalize(tokens[colon + 1:])


def parse_aliases(text: str, filename: str, *, fold: bool = True,
                  warn: Warn | None = None) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line number, key, value)`` for each good alias entry.

    >>> list(parse_aliases("bad line\\nok: x\\n", "aliases", warn=print))
    aliases, line 1: need name:value pair
    [(2, 'ok', 'x')]
    """
    return parse_source(text, filename, fold=fold, warn=warn, split=parse_alias_line)


def alias_targets(value: str) -> list[str]:
    """Split an alias value into its targets at commas and whitespace outside quotes.

    local(8) parses the value as a list of RFC 822 addresses, so an unquoted
    space separates targets too: ``|/usr/bin/true --new`` is the command
    ``|/usr/bin/true`` and the address ``--new`` (measured with Postfix
    3.7.11's local(8)); a command with arguments must be quoted.

    >>> alias_targets('alice, |"/bin/prog a,b", :include:/etc/list')
    ['alice', '|"/bin/prog a,b"', ':include:/etc/list']
    >>> alias_targets('|/usr/bin/true --new  bob')
    ['|/usr/bin/true', '--new', 'bob']
    """
    targets, cur, quoted, i = [], [], False, 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            cur.append(value[i:i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if (ch == "," or ch in " \t\r\n") and not quoted:
            targets.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    targets.append("".join(cur).strip())
    return [t for t in targets if t]
