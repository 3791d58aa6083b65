"""Content rules: the verdicts they return and the two rule Protocols.

This module owns the closed set of header/body check actions of Postfix's
header_checks(5), the :class:`Verdict` value, and the :class:`HeaderRule` and
:class:`BodyRule` Protocols that a user's function or class implements to
inspect mail in a :class:`~mailflow.cleanup.pipeline.CleanupPipeline`. The
Postfix-table rules (``header_checks = regexp:...``) are one implementation,
in :mod:`mailflow.cleanup.checks`. It does no I/O.

>>> Verdict.parse("REJECT no spam, please")
Verdict(action='REJECT', text='no spam, please')
>>> rule = header_rule(lambda name, value: "HOLD" if name.lower() == "x-hold" else None)
>>> from mailflow.cleanup.headers import Header
>>> rule.check_header(Header.make("X-Hold", "yes"), "header")
Verdict(action='HOLD', text='')
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import attrs

from mailflow.cleanup.headers import Header

__all__ = ["Verdict", "HeaderRule", "BodyRule", "header_rule", "body_rule",
           "CHECK_ACTIONS", "HEADER_KINDS", "to_verdict"]

# header_checks(5) actions. DUNNO and OK end the search for this line
# without doing anything; DEFER is a temporary REJECT.
CHECK_ACTIONS = frozenset({
    "REJECT", "DEFER", "DISCARD", "HOLD", "REDIRECT", "BCC", "FILTER", "PREPEND",
    "REPLACE", "IGNORE", "WARN", "INFO", "DUNNO", "OK",
})
# Actions whose text is required (header_checks(5): "PREPEND text...").
_NEEDS_TEXT = frozenset({"REDIRECT", "BCC", "FILTER", "PREPEND", "REPLACE"})

# Which check list a header belongs to, as in Postfix's cleanup:
# "header" primary message headers (header_checks), "mime" MIME headers
# anywhere and all headers of multipart parts (mime_header_checks),
# "nested" non-MIME headers of an attached message/rfc822 (nested_header_checks).
HEADER_KINDS = ("header", "mime", "nested")


@attrs.frozen
class Verdict:
    """What a rule wants done with one header or body line.

    ``action`` is one of header_checks(5)'s words in upper case; ``text`` is
    the optional text after it (the reject text, the redirect address, the
    header to prepend, ...).

    >>> Verdict("FILTER", "smtp:[127.0.0.1]:10025").text
    'smtp:[127.0.0.1]:10025'
    >>> Verdict("EXPLODE")
    Traceback (most recent call last):
    ...
    ValueError: unknown header/body check action 'EXPLODE'
    """

    action: str = attrs.field(converter=str.upper)
    text: str = ""

    @action.validator
    def _check(self, _attr: attrs.Attribute, value: str) -> None:
        if value not in CHECK_ACTIONS:
            raise ValueError(f"unknown header/body check action {value!r}")

    def __attrs_post_init__(self) -> None:
        if self.action in _NEEDS_TEXT and not self.text.strip():
            raise ValueError(f"action {self.action} needs text (header_checks(5))")

    @classmethod
    def parse(cls, text: str) -> "Verdict":
        """From a table's right-hand side: ``ACTION [text]``.

        >>> Verdict.parse("  warn  odd subject ")
        Verdict(action='WARN', text='odd subject')
        """
        word, _, rest = text.strip().partition(" ")
        if "\t" in word:
            word, _, more = word.partition("\t")
            rest = more + " " + rest
        return cls(word, rest.strip())


def to_verdict(value: "Verdict | str | None") -> Verdict | None:
    """A rule's answer as a Verdict: a string is parsed as table text.

    >>> to_verdict("discard"), to_verdict(None)
    (Verdict(action='DISCARD', text=''), None)
    """
    if value is None or isinstance(value, Verdict):
        return value
    return Verdict.parse(value)


@runtime_checkable
class HeaderRule(Protocol):
    """Inspects one logical header.

    ``kind`` is ``"header"``, ``"mime"`` or ``"nested"`` (see HEADER_KINDS).
    Return None to have no opinion (the next rule is asked), or a Verdict
    or its text such as ``"HOLD"`` (DUNNO/OK: leave the header alone and ask
    no further rule).
    """

    def check_header(self, header: Header, kind: str) -> Verdict | None: ...


@runtime_checkable
class BodyRule(Protocol):
    """Inspects one body line (text without its line end), as body_checks
    does; returns None, a Verdict, or its text."""

    def check_body(self, line: str) -> Verdict | None: ...


@attrs.frozen
class _FunctionHeaderRule:
    func: Callable[[str, str], "Verdict | str | None"]
    kinds: frozenset

    def check_header(self, header: Header, kind: str) -> Verdict | None:
        if kind not in self.kinds:
            return None
        return to_verdict(self.func(header.name, header.value))


@attrs.frozen
class _FunctionBodyRule:
    func: Callable[[str], "Verdict | str | None"]

    def check_body(self, line: str) -> Verdict | None:
        return to_verdict(self.func(line))


def header_rule(func: Callable[[str, str], "Verdict | str | None"],
                kinds: "tuple[str, ...] | frozenset" = HEADER_KINDS) -> HeaderRule:
    """A HeaderRule from ``func(name, value) -> Verdict | "ACTION text" | None``.

    ``kinds`` limits which headers the function sees (default: all).

    >>> r = header_rule(lambda n, v: "WARN odd" if "odd" in v else None, kinds=("header",))
    >>> r.check_header(Header.make("Subject", "odd"), "nested") is None
    True
    """
    return _FunctionHeaderRule(func, frozenset(kinds))


def body_rule(func: Callable[[str], "Verdict | str | None"]) -> BodyRule:
    """A BodyRule from ``func(line) -> Verdict | "ACTION text" | None``.

    >>> body_rule(lambda line: "REJECT" if "viagra" in line else None).check_body("buy viagra")
    Verdict(action='REJECT', text='')
    """
    return _FunctionBodyRule(func)
