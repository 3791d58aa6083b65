"""access(5) for smtpd: lookup key orders, action parsing and DSN fixing.

This module owns the pure pieces of Postfix's smtpd access checks:

* the order in which keys are tried for a domain (``check_helo_access``,
  ``check_etrn_access``, the client hostname), for a client IP address and
  its parent networks, and for a mail address (``check_sender_access``,
  ``check_recipient_access``), following ``parent_domain_matches_subdomains``;
* splitting a table value into an action word and its text
  (:func:`parse_action`) and the optional RFC 3463 status in that text
  (:func:`split_dsn`), and Postfix's ``smtpd_dsn_fix`` (:func:`dsn_fix`);
* :class:`NetworkList`, Postfix's host name/address list (``mynetworks``).

It never looks anything up itself and never decides what an action means
for the session: that is :mod:`mailflow.smtpd.restrictions`.

>>> domain_keys("mail.example.com", parent_style=True)
[('mail.example.com', False), ('example.com', True), ('com', True)]
>>> address_keys("192.0.2.7")
['192.0.2.7', '192.0.2', '192.0', '192']
>>> parse_action("REJECT go away")
('REJECT', 'go away')
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable

import attrs

from mailflow.tables.addresses import split_extension

__all__ = ["ACTIONS", "NetworkList", "address_keys", "domain_keys", "dsn_fix",
           "mail_keys", "parse_action", "split_dsn", "valid_dsn", "is_pattern_table"]

#: The access(5) action words smtpd understands (besides restriction names).
ACTIONS = ("OK", "RELAY", "REJECT", "DEFER", "DEFER_IF_REJECT", "DEFER_IF_PERMIT",
           "DISCARD", "HOLD", "FILTER", "REDIRECT", "BCC", "PREPEND", "DUNNO", "WARN",
           "INFO")

_DSN = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


def is_pattern_table(table: Any) -> bool:
    """Whether a table sees only full keys (regexp, pcre, cidr: Postfix's
    DICT_FLAG_PATTERN), never the partial keys of a search order.

    >>> is_pattern_table({}), is_pattern_table(type("T", (), {"pattern": True})())
    (False, True)
    """
    return bool(getattr(table, "pattern", False))


def valid_dsn(text: str) -> bool:
    """Whether ``text`` is an RFC 3463 status (``4.7.1``).

    >>> valid_dsn("5.7.1"), valid_dsn("5.7"), valid_dsn("6.0.0")
    (True, False, False)
    """
    return bool(_DSN.match(text)) and len(text.split()[0]) == len(text.strip())


def split_dsn(text: str, default: str) -> tuple[str, str]:
    """Postfix ``dsn_split``: a leading ``X.Y.Z`` status, else ``default``.

    The class digit of a given status is kept; the caller's reply code
    decides it in the end (Postfix makes the two agree).

    >>> split_dsn("5.7.9 no thanks", "4.7.1")
    ('5.7.9', 'no thanks')
    >>> split_dsn("no thanks", "4.7.1")
    ('4.7.1', 'no thanks')
    """
    match = _DSN.match(text)
    if match is None:
        return default, text.strip()
    return match.group(0), text[match.end():].strip()


# Postfix smtpd_dsn_fix.c: an address status (X.1.Y) is mapped to the kind
# of address being rejected, so a sender is never told "bad destination".
_DSN_MAP = {"1": ("4.1.7", "4.1.1"), "2": ("4.1.8", "4.1.2"), "3": ("4.1.7", "4.1.3"),
            "4": ("4.1.7", "4.1.4"), "5": ("4.1.0", "4.1.5"), "6": ("4.1.7", "4.1.6"),
            "7": ("4.1.7", "4.1.3"), "8": ("4.1.8", "4.1.2")}


def dsn_fix(status: str, reply_class: str) -> str:
    """Postfix ``smtpd_dsn_fix``: fit an address status to what is rejected.

    The class digit of the result is set from the reply code later; here it
    is kept from ``status``.

    >>> dsn_fix("5.1.1", "Sender address"), dsn_fix("5.1.8", "Recipient address")
    ('5.1.7', '5.1.2')
    >>> dsn_fix("5.1.1", "Client host"), dsn_fix("5.7.1", "Sender address")
    ('5.0.0', '5.7.1')
    """
    if len(status) < 5 or status[1:4] != ".1.":
        return status
    if reply_class == "Sender address":
        fixed = _DSN_MAP.get(status[4:], ("4.1.0", "4.1.0"))[0]
    elif reply_class == "Recipient address":
        fixed = _DSN_MAP.get(status[4:], ("4.1.0", "4.1.0"))[1]
    else:
        fixed = "4.0.0"
    return status[0] + fixed[1:]


def parse_action(value: str) -> tuple[str, str]:
    """Split a table value into its first word (upper-cased) and the text.

    >>> parse_action("550 5.7.1 not here"), parse_action("  ok  ")
    (('550', '5.7.1 not here'), ('OK', ''))
    """
    value = value.strip()
    word, _, text = value.partition(" ")
    if "\t" in word:
        word, _, rest = word.partition("\t")
        text = f"{rest} {text}".strip()
    return word.upper(), text.strip()


def _truncate_dot(name: str) -> str:
    # Postfix dup_if_truncate: "host." is "host", "host.." stays as it is.
    if len(name) > 1 and name.endswith(".") and not name.endswith(".."):
        return name[:-1]
    return name


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def domain_keys(domain: str, *, parent_style: bool = True) -> list[tuple[str, bool]]:
    """Keys for a domain lookup (Postfix ``check_domain_access``), each with
    whether it is a partial key (not given to pattern tables).

    With ``parent_style`` (``smtpd_access_maps`` in
    ``parent_domain_matches_subdomains``, the default) parents are tried as
    ``example.com``, otherwise as ``.example.com``. A numeric host name is
    looked up as it is, without parents.

    >>> domain_keys("a.example.com", parent_style=False)
    [('a.example.com', False), ('.example.com', True), ('.com', True)]
    >>> domain_keys("192.0.2.1")
    [('192.0.2.1', False)]
    """
    keys = [(domain, False)]
    if not domain or _is_address(domain):
        return keys
    i = domain.find(".", 1)
    while i > 0:
        keys.append((domain[i + 1:] if parent_style else domain[i:], True))
        i = domain.find(".", i + 1)
    return [(k, p) for k, p in keys if k]


def address_keys(address: str) -> list[str]:
    """Keys for a client IP address and its parent networks (Postfix
    ``check_addr_access``): ``1.2.3.4``, ``1.2.3``, ``1.2``, ``1``; for IPv6
    the address as the client's text, then with ``:``-separated parts
    removed from the right. Only the first key is full.

    >>> address_keys("2001:db8::1")
    ['2001:db8::1', '2001:db8:', '2001:db8', '2001']
    """
    delim = ":" if ":" in address else "."
    keys, current = [address], address
    while True:
        pos = current.rfind(delim)
        if pos <= 0:
            break
        current = current[:pos]
        keys.append(current)
    return keys


def mail_keys(address: str, *, parent_style: bool = True,
              delimiter: str = "") -> list[tuple[str, bool]]:
    """Keys for a mail address (Postfix ``check_mail_access``), each with
    whether it is partial: ``user+ext@domain``, ``user@domain``, ``domain``,
    its parent domains (``example.com`` or ``.example.com`` per
    ``parent_style``), then ``user+ext@`` and ``user@``.

    >>> [k for k, _ in mail_keys("ann+x@mx.example.com", delimiter="+")]
    ['ann+x@mx.example.com', 'ann@mx.example.com', 'mx.example.com', 'example.com', 'com', 'ann+x@', 'ann@']
    """
    local, at, domain = address.rpartition("@")
    if not at:
        return [(address, False)]
    user, ext = split_extension(local, delimiter) if delimiter else (local, None)
    keys = [(address, False)]
    if ext is not None:
        keys.append((f"{user}@{domain}", True))
    if domain:
        keys.append((domain, True))
        i = domain.find(".", 1)
        while i > 0:
            keys.append((domain[i + 1:] if parent_style else domain[i:], True))
            i = domain.find(".", i + 1)
    keys.append((f"{local}@", True))
    if ext is not None:
        keys.append((f"{user}@", True))
    return keys


@attrs.frozen
class NetworkList:
    """A Postfix host name/address list (``mynetworks``, ``namadr_list``):
    ``net/mask``, ``[ipv6]/len``, host names (with ``.domain`` or parent
    domain matching), ``!negation`` and ``type:table`` entries; the first
    match wins.

    >>> nets = NetworkList.compile("127.0.0.0/8 [::1]/128 !192.0.2.9 192.0.2.0/24")
    >>> nets.match("unknown", "192.0.2.7"), nets.match("unknown", "192.0.2.9")
    (True, False)
    >>> nets.match("unknown", "::1"), nets.match("unknown", "198.51.100.1")
    (True, False)
    """

    items: tuple[tuple[bool, Any], ...]
    parent: bool = True

    @classmethod
    def compile(cls, value: str | Iterable[str], config: Any = None, *,
                parent: bool = True, tables: Any = None) -> "NetworkList":
        """Parse a list; ``tables(spec)`` opens ``type:name`` entries."""
        from mailflow.tables.memory import split_braced
        words = split_braced(value) if isinstance(value, str) else list(value)
        items: list[tuple[bool, Any]] = []
        for word in words:
            negate = False
            while word.startswith("!"):
                negate, word = not negate, word[1:]
            if re.match(r"^[A-Za-z][A-Za-z0-9_-]*:", word) and not word.startswith("["):
                if tables is None:
                    from mailflow.tables.maps import open_maps
                    items.append((negate, open_maps(word, config)))
                else:
                    items.append((negate, tables(word)))
                continue
            net = word.replace("[", "").replace("]", "")
            try:
                items.append((negate, ipaddress.ip_network(net, strict=False)))
            except ValueError:
                items.append((negate, word.lower()))
        return cls(tuple(items), parent)

    def match(self, name: str, address: str) -> bool:
        """Whether a client ``name``/``address`` matches; a table that cannot
        answer raises TableError."""
        try:
            addr = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            addr = None
        if addr is not None and getattr(addr, "ipv4_mapped", None) is not None:
            addr = addr.ipv4_mapped
        name = name.lower()
        for negate, item in self.items:
            if self._match(item, name, address, addr):
                return not negate
        return False

    def _match(self, item: Any, name: str, address: str, addr: Any) -> bool:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return addr is not None and addr.version == item.version and addr in item
        if isinstance(item, str):
            if item == name or item == address.lower():
                return True
            if name == "unknown":
                return False
            if item.startswith("."):
                return name.endswith(item)
            return self.parent and name.endswith("." + item)
        for key in (name, address):
            if key and item.get(key) is not None:
                return True
        return False
