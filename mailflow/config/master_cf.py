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
"""

from __future__ import annotations

import re
from typing import Iterator

import attrs

from mailflow.config.main_cf import logical_lines
from mailflow.config.values import split_outside_braces, strip_braces
from mailflow.errors import ConfigError

__all__ = ["Service", "MasterConfig", "parse_master_cf", "format_service", "command_text",
           "split_args"]

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
