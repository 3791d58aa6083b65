"""Content rules: the verdicts they return and the two rule Protocols.

This module owns the closed set of header/body check actions of Postfix's
header_checks(5), the :class:`Verdict` value, and the :class:`HeaderRule` and
:class:`BodyRule` Protocols that a user's function or class implements to
inspect mail in a :class:`~mailflow.cleanup.pipeline.CleanupPipeline`. The
Postfix-table rules (``header_checks = regexp:...``) are one implementation,
in :mod:`mailflow.cleanup.checks`. It does no I/O.

It also owns *named* rules, which main.cf lists in the mailflow-only
parameter ``cleanup_rules = name, name`` (header rules are asked after
``header_checks``, body rules after ``body_checks``, in the order listed).
A name is registered from Python with :func:`register_cleanup_rule` or by
an installed package in the ``mailflow.cleanup_rules`` entry-point group
(:mod:`mailflow.plugins`).

>>> Verdict.parse("REJECT no spam, please")
Verdict(action='REJECT', text='no spam, please')
>>> rule = header_rule(lambda name, value: "HOLD" if name.lower() == "x-hold" else None)
>>> from mailflow.cleanup.headers import Header
>>> rule.check_header(Header.make("X-Hold", "yes"), "header")
Verdict(action='HOLD', text='')
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Protocol, Union, runtime_checkable

import attrs

from mailflow.cleanup.headers import Header
from mailflow.errors import ConfigError

__all__ = ["Verdict", "HeaderRule", "BodyRule", "header_rule", "body_rule",
           "CHECK_ACTIONS", "HEADER_KINDS", "to_verdict", "register_cleanup_rule",
           "unregister_cleanup_rule", "named_rule", "configured_rules"]

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


#: What a name stands for: a rule, or ``factory(cfg)`` returning one.
NamedRule = Union[HeaderRule, BodyRule, Callable[[Any], Any]]

_NAMED: dict[str, NamedRule] = {}


def register_cleanup_rule(name: str, rule: NamedRule) -> None:
    """Make ``name`` usable in main.cf's ``cleanup_rules``.

    ``rule`` is an object with ``check_header`` and/or ``check_body``, or a
    factory ``rule(cfg)`` (or ``rule()``, such as a rule class) that builds
    one from the configuration each time a cleanup pipeline is made.

    >>> register_cleanup_rule("no-hold", header_rule(lambda n, v: None))
    >>> type(named_rule("no-hold")).__name__
    '_FunctionHeaderRule'
    >>> unregister_cleanup_rule("no-hold")
    """
    _NAMED[name] = rule


def unregister_cleanup_rule(name: str) -> None:
    """Forget a name given to :func:`register_cleanup_rule`.

    >>> unregister_cleanup_rule("never-registered")
    """
    _NAMED.pop(name, None)


def _is_rule(obj: Any) -> bool:
    return not isinstance(obj, type) and (callable(getattr(obj, "check_header", None))
                                          or callable(getattr(obj, "check_body", None)))


def _build(factory: Callable[..., Any], cfg: Any) -> Any:
    # A factory (or rule class) that takes no argument does not want the config.
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return factory(cfg)
    takes = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                for p in params)
    return factory(cfg) if takes else factory()


def named_rule(name: str, cfg: Any = None) -> HeaderRule | BodyRule:
    """The rule ``name`` stands for: registered from Python first, then an
    installed ``mailflow.cleanup_rules`` plug-in; a factory is called with
    ``cfg``. An unknown name is a ConfigError naming ``cleanup_rules``.

    >>> named_rule("nosuch")
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: cleanup_rules: unknown cleanup rule "nosuch" (no rule registered and no mailflow.cleanup_rules plug-in of that name)
    """
    found = _NAMED.get(name)
    if found is None:
        from mailflow.plugins import load
        found = load("mailflow.cleanup_rules", name)
    if found is None:
        raise ConfigError(f'cleanup_rules: unknown cleanup rule "{name}" (no rule registered '
                          "and no mailflow.cleanup_rules plug-in of that name)")
    rule = found if _is_rule(found) else _build(found, cfg) if callable(found) else None
    if not _is_rule(rule):
        raise ConfigError(f'cleanup_rules: cleanup rule "{name}" is {found!r}, which is '
                          "neither a rule (check_header/check_body) nor a factory of one")
    return rule


def configured_rules(cfg: Any) -> list[HeaderRule | BodyRule]:
    """The rules main.cf's ``cleanup_rules`` names, in order (none without a config).

    >>> from mailflow.config import Config
    >>> register_cleanup_rule("hold-all", lambda cfg: header_rule(lambda n, v: "HOLD"))
    >>> [type(r).__name__ for r in configured_rules(Config(cleanup_rules="hold-all"))]
    ['_FunctionHeaderRule']
    >>> unregister_cleanup_rule("hold-all")
    """
    if cfg is None:
        return []
    return [named_rule(name, cfg) for name in cfg["cleanup_rules"]]
