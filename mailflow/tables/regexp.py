"""``regexp:`` and ``pcre:`` tables (Postfix regexp_table(5), pcre_table(5)).

Owns the rule-file parser (``/pattern/flags result``, ``!/pattern/``,
``if``/``endif``), the translation of patterns to Python :mod:`re`, and
``$1``/``${1}``/``$$`` substitution. Patterns are compiled once, when the
table is opened. It never folds the lookup key: case is handled by the
pattern flags (case-insensitive unless ``i`` toggles it off).

>>> t = RegexpTable.from_text("/^(.*)@example\\\\.com$/ local:$1\\n!/@/ no-domain $$\\n", "f")
>>> t.get("Bob@EXAMPLE.com"), t.get("plain"), t.get("a@b")
('local:Bob', 'no-domain $', None)
"""

from __future__ import annotations

import re
import warnings
from typing import Callable, Iterator

import attrs

from mailflow.tables.blocks import RuleNesting, first_match
from mailflow.tables.source import Warn, _default_warn, logical_lines, read_source

__all__ = ["RegexpTable", "Rule", "translate_posix", "expand_result"]

# POSIX bracket classes that Python's re lacks (re_format(7)).
_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
    "lower": "a-z", "space": r" \t\n\r\f\v", "blank": r" \t", "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f", "cntrl": r"\x00-\x1f\x7f", "print": r" -~", "graph": r"!-~",
    "word": r"\w",
}
_POSIX_RE = re.compile(r"\[:([a-z]+):\]")
_REF = re.compile(r"\$(?:\$|(\d+)|\{(\d+)\}|\((\d+)\))")


def translate_posix(pattern: str) -> str:
    """Rewrite POSIX ``[[:class:]]`` items for Python's re.

    >>> translate_posix("^[[:alpha:]]+[[:digit:]]$")
    '^[a-zA-Z]+[0-9]$'
    """
    return _POSIX_RE.sub(lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), pattern)


def _translate_pcre(pattern: str) -> str:
    # PCRE writes named groups (?<name>...) and (?'name'...); Python wants (?P<name>...).
    pattern = re.sub(r"\(\?<(?![=!])", "(?P<", pattern)
    return re.sub(r"\(\?'(\w+)'", r"(?P<\1>", pattern)


def expand_result(template: str, match: "re.Match[str] | None") -> str:
    """Substitute ``$n``, ``${n}``, ``$(n)`` and ``$$`` in a result.

    A group that did not take part in the match gives the empty string.

    >>> expand_result("got $1 and ${2}$$", re.match(r"(a)(b)?", "a"))
    'got a and $'
    """
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        index = int(m.group(1) or m.group(2) or m.group(3))
        return (match.group(index) if match is not None else None) or ""
    return _REF.sub(sub, template)


def _max_ref(template: str) -> int:
    refs = [int(m.group(1) or m.group(2) or m.group(3)) for m in _REF.finditer(template)
            if m.group(0) != "$$"]
    return max(refs, default=0)


@attrs.frozen
class Rule:
    """One compiled rule: a pattern (maybe negated) and its result, or an
    ``if`` block holding nested rules."""

    regex: "re.Pattern[str]"
    negate: bool
    result: str | None = None            # None for an ``if`` block
    body: tuple["Rule", ...] = ()
    lineno: int = 0


class RegexpTable:
    """A ``regexp:`` or ``pcre:`` table; the first matching rule wins.

    >>> t = RegexpTable.from_text("if /\\\\.org$/\\n/^x(.*)@/ org ${1}\\nendif\\n", "f")
    >>> t.get("xfoo@a.org"), t.get("xfoo@a.net")
    ('org foo', None)
    """

    #: Pattern tables see only full keys in address lookups (Postfix DICT_FLAG_PATTERN).
    pattern = True

    def __init__(self, rules: tuple[Rule, ...], name: str = "", kind: str = "regexp") -> None:
        self.rules = rules
        self.name = name
        self.kind = kind

    @classmethod
    def open(cls, path: str, kind: str = "regexp", *, warn: Warn | None = None) -> "RegexpTable":
        return cls.from_text(read_source(path), path, kind, warn=warn)

    @classmethod
    def from_text(cls, text: str, name: str, kind: str = "regexp", *,
                  warn: Warn | None = None) -> "RegexpTable":
        parser = _Parser(name, kind, warn or _default_warn)
        return cls(parser.parse(text), name, kind)

    def get(self, key: str) -> str | None:
        found = first_match(self.rules, _match(key))
        return expand_result(found[0].result, found[1]) if found is not None else None

    def __repr__(self) -> str:
        return f"RegexpTable({self.kind}:{self.name}, {len(self.rules)} rules)"


def _match(key: str) -> Callable[[Rule], tuple[bool, "re.Match[str] | None"]]:
    def match(rule: Rule) -> tuple[bool, "re.Match[str] | None"]:
        m = rule.regex.search(key)
        if rule.negate:
            return m is None, None   # a negated match has no groups to substitute
        return m is not None, m
    return match


class _Parser:
    def __init__(self, name: str, kind: str, warn: Warn) -> None:
        self.name, self.kind, self.warn = name, kind, warn

    def say(self, lineno: int, text: str) -> None:
        self.warn(f"{self.kind} map {self.name}, line {lineno}: {text}")

    def parse(self, text: str) -> tuple[Rule, ...]:
        nesting = RuleNesting(self.say)
        for lineno, line in logical_lines(text, self.name, self.warn):
            self.line(lineno, line.strip(), nesting)
        return nesting.rules()

    def line(self, lineno: int, line: str, nesting: RuleNesting) -> None:
        word = line.split(None, 1)[0].lower()
        if word == "endif":
            nesting.endif(lineno)
            return
        is_if = word == "if" and len(line) > 2 and line[2:3].isspace()
        rest = line[2:].lstrip() if is_if else line
        parsed = self.pattern(lineno, rest)
        if parsed is None:
            return
        regex, negate, tail = parsed
        if is_if:
            if tail:
                self.say(lineno, f"ignoring extra text after IF statement: \"{tail}\"")
            nesting.open(Rule(regex, negate, None, (), lineno))
            return
        if not tail:
            self.say(lineno, "no replacement text: using empty string")
        refs = _max_ref(tail)
        if refs and negate:
            self.say(lineno, "$number found in negative match replacement text: skipping this rule")
            return
        if refs > regex.groups:
            self.say(lineno, f'out of range replacement index "{refs}": skipping this rule')
            return
        nesting.add(Rule(regex, negate, tail, (), lineno))

    def pattern(self, lineno: int, text: str) -> tuple["re.Pattern[str]", bool, str] | None:
        negate = text.startswith("!")
        if negate:
            text = text[1:].lstrip()
        if not text or text[0].isalnum() or text[0].isspace():
            self.say(lineno, "no regexp start delimiter: skipping this rule" if not text else
                     f'invalid delimiter "{text[0]}": skipping this rule')
            return None
        delim, i, chars = text[0], 1, []
        while i < len(text) and text[i] != delim:
            if text[i] == "\\" and i + 1 < len(text):
                chars.append(text[i:i + 2] if text[i + 1] != delim else delim)
                i += 2
                continue
            chars.append(text[i])
            i += 1
        if i >= len(text):
            self.say(lineno, f'no closing regexp delimiter "{delim}": skipping this rule')
            return None
        i += 1
        flag_start = i
        while i < len(text) and not text[i].isspace():
            i += 1
        flags, tail = text[flag_start:i], text[i:].strip()
        re_flags = self.flags(lineno, flags)
        if re_flags is None:
            return None
        source = "".join(chars)
        source = translate_posix(source)  # both PCRE and POSIX know [[:alpha:]]
        if self.kind == "pcre":
            source = _translate_pcre(source)
        try:
            with warnings.catch_warnings():
                # "Possible nested set" and friends: Python's hints about its
                # own future syntax, meaningless for a POSIX/PCRE pattern.
                warnings.simplefilter("ignore", FutureWarning)
                regex = re.compile(source, re_flags)
        except re.error as exc:
            self.say(lineno, f"error in regex: {exc}: skipping this rule")
            return None
        return regex, negate, tail

    def flags(self, lineno: int, flags: str) -> int | None:
        # Postfix: each flag letter toggles; i (ignore case) starts on.
        ignore_case, multiline, verbose, dotall = True, False, False, False
        for ch in flags:
            if ch == "i":
                ignore_case = not ignore_case
            elif ch == "m":
                multiline = not multiline
            elif ch == "x" and self.kind == "pcre":
                verbose = not verbose
            elif ch == "x":
                # regexp: x toggles REG_EXTENDED off (basic REs): not supported.
                self.say(lineno, "flag x (basic regular expressions) is not supported; "
                                 "using extended syntax")
            elif ch == "s" and self.kind == "pcre":
                dotall = not dotall
            elif ch in "AEUX" and self.kind == "pcre":
                self.say(lineno, f"pcre flag {ch} is not supported by Python's re: ignored")
            else:
                self.say(lineno, f'unknown regexp option "{ch}": skipping this rule')
                return None
        return ((re.IGNORECASE if ignore_case else 0) | (re.MULTILINE if multiline else 0)
                | (re.VERBOSE if verbose else 0) | (re.DOTALL if dotall else 0))


def iter_rules(rules: tuple[Rule, ...]) -> Iterator[Rule]:
    """Every rule, depth first (for tools that list a table)."""
    for rule in rules:
        yield rule
        yield from iter_rules(rule.body)
