"""Local submission from Python: put a message into ``maildrop/`` and wake pickup.

Owns what ``sendmail``/``postdrop`` do for a Python caller: turn a message
(bytes or an ``email.message.EmailMessage``) and an envelope into a durable
maildrop file, then wake the pickup service. It never rewrites addresses or
headers (cleanup does that after pickup) and never talks to the network.

Like Postfix's postdrop, the message is acknowledged only once its file is
fsynced and renamed into place; the returned queue ID names the maildrop
file (pickup gives the message its final queue ID).

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
from typing import Any, Iterable

from mailflow.interfaces import QueueName, QueueStore
from mailflow.model import Envelope, Message, Notify, Recipient, Ret

__all__ = ["submit", "submit_async", "build_envelope", "as_message", "wake_pickup"]


def as_message(message: Any) -> Message:
    """Bytes (CRLF or LF line ends), str, a :class:`Message` or an
    ``email.message.Message`` as the spool's ``\\n``-terminated form.

    >>> as_message(b"a: b\\r\\n\\r\\nx").data
    b'a: b\\n\\nx\\n'
    """
    if isinstance(message, Message):
        return message
    if isinstance(message, str):
        message = message.encode("utf-8", "surrogateescape")
    elif not isinstance(message, (bytes, bytearray, memoryview)):
        import email.policy
        # The email package's own line ends; the spool wants \n.
        message = message.as_bytes(policy=message.policy.clone(linesep="\n")
                                   if hasattr(message, "policy") else email.policy.default)
    data = bytes(message).replace(b"\r\n", b"\n")
    if data and not data.endswith(b"\n"):
        data += b"\n"   # Postfix's sendmail ends the last line too
    return Message(data)


def build_envelope(sender: str, recipients: Iterable[str | Recipient], *,
                   envid: str | None = None, ret: Ret | str | None = None,
                   notify: Iterable[Notify | str] | None = None) -> Envelope:
    """An envelope for submission; ``notify`` applies to every recipient.

    >>> env = build_envelope("", ["a@example.com"], ret="HDRS", notify=["SUCCESS"])
    >>> env.ret, sorted(env.recipients[0].notify)
    (<Ret.HDRS: 'HDRS'>, [<Notify.SUCCESS: 'SUCCESS'>])
    """
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
    try:
        from mailflow.adapters.kick import kick
    except ImportError:          # a build without the wake-up channel: pickup's timer finds it
        return False
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
