"""pipe(8) service arguments and ``${name}`` expansion, as pure functions.

Owns parsing a master.cf pipe entry's words (``flags=``, ``user=``,
``size=``, ``eol=``, ``null_sender=``, ``directory=``, ``argv=...``) and
expanding the command's macros for one message and its recipients. Never
runs anything.

>>> spec = parse_pipe_args(["flags=Rq", "user=vmail", "argv=/usr/bin/deliver",
...                         "-f", "${sender}", "--", "${recipient}"])
>>> spec.argv, spec.flags
(('/usr/bin/deliver', '-f', '${sender}', '--', '${recipient}'), 'Rq')
>>> expand_argv(spec.argv, {"sender": "a@example.com"},
...             [{"recipient": "b@example.com"}, {"recipient": "c@example.com"}])
['/usr/bin/deliver', '-f', 'a@example.com', '--', 'b@example.com', 'c@example.com']
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

import attrs

from mailflow.address.quote import quote_address
from mailflow.config.expand import expand_value
from mailflow.errors import ConfigError

__all__ = ["PipeSpec", "parse_pipe_args", "RECIPIENT_MACROS", "KNOWN_FLAGS",
           "split_recipient", "recipient_macros", "message_macros", "expand",
           "expand_argv", "uses_recipient_macros"]

# pipe(8): flags it understands; a letter outside this set is warned about.
KNOWN_FLAGS = frozenset("BDFORXhqu.>")

# pipe(8): these expand into one argv element per recipient.
RECIPIENT_MACROS = frozenset({"recipient", "original_recipient", "user", "extension",
                              "mailbox", "domain"})

_MACRO = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:([?:])([^}]*))?\}|\(([A-Za-z_][A-Za-z0-9_]*)\)"
                    r"|([A-Za-z_][A-Za-z0-9_]*))")


@attrs.frozen
class PipeSpec:
    """One pipe service's settings from its master.cf arguments."""

    argv: tuple = attrs.field(converter=tuple)
    flags: str = ""
    user: str = ""
    group: str = ""
    size_limit: int = 0
    eol: str = "\n"
    null_sender: str = "MAILER-DAEMON"
    directory: str = ""
    unknown_flags: str = ""

    def has(self, letter: str) -> bool:
        return letter in self.flags


def _unescape_eol(text: str) -> str:
    # pipe(8): eol= takes C-like escapes, e.g. eol=\r\n.
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def parse_pipe_args(args: Sequence[str], service: str = "pipe") -> PipeSpec:
    """Parse the words after ``pipe`` on a master.cf line.

    ``argv=`` must come last: every following word belongs to the command.
    Missing ``argv=`` or an unknown attribute is a ConfigError worded as
    Postfix's.

    >>> parse_pipe_args(["flags=", "argv=/bin/cat"]).flags
    ''
    >>> parse_pipe_args(["user=x"])
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: pipe: missing argv= command-line attribute
    """
    fields: dict = {}
    argv: list[str] | None = None
    words = list(args)
    for i, word in enumerate(words):
        name, sep, value = word.partition("=")
        if not sep:
            raise ConfigError(f"{service}: unknown attribute name: {word}")
        if name == "argv":
            argv = ([value] if value else []) + words[i + 1:]
            break
        if name == "flags":
            fields["flags"] = value
        elif name == "user":
            user, _, group = value.partition(":")
            fields["user"], fields["group"] = user, group
        elif name == "size":
            if not value.isdigit():
                raise ConfigError(f"{service}: bad size= value: {value}")
            fields["size_limit"] = int(value)
        elif name == "eol":
            fields["eol"] = _unescape_eol(value)
        elif name == "null_sender":
            fields["null_sender"] = value
        elif name == "directory":
            fields["directory"] = value
        elif name in ("chroot", "quote_special"):
            pass  # accepted and ignored: mailflow never chroots
        else:
            raise ConfigError(f"{service}: unknown attribute name: {name}")
    if not argv:
        raise ConfigError(f"{service}: missing argv= command-line attribute")
    flags = fields.get("flags", "")
    fields["unknown_flags"] = "".join(ch for ch in flags if ch not in KNOWN_FLAGS)
    return PipeSpec(argv=argv, **fields)


def uses_recipient_macros(argv: Iterable[str]) -> bool:
    """Whether any argv element names a per-recipient macro.

    >>> uses_recipient_macros(["/bin/x", "${user}"]), uses_recipient_macros(["/bin/x", "$sender"])
    (True, False)
    """
    for arg in argv:
        for m in _MACRO.finditer(arg):
            if (m.group(1) or m.group(4) or m.group(5)) in RECIPIENT_MACROS:
                return True
    return False


def split_recipient(address: str, delimiter: str = "") -> tuple[str, str, str, str]:
    """``(mailbox, user, extension, domain)`` of an address.

    ``user`` is the local part without the ``recipient_delimiter``
    extension; ``mailbox`` keeps it (pipe(8) ${mailbox}).

    >>> split_recipient("Joe+Lists@Example.com", "+")
    ('Joe+Lists', 'Joe', 'Lists', 'Example.com')
    """
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    user, ext = local, ""
    if delimiter:
        cut = min((i for i in (local.find(d) for d in delimiter) if i > 0), default=-1)
        if cut > 0:
            user, ext = local[:cut], local[cut + 1:]
    return local, user, ext, domain


def recipient_macros(recipient: str, original: str, delimiter: str, flags: str = "") -> dict[str, str]:
    """The per-recipient macro values, with the ``h``, ``q`` and ``u`` flags applied.

    >>> recipient_macros("Joe+x@EXAMPLE.com", "joe+x@example.com", "+", "hu")["recipient"]
    'joe+x@example.com'
    """
    mailbox, user, ext, domain = split_recipient(recipient, delimiter)
    if "u" in flags:
        mailbox, user = mailbox.lower(), user.lower()
    if "h" in flags:
        domain = domain.lower()
    rcpt = f"{mailbox}@{domain}" if domain else mailbox
    orig = original
    if "q" in flags:
        rcpt, orig = quote_address(rcpt), quote_address(orig)
    return {"recipient": rcpt, "original_recipient": orig, "user": user,
            "extension": ext, "mailbox": mailbox, "domain": domain}


def message_macros(*, sender: str, nexthop: str, queue_id: str, size: int, client=None,
                   flags: str = "", null_sender: str = "MAILER-DAEMON") -> dict[str, str]:
    """The per-message macro values.

    >>> message_macros(sender="", nexthop="h", queue_id="Q", size=3)["sender"]
    'MAILER-DAEMON'
    """
    shown = sender if sender else null_sender
    if sender and "q" in flags:
        shown = quote_address(sender)
    out = {"sender": shown, "nexthop": nexthop, "queue_id": queue_id, "size": str(size),
           "client_address": "", "client_helo": "", "client_hostname": "",
           "client_port": "", "client_protocol": "", "sasl_username": "",
           "sasl_method": "", "sasl_sender": ""}
    if client is not None:
        out.update(client_address=client.address, client_helo=client.helo,
                   client_hostname=client.name, client_protocol=client.protocol,
                   sasl_username=client.sasl_username)
    return out


def expand(text: str, values: Mapping[str, str], strict: bool = True) -> str:
    """Expand ``$name``, ``${name}``, ``$(name)``, ``${name?text}``, ``${name:text}``.

    Postfix's mac_expand, the same language as main.cf values
    (:func:`mailflow.config.expand.expand_value`); ``$$`` is a literal ``$``.
    An unknown name is a ConfigError (pipe(8): "unknown macro name"), or
    empty when ``strict`` is off.

    >>> expand("${extension?+}${extension}", {"extension": "lists"})
    '+lists'
    >>> expand("${extension:none}", {"extension": ""})
    'none'
    """
    def lookup(name: str) -> str | None:
        if name in values:
            return values[name]
        if strict:
            raise ConfigError(f'unknown macro name: "{name}"')
        return None
    return expand_value(text, lookup)


def expand_argv(argv: Sequence[str], message: Mapping[str, str],
                recipients: Sequence[Mapping[str, str]]) -> list[str]:
    """Expand a command's argv; an element with a per-recipient macro
    becomes one element per recipient (pipe(8))."""
    out: list[str] = []
    for arg in argv:
        if uses_recipient_macros([arg]):
            for rcpt in recipients:
                out.append(expand(arg, {**message, **rcpt}))
        else:
            out.append(expand(arg, message))
    return out
