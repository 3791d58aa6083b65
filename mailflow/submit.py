"""Local submission from Python: put a message into ``maildrop/`` and wake pickup.

Owns what ``sendmail``/``postdrop`` do for a Python caller: turn a message
(bytes or an ``email.message.EmailMessage``) and an envelope into a durable
maildrop file, then wake the pickup service. It never rewrites addresses or
headers (cleanup does that after pickup) and never talks to the network.

Like Postfix's postdrop, the message is acknowledged only once its file is
fsynced and renamed into place; the returned queue ID names the maildrop
file (pickup gives the message its final queue ID).

Two writers: :func:`submit` goes through a :class:`~mailflow.interfaces.QueueStore`
and the model's value classes; :func:`drop` writes the same maildrop file
straight from strings, for ``sendmail``, whose process lives for one message
and would otherwise spend most of its time importing attrs and building
classes it never needs. :func:`check_content` runs cleanup's content
inspection before a message is dropped, so that ``sendmail`` can refuse what
cleanup would reject.

>>> import tempfile
>>> qdir = tempfile.mkdtemp()
>>> qid = submit(b"Subject: hi\\r\\n\\r\\nhello\\r\\n", "alice@example.com", ["bob@example.net"],
...              queue_directory=qdir)
>>> from mailflow.adapters.queue_store import FileQueueStore
>>> FileQueueStore(qdir).read(qid).message.data
b'Subject: hi\\n\\nhello\\n'
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import quote

if TYPE_CHECKING:       # imported where used: drop() must not load attrs
    from mailflow.interfaces import QueueStore
    from mailflow.model import DsnStatus, Envelope, Message, Notify, Recipient, Ret

__all__ = ["submit", "submit_async", "build_envelope", "as_message", "wake_pickup", "drop",
           "check_content", "CONTENT_CHECKS"]


def as_message(message: Any) -> Message:
    """Bytes (CRLF or LF line ends), str, a :class:`Message` or an
    ``email.message.Message`` as the spool's ``\\n``-terminated form.

    >>> as_message(b"a: b\\r\\n\\r\\nx").data
    b'a: b\\n\\nx\\n'
    """
    from mailflow.model import Message
    if isinstance(message, Message):
        return message
    if isinstance(message, str):
        message = message.encode("utf-8", "surrogateescape")
    elif not isinstance(message, (bytes, bytearray, memoryview)):
        import email.policy
        # The email package's own line ends; the spool wants \n.
        message = message.as_bytes(policy=message.policy.clone(linesep="\n")
                                   if hasattr(message, "policy") else email.policy.default)
    return Message(_spool_form(bytes(message)))


def _spool_form(data: bytes) -> bytes:
    """The spool's ``\\n`` line ends, with the last line ended too."""
    data = data.replace(b"\r\n", b"\n")
    if data and not data.endswith(b"\n"):
        data += b"\n"   # Postfix's sendmail ends the last line too
    return data


def build_envelope(sender: str, recipients: Iterable[str | Recipient], *,
                   envid: str | None = None, ret: Ret | str | None = None,
                   notify: Iterable[Notify | str] | None = None) -> Envelope:
    """An envelope for submission; ``notify`` applies to every recipient.

    >>> env = build_envelope("", ["a@example.com"], ret="HDRS", notify=["SUCCESS"])
    >>> env.ret, sorted(env.recipients[0].notify)
    (<Ret.HDRS: 'HDRS'>, [<Notify.SUCCESS: 'SUCCESS'>])
    """
    from mailflow.model import Envelope, Notify, Recipient, Ret
    notes = frozenset(Notify(str(n).upper()) for n in notify) if notify else frozenset()
    rcpts = tuple(r if isinstance(r, Recipient) else Recipient(r, notify=notes) for r in recipients)
    return Envelope(sender, rcpts, envid=envid, ret=Ret(str(ret).upper()) if ret else None)


def _store_for(config: Any, queue_directory: str | os.PathLike | None,
               store: QueueStore | None) -> tuple[QueueStore, str | None]:
    from mailflow.adapters.queue_store import FileQueueStore
    if store is not None:
        return store, getattr(store, "queue_directory", None)
    if queue_directory is not None:
        if config is not None:
            s = FileQueueStore(queue_directory, hash_queue_names=config.hash_queue_names,
                               hash_queue_depth=config.hash_queue_depth, create=False)
        else:
            s = FileQueueStore(queue_directory, create=False)
        return s, s.queue_directory
    if config is None:
        from mailflow.config import Config, find_config_dir
        config = Config.from_directory(find_config_dir())
    s = FileQueueStore.from_config(config, create=False)
    return s, s.queue_directory


def wake_pickup(queue_directory: str | None) -> bool:
    """Tell pickup a new maildrop file is there; best effort, never raises.

    >>> wake_pickup(None)
    False
    """
    if not queue_directory or not os.path.exists(os.path.join(queue_directory, "public", "pickup")):
        return False          # no mail system running: skip loading the wake-up module
    from mailflow.adapters.kick import kick
    return kick(queue_directory, "pickup")


def submit(message: Any, sender: str, recipients: Iterable[str | Recipient], *,
           config: Any = None, queue_directory: str | os.PathLike | None = None,
           store: QueueStore | None = None, envid: str | None = None,
           ret: Ret | str | None = None, notify: Iterable[Notify | str] | None = None,
           kick: bool = True) -> str:
    """Write one message into the maildrop queue durably; return its queue ID.

    The spool is ``store`` if given, else the file spool in
    ``queue_directory``, else the one ``config`` (default: the config
    directory from ``$MAILFLOW_CONFIG_DIR`` or /etc/mailflow) names.
    Recipients are addresses in internal form (no parsing is done here).
    Raises OSError when the spool cannot be written.
    """
    from mailflow.interfaces import QueueName
    target, qdir = _store_for(config, queue_directory, store)
    envelope = build_envelope(sender, recipients, envid=envid, ret=ret, notify=notify)
    queue_id = target.enqueue(QueueName.MAILDROP, envelope, as_message(message))
    if kick:
        wake_pickup(qdir)
    return queue_id


async def submit_async(message: Any, sender: str, recipients: Iterable[str | Recipient],
                       **kw: Any) -> str:
    """:func:`submit` with the file writes and fsync in a worker thread, so
    the event loop keeps running while the message becomes durable."""
    import asyncio
    return await asyncio.to_thread(submit, message, sender, list(recipients), **kw)


# --- sendmail's writer ---------------------------------------------------------
#
# drop() writes the bytes FileQueueStore.enqueue() writes for a maildrop file
# (mailflow.queue.records format 1, a long queue ID from the time and the
# inode, Postfix's mail_queue.h MQID_LG_*), without the model's classes. The
# tests compare its files with records.encode() and names.make_queue_id()
# byte for byte, so the two writers cannot drift apart.

_SAFE = "@!#$&'*+/=?^_`{|}~.-:;<>[](),\"\\"      # records._SAFE
_B52 = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"   # names._B52
_drops = 0


def _val(value: str | None) -> str:
    return "-" if value is None else "=" + quote(value, safe=_SAFE)


def _digits(number: int, base: int, pad: int = 1) -> str:
    out = ""
    while True:
        number, rest = divmod(number, base)
        out = _B52[rest] + out
        if not number:
            return out.rjust(pad, "0")


def drop(message: bytes, sender: str, recipients: Iterable[str], queue_directory: str, *,
         envid: str | None = None, ret: str | None = None,
         notify: Iterable[str] | None = None, fsync: bool = True) -> str:
    """Write one message into ``queue_directory/maildrop`` durably; return its queue ID.

    The file is the one :func:`submit` writes for the same arguments (into
    an unhashed maildrop, the default ``hash_queue_names``), made without
    importing the model: ``sendmail``'s path. ``message`` is bytes (CRLF or
    LF line ends); recipients are addresses in internal form; ``ret`` is
    ``FULL``/``HDRS``, ``notify`` NOTIFY keywords. Created under a temporary
    name, fsynced, renamed into place, and the directory fsynced before the
    ID is returned. Raises OSError when the spool cannot be written
    (FileNotFoundError when ``maildrop/`` does not exist).

    >>> import tempfile
    >>> from mailflow.adapters.queue_store import FileQueueStore
    >>> qdir = tempfile.mkdtemp()
    >>> _ = FileQueueStore(qdir)                      # creates the queue directories
    >>> qid = drop(b"Subject: hi\\r\\n\\r\\nhello", "a@example.com", ["b@example.net"], qdir)
    >>> FileQueueStore(qdir).read(qid).envelope.recipients[0].address
    'b@example.net'
    """
    global _drops
    data = _spool_form(bytes(message))
    notes = ",".join(sorted({str(n).upper() for n in notify})) if notify else None
    top = os.path.join(os.fspath(queue_directory), "maildrop")
    _drops += 1
    # FileQueueStore's temporary name (TEMP_PREFIX), so postsuper -p purges it.
    tmp = os.path.join(top, f".tmp.{os.getpid()}.d{_drops}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        now = time.time_ns()
        queue_id = (_digits(now // 1_000_000_000, 52, 6) + _digits(now // 1000 % 1_000_000, 52, 4)
                    + "z" + _digits(os.fstat(fd).st_ino, 51))
        head = [f"MAILFLOW-QUEUE 1\nT {now / 1e9!r}\nS {_val(sender)}\nV {_val(envid)}\n"
                f"N {_val(str(ret).upper() if ret else None)}\n"]
        head += [f"R- {_val(r)} {_val(r)} - {_val(notes)}\n" for r in recipients]
        head.append(f"M {len(data)}\n")
        view = memoryview("".join(head).encode("utf-8", "surrogateescape") + data + b"\nE\n")
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(tmp, os.path.join(top, queue_id))
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        dfd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return queue_id


# --- content inspection at submission ---------------------------------------------

# The parameters whose rules cleanup applies to content; sendmail inspects
# only when main.cf sets one of them (mime_ and nested_header_checks default
# to $header_checks).
CONTENT_CHECKS = ("header_checks", "mime_header_checks", "nested_header_checks", "body_checks")


def check_content(message: Any, sender: str, recipients: Iterable[str], config: Any, *,
                  uid: int | None = None) -> "DsnStatus | None":
    """Run cleanup on a message as pickup would hand it over; return the
    status when cleanup would refuse it, else None (nothing is written).

    HOLD, DISCARD and the other actions are left to pickup's cleanup, which
    runs again on the dropped file. ``uid`` is the submitter (pickup's
    ``Received: ... from userid N``); default: this process's.

    >>> import pathlib, tempfile
    >>> from mailflow.config import Config
    >>> rules = pathlib.Path(tempfile.mkdtemp(), "header_checks")
    >>> _ = rules.write_text("/^Subject: spam/ REJECT no thanks\\n")
    >>> cfg = Config(header_checks=f"regexp:{rules}")
    >>> str(check_content(b"Subject: spam\\n\\nx\\n", "a@example.com", ["b@example.com"], cfg))
    '5.7.1 no thanks'
    >>> check_content(b"Subject: ham\\n\\nx\\n", "a@example.com", ["b@example.com"], cfg) is None
    True
    """
    from mailflow.cleanup.pipeline import CleanupPipeline
    from mailflow.cleanup.result import REJECT
    now = time.time()
    envelope = build_envelope(sender, recipients)
    # origin "pickup": the rules see the Received: header pickup's cleanup adds.
    result = CleanupPipeline.from_config(config).process(
        envelope, as_message(message), origin="pickup", now=now,
        uid=os.getuid() if uid is None else uid)
    return result.status if result.action == REJECT else None
