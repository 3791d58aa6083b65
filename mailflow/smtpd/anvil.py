"""Client connection and rate limits: Postfix's anvil(8), in process.

This module owns the counters anvil keeps per (service, client address):
simultaneous connections, and per ``anvil_rate_time_unit`` the connection,
message, recipient, new-TLS-session and AUTH rates; and the decision smtpd
makes from them with ``smtpd_client_connection_count_limit``,
``smtpd_client_connection_rate_limit``, ``smtpd_client_message_rate_limit``,
``smtpd_client_recipient_rate_limit``,
``smtpd_client_new_tls_session_rate_limit`` and
``smtpd_client_auth_rate_limit``, for clients not listed in
``smtpd_client_event_limit_exceptions``. It never reads a clock (one is
injected) and never writes a log: a refusal carries Postfix's reply and the
warning line for the caller to log.

Counting follows anvil.c: a rate counts the events since the start of the
current time unit; the first event after a whole unit has passed starts a
new unit with every rate at zero. A client's entry is forgotten one time
unit after its last connection closed, so memory stays bounded by the
connections open plus the clients seen in the last time unit.

Use it through a session, one per SMTP connection::

>>> from mailflow.testing import FakeClock
>>> clock = FakeClock(1000)
>>> anvil = Anvil(clock)
>>> limits = ClientLimits(connection_count=1, hostname="mx.example.com")
>>> first = anvil.connect(limits, "smtp", "192.0.2.1", "client.example")
>>> first.refusal is None
True
>>> second = anvil.connect(limits, "smtp", "192.0.2.1", "client.example")
>>> print(second.refusal)
421 4.7.0 mx.example.com Error: too many connections from 192.0.2.1
>>> second.refusal.warning
'Connection concurrency limit exceeded: 2 from client.example[192.0.2.1] for service smtp'
>>> second.close(); first.close()
>>> anvil.connect(limits, "smtp", "192.0.2.1").refusal is None
True
"""

from __future__ import annotations

import collections
import ipaddress
import re
import time
from typing import Any, Callable, Iterable, Sequence

import attrs

__all__ = ["Anvil", "AnvilSession", "ClientLimits", "Counters", "Refusal", "ExceptionList"]

_DEFAULT_TIME_UNIT = 60     # anvil_rate_time_unit's default, seconds


# ---------------------------------------------------------------- the answer
@attrs.frozen
class Refusal:
    """A limit was hit: the reply smtpd gives and the warning it logs.

    ``reply`` is ``(code, enhanced, text)``; ``str()`` is the reply line.

    >>> r = Refusal(450, "4.7.1", "Error: too much mail from 192.0.2.1",
    ...             "Message delivery request rate limit exceeded: 3 from unknown[192.0.2.1] "
    ...             "for service smtp")
    >>> str(r), r.reply[0]
    ('450 4.7.1 Error: too much mail from 192.0.2.1', 450)
    """

    code: int
    enhanced: str
    text: str
    warning: str        # for the log, without Postfix's "warning: " prefix

    @property
    def reply(self) -> tuple[int, str, str]:
        """``(code, enhanced, text)``."""
        return (self.code, self.enhanced, self.text)

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"


# ---------------------------------------------------------------- exceptions
class ExceptionList:
    """``smtpd_client_event_limit_exceptions``: clients anvil does not count.

    Patterns as Postfix's ``mynetworks`` and other client lists (namadr):
    an address (``192.0.2.1``, ``[2001:db8::1]``), a network in CIDR
    notation, a hostname (``mail.example.com``) or a parent domain with a
    leading dot (``.example.com``); ``!pattern`` excludes, and the first
    match decides. ``type:name`` tables are not consulted here (ignored).

    >>> exc = ExceptionList(["!192.0.2.7", "192.0.2.0/24", "[2001:db8::]/32", ".example.com"])
    >>> exc.match("192.0.2.9"), exc.match("192.0.2.7"), exc.match("2001:db8::5")
    (True, False, True)
    >>> exc.match("198.51.100.1", "relay.example.com"), exc.match("198.51.100.1", "unknown")
    (True, False)
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[tuple[bool, Any]] = []
        for raw in patterns:
            pattern = raw.strip()
            negate = pattern.startswith("!")
            pattern = pattern[1:].strip() if negate else pattern
            if not pattern:
                continue
            network = _network(pattern)
            if network is not None:
                self.patterns.append((negate, network))
            elif re.fullmatch(r"\w+:\S+", pattern) and "/" not in pattern.split(":", 1)[0]:
                continue        # a lookup table: not evaluated in process
            else:
                self.patterns.append((negate, pattern.lower().rstrip(".")))

    def match(self, address: str, name: str = "unknown") -> bool:
        """Whether the client (address, verified hostname) is listed."""
        addr = _address(address)
        host = name.lower().rstrip(".")
        for negate, pattern in self.patterns:
            if isinstance(pattern, str):
                if host == "unknown" or not host:
                    continue
                hit = (host.endswith(pattern) if pattern.startswith(".") else host == pattern)
            else:
                hit = addr is not None and addr.version == pattern.version and addr in pattern
            if hit:
                return not negate
        return False


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]").split("%")[0])
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped or addr


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    plain = text.replace("[", "").replace("]", "")
    if not re.fullmatch(r"[0-9A-Fa-f:.]+(/\d+)?", plain) or not any(c in plain for c in ".:"):
        return None
    try:
        network = ipaddress.ip_network(plain, strict=False)
    except ValueError:
        return None
    # [::ffff:127.0.0.0]/104 (in Postfix's default mynetworks) is the IPv4
    # network seen through an IPv6 socket; client addresses are compared
    # unmapped, so the network is too.
    if (network.version == 6 and network.prefixlen >= 96
            and network.network_address in _MAPPED):
        base = int(network.network_address) & 0xFFFFFFFF
        return ipaddress.ip_network((base, network.prefixlen - 96), strict=False)
    return network


_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


# ---------------------------------------------------------------- settings
@attrs.frozen
class ClientLimits:
    """The limits one smtpd service applies (0 = no limit), Postfix's defaults.

    >>> from mailflow.config import Config
    >>> limits = ClientLimits.from_config(Config(myhostname="mx.example.com",
    ...                                          smtpd_client_message_rate_limit="30"))
    >>> limits.connection_count, limits.message_rate, limits.time_unit, limits.hostname
    (50, 30, 60, 'mx.example.com')
    >>> limits.is_exempt("127.0.0.1"), limits.is_exempt("192.0.2.1")
    (True, False)
    """

    connection_count: int = 50
    connection_rate: int = 0
    message_rate: int = 0
    recipient_rate: int = 0
    new_tls_rate: int = 0
    auth_rate: int = 0
    time_unit: int = _DEFAULT_TIME_UNIT
    exceptions: Sequence[str] = ()
    hostname: str = "localhost"
    _exception_list: ExceptionList = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_exception_list", ExceptionList(self.exceptions))

    @classmethod
    def from_config(cls, cfg: Any) -> "ClientLimits":
        """Read the ``smtpd_client_*_limit`` parameters,
        ``smtpd_client_event_limit_exceptions``, ``myhostname`` and
        ``anvil_rate_time_unit`` (once the parameter table defines it;
        Postfix's 60 s until then)."""
        def number(name: str, default: int) -> int:
            value = cfg.get(name, default)
            return int(value) if value is not None else default
        exceptions = cfg.get("smtpd_client_event_limit_exceptions", [])
        if isinstance(exceptions, str):
            exceptions = re.split(r"[\s,]+", exceptions)
        return cls(
            connection_count=number("smtpd_client_connection_count_limit", 50),
            connection_rate=number("smtpd_client_connection_rate_limit", 0),
            message_rate=number("smtpd_client_message_rate_limit", 0),
            recipient_rate=number("smtpd_client_recipient_rate_limit", 0),
            new_tls_rate=number("smtpd_client_new_tls_session_rate_limit", 0),
            auth_rate=number("smtpd_client_auth_rate_limit", 0),
            time_unit=_time_unit(cfg),
            exceptions=tuple(e for e in exceptions if e),
            hostname=str(cfg.get("myhostname", "localhost")))

    def is_exempt(self, address: str, name: str = "unknown") -> bool:
        """Whether the client is in ``smtpd_client_event_limit_exceptions``."""
        return self._exception_list.match(address, name)


def _time_unit(cfg: Any) -> int:
    # anvil_rate_time_unit is read once the parameter table has it (a TIME
    # value); until then main.cf's setting is reported "not implemented
    # (ignored)", and ignoring it here keeps that warning true.
    from mailflow.config.params import PARAMS
    if "anvil_rate_time_unit" not in PARAMS:
        return _DEFAULT_TIME_UNIT
    value = cfg.get("anvil_rate_time_unit", _DEFAULT_TIME_UNIT)
    if not isinstance(value, (int, float)):
        from mailflow.config.values import parse_time
        value = parse_time(str(value), "s")
    return max(1, int(value))


# ---------------------------------------------------------------- counters
@attrs.define
class Counters:
    """One (service, client) entry, as anvil.c's ANVIL_REMOTE."""

    count: int = 0          # connections open now
    rate: int = 0           # connections in this time unit
    mail: int = 0
    rcpt: int = 0
    ntls: int = 0
    auth: int = 0
    start: float = 0.0      # when this time unit began

    def reset_rates(self, start: float) -> None:
        self.rate = self.mail = self.rcpt = self.ntls = self.auth = 0
        self.start = start


_RATES = ("rate", "mail", "rcpt", "ntls", "auth")
_STAT_NAMES = {"rate": "connection", "mail": "message", "rcpt": "recipient", "ntls": "newtls",
               "auth": "auth"}


class Anvil:
    """The counters of every (service, client address), anvil(8)'s state.

    One per daemon, shared by the smtpd services (keys carry the service
    name). ``clock`` is a callable or a :class:`~mailflow.interfaces.Clock`
    giving seconds. ``time_unit`` is ``anvil_rate_time_unit``; sessions pass
    their limits' own, as Postfix reads one value for all.

    >>> from mailflow.testing import FakeClock
    >>> clock = FakeClock(0)
    >>> anvil = Anvil(clock)
    >>> anvil.count_connect("smtp", "192.0.2.1"), anvil.count_connect("smtp", "192.0.2.1")
    ((1, 1), (2, 2))
    >>> anvil.count("mail", "smtp", "192.0.2.1")
    1
    >>> _ = clock.advance(61)
    >>> anvil.count("mail", "smtp", "192.0.2.1")     # a new time unit
    1
    >>> anvil.count_disconnect("smtp", "192.0.2.1"); anvil.count_disconnect("smtp", "192.0.2.1")
    >>> _ = clock.advance(61)
    >>> len(anvil)          # idle for a whole unit: forgotten
    0
    """

    def __init__(self, clock: Callable[[], float] | Any = time.time, *,
                 time_unit: int = _DEFAULT_TIME_UNIT) -> None:
        self._now = clock if callable(clock) and not hasattr(clock, "now") else clock.now
        self.time_unit = time_unit
        self._entries: dict[tuple[str, str], Counters] = {}
        # Entries with no open connection, oldest first: forgotten once idle
        # for a whole time unit (anvil_remote_expire).
        self._idle: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()
        self._max: dict[str, tuple[int, str, float]] = {}
        self._max_cache: tuple[int, float] = (0, 0.0)

    def __len__(self) -> int:
        self._expire(self._now())
        return len(self._entries)

    def _expire(self, now: float) -> None:
        while self._idle:
            key, since = next(iter(self._idle.items()))
            if since + self.time_unit > now:
                break
            del self._idle[key]
            self._entries.pop(key, None)

    def _entry(self, service: str, address: str, now: float) -> Counters:
        self._expire(now)
        key = (service, address)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = Counters(start=now)
            self._idle[key] = now
            if len(self._entries) > self._max_cache[0]:
                self._max_cache = (len(self._entries), now)
        return entry

    def _incr(self, entry: Counters, what: str, now: float, ident: str) -> int:
        if entry.start + self.time_unit < now:
            entry.reset_rates(now)
        value = getattr(entry, what) + 1
        setattr(entry, what, value)
        self._peak(_STAT_NAMES[what] + " rate", value, ident, now)
        return value

    def _peak(self, name: str, value: int, ident: str, now: float) -> None:
        if value > self._max.get(name, (0, "", 0.0))[0]:
            self._max[name] = (value, ident, now)

    def count_connect(self, service: str, address: str) -> tuple[int, int]:
        """A connection opened: the (connection count, connection rate) now."""
        now = self._now()
        entry = self._entry(service, address, now)
        key = (service, address)
        rate = self._incr(entry, "rate", now, f"{service}:{address}")
        entry.count += 1
        self._idle.pop(key, None)
        self._peak("connection count", entry.count, f"{service}:{address}", now)
        return entry.count, rate

    def count_disconnect(self, service: str, address: str) -> None:
        """A connection closed (one that :meth:`count_connect` counted)."""
        now = self._now()
        key = (service, address)
        entry = self._entries.get(key)
        if entry is None or entry.count == 0:
            return
        entry.count -= 1
        if entry.count == 0:
            self._idle[key] = now
            self._idle.move_to_end(key)

    def count(self, what: str, service: str, address: str) -> int:
        """Count one ``mail``, ``rcpt``, ``ntls`` or ``auth`` event; the rate now."""
        if what not in ("mail", "rcpt", "ntls", "auth"):
            raise ValueError(f"unknown anvil event {what!r}")
        now = self._now()
        return self._incr(self._entry(service, address, now), what, now,
                          f"{service}:{address}")

    def lookup(self, service: str, address: str) -> Counters:
        """A copy of the entry, with rates of a past time unit reported as 0."""
        now = self._now()
        self._expire(now)
        entry = self._entries.get((service, address))
        if entry is None:
            return Counters()
        copy = attrs.evolve(entry)
        if copy.start + self.time_unit < now:
            copy.reset_rates(0.0)
        return copy

    def connect(self, limits: ClientLimits, service: str, address: str,
                name: str = "unknown") -> "AnvilSession":
        """Count a new connection and check the connection limits.

        The session's ``refusal`` is None, or the ``421`` to give before
        hanging up. An exempt client is not counted at all (Postfix skips
        anvil for it), and the session's checks always pass.
        """
        self.time_unit = limits.time_unit
        session = AnvilSession(self, limits, service, address, name)
        if limits.is_exempt(address, name):
            return session
        session.counted = True
        count, rate = self.count_connect(service, address)
        where = session.namaddr
        if limits.connection_count > 0 and count > limits.connection_count:
            session.refusal = Refusal(
                421, "4.7.0", f"{limits.hostname} Error: too many connections from {address}",
                f"Connection concurrency limit exceeded: {count} from {where} "
                f"for service {service}")
        elif limits.connection_rate > 0 and rate > limits.connection_rate:
            session.refusal = Refusal(
                421, "4.7.0", f"{limits.hostname} Error: too many connections from {address}",
                f"Connection rate limit exceeded: {rate} from {where} for service {service}")
        return session

    def statistics(self) -> list[str]:
        """anvil's periodic report of peak values since the last report, then reset.

        >>> from mailflow.testing import FakeClock
        >>> anvil = Anvil(FakeClock(0))
        >>> _ = anvil.count_connect("smtp", "192.0.2.1")
        >>> for line in anvil.statistics():
        ...     print(line.split(" at ")[0])
        statistics: max connection rate 1/60s for (smtp:192.0.2.1)
        statistics: max connection count 1 for (smtp:192.0.2.1)
        statistics: max cache size 1
        >>> anvil.statistics()
        []
        """
        lines = []
        order = ["connection rate", "connection count", "message rate", "recipient rate",
                 "newtls rate", "auth rate"]
        for name in order:
            if name not in self._max:
                continue
            value, ident, when = self._max[name]
            shown = f"{value}/{self.time_unit}s" if name.endswith("rate") else str(value)
            lines.append(f"statistics: max {name} {shown} for ({ident}) at {_stamp(when)}")
        if self._max_cache[0]:
            lines.append(f"statistics: max cache size {self._max_cache[0]} "
                         f"at {_stamp(self._max_cache[1])}")
        self._max.clear()
        self._max_cache = (0, 0.0)
        return lines


def _stamp(when: float) -> str:
    """``Dec  7 22:40:35``: ctime() without the weekday and year, as anvil logs."""
    tm = time.localtime(when)
    return f"{time.strftime('%b', tm)} {tm.tm_mday:2d} {time.strftime('%H:%M:%S', tm)}"


@attrs.define(eq=False)
class AnvilSession:
    """One client connection's view of the anvil: check each event against the limits.

    Every method returns None (go on) or a :class:`Refusal`. ``close`` at
    the end of the connection (twice is harmless).
    """

    anvil: Anvil
    limits: ClientLimits
    service: str
    address: str
    name: str = "unknown"
    refusal: Refusal | None = None
    counted: bool = False

    @property
    def namaddr(self) -> str:
        """``name[address]`` as Postfix logs the client."""
        return f"{self.name}[{self.address}]"

    def _check(self, what: str, limit: int, make: Callable[[int], Refusal]) -> Refusal | None:
        if not self.counted or limit <= 0:
            return None
        rate = self.anvil.count(what, self.service, self.address)
        return make(rate) if rate > limit else None

    def mail(self) -> Refusal | None:
        """MAIL FROM: ``450 4.7.1 Error: too much mail from ADDR`` over the message rate."""
        return self._check("mail", self.limits.message_rate, lambda rate: Refusal(
            450, "4.7.1", f"Error: too much mail from {self.address}",
            f"Message delivery request rate limit exceeded: {rate} from {self.namaddr} "
            f"for service {self.service}"))

    def rcpt(self) -> Refusal | None:
        """RCPT TO: ``450 4.7.1 Error: too many recipients from ADDR`` over the recipient rate."""
        return self._check("rcpt", self.limits.recipient_rate, lambda rate: Refusal(
            450, "4.7.1", f"Error: too many recipients from {self.address}",
            f"Recipient address rate limit exceeded: {rate} from {self.namaddr} "
            f"for service {self.service}"))

    def auth(self) -> Refusal | None:
        """AUTH: ``450 4.7.1 Error: too many AUTH commands from ADDR`` over the AUTH rate."""
        return self._check("auth", self.limits.auth_rate, lambda rate: Refusal(
            450, "4.7.1", f"Error: too many AUTH commands from {self.address}",
            f"AUTH command rate limit exceeded: {rate} from {self.namaddr} "
            f"for service {self.service}"))

    def starttls(self) -> Refusal | None:
        """Before STARTTLS's 220: ``454 4.7.0 Error: too many new TLS sessions
        from NAME[ADDR]`` when the client already used up its new-TLS rate
        (checked, not counted)."""
        limit = self.limits.new_tls_rate
        if not self.counted or limit <= 0:
            return None
        if self.anvil.lookup(self.service, self.address).ntls > limit:
            return Refusal(454, "4.7.0", f"Error: too many new TLS sessions from {self.namaddr}",
                           f"Refusing STARTTLS request from {self.namaddr} "
                           f"for service {self.service}")
        return None

    def new_tls(self, reused: bool = False) -> Refusal | None:
        """After a TLS handshake that made a new (not resumed) session: over
        the rate, ``421 4.7.0 HOST Error: too many new TLS sessions from
        NAME[ADDR]`` and the session ends."""
        if reused:
            return None
        return self._check("ntls", self.limits.new_tls_rate, lambda rate: Refusal(
            421, "4.7.0",
            f"{self.limits.hostname} Error: too many new TLS sessions from {self.namaddr}",
            f"New TLS session rate limit exceeded: {rate} from {self.namaddr} "
            f"for service {self.service}"))

    def close(self) -> None:
        """The connection ended: one fewer open connection for the client."""
        if self.counted:
            self.counted = False
            self.anvil.count_disconnect(self.service, self.address)
