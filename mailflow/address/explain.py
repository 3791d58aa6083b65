"""``explain``: how each recipient would be rewritten, expanded and routed.

This module owns the "where does mail for X go?" answer, without sending
anything: for each recipient, trivial-rewrite's canonical form, the
envelope-recipient canonical mapping cleanup(8) applies
(``recipient_canonical_maps``, then ``canonical_maps``), virtual alias
expansion (``virtual_alias_maps``, as a tree), then for every final recipient
its address class, transport and nexthop (:mod:`mailflow.address.resolve`),
and for local(8) recipients the alias_maps expansion to addresses, files and
commands. It never does I/O except table lookups and never raises for a bad
table: a step that cannot be done becomes an entry with transport ``retry``.

>>> from mailflow.config import Config
>>> cfg = Config(myhostname="mx.example.com", mydomain="example.com", alias_maps="",
...              virtual_alias_maps="inline:{ sales@example.com=ann@example.com }",
...              virtual_alias_domains="example.com")
>>> explain("sales@example.com", cfg)
[ExplainEntry(recipient='sales@example.com', final='ann@example.com', class_='virtual_alias', transport='error', nexthop='5.1.1 User unknown in virtual alias table')]
>>> explain("bob", cfg)[0].final
'bob@mx.example.com'
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterable

import attrs

from mailflow.address.canonical import canonical_map, split_result
from mailflow.address.quote import unquote_address
from mailflow.address.resolve import Resolution, TrivialRewrite, open_list_tables, split_list
from mailflow.address.rewrite import config_value
from mailflow.address.virtual import expand_virtual
from mailflow.errors import AddressError, TableError
from mailflow.tables.addresses import lookup_address
from mailflow.tables.maps import Maps

__all__ = ["ExplainEntry", "Explainer", "explain", "explain_report", "parse_explain_address"]

log = logging.getLogger("mailflow.cleanup")

# cleanup(8) defers a message when a table cannot answer (Postfix's text:
# "%s map lookup problem"); local(8) likewise for alias_maps.
LOOKUP_PROBLEM = "4.3.0 {} map lookup problem"
_ALIAS_DEPTH = 100   # local(8) stops nested alias expansion ("mail forwarding loop")


@attrs.frozen
class ExplainEntry:
    """One final recipient of one given recipient.

    ``steps`` (the canonical/alias trail) does not take part in equality, so a
    test can compare with entries it writes by hand.

    >>> e = ExplainEntry("a@x.example", "b@x.example", "default", "smtp", "x.example",
    ...                  steps=("virtual: a@x.example -> b@x.example",))
    >>> e == ExplainEntry("a@x.example", "b@x.example", "default", "smtp", "x.example")
    True
    >>> e.to_json()["class"]
    'default'
    """

    recipient: str
    final: str
    class_: str
    transport: str
    nexthop: str
    steps: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)

    def to_json(self) -> dict[str, str]:
        """The JSON object of ``explain --json`` (key ``class``, not ``class_``)."""
        return {"recipient": self.recipient, "final": self.final, "class": self.class_,
                "transport": self.transport, "nexthop": self.nexthop}


@attrs.frozen
class _Trace:
    """Everything explain found for one given recipient (for the report)."""

    recipient: str
    steps: tuple[str, ...]
    expansion: Any            # mailflow.address.virtual.Expansion or None
    entries: tuple[ExplainEntry, ...]


def parse_explain_address(text: str) -> str:
    """A command-line address (``<a@b>``, ``"a b"@c``) in internal form.

    >>> parse_explain_address('<"a b"@example.com>')
    'a b@example.com'
    >>> parse_explain_address("a@b c")
    Traceback (most recent call last):
    ...
    mailflow.errors.AddressError: a@b c: bad address syntax
    """
    s = text.strip()
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1]
    in_quote = escaped = False
    depth = 0
    for ch in s:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch.isspace() or ch in "<>()," or ord(ch) < 32 or depth < 0:
            raise AddressError(f"{text}: bad address syntax")
    if not s or in_quote or depth != 0 or escaped:
        raise AddressError(f"{text}: bad address syntax")
    return unquote_address(s)


def _maps(cfg: Any, name: str) -> Maps | None:
    tables = open_list_tables(config_value(cfg, name), cfg)
    return Maps(tables) if tables else None


def _lower_domain(address: str) -> str:
    local, at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}" if at else address


def split_alias_value(value: str) -> list[str]:
    """aliases(5) right-hand side: addresses separated by commas or spaces.

    Postfix parses the value as a list of RFC 822 addresses, so a command or
    file name with spaces must be quoted; the quotes are removed here.

    >>> split_alias_value('bob, "|/usr/bin/vacation bob" /var/mail/archive')
    ['bob', '|/usr/bin/vacation bob', '/var/mail/archive']
    """
    items = []
    for item in split_result(value):
        if len(item) > 1 and item[0] == '"' and item[-1] == '"' and item[1:2] in ("|", "/"):
            item = item[1:-1]
        if item:
            items.append(item)
    return items


class Explainer:
    """explain, compiled once from a Config (tables opened once).

    >>> ex = Explainer.from_config(None, myhostname="mx.example.com", alias_maps="")
    >>> [e.transport for e in ex.explain("root")]
    ['local']
    """

    def __init__(self, rewrite: TrivialRewrite, *, canonical: list[tuple[str, Any]],
                 virtual: Any, aliases: Any, recursion_limit: int, expansion_limit: int,
                 propagate_canonical: bool, propagate_virtual: bool) -> None:
        self.tr = rewrite
        self.canonical = canonical
        self.virtual = virtual
        self.aliases = aliases
        self.recursion_limit = recursion_limit
        self.expansion_limit = expansion_limit
        self.propagate_canonical = propagate_canonical
        self.propagate_virtual = propagate_virtual

    @classmethod
    def from_config(cls, cfg: Any = None, *, rewrite: TrivialRewrite | None = None,
                    **overrides: Any) -> "Explainer":
        if overrides:
            from mailflow.config import Config
            cfg = cfg.with_overrides(**overrides) if cfg is not None else Config(**overrides)
        tr = rewrite or TrivialRewrite.from_config(cfg)
        classes = {c.lower() for c in split_list(config_value(cfg, "canonical_classes"))}
        canonical = []
        if "envelope_recipient" in classes:
            for name in ("recipient_canonical_maps", "canonical_maps"):
                table = _maps(cfg, name)
                if table is not None:
                    canonical.append((name, table))
        propagate = {p.lower() for p in split_list(config_value(cfg, "propagate_unmatched_extensions"))}
        return cls(tr, canonical=canonical, virtual=_maps(cfg, "virtual_alias_maps"),
                   aliases=_maps(cfg, "alias_maps"),
                   recursion_limit=int(config_value(cfg, "virtual_alias_recursion_limit") or 1000),
                   expansion_limit=int(config_value(cfg, "virtual_alias_expansion_limit") or 1000),
                   propagate_canonical="canonical" in propagate,
                   propagate_virtual="virtual" in propagate)

    # --- public --------------------------------------------------------
    def explain(self, address: str, sender: str | None = None) -> list[ExplainEntry]:
        """Entries for one recipient (internal form)."""
        return list(self.trace(address, sender).entries)

    def trace(self, address: str, sender: str | None = None) -> _Trace:
        """Everything found for one recipient, for :func:`explain_report`."""
        steps: list[str] = []
        current = self.tr.rewrite(address, "local") if address else address
        if current != address:
            steps.append(f"rewrite: {address} -> {current}")
        # cleanup(8): recipient_canonical_maps, then canonical_maps, each
        # result canonicalized again (cleanup_map11_internal).
        for name, table in self.canonical:
            try:
                mapped = self._canonical(current, table)
            except TableError as exc:
                return self._failed(address, current, steps, name, exc)
            if mapped != current:
                steps.append(f"{name}: {current} -> {mapped}")
                current = mapped
        expansion = None
        leaves = [current]
        if self.virtual is not None:
            try:
                expansion = self._expand(current)
            except TableError as exc:
                return self._failed(address, current, steps, "virtual_alias_maps", exc)
            errors = expansion.errors()
            if errors:
                node = errors[0]
                why = "alias loop" if node.looped else "expansion limit"
                step = f"virtual_alias_maps: {node.address}: {why}: {node.error}"
                entry = ExplainEntry(address, _lower_domain(current),
                                     self._class_of(current), "retry", str(node.error),
                                     tuple(steps) + (step,))
                return _Trace(address, tuple(steps) + (step,), expansion, (entry,))
            leaves = expansion.leaves()
        entries: list[ExplainEntry] = []
        for leaf in leaves:
            trail = list(steps)
            if leaf != current:
                trail.append(f"virtual_alias_maps: {current} -> {leaf}")
            entries.extend(self._route(address, leaf, sender, trail))
        return _Trace(address, tuple(steps), expansion, tuple(entries))

    # --- steps ---------------------------------------------------------
    def _canonical(self, address: str, table: Any) -> str:
        mapped = canonical_map(address, table, delimiter=self.tr.delimiter,
                               local_domain=self._local_domain,
                               propagate_extension=self.propagate_canonical)
        # cleanup_map11_internal: the result is canonicalized again.
        return self.tr.rewrite(mapped, "local") if mapped and mapped != address else mapped

    def _expand(self, address: str):
        return expand_virtual(address, self.virtual, recursion_limit=self.recursion_limit,
                              expansion_limit=self.expansion_limit,
                              delimiter=self.tr.delimiter, local_domain=self._local_domain,
                              propagate_extension=self.propagate_virtual,
                              rewrite=lambda a: self.tr.rewrite(a, "local"))

    def _local_domain(self, domain: str) -> bool:
        return self.tr.is_local(domain)

    def _class_of(self, address: str) -> str:
        try:
            return self.tr.resolve(address).address_class
        except TableError:  # pragma: no cover - resolve never raises
            return "default"

    def _failed(self, given: str, current: str, steps: list[str], name: str,
                exc: Exception) -> _Trace:
        log.warning("%s map lookup problem for %s: %s", name, current, exc)
        step = f"{name}: lookup failed: {exc}"
        entry = ExplainEntry(given, _lower_domain(current), self._class_of(current), "retry",
                             LOOKUP_PROBLEM.format(name), tuple(steps) + (step,))
        return _Trace(given, tuple(steps) + (step,), None, (entry,))

    def _route(self, given: str, address: str, sender: str | None, trail: list[str],
               seen: tuple = (), depth: int = 0,
               parent: str | None = None) -> list[ExplainEntry]:
        res: Resolution = self.tr.resolve(address, sender)
        final = _lower_domain(res.recipient)
        if not (res.ok and res.transport == "local" and self.aliases is not None):
            return [ExplainEntry(given, final, res.address_class, res.transport,
                                 res.nexthop, tuple(trail))]
        # local(8): alias_maps are keyed by the local part (aliases(5)),
        # user+ext first, then user.
        local = res.recipient.rpartition("@")[0]
        try:
            value, key = self._alias_lookup(local)
        except TableError as exc:
            log.warning("alias_maps map lookup problem for %s: %s", local, exc)
            return [ExplainEntry(given, final, res.address_class, "retry",
                                 LOOKUP_PROBLEM.format("alias_maps"),
                                 tuple(trail) + (f"alias_maps: lookup failed: {exc}",))]
        if value is None or key == parent:
            # No alias, or an alias that includes its own name: local(8)
            # delivers to the user's mailbox "just like sendmail" (alias.c).
            return [ExplainEntry(given, final, res.address_class, res.transport,
                                 res.nexthop, tuple(trail))]
        chain = seen + ((key, final),)
        if key in (k for k, _ in seen) or depth > _ALIAS_DEPTH:
            # local(8) bounces at nesting level 101 ("alias database loop");
            # a name already being expanded higher up can only get there, so
            # find which name of the cycle sits at that level.
            start = next((i for i, (k, _) in enumerate(seen) if k == key), depth)
            period = max(1, depth - start)
            name, where = chain[start + (_ALIAS_DEPTH + 1 - start) % period] if (
                depth < _ALIAS_DEPTH + 1) else chain[-1]
            return [ExplainEntry(given, where, res.address_class, "error",
                                 f"5.4.6 alias database loop for {name}", tuple(trail))]
        out: list[ExplainEntry] = []
        for target in split_alias_value(value):
            step = trail + [f"alias_maps: {key} -> {target}"]
            if target.startswith(("|", "/")) or target.lower().startswith(":include:"):
                out.append(ExplainEntry(given, target, res.address_class, res.transport,
                                        res.nexthop, tuple(step)))
                continue
            target_addr = self.tr.rewrite(unquote_address(target), "local")
            out.extend(self._route(given, target_addr, sender, step, chain, depth + 1,
                                   parent=key))
        return out

    def _alias_lookup(self, local: str) -> tuple[str | None, str]:
        match = lookup_address(self.aliases, local.lower(), delimiter=self.tr.delimiter,
                               style="alias")
        return (None, local.lower()) if match is None else (match.value, match.key)


def _explainer(config: Any) -> Explainer:
    if isinstance(config, Explainer):
        return config
    if isinstance(config, TrivialRewrite):
        return Explainer.from_config(config.config, rewrite=config)
    return Explainer.from_config(config)


def explain(addresses: str | Iterable[str], config: Any = None, *,
            sender: str | None = None) -> list[ExplainEntry]:
    """Explain one or more recipients (internal form) under ``config``.

    ``config`` is a Config, a :class:`TrivialRewrite`, an :class:`Explainer`
    or None (Postfix defaults).

    >>> [e.nexthop for e in explain(["a@example.org", "b@example.net"])]
    ['example.org', 'example.net']
    """
    ex = _explainer(config)
    if isinstance(addresses, str):
        addresses = [addresses]
    out: list[ExplainEntry] = []
    for address in addresses:
        out.extend(ex.explain(address, sender))
    return out


def _render(trace: _Trace) -> list[str]:
    lines = [f"<{trace.recipient}>"]
    lines += [f"  {step}" for step in trace.steps]
    if trace.expansion is not None and trace.expansion.children:
        lines.append("  virtual alias expansion:")
        lines += ["    " + line for line in trace.expansion.render().splitlines()]
    for e in trace.entries:
        for step in e.steps[len(trace.steps):]:
            if not step.startswith("virtual_alias_maps: ") or trace.expansion is None:
                lines.append(f"  {step}")
        lines.append(f"  -> {e.final}: class {e.class_}, transport {e.transport}, "
                     f"nexthop {e.nexthop}")
    return lines


def explain_report(cfg: Any, addresses: Iterable[str], sender: str | None = None,
                   *, as_json: bool = False) -> str:
    """The text ``mailflow explain`` (and ``sendmail -bv``) prints.

    >>> print(explain_report(None, ["u@example.org"]))
    <u@example.org>
      -> u@example.org: class default, transport smtp, nexthop example.org
    """
    ex = _explainer(cfg)
    lines: list[str] = []
    for address in addresses:
        trace = ex.trace(address, sender)
        if as_json:
            lines += [json.dumps(e.to_json()) for e in trace.entries]
        else:
            lines += _render(trace)
    return "\n".join(lines)


