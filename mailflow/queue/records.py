"""The queue-file format, versions 1 and 2: pure encode and decode.

Owns the bytes of a queue file; never opens, renames or fsyncs anything
(that is :mod:`mailflow.adapters.queue_store`). A queue file is line records
(``\\n`` ends), then the content, then an end marker::

    MAILFLOW-QUEUE 1                      magic + format version
    T 1700000000.123456                   arrival time (seconds since the epoch)
    S =alice@example.com                  envelope sender (``=`` alone: null sender)
    V -                                   RFC 3461 ENVID (``-``: none)
    N =HDRS                               RFC 3461 RET (``-``: none)
    C =host.example =192.0.2.1 =helo =ESMTP =   client: name address helo protocol sasl_username
    F =scan:[127.0.0.1]:10025             content filter, transport:nexthop (version 2 only)
    R- =bob@example.net =bob@example.net - =SUCCESS,FAILURE
    M 1234                                content size in bytes; the content follows
    <content>
    E                                     end marker, after a newline

Every value is written as ``=`` plus the value percent-encoded (so spaces,
newlines and ``%`` cannot break a record), or ``-`` for "absent". The
``R`` records are recipients: address, original recipient, ORCPT, NOTIFY.
The character right after ``R`` is the recipient's state: ``-`` pending,
``D`` delivered, ``B`` bounced. Like Postfix, which marks a finished
recipient by rewriting one record-type byte in place (qmgr_entry.c,
``REC_TYPE_DONE``), the store records progress by overwriting that single
byte and fsyncing: the file is never rewritten, so a crash leaves either
the old or the new state. :func:`decode` reports the offset of every state
byte for that purpose.

Version 2 adds the ``F`` record (Postfix's ``content_filter`` queue-file
record). A file is written as version 1 unless it needs a version-2 record,
so files without a content filter stay byte-for-byte what version 1 wrote
and older readers still read them; :func:`decode` reads both versions and
refuses an ``F`` record in a version-1 file.

A file that does not decode raises :class:`~mailflow.errors.QueueFileCorrupt`.

>>> env = Envelope("a@example.com", (Recipient("b@example.net"),), arrival_time=1.5)
>>> data = encode(env, Message(b"Subject: hi\\n\\nbody\\n"))
>>> data.splitlines()[:4]
[b'MAILFLOW-QUEUE 1', b'T 1.5', b'S =a@example.com', b'V -']
>>> qf = decode(data)
>>> qf.envelope.recipients[0].address, qf.message.data
('b@example.net', b'Subject: hi\\n\\nbody\\n')
>>> data[qf.state_offsets[0]:qf.state_offsets[0] + 1]
b'-'
"""

from __future__ import annotations

from typing import Iterator
from urllib.parse import quote, unquote

import attrs

from mailflow.errors import QueueFileCorrupt
from mailflow.model import ClientInfo, Envelope, Message, Notify, Recipient, RecipientState, Ret

__all__ = ["MAGIC", "VERSION", "VERSIONS", "QueueFile", "file_version", "encode", "decode",
           "head_end", "STATE_BYTES", "state_byte", "iter_records"]

MAGIC = b"MAILFLOW-QUEUE"
VERSION = 2                      # the newest version this module writes and reads
VERSIONS = (1, 2)                # every version it reads
_FIRST_LINES = {v: (MAGIC + b" %d\n" % v).decode() for v in VERSIONS}
# RFC 5321 addresses use most printable ASCII; keep it readable, escape the rest.
_SAFE = "@!#$&'*+/=?^_`{|}~.-:;<>[](),\"\\"
STATE_BYTES: dict[RecipientState, bytes] = {
    RecipientState.PENDING: b"-", RecipientState.DELIVERED: b"D", RecipientState.BOUNCED: b"B",
}
_STATES = {v[0]: k for k, v in STATE_BYTES.items()}
_END = b"\nE\n"
#: What follows the content in a queue file.
END = _END


def state_byte(state: RecipientState) -> bytes:
    """The one byte that records ``state`` in an ``R`` record.

    >>> state_byte(RecipientState.DELIVERED)
    b'D'
    """
    return STATE_BYTES[state]


def _val(value: str | None) -> str:
    return "-" if value is None else "=" + quote(value, safe=_SAFE)


def _unval(token: str, where: str) -> str | None:
    if token == "-":
        return None
    if not token.startswith("="):
        raise QueueFileCorrupt(f"{where}: bad value {token[:40]!r}")
    return unquote(token[1:], errors="surrogateescape")


@attrs.frozen
class QueueFile:
    """A decoded queue file.

    ``message`` is None when only the head was decoded. ``state_offsets[i]``
    is the byte offset of recipient ``i``'s state byte; ``content_offset``
    where the content starts.
    """

    envelope: Envelope
    message: Message | None
    size: int
    content_offset: int
    state_offsets: tuple = ()


def encode(envelope: Envelope, message: Message) -> bytes:
    """The queue file for ``envelope`` and ``message`` (``envelope.queue_id`` is not stored).

    >>> encode(Envelope("", ()), Message(b"x")).endswith(b"M 1\\nx\\nE\\n")
    True
    """
    return encode_head(envelope, len(message.data)) + message.data + _END


def encode_head(envelope: Envelope, content_size: int) -> bytes:
    """The queue file up to its content, for content of ``content_size``
    bytes that the caller writes next, followed by :data:`END`.

    >>> encode_head(Envelope("", ()), 3).endswith(b"M 3\\n")
    True
    """
    version = 1 if envelope.content_filter is None else 2
    lines = [_FIRST_LINES[version], f"T {envelope.arrival_time!r}\n",
             f"S {_val(envelope.sender)}\n", f"V {_val(envelope.envid)}\n",
             f"N {_val(envelope.ret.value if envelope.ret else None)}\n"]
    client = envelope.client
    if client is not None:
        lines.append("C " + " ".join(_val(v) for v in (
            client.name, client.address, client.helo, client.protocol, client.sasl_username)) + "\n")
    if envelope.content_filter is not None:
        lines.append(f"F {_val(envelope.content_filter)}\n")
    for rcpt in envelope.recipients:
        notify = ",".join(sorted(n.value for n in rcpt.notify)) if rcpt.notify else None
        lines.append(f"R{STATE_BYTES[rcpt.state].decode()} {_val(rcpt.address)} "
                     f"{_val(rcpt.original)} {_val(rcpt.orcpt)} {_val(notify)}\n")
    lines.append(f"M {content_size}\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


def head_end(data: bytes) -> int:
    """Where the content starts, or -1 when ``data`` does not yet hold the whole head.

    Lets a reader fetch only the envelope of a big file (``mailq`` of a
    million messages does not read their content).

    >>> head_end(b"MAILFLOW-QUEUE 1\\nM 3\\nabc\\nE\\n")
    21
    """
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return -1
        if data.startswith(b"M ", pos):
            return nl + 1
        pos = nl + 1


def file_version(data: bytes) -> int:
    """The format version in the magic line; raises QueueFileCorrupt for one
    this module cannot read.

    >>> file_version(b"MAILFLOW-QUEUE 2\\nT 1.0\\n")
    2
    """
    if not data.startswith(MAGIC + b" "):
        raise QueueFileCorrupt("not a queue file (no MAILFLOW-QUEUE magic line)")
    nl = data.find(b"\n")
    try:
        version = int(data[len(MAGIC) + 1:nl])
    except ValueError:
        raise QueueFileCorrupt("bad version in the magic line") from None
    if version not in VERSIONS:
        raise QueueFileCorrupt(f"unsupported queue file version {version} "
                               f"(this reads versions {', '.join(map(str, VERSIONS))})")
    return version


def iter_records(data: bytes) -> Iterator[tuple[int, str, list[str]]]:
    """``(offset, type, raw fields)`` for each head record after the magic line.

    The content is not included; the ``M`` record comes last.

    >>> [(t, f) for _, t, f in iter_records(b"MAILFLOW-QUEUE 1\\nT 1.0\\nM 0\\n\\nE\\n")]
    [('T', ['1.0']), ('M', ['0'])]
    """
    file_version(data)
    pos = data.find(b"\n") + 1
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise QueueFileCorrupt(f"offset {pos}: truncated record (no M record)")
        line = data[pos:nl].decode("utf-8", "surrogateescape")
        kind, _, rest = line.partition(" ")
        yield pos, kind, rest.split(" ") if rest else []
        if kind == "M":
            return
        pos = nl + 1


def decode(data: bytes, *, with_content: bool = True) -> QueueFile:
    """Decode a queue file (or, with ``with_content=False``, just its head).

    Raises QueueFileCorrupt naming the offset and what is wrong.
    """
    version = file_version(data)
    arrival, sender, envid, ret, client, content_filter = None, None, None, None, None, None
    recipients: list[Recipient] = []
    offsets: list[int] = []
    size, content_at = -1, -1
    for pos, kind, fields in iter_records(data):
        where = f"offset {pos}: {kind} record"
        try:
            if kind == "T":
                arrival = float(fields[0])
            elif kind == "S":
                sender = _unval(fields[0], where)
            elif kind == "V":
                envid = _unval(fields[0], where)
            elif kind == "N":
                value = _unval(fields[0], where)
                ret = Ret(value) if value else None
            elif kind == "C":
                client = ClientInfo(*(_unval(f, where) or "" for f in fields[:5]))
            elif kind == "F" and version >= 2:
                content_filter = _unval(fields[0], where)
            elif len(kind) == 2 and kind[0] == "R":
                state = _STATES[ord(kind[1])]
                address, original, orcpt, notify = (_unval(f, where) for f in fields[:4])
                if address is None or len(fields) != 4:
                    raise ValueError("needs 4 fields")
                recipients.append(Recipient(address, original, orcpt,
                                            frozenset(Notify(n) for n in notify.split(",")) if notify else frozenset(),
                                            state))
                offsets.append(pos + 1)
            elif kind == "M":
                size = int(fields[0])
                content_at = data.find(b"\n", pos) + 1
            else:
                raise ValueError("unknown record type")
        except QueueFileCorrupt:
            raise
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise QueueFileCorrupt(f"{where}: {exc}") from None
    if arrival is None or sender is None:
        raise QueueFileCorrupt("missing arrival time (T) or sender (S) record")
    message = None
    if with_content:
        if size < 0 or data[content_at + size:] != _END:
            raise QueueFileCorrupt(f"content is not {size} bytes followed by the end marker "
                                   f"(file truncated or damaged)")
        message = Message(data[content_at:content_at + size])
    envelope = Envelope(sender, tuple(recipients), arrival, envid, ret, client,
                        content_filter=content_filter)
    return QueueFile(envelope, message, size, content_at, tuple(offsets))
