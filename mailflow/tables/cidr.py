"""``cidr:`` tables (Postfix cidr_table(5)): the first matching network wins.

Owns parsing ``network/prefix result`` rules (IPv4 and IPv6, ``!`` negation,
``if``/``endif`` blocks) and matching an address against them. It never
resolves names: a key that is not an IP address matches nothing.

>>> t = CidrTable.from_text("192.168.0.0/16 lan\\n!10.0.0.0/8 not-ten\\n", "f")
>>> t.get("192.168.7.1"), t.get("10.1.1.1"), t.get("8.8.8.8"), t.get("::1")
('lan', None, 'not-ten', None)
"""

from __future__ import annotations

import ipaddress
from typing import Union

import attrs

from mailflow.tables.blocks import RuleNesting, first_match
from mailflow.tables.source import Warn, _default_warn, logical_lines, read_source

__all__ = ["CidrTable", "CidrRule"]

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@attrs.frozen
class CidrRule:
    """One rule: a network (maybe negated) and a result, or an ``if`` block."""

    network: Network
    negate: bool
    result: str | None
    body: tuple["CidrRule", ...] = ()
    lineno: int = 0

    def matches(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        # A negated rule never matches an address of the other family (as Postfix).
        if addr.version != self.network.version:
            return False
        return (addr in self.network) != self.negate


class CidrTable:
    """A ``cidr:`` table.

    >>> CidrTable.from_text("if 172.16.0.0/12\\n172.16.1.0/24 in\\nendif\\n", "f").get("172.16.1.9")
    'in'
    """

    #: Pattern tables see only full keys in address lookups (Postfix DICT_FLAG_PATTERN).
    pattern = True

    def __init__(self, rules: tuple[CidrRule, ...], name: str = "") -> None:
        self.rules = rules
        self.name = name

    @classmethod
    def open(cls, path: str, *, warn: Warn | None = None) -> "CidrTable":
        return cls.from_text(read_source(path), path, warn=warn)

    @classmethod
    def from_text(cls, text: str, name: str, *, warn: Warn | None = None) -> "CidrTable":
        warn = warn or _default_warn

        def say(lineno: int, msg: str) -> None:
            warn(f"cidr map {name}, line {lineno}: {msg}")

        nesting = RuleNesting(say)
        for lineno, line in logical_lines(text, name, warn):
            line = line.strip()
            word, _, rest = line.partition(" ")
            if word.lower() == "endif":
                nesting.endif(lineno)
                continue
            is_if = word.lower() == "if"
            spec, _, result = (rest.strip() if is_if else line).partition(" ")
            if "\t" in spec:
                spec, _, more = spec.partition("\t")
                result = (more + " " + result).strip()
            result = result.strip()
            negate = spec.startswith("!")
            text_net = spec[1:] if negate else spec
            network = _parse_network(text_net, lambda m: say(lineno, m))
            if network is None:
                continue
            if is_if:
                nesting.open(CidrRule(network, negate, None, (), lineno))
            elif not result:
                say(lineno, f'no lookup result: skipping this rule')
            else:
                nesting.add(CidrRule(network, negate, result, (), lineno))
        return cls(nesting.rules(), name)

    def get(self, key: str) -> str | None:
        # As Postfix: the key must be a bare address ("[1.2.3.4]" matches
        # nothing) and an IPv4-mapped IPv6 address is matched as IPv6.
        try:
            addr = ipaddress.ip_address(key.strip())
        except ValueError:
            return None
        found = first_match(self.rules, lambda rule: (rule.matches(addr), None))
        return found[0].result if found is not None else None

    def __repr__(self) -> str:
        return f"CidrTable({self.name!r}, {len(self.rules)} rules)"


def _parse_network(text: str, say) -> Network | None:
    text = text.strip("[]") if "/" not in text else text
    if "/" in text:
        addr, _, prefix = text.partition("/")
        text = addr.strip("[]") + "/" + prefix
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        say(f'bad net/mask pattern: "{text}": skipping this rule' if "/" not in text
            else f'bad network value in "{text}": skipping this rule')
        return None
    say(f'non-null host address bits in "{text}", perhaps you should use '
        f'"{loose}" instead: skipping this rule')
    return None
