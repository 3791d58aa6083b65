"""Queue IDs: making them, checking them, and where they live on disk.

Owns the shape of a queue ID and the hashed sub-directory a queue file goes
in. It never touches the file system and never reads a clock itself: the
caller passes the time and the unique part.

The shape is Postfix's long queue ID (postconf(5) ``enable_long_queue_ids``):
the time in seconds in base 52 (6 digits), the microseconds in base 52
(4 digits), the letter ``z``, then a unique number in base 51 (the file's
inode number in the file spool, as in Postfix). The digits are
digits and consonants (safe_ultostr(3): base 52, and base 51 without ``z``
for the unique part, so the separator is unambiguous); the time parts are
fixed-width, so IDs sort by time as plain strings. Postfix's short hex IDs
(``enable_long_queue_ids = no``) are accepted too when validating.

>>> qid = make_queue_id(1700000000, 123456, 4242)
>>> qid
'4SVLCh0sf8z1c9'
>>> QueueId.parse(qid).seconds, QueueId.parse(qid).microseconds
(1700000000, 123456)
>>> validate_queue_id("../../etc/passwd")
Traceback (most recent call last):
  ...
mailflow.errors.BadQueueIdError: invalid queue ID '../../etc/passwd': a queue ID has only letters and digits (like 4SVLCh0sf8z1c9)
"""

from __future__ import annotations

import re

import attrs

from mailflow.errors import BadQueueIdError

__all__ = ["QueueId", "make_queue_id", "validate_queue_id", "is_queue_id",
           "hash_dirs", "MAX_QUEUE_ID_LENGTH"]

# safe_ultostr(3)'s digits: no vowels, so an ID never spells a word.
_B52 = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
_B51 = _B52[:51]          # without "z", the separator
_SEC_PAD, _USEC_PAD = 6, 4
_SEPARATOR = "z"
MAX_QUEUE_ID_LENGTH = 32
_LONG_RE = re.compile(r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]{1,21}")
_SHORT_RE = re.compile(r"[0-9A-F]{6,16}")
_EXAMPLE = "4SVLCh0sf8z1c9"


def _encode(number: int, digits: str, pad: int = 1) -> str:
    base = len(digits)
    out = []
    while True:
        number, rest = divmod(number, base)
        out.append(digits[rest])
        if not number:
            break
    return "".join(reversed(out)).rjust(pad, "0")


def _decode(text: str, digits: str) -> int:
    base, value = len(digits), 0
    for char in text:
        value = value * base + digits.index(char)
    return value


def make_queue_id(seconds: int, microseconds: int, unique: int) -> str:
    """A long queue ID from a time and a number no live message shares.

    >>> make_queue_id(0, 0, 0)
    '0000000000z0'
    """
    return (_encode(seconds, _B52, _SEC_PAD) + _encode(microseconds, _B52, _USEC_PAD)
            + _SEPARATOR + _encode(unique, _B51))


def is_queue_id(text: str) -> bool:
    """Whether ``text`` has the shape of a queue ID (long or short).

    >>> is_queue_id("4SVLCh0sf8z1c9"), is_queue_id("4F0C61A2E3"), is_queue_id(".tmp.1")
    (True, True, False)
    """
    return (isinstance(text, str) and len(text) <= MAX_QUEUE_ID_LENGTH
            and bool(_LONG_RE.fullmatch(text) or _SHORT_RE.fullmatch(text)))


def validate_queue_id(text: str) -> str:
    """Return ``text`` if it is a queue ID, else raise BadQueueIdError saying why.

    Queue IDs from users (command lines, stdin, file names) go through here
    before they come anywhere near a path: ``..``, ``/``, ``%2e`` and the
    like can never pass.

    >>> validate_queue_id("4F0C61A2E3")
    '4F0C61A2E3'
    >>> validate_queue_id("")
    Traceback (most recent call last):
      ...
    mailflow.errors.BadQueueIdError: invalid queue ID '': empty
    """
    if not isinstance(text, str):
        raise BadQueueIdError(f"invalid queue ID {text!r}: not text")
    if not text:
        raise BadQueueIdError("invalid queue ID '': empty")
    if len(text) > MAX_QUEUE_ID_LENGTH:
        raise BadQueueIdError(f"invalid queue ID {text[:40]!r}...: longer than "
                              f"{MAX_QUEUE_ID_LENGTH} characters")
    if not text.isascii() or not text.isalnum():
        raise BadQueueIdError(f"invalid queue ID {text!r}: a queue ID has only letters "
                              f"and digits (like {_EXAMPLE})")
    if not is_queue_id(text):
        raise BadQueueIdError(f"invalid queue ID {text!r}: not a long queue ID (like "
                              f"{_EXAMPLE}) nor a short hex one (like 4F0C61A2E3)")
    return text


@attrs.frozen
class QueueId:
    """A parsed queue ID.

    >>> q = QueueId.parse("4F0C61A2E3")
    >>> (q.is_long, q.microseconds)
    (False, 323782)
    """

    text: str
    seconds: int | None
    microseconds: int
    unique: int | None

    @property
    def is_long(self) -> bool:
        return self.seconds is not None

    @classmethod
    def parse(cls, text: str) -> "QueueId":
        """Validate and take apart; raises BadQueueIdError."""
        validate_queue_id(text)
        if _LONG_RE.fullmatch(text):
            return cls(text, _decode(text[:6], _B52), _decode(text[6:10], _B52),
                       _decode(text[11:], _B51))
        # Short IDs start with the microseconds in 5 hex digits (Postfix mail_queue.h).
        return cls(text, None, int(text[:5], 16), None)

    def __str__(self) -> str:
        return self.text


def hash_dirs(queue_id: str, depth: int) -> list[str]:
    """The hashed sub-directory names for a queue file, outermost first.

    As postconf(5) ``hash_queue_depth`` says: one-character directory names
    taken from the file's creation time in microseconds in hexadecimal, the
    same for long and short queue IDs.

    >>> hash_dirs("4SVLCh0sf8z1c9", 2)
    ['1', 'E']
    """
    if depth <= 0:
        return []
    hexed = "%05X" % QueueId.parse(queue_id).microseconds
    return list(hexed[:depth])
