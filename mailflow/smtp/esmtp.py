"""ESMTP extensions: MAIL FROM/RCPT TO parameters, xtext, and EHLO capabilities.

The server side parses the parameters after the address with
:func:`parse_mail_params` and :func:`parse_rcpt_params`; a parameter it
refuses raises :class:`~mailflow.smtp.errors.ParameterError` carrying the
reply Postfix's smtpd gives for the same case (``mail_cmd()``/``rcpt_cmd()``
in smtpd.c). The client side writes parameters with the ``format()``
methods and reads the server's EHLO reply with :meth:`Extensions.parse`.
Policy (size limits, whether AUTH= is trusted) belongs to the services; this
module does no I/O.

>>> p = parse_mail_params(["SIZE=1024", "BODY=8bitmime", "ENVID=QQ+2B1"])
>>> (p.size, p.body, p.envid)
(1024, '8BITMIME', 'QQ+1')
>>> p.format()
'SIZE=1024 BODY=8BITMIME ENVID=QQ+2B1'
>>> parse_rcpt_params(["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob+2Bx@example.com"]).orcpt
'rfc822;bob+x@example.com'
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import attrs

from mailflow.smtp.errors import ParameterError
from mailflow.smtp.reply import Reply

__all__ = [
    "MailParams", "RcptParams", "Extensions",
    "parse_mail_params", "parse_rcpt_params", "ehlo_lines",
    "xtext_encode", "xtext_decode",
]

# The replies, worded as Postfix 3.7's smtpd.c words them.
BAD_SIZE = Reply.of(501, "Bad message size syntax", "5.5.4")
SIZE_OVERFLOW = Reply.of(552, "Message size exceeds file system imposed limit", "5.3.4")
BAD_RET = Reply.of(501, "Bad RET parameter syntax", "5.5.4")
BAD_ENVID = Reply.of(501, "Bad ENVID parameter syntax", "5.5.4")
BAD_NOTIFY = Reply.of(501, "Error: Bad NOTIFY parameter syntax", "5.5.4")
BAD_ORCPT = Reply.of(501, "Error: Bad ORCPT parameter syntax", "5.5.4")
DSN_DISABLED = Reply.of(501, "DSN support is disabled", "5.7.1")
MULTIPLE_AUTH = Reply.of(503, "Error: multiple AUTH= options", "5.5.4")

# off_t is 64-bit signed: a larger SIZE= is Postfix's "file system imposed limit".
_OFF_T_MAX = 2**63 - 1
_NOTIFY_WORDS = frozenset({"NEVER", "SUCCESS", "FAILURE", "DELAY"})
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")


def unsupported(arg: str) -> Reply:
    """Postfix's reply to a parameter it does not implement.

    >>> str(unsupported("FOO=bar"))
    '555 5.5.4 Unsupported option: FOO=bar'
    """
    # A client's parameter may hold any byte: quote it printably, as
    # Postfix's printable() does, so it can never break the reply.
    return Reply.of(555, f"Unsupported option: {_shown(arg)}", "5.5.4")


def _shown(text: str) -> str:
    """``text`` with control characters shown as ``?``.

    >>> _shown("x" + chr(13) + "y")
    'x?y'
    """
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def xtext_encode(text: str) -> str:
    """RFC 3461 xtext: ``+``, ``=``, controls, space and non-ASCII as ``+XX``.

    Non-ASCII characters are encoded byte by byte in UTF-8.

    >>> xtext_encode("a+b=c d")
    'a+2Bb+3Dc+20d'
    >>> xtext_encode("é")
    '+C3+A9'
    """
    out = []
    for byte in text.encode("utf-8"):
        if 33 <= byte <= 126 and byte not in (0x2B, 0x3D):
            out.append(chr(byte))
        else:
            out.append(f"+{byte:02X}")
    return "".join(out)


def xtext_decode(text: str) -> str:
    """Undo RFC 3461 xtext; ``ValueError`` for a ``+`` not followed by two hex digits.

    The decoded bytes must be UTF-8 (ASCII in practice).

    >>> xtext_decode("a+2Bb+3Dc+20d")
    'a+b=c d'
    >>> xtext_decode("50+")
    Traceback (most recent call last):
      ...
    ValueError: bad xtext '50+': '+' must be followed by two hex digits
    """
    if "+" not in text:
        return text
    first, *rest = text.split("+")
    out = bytearray(first.encode("utf-8"))
    for part in rest:
        if len(part) < 2 or not _HEX2.fullmatch(part[:2]):
            raise ValueError(f"bad xtext {text!r}: '+' must be followed by two hex digits")
        out.append(int(part[:2], 16))
        out += part[2:].encode("utf-8")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"bad xtext {text!r}: not UTF-8") from exc


@attrs.frozen
class MailParams:
    """The ESMTP parameters of one MAIL FROM command.

    ``size`` is SIZE= (RFC 1870), ``body`` ``7BIT``/``8BITMIME``/``BINARYMIME``
    (RFC 1652/3030, upper-case), ``smtputf8`` the RFC 6531 keyword, ``ret``
    ``FULL``/``HDRS`` and ``envid`` the xtext-decoded ENVID (RFC 3461),
    ``auth`` the AUTH= mailbox (RFC 4954; ``"<>"`` when the client said so).

    >>> MailParams(size=10, smtputf8=True).format()
    'SIZE=10 SMTPUTF8'
    """

    size: int | None = None
    body: str | None = None
    smtputf8: bool = False
    ret: str | None = None
    envid: str | None = None
    auth: str | None = None

    def tokens(self) -> list[str]:
        """The parameters as the client writes them, one token each."""
        out = []
        if self.size is not None:
            out.append(f"SIZE={self.size}")
        if self.body is not None:
            out.append(f"BODY={self.body}")
        if self.smtputf8:
            out.append("SMTPUTF8")
        if self.ret is not None:
            out.append(f"RET={self.ret}")
        if self.envid is not None:
            out.append(f"ENVID={xtext_encode(self.envid)}")
        if self.auth is not None:
            out.append("AUTH=<>" if self.auth == "<>" else f"AUTH={xtext_encode(self.auth)}")
        return out

    def format(self) -> str:
        """The parameters joined by spaces (``""`` when there are none)."""
        return " ".join(self.tokens())


@attrs.frozen
class RcptParams:
    """The ESMTP parameters of one RCPT TO command (RFC 3461 DSN).

    ``notify`` is the set of NOTIFY keywords (empty: not given); ``orcpt``
    is ``"addr-type;address"`` with the address xtext-decoded.

    >>> RcptParams(notify=frozenset({"FAILURE", "DELAY"}),
    ...            orcpt="rfc822;bob@example.com").format()
    'NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.com'
    """

    notify: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    orcpt: str | None = None

    def tokens(self) -> list[str]:
        """The parameters as the client writes them, one token each."""
        out = []
        if self.notify:
            order = ("NEVER", "SUCCESS", "FAILURE", "DELAY")
            out.append("NOTIFY=" + ",".join(w for w in order if w in self.notify))
        if self.orcpt is not None:
            kind, _, address = self.orcpt.partition(";")
            out.append(f"ORCPT={kind};{xtext_encode(address)}")
        return out

    def format(self) -> str:
        """The parameters joined by spaces (``""`` when there are none)."""
        return " ".join(self.tokens())


def _printable(text: str) -> bool:
    """Postfix's all_isprint_tab(): printable ASCII or tab only."""
    return all(32 <= ord(c) < 127 or c == "\t" for c in text)


def parse_mail_params(tokens: Sequence[str], *, smtputf8: bool = True, dsn: bool = True,
                      binarymime: bool = False) -> MailParams:
    """Parse the parameters after ``MAIL FROM:<address>``, as Postfix's smtpd does.

    ``smtputf8`` and ``dsn`` say whether those extensions are offered
    (``smtputf8_enable``; DSN not in ``smtpd_discard_ehlo_keywords``);
    ``binarymime`` whether ``BODY=BINARYMIME`` is accepted (Postfix does not
    offer it). Keywords are case-insensitive; SIZE= and BODY= may repeat
    (the last wins), RET=, ENVID= and AUTH= may not.

    >>> parse_mail_params(["size=100", "SMTPUTF8", "RET=hdrs"])
    MailParams(size=100, body=None, smtputf8=True, ret='HDRS', envid=None, auth=None)
    >>> parse_mail_params(["SIZE=12k"])
    Traceback (most recent call last):
      ...
    mailflow.smtp.errors.ParameterError: 501 5.5.4 Bad message size syntax
    >>> parse_mail_params(["XVERP"])
    Traceback (most recent call last):
      ...
    mailflow.smtp.errors.ParameterError: 555 5.5.4 Unsupported option: XVERP
    """
    size: int | None = None
    body: str | None = None
    utf8 = False
    ret: str | None = None
    envid: str | None = None
    auth: str | None = None
    for arg in tokens:
        key, eq, value = arg.partition("=")
        key = key.upper()
        if key == "BODY" and eq and value.upper() in ("7BIT", "8BITMIME") + (
                ("BINARYMIME",) if binarymime else ()):
            body = value.upper()
        elif key == "SIZE" and eq:
            if not value.isascii() or not value.isdigit():
                raise ParameterError(BAD_SIZE)
            size = int(value)
            if size > _OFF_T_MAX:
                raise ParameterError(SIZE_OVERFLOW)
        elif smtputf8 and arg.upper() == "SMTPUTF8":
            utf8 = True
        elif key == "AUTH" and eq:
            if auth is not None:
                raise ParameterError(MULTIPLE_AUTH)
            # RFC 4954 5: AUTH=<> or an xtext mailbox. Postfix keeps the raw
            # value; a value that is not valid xtext is kept as written.
            try:
                auth = value if value == "<>" else xtext_decode(value)
            except ValueError:
                auth = value
        elif key == "RET" and eq:
            if not dsn:
                raise ParameterError(DSN_DISABLED)
            if ret is not None or value.upper() not in ("FULL", "HDRS"):
                raise ParameterError(BAD_RET)
            ret = value.upper()
        elif key == "ENVID" and eq:
            if not dsn:
                raise ParameterError(DSN_DISABLED)
            if envid is not None:
                raise ParameterError(BAD_ENVID)
            try:
                envid = xtext_decode(value)
            except ValueError:
                raise ParameterError(BAD_ENVID) from None
            if not _printable(envid):
                raise ParameterError(BAD_ENVID)
        else:
            raise ParameterError(unsupported(arg))
    return MailParams(size=size, body=body, smtputf8=utf8, ret=ret, envid=envid, auth=auth)


def parse_rcpt_params(tokens: Sequence[str], *, dsn: bool = True) -> RcptParams:
    """Parse the parameters after ``RCPT TO:<address>``, as Postfix's smtpd does.

    NOTIFY= is ``NEVER`` alone or a comma list of SUCCESS, FAILURE, DELAY
    (any case); ORCPT= is ``addr-type;xtext`` (RFC 3461 4.2). Neither may
    repeat.

    >>> sorted(parse_rcpt_params(["notify=delay,failure"]).notify)
    ['DELAY', 'FAILURE']
    >>> parse_rcpt_params(["NOTIFY=NEVER,DELAY"])
    Traceback (most recent call last):
      ...
    mailflow.smtp.errors.ParameterError: 501 5.5.4 Error: Bad NOTIFY parameter syntax
    """
    notify: frozenset[str] | None = None
    orcpt: str | None = None
    for arg in tokens:
        key, eq, value = arg.partition("=")
        key = key.upper()
        if key == "NOTIFY" and eq:
            if not dsn:
                raise ParameterError(DSN_DISABLED)
            words = frozenset(w.upper() for w in value.split(",") if w)
            if (notify is not None or not words or not words <= _NOTIFY_WORDS
                    or ("NEVER" in words and len(words) > 1)):
                raise ParameterError(BAD_NOTIFY)
            notify = words
        elif key == "ORCPT" and eq:
            if not dsn:
                raise ParameterError(DSN_DISABLED)
            kind, semi, coded = value.partition(";")
            if orcpt is not None or not semi or not kind:
                raise ParameterError(BAD_ORCPT)
            try:
                # RFC 6533: utf-8 addresses use utf-8-addr-xtext, whose
                # \\x{HEX} form only matters for non-ASCII; both allow +XX.
                address = xtext_decode(coded)
            except ValueError:
                raise ParameterError(BAD_ORCPT) from None
            if "\0" in address:
                raise ParameterError(BAD_ORCPT)
            orcpt = f"{kind};{address}"
        else:
            raise ParameterError(unsupported(arg))
    return RcptParams(notify=notify or frozenset(), orcpt=orcpt)


@attrs.frozen
class Extensions:
    """What a server offered in its EHLO reply (for the client side).

    ``size`` is ``None`` when SIZE was not offered and ``0`` when it was
    offered without a limit. ``keywords`` maps every upper-cased keyword
    to its parameters as written (``{"SIZE": "10240000", "PIPELINING": ""}``).

    >>> ext = Extensions.parse(Reply.of(250, "mx.example\\nPIPELINING\\nSIZE 10240000"
    ...                                 "\\nAUTH PLAIN LOGIN\\n8BITMIME\\nDSN"))
    >>> (ext.pipelining, ext.size, sorted(ext.auth), ext.dsn, ext.chunking)
    (True, 10240000, ['LOGIN', 'PLAIN'], True, False)
    """

    keywords: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, reply: Reply) -> "Extensions":
        """Read the keyword lines (all but the first) of a 250 EHLO reply.

        The pre-RFC 2554 form ``AUTH=PLAIN LOGIN`` counts as AUTH too.
        """
        keywords: dict[str, str] = {}
        for line in reply.lines[1:]:
            word, _, params = line.strip().partition(" ")
            if not word:
                continue
            if word.upper().startswith("AUTH="):
                # The pre-RFC 2554 form "AUTH=PLAIN LOGIN" that some servers
                # still send next to "AUTH PLAIN LOGIN".
                params = " ".join(filter(None, (keywords.get("AUTH"), word[5:], params)))
                word = "AUTH"
            keywords[word.upper()] = params.strip()
        return cls(keywords)

    def _has(self, word: str) -> bool:
        return word in self.keywords

    @property
    def pipelining(self) -> bool:
        """RFC 2920 PIPELINING."""
        return self._has("PIPELINING")

    @property
    def size(self) -> int | None:
        """RFC 1870 SIZE limit: ``None`` not offered, ``0`` no limit given."""
        if "SIZE" not in self.keywords:
            return None
        value = self.keywords["SIZE"].split(" ")[0]
        return int(value) if value.isascii() and value.isdigit() else 0

    @property
    def dsn(self) -> bool:
        """RFC 3461 DSN."""
        return self._has("DSN")

    @property
    def smtputf8(self) -> bool:
        """RFC 6531 SMTPUTF8."""
        return self._has("SMTPUTF8")

    @property
    def eightbitmime(self) -> bool:
        """RFC 6152 8BITMIME."""
        return self._has("8BITMIME")

    @property
    def chunking(self) -> bool:
        """RFC 3030 CHUNKING (BDAT)."""
        return self._has("CHUNKING")

    @property
    def starttls(self) -> bool:
        """RFC 3207 STARTTLS."""
        return self._has("STARTTLS")

    @property
    def enhancedstatuscodes(self) -> bool:
        """RFC 2034 ENHANCEDSTATUSCODES."""
        return self._has("ENHANCEDSTATUSCODES")

    @property
    def auth(self) -> frozenset[str]:
        """RFC 4954 SASL mechanisms offered, upper-case (empty: no AUTH)."""
        return frozenset(m.upper() for m in self.keywords.get("AUTH", "").split())


def ehlo_lines(hostname: str, keywords: Iterable[str]) -> Reply:
    """The server's 250 reply to EHLO: the hostname, then one keyword per line.

    Postfix sends no enhanced status code on the EHLO reply (RFC 2034).

    >>> ehlo_lines("mx.example.com", ["PIPELINING", "SIZE 10240000", "8BITMIME"]).format()
    b'250-mx.example.com\\r\\n250-PIPELINING\\r\\n250-SIZE 10240000\\r\\n250 8BITMIME\\r\\n'
    """
    return Reply(250, (hostname, *keywords))
