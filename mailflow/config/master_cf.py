"""master.cf text → the service table, as master(5) defines it.

Pure: takes text, returns a :class:`MasterConfig` of frozen :class:`Service`
values keyed ``service/type``; it never opens files and never starts
anything (that is the master service). Format, per master(5)::

    # service type  private unpriv  chroot  wakeup  maxproc command + args
    smtp      inet  n       -       n       -       -       smtpd
      -o smtpd_tls_wrappermode=yes

Comment lines start with ``#``; a line that starts with whitespace continues
the previous entry; ``-`` selects a field's default (private ``y``, unpriv
``y``, chroot ``n`` since Postfix 3.0, wakeup ``0``, maxproc
``$default_process_limit``); an argument may be written ``{ text with
spaces }`` (Postfix 3.0); ``-o name=value`` / ``-o { name = value }``
options before the first non-option argument override main.cf for that
service.

An ``inet`` entry's service name says where to listen (``smtp``,
``2525``, ``127.0.0.1:2525``, ``[::1]:2525``); :func:`parse_inet_endpoint`
turns it, with ``inet_interfaces`` and ``inet_protocols``, into the
addresses to bind. Binding is the master's (:mod:`mailflow.adapters.listen`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Callable, Iterable, Iterator, NamedTuple

import attrs

from mailflow.config.main_cf import logical_lines
from mailflow.config.values import split_outside_braces, strip_braces
from mailflow.errors import ConfigError

__all__ = ["Service", "MasterConfig", "parse_master_cf", "format_service", "command_text",
           "split_args", "Endpoint", "parse_inet_endpoint", "parse_inet_protocols"]

TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")
_FIELDS = ("service", "type", "private", "unpriv", "chroot", "wakeup", "process_limit")
# Column where postconf -M starts each field (pcf_print_master_entry).
_COLUMNS = (0, 11, 17, 25, 33, 41, 49, 57)


@attrs.frozen
class Service:
    """One master.cf entry with typed fields.

    ``maxproc`` is the process limit with ``-`` already replaced by
    ``default_process_limit`` (``maxproc_is_default`` says so); 0 means no
    limit. ``args`` are the arguments after the command without the ``-o``
    pairs, which are in ``overrides``; ``argv`` and ``fields`` keep the text
    as written, for printing.

    >>> s = parse_master_cf("relay unix - - n - - smtp -o syslog_name=relay\\n")["relay/unix"]
    >>> s.command, s.overrides, s.private, s.chroot, s.maxproc
    ('smtp', {'syslog_name': 'relay'}, True, False, 100)
    """

    service: str
    type: str
    private: bool = True
    unpriv: bool = True
    chroot: bool = False
    wakeup: int = 0
    wakeup_if_used: bool = False
    maxproc: int = 100
    maxproc_is_default: bool = True
    command: str = ""
    args: tuple[str, ...] = ()
    overrides: dict[str, str] = attrs.field(factory=dict)
    fields: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    lineno: int = 0

    @property
    def name(self) -> str:
        """The service name (first column), e.g. ``smtp`` or ``127.0.0.1:25``."""
        return self.service

    @property
    def key(self) -> str:
        """``service/type``, the name postconf -M and lookups use."""
        return f"{self.service}/{self.type}"


@attrs.frozen
class MasterConfig:
    """The services of master.cf in file order, looked up by ``service/type``.

    >>> m = parse_master_cf("smtp inet n - n - - smtpd\\nsmtp unix - - n - - smtp\\n")
    >>> [s.key for s in m], m.transport("smtp").command, "smtp/inet" in m
    (['smtp/inet', 'smtp/unix'], 'smtp', True)
    """

    services: tuple[Service, ...] = ()
    filename: str = "master.cf"

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)

    def __contains__(self, key: object) -> bool:
        return self.get(str(key)) is not None

    def __getitem__(self, key: str) -> Service:
        service = self.get(key)
        if service is None:
            raise KeyError(key)
        return service

    def get(self, key: str) -> Service | None:
        """The service ``name/type`` (the last one when master.cf repeats it)."""
        found = None
        for service in self.services:
            if service.key == key:
                found = service
        return found

    def named(self, name: str) -> list[Service]:
        """Every service with this name, whatever its type."""
        return [s for s in self.services if s.service == name]

    def transport(self, name: str) -> Service | None:
        """The delivery transport ``name``: its ``unix`` service, as qmgr(8) finds it."""
        return self.get(f"{name}/unix")

    def names(self) -> list[str]:
        """Service names in file order, without repeats."""
        return list(dict.fromkeys(s.service for s in self.services))


def split_args(text: str, filename: str = "master.cf", lineno: int | None = None,
               warnings: list[str] | None = None) -> list[str]:
    """Split on whitespace, keeping ``{...}`` groups (braces included) whole.

    >>> split_args("pipe argv=/bin/x { a b } {c}")
    ['pipe', 'argv=/bin/x', '{ a b }', '{c}']
    """
    tokens, unbalanced = split_outside_braces(text, commas=False)
    if unbalanced and warnings is not None:
        warnings.append(f"{filename}, line {lineno}: missing '}}' in \"{tokens[-1]}\"")
    return tokens


def _override(text: str, where: dict) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"invalid \"-o\" argument \"{text}\": expected name=value", **where)
    return name.strip(), value.strip()


def _flag(field: str, value: str, default: bool, line: str, where: dict) -> bool:
    if value == "-":
        return default
    if value in ("y", "n"):
        return value == "y"
    raise ConfigError(f"invalid {field} field \"{value}\" in \"{line}\"", **where)


def _service(first: int, line: str, filename: str, warnings: list[str] | None,
             default_process_limit: int) -> Service:
    where = dict(filename=filename, lineno=first)
    tokens = split_args(line, filename, first, warnings)
    if len(tokens) < 8:
        raise ConfigError("bad field count", **where)
    name, type_, private, unpriv, chroot, wakeup, maxproc = tokens[:7]
    if type_ not in TYPES:
        raise ConfigError(f"invalid type field \"{type_}\" in \"{line}\"", **where)
    m = re.fullmatch(r"(\d+)(\??)|-", wakeup)
    if m is None:
        raise ConfigError(f"invalid wakeup field \"{wakeup}\" in \"{line}\"", **where)
    if maxproc != "-" and not maxproc.isdigit():
        raise ConfigError(f"invalid process_limit field \"{maxproc}\" in \"{line}\"", **where)
    # The command and the leading options are read the way the daemon's
    # getopt() reads them: options end at the first non-option argument.
    argv = [tokens[7]]
    overrides: dict[str, str] = {}
    args: list[str] = []
    rest = tokens[8:]
    options = True
    k = 0
    while k < len(rest):
        token = strip_braces(rest[k], unclosed=True) if options else rest[k]
        if options and token == "-o" and k + 1 < len(rest):
            name_, value = _override(strip_braces(rest[k + 1], unclosed=True), where)
            overrides[name_] = value
            argv += ["-o", f"{name_}={value}"]
            k += 2
            continue
        if options and token.startswith("-o") and len(token) > 2:
            name_, value = _override(token[2:], where)
            overrides[name_] = value
            argv += ["-o", f"{name_}={value}"]
        elif options and token.startswith("-") and token != "-":
            args.append(token)
            argv.append(token)
        else:
            options = False
            args.append(strip_braces(token, unclosed=True))
            argv.append(token)
        k += 1
    return Service(
        service=name, type=type_,
        private=_flag("private", private, type_ != "inet", line, where),
        unpriv=_flag("unpriv", unpriv, True, line, where),
        chroot=_flag("chroot", chroot, False, line, where),
        wakeup=int(m.group(1)) if m.group(1) else 0,
        wakeup_if_used=bool(m.group(1) and m.group(2)),
        maxproc=default_process_limit if maxproc == "-" else int(maxproc),
        maxproc_is_default=maxproc == "-",
        command=strip_braces(argv[0], unclosed=True), args=tuple(args), overrides=overrides,
        fields=tuple(tokens[:7]), argv=tuple(argv), lineno=first)


def parse_master_cf(text: str, filename: str = "master.cf",
                    warnings: list[str] | None = None,
                    default_process_limit: int = 100) -> MasterConfig:
    """Parse master.cf text into a :class:`MasterConfig`.

    ``default_process_limit`` is what ``-`` in the maxproc column means
    (main.cf's ``$default_process_limit``; Postfix's default is 100).

    Errors name file and line, worded as Postfix's:

    >>> parse_master_cf("smtp inet n - n - -\\n")
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: master.cf, line 1: bad field count
    """
    services = [_service(first, line, filename, warnings, default_process_limit)
                for first, _last, line in logical_lines(text, filename, warnings)]
    return MasterConfig(tuple(services), filename)


def format_service(service: Service) -> str:
    """One entry the way ``postconf -M`` prints it: columns aligned, one line.

    >>> print(format_service(parse_master_cf(
    ...     "relay unix - - n - - smtp -o { syslog_name = relay x }\\n")["relay/unix"]))
    relay      unix  -       -       n       -       -       smtp -o {syslog_name=relay x}
    """
    out = ""
    for column, field in zip(_COLUMNS, service.fields or _default_fields(service)):
        out = _pad(out, column) + field
    return _pad(out, _COLUMNS[7]) + command_text(service)


def command_text(service: Service) -> str:
    """The command and its arguments as ``postconf -M`` prints them.

    >>> command_text(parse_master_cf("x unix - - n - - pipe argv=/bin/x { a b }\\n")["x/unix"])
    'pipe argv=/bin/x {a b}'
    """
    words = []
    previous = ""
    for word in service.argv or (service.command,) + service.args:
        # postconf -M braces an option value with whitespace so it reads back
        # as one argument; other arguments are printed as written.
        if word.startswith("{") and word.endswith("}"):
            word = "{" + word[1:-1].strip() + "}"
        elif previous == "-o" and any(c.isspace() for c in word):
            word = "{" + word + "}"
        words.append(word)
        previous = word
    return " ".join(words)


def _pad(text: str, column: int) -> str:
    """Move to ``column``, or one space on when the text already reaches it."""
    if not text:
        return text
    return text.ljust(column) if len(text) < column else text + " "


def _default_fields(service: Service) -> tuple[str, ...]:
    def yn(flag: bool) -> str:
        return "y" if flag else "n"
    wakeup = f"{service.wakeup}{'?' if service.wakeup_if_used else ''}" if service.wakeup else "-"
    return (service.service, service.type, yn(service.private), yn(service.unpriv),
            yn(service.chroot), wakeup, "-" if service.maxproc_is_default else str(service.maxproc))


# ---------------------------------------------------------------- inet endpoints
class Endpoint(NamedTuple):
    """One address an ``inet`` service listens on.

    ``family`` is ``socket.AF_INET`` or ``socket.AF_INET6`` for an address,
    ``socket.AF_UNSPEC`` for a hostname that the binding adapter resolves
    (to every address of the enabled protocols).

    >>> Endpoint("127.0.0.1", 25, socket.AF_INET).display
    '127.0.0.1:25'
    >>> Endpoint("::1", 25, socket.AF_INET6).display
    '[::1]:25'
    """

    host: str
    port: int
    family: int

    @property
    def display(self) -> str:
        """``host:port`` as master.cf writes it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


_WILDCARD = {socket.AF_INET: "0.0.0.0", socket.AF_INET6: "::"}
_LOOPBACK = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}
_PROTOCOLS = {"ipv4": (socket.AF_INET,), "ipv6": (socket.AF_INET6,),
              "all": (socket.AF_INET, socket.AF_INET6)}


def _words(value: str | Iterable[str]) -> list[str]:
    text = value if isinstance(value, str) else " ".join(value)
    return [w for w in re.split(r"[\s,]+", text) if w]


def parse_inet_protocols(value: str | Iterable[str], *, ipv6_available: bool = True) -> list[int]:
    """``inet_protocols`` as address families, in Postfix's order (IPv4 first).

    ``all`` is IPv4 plus IPv6 when the kernel has IPv6 (``ipv6_available``),
    as Postfix's inet_proto_init() probes; an IPv6 the kernel lacks is
    dropped. A word other than ``all``, ``ipv4``, ``ipv6`` is a ValueError.

    >>> parse_inet_protocols("all") == [socket.AF_INET, socket.AF_INET6]
    True
    >>> parse_inet_protocols("ipv6, ipv4", ipv6_available=False) == [socket.AF_INET]
    True
    >>> parse_inet_protocols("ipx")
    Traceback (most recent call last):
    ...
    ValueError: bad inet_protocols value "ipx": expected all, ipv4 or ipv6
    """
    words = _words(value)
    families: set[int] = set()
    for word in words:
        found = _PROTOCOLS.get(word.lower())
        if found is None:
            raise ValueError(f"bad inet_protocols value \"{word}\": expected all, ipv4 or ipv6")
        families.update(found)
    if not ipv6_available:
        families.discard(socket.AF_INET6)
    if not families:
        raise ValueError("inet_protocols: no usable protocol"
                         + (" (this host has no IPv6)" if words else ""))
    return [f for f in (socket.AF_INET, socket.AF_INET6) if f in families]


def _host_family(host: str) -> tuple[str, int]:
    """A host as written → (address or name, family); brackets removed."""
    bracketed = host.startswith("[") and host.endswith("]")
    bare = host[1:-1] if bracketed else host
    try:
        addr = ipaddress.ip_address(bare)
    except ValueError:
        if bracketed or ":" in bare or re.fullmatch(r"[\d.]+", bare) or not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", bare):
            raise ValueError(f"bad hostname or network address: {host}") from None
        return bare.lower(), socket.AF_UNSPEC
    return str(addr), socket.AF_INET6 if addr.version == 6 else socket.AF_INET


def _port(text: str, getservbyname: Callable[[str, str], int] | None) -> int:
    if text.isdigit():
        port = int(text)
        if not 0 < port < 65536:
            raise ValueError(f"bad port number: {text}")
        return port
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", text):
        raise ValueError(f"bad port or service name: \"{text}\"")
    try:
        return (getservbyname or socket.getservbyname)(text, "tcp")
    except OSError:
        raise ValueError(f"unknown service: {text}/tcp") from None


def parse_inet_endpoint(service_name: str, inet_interfaces: str | Iterable[str] = "all",
                        inet_protocols: str | Iterable[str] = "all", *,
                        ipv6_available: bool = True,
                        getservbyname: Callable[[str, str], int] | None = None) -> list[Endpoint]:
    """Where an ``inet`` service listens, per master(5).

    The service name is ``port`` or a service name (looked up in
    /etc/services through ``getservbyname``, ``smtp`` is 25) meaning every
    address of ``inet_interfaces``, or ``host:port`` (``127.0.0.1:2525``,
    ``[::1]:2525``, ``mx.example.com:smtp``, ``:2525`` for every
    interface). ``inet_interfaces`` ``all`` is the wildcard address of each
    protocol of ``inet_protocols``, ``loopback-only`` the loopback
    addresses, otherwise a list of addresses and hostnames; addresses of a
    disabled protocol are left out. A hostname comes back with family
    ``AF_UNSPEC`` for the binding adapter to resolve. Errors are
    ValueErrors worded as Postfix's master; the caller adds master.cf's
    file and line.

    >>> [e.display for e in parse_inet_endpoint("smtp", "all", "all")]
    ['0.0.0.0:25', '[::]:25']
    >>> [e.display for e in parse_inet_endpoint("2525", "loopback-only", "ipv4")]
    ['127.0.0.1:2525']
    >>> parse_inet_endpoint("[::1]:2525")
    [Endpoint(host='::1', port=2525, family=<AddressFamily.AF_INET6: 10>)]
    >>> [e.display for e in parse_inet_endpoint("2525", "192.0.2.1, [2001:db8::1]", "ipv4")]
    ['192.0.2.1:2525']
    >>> parse_inet_endpoint("127.0.0.1:99999")
    Traceback (most recent call last):
    ...
    ValueError: bad port number: 99999
    """
    families = parse_inet_protocols(inet_protocols, ipv6_available=ipv6_available)
    name = service_name.strip()
    if name.startswith("["):
        close = name.find("]")
        if close < 0:
            raise ValueError(f"missing \"]\" in \"{name}\"")
        host, rest = name[:close + 1], name[close + 1:]
        if not rest.startswith(":") or not rest[1:]:
            raise ValueError(f"missing port number in \"{name}\"")
        port_text = rest[1:]
    elif ":" in name:
        host, _, port_text = name.rpartition(":")
        if ":" in host:
            raise ValueError(f"an IPv6 address must be written [address]:port in \"{name}\"")
    else:
        host, port_text = "", name
    if not port_text:
        raise ValueError(f"missing port number in \"{name}\"")
    port = _port(port_text, getservbyname)
    if host:
        hosts = [host]
    else:
        hosts = _words(inet_interfaces)
        if not hosts:
            raise ValueError("service definition requires valid inet_interfaces")
    endpoints: list[Endpoint] = []
    for word in hosts:
        lowered = word.lower()
        if lowered in ("all", "loopback-only") and not host:
            table = _WILDCARD if lowered == "all" else _LOOPBACK
            candidates = [Endpoint(table[f], port, f) for f in families]
        else:
            address, family = _host_family(word)
            if family != socket.AF_UNSPEC and family not in families:
                continue        # Postfix drops addresses of a disabled protocol
            candidates = [Endpoint(address, port, family)]
        endpoints += [e for e in candidates if e not in endpoints]
    if not endpoints:
        raise ValueError(f"no valid IP address found: {name}"
                         + ("" if host else f" (inet_interfaces = {' '.join(hosts)})"))
    return endpoints
