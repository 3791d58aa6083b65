"""FileQueueStore: the spool as Postfix lays it out under ``queue_directory``.

Owns every file operation on queue files: crash-safe creation, atomic moves
between queues, in-place recipient progress, the per-message logs, temp-file
purging and structure repair. It never decides what to do with a message
(that is the queue manager's job) and never interprets content beyond the
queue-file format of :mod:`mailflow.queue.records`.

Layout: ``maildrop incoming active deferred hold corrupt`` hold queue files,
``bounce defer trace`` hold per-message logs; queues named in
``hash_queue_names`` get ``hash_queue_depth`` levels of one-character
sub-directories (:func:`mailflow.queue.names.hash_dirs`).

Crash safety (the order Postfix's mail_stream/cleanup use, plus a directory
fsync): a new file is created under a temporary name ``.tmp.<pid>.<n>`` in
the queue's top directory, its queue ID is made from the time and the file's
inode number (as Postfix does), the data is written and fsynced, the file is
renamed into place and the directory fsynced. Only then does
:meth:`FileQueueStore.enqueue` return the ID. Readers list only names that
are queue IDs, so they never see a half-written file; ``postsuper -p``
(:meth:`FileQueueStore.purge_temp`) removes temp files whose writer died.

A caller-chosen ID (``envelope.queue_id``, as cleanup passes) is used as
given: the file is hard-linked into place instead of renamed, because
link(2) fails when the name exists where rename(2) would replace it, so two
writers can never overwrite each other's message; other queues are checked
for the ID first.

Per-message bookkeeping is kept cheap without weakening any of this: file
names are remembered per (queue ID, queue) once the ID has been validated,
directories once they are known to exist (a directory removed behind the
store's back is made again when a rename or create into it fails), and a
maildrop file is removed without looking for per-message logs, which only
queued messages have.

A queue file that does not decode is moved to ``corrupt/`` with a warning
on the ``mailflow.queue`` logger, and :class:`~mailflow.errors.QueueFileCorrupt`
is raised to the caller, who skips it.

>>> import tempfile
>>> from mailflow.model import Envelope, Message, Recipient
>>> store = FileQueueStore(tempfile.mkdtemp())
>>> qid = store.enqueue(QueueName.MAILDROP, Envelope("a@example.com", (Recipient("b@example.net"),)),
...                     Message(b"Subject: hi\\n\\nhello\\n"))
>>> store.read(qid).envelope.sender
'a@example.com'
"""

from __future__ import annotations

import itertools
import logging
import os
import stat
import threading
import time
from typing import Callable, Iterable, Iterator, Sequence

import attrs

from mailflow.adapters.files import fsync_directory
from mailflow.errors import QueueError, QueueFileCorrupt, QueueIdInUse
from mailflow.interfaces import QueueName, QueuedMessage
from mailflow.model import Envelope, Message, Outcome
from mailflow.queue import records
from mailflow.queue.logs import LOG_KINDS, check_log_kind, decode_log, encode_log_entry
from mailflow.queue.names import hash_dirs, is_queue_id, make_queue_id, validate_queue_id
from mailflow.queue.store_api import SEARCH_ORDER, PendingIndex, no_such_message, stamp_arrival

__all__ = ["FileQueueStore", "StagedFile", "open_queue_store", "QUEUE_DIRS", "TEMP_PREFIX"]

log = logging.getLogger("mailflow.queue")

QUEUE_DIRS = tuple(q.value for q in QueueName) + LOG_KINDS
TEMP_PREFIX = ".tmp."
# postsuper.c: temporary files older than this are stale even when their pid lives.
MAX_TEMP_AGE = 3600
_HEAD_CHUNK = 8192
# Remembered file names (about 6 per message in flight); the memo is simply
# emptied when full, which costs one recomputation per name.
_PATH_MEMO_SIZE = 4096
_counter = itertools.count()
# Heads of queue files this big (a few hundred recipients) are kept between
# mark_done calls (see _marking_head), at most this many at a time.
_HEAD_MEMO_BYTES = 16384
_HEAD_MEMO_SIZE = 64


@attrs.define
class _Head:
    """What mark_done needs of a queue file, kept between calls."""

    ino: int
    size: int
    offsets: Sequence[int]
    index: PendingIndex


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileQueueStore:
    """A :class:`~mailflow.interfaces.QueueStore` on Postfix's directory layout."""

    #: Reads, renames and unlinks are local and quick: the queue manager may
    #: run them on its event loop (fsyncs still go to a thread).
    local_io = True

    def __init__(self, queue_directory: str | os.PathLike, *,
                 hash_queue_names: Iterable[str] = ("deferred", "defer"),
                 hash_queue_depth: int = 1, fsync: bool = True,
                 clock: Callable[[], int] = time.time_ns, create: bool = True) -> None:
        self.queue_directory = os.path.abspath(os.fspath(queue_directory))
        self.hash_queue_names = frozenset(hash_queue_names)
        self.hash_queue_depth = int(hash_queue_depth)
        self.fsync = fsync
        self._clock = clock
        # Both memos depend only on the settings above, fixed from here on.
        self._paths: dict[tuple[str, str], str] = {}
        self._hashes: dict[str, list[str]] = {}
        self._dirs: set[str] = set()
        self._heads: dict[str, _Head] = {}
        self._heads_lock = threading.Lock()
        if create:
            self.create_dirs()

    @classmethod
    def from_config(cls, config, **kw) -> "FileQueueStore":
        """The spool named by ``queue_directory`` with the config's hashing."""
        return cls(config.queue_directory, hash_queue_names=config.hash_queue_names,
                   hash_queue_depth=config.hash_queue_depth, **kw)

    def __repr__(self) -> str:
        return f"<FileQueueStore {self.queue_directory}>"

    def create_dirs(self) -> list[str]:
        """Create missing queue directories; return the ones created."""
        made = []
        # The top like Postfix's queue_directory (0755: others may reach
        # public/, never write); every queue directory below is 0700.
        os.makedirs(self.queue_directory, mode=0o755, exist_ok=True)
        for name in QUEUE_DIRS:
            path = os.path.join(self.queue_directory, name)
            if not os.path.isdir(path):
                os.makedirs(path, mode=0o700, exist_ok=True)
                made.append(name)
        return made

    # --- paths -----------------------------------------------------------
    def _dir(self, name: str, queue_id: str) -> str:
        if name not in self.hash_queue_names or self.hash_queue_depth <= 0:
            return os.path.join(self.queue_directory, name)
        # A message's queue file and its defer log share the hashed sub-directories.
        hashed = self._hashes.get(queue_id)
        if hashed is None:
            hashed = hash_dirs(queue_id, self.hash_queue_depth)
            if len(self._hashes) >= _PATH_MEMO_SIZE:
                self._hashes.clear()
            self._hashes[queue_id] = hashed
        return os.path.join(self.queue_directory, name, *hashed)

    def path(self, queue_id: str, queue: QueueName | str) -> str:
        """The file name of ``queue_id`` in ``queue`` (the ID is validated first).

        >>> FileQueueStore("/q", create=False).path("4SVLCh0sf8z1c9", "deferred")
        '/q/deferred/1/4SVLCh0sf8z1c9'
        """
        try:
            # Only names built below, from a validated ID, are ever remembered.
            return self._paths[queue_id, queue]
        except (KeyError, TypeError):
            pass
        validate_queue_id(queue_id)
        name = QueueName(queue).value if not isinstance(queue, str) or queue not in LOG_KINDS else queue
        path = os.path.join(self._dir(name, queue_id), queue_id)
        if len(self._paths) >= _PATH_MEMO_SIZE:
            self._paths.clear()
        self._paths[queue_id, queue] = path
        return path

    def _makedirs(self, directory: str) -> None:
        if directory in self._dirs:
            return
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if self.fsync:
                fsync_directory(os.path.dirname(directory))
        self._dirs.add(directory)

    def _remade(self, directory: str) -> bool:
        """After ENOENT from an operation into ``directory``: make the
        directory again if it is really gone; whether the caller should retry."""
        self._dirs.discard(directory)
        if os.path.isdir(directory):
            return False
        self._makedirs(directory)
        return True

    # --- writing -----------------------------------------------------------
    def enqueue(self, queue: QueueName, envelope: Envelope, message: Message) -> str:
        """Write a new queue file (see :meth:`QueueStore.enqueue
        <mailflow.interfaces.QueueStore.enqueue>` for the ID rule)."""
        return self.stage(queue, envelope, message).publish()

    def stage(self, queue: QueueName, envelope: Envelope, message: Message) -> "StagedFile":
        """The quick half of :meth:`enqueue`: the file written under a
        temporary name, not yet synced nor named. An event loop can do this
        itself and leave :meth:`StagedFile.publish` (the fsyncs) to a thread.

        >>> import tempfile
        >>> from mailflow.model import Envelope, Message, Recipient
        >>> store = FileQueueStore(tempfile.mkdtemp(), fsync=False)
        >>> staged = store.stage(QueueName.INCOMING, Envelope("a@example.com",
        ...                      [Recipient("b@example.com")]), Message(b"Subject: x\\n\\nhi\\n"))
        >>> queue_id = staged.publish()
        >>> store.locate(queue_id).value
        'incoming'
        """
        queue = QueueName(queue)
        chosen = envelope.queue_id
        if chosen is not None:
            validate_queue_id(chosen)
            self._refuse_taken(chosen)
        top = os.path.join(self.queue_directory, queue.value)
        tmp = os.path.join(top, f"{TEMP_PREFIX}{os.getpid()}.{next(_counter)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            self.create_dirs()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            now = self._clock()
            # Postfix's long queue ID: time, then the inode number, which no
            # other live file shares (mail_queue.h MQID_LG_*).
            queue_id = chosen or make_queue_id(now // 1_000_000_000, (now // 1000) % 1_000_000,
                                               os.fstat(fd).st_ino)
            data = records.encode(stamp_arrival(envelope, now / 1e9), message)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            _unlink_quietly(tmp)
            raise
        return StagedFile(self, fd, tmp, queue_id, queue, chosen is not None)

    def _publish(self, staged: "StagedFile") -> str:
        tmp, queue_id, queue = staged.tmp, staged.queue_id, staged.queue
        try:
            if self.fsync:
                os.fsync(staged.fd)
        except BaseException:
            staged.discard()
            raise
        os.close(staged.fd)
        final = self.path(queue_id, queue)
        final_dir = os.path.dirname(final)
        placed = False
        try:
            self._makedirs(final_dir)
            try:
                self._place(tmp, final, queue_id, queue, staged.chosen)
            except FileNotFoundError:
                if not self._remade(final_dir):
                    raise
                self._place(tmp, final, queue_id, queue, staged.chosen)
            placed = True
            if staged.chosen:
                # link(2) gave the final name; the temporary one goes. If it
                # cannot, the message is queued all the same (postsuper
                # removes stale temporary files).
                try:
                    os.unlink(tmp)
                except OSError as exc:
                    log.warning("%s: cannot remove temporary file %s: %s", queue_id, tmp, exc)
            if self.fsync:
                fsync_directory(final_dir)
        except BaseException:
            # The caller will be told the write failed (and will try again):
            # no copy may stay behind to be delivered as well.
            if placed:
                _unlink_quietly(final)
            _unlink_quietly(tmp)
            raise
        return queue_id

    @staticmethod
    def _place(tmp: str, final: str, queue_id: str, queue: QueueName, chosen: bool) -> None:
        if chosen:
            _link_new(tmp, final, queue_id, queue)   # the caller removes tmp
        else:
            os.rename(tmp, final)           # the inode makes the name unique

    def _refuse_taken(self, queue_id: str) -> None:
        # Once per message on the smtpd path: names built here, not through
        # path() and its memo (the ID is validated by the caller).
        top, hashed = self.queue_directory, None
        for queue in SEARCH_ORDER:
            name = queue.value
            if name in self.hash_queue_names and self.hash_queue_depth > 0:
                if hashed is None:
                    hashed = os.path.join(*hash_dirs(queue_id, self.hash_queue_depth))
                candidate = os.path.join(top, name, hashed, queue_id)
            else:
                candidate = os.path.join(top, name, queue_id)
            if os.path.exists(candidate):
                raise QueueIdInUse(f"{queue_id}: queue ID already in use in the "
                                   f"{queue.value} queue")

    def move(self, queue_id: str, src: QueueName, dst: QueueName, *, sync: bool = True) -> None:
        """Rename between queues. ``sync=False`` skips the directory fsyncs:
        for moves where either side of a crash is safe (the queue manager's
        incoming -> active, as Postfix's qmgr renames without them)."""
        old, new = self.path(queue_id, src), self.path(queue_id, dst)
        self._makedirs(os.path.dirname(new))
        try:
            os.rename(old, new)
        except FileNotFoundError:
            if not self._remade(os.path.dirname(new)):
                raise no_such_message(queue_id, src) from None
            try:
                os.rename(old, new)
            except FileNotFoundError:
                raise no_such_message(queue_id, src) from None
        if self.fsync and sync:
            fsync_directory(os.path.dirname(new))
            if os.path.dirname(new) != os.path.dirname(old):
                fsync_directory(os.path.dirname(old))

    def delete(self, queue_id: str, queue: QueueName, *, sync: bool = True) -> None:
        """Remove a message and its logs. ``sync=False`` skips the directory
        fsync (a removal lost in a crash means one more delivery, never a loss)."""
        path = self.path(queue_id, queue)
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise no_such_message(queue_id, queue) from None
        # Logs are kept only for queued messages (cleanup and the queue
        # manager write them under the ID of a file in incoming, active or
        # deferred); a maildrop file has none, and pickup(8) removes just
        # the file. Other queues cannot tell without trying: any process
        # may have written a log, so every kind is removed.
        if queue != QueueName.MAILDROP:
            for kind in LOG_KINDS:
                _unlink_quietly(self.path(queue_id, kind))
        if self.fsync and sync:
            fsync_directory(os.path.dirname(path))

    def mark_done(self, queue_id: str, queue: QueueName, outcomes: Sequence[Outcome]) -> None:
        path = self.path(queue_id, queue)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise no_such_message(queue_id, queue) from None
        try:
            head = self._marking_head(fd, queue_id, QueueName(queue), path)
            changes = head.index.take(outcomes)
            # One byte per finished recipient, rewritten in place, then fsync:
            # Postfix's REC_TYPE_DONE update (qmgr_entry.c).
            try:
                for index, state in changes.items():
                    os.pwrite(fd, records.state_byte(state), head.offsets[index])
                if changes and self.fsync:
                    os.fsync(fd)
            except BaseException:
                self._heads.pop(queue_id, None)   # what is on disk is not known now
                raise
        finally:
            os.close(fd)

    def _marking_head(self, fd: int, queue_id: str, queue: QueueName, path: str) -> "_Head":
        # A big message is marked in many slices (one per delivery of a few
        # hundred recipients): its decoded head is kept between them, so the
        # work per slice is the slice's, not the whole recipient list's. The
        # memo is checked against the file's inode and size (only the queue
        # manager changes an active file, and never its size).
        st = os.fstat(fd)
        if st.st_size < _HEAD_MEMO_BYTES:
            qf = self._decode_head(fd, queue_id, queue, path)
            return _Head(st.st_ino, st.st_size, qf.state_offsets, PendingIndex(qf.envelope))
        # One decode per big file: the queue manager's threads mark its
        # slices side by side, and would otherwise each decode it once.
        # Kept by queue ID, so a head remembered when the file was read
        # (see read) serves after the move to active/ (same inode).
        with self._heads_lock:
            head = self._heads.get(queue_id)
            if head is not None and (head.ino, head.size) == (st.st_ino, st.st_size):
                return head
            qf = self._decode_head(fd, queue_id, queue, path)
            return self._remember_head_locked(queue_id, st, qf)

    def _remember_head(self, queue_id: str, st: os.stat_result, qf: records.QueueFile) -> None:
        with self._heads_lock:
            self._remember_head_locked(queue_id, st, qf)

    def _remember_head_locked(self, queue_id: str, st: os.stat_result, qf: records.QueueFile) -> "_Head":
        head = _Head(st.st_ino, st.st_size, qf.state_offsets, PendingIndex(qf.envelope))
        if len(self._heads) >= _HEAD_MEMO_SIZE:
            self._heads.clear()
        self._heads[queue_id] = head
        return head

    def set_next_attempt(self, queue_id: str, queue: QueueName, when: float) -> None:
        # Postfix keeps a deferred message's next-attempt time as the file's mtime.
        try:
            os.utime(self.path(queue_id, queue), (when, when))
        except FileNotFoundError:
            raise no_such_message(queue_id, queue) from None

    def expire(self, queue_id: str, queue: QueueName) -> None:
        # Postfix 3.5+ marks forced expiry with the group-execute bit
        # (mail_queue.h MQ_STATUS_FORCE_EXPIRE; `postsuper -e` leaves mode 0710).
        path = self.path(queue_id, queue)
        try:
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | stat.S_IXGRP)
        except FileNotFoundError:
            raise no_such_message(queue_id, queue) from None

    def set_delay_warned(self, queue_id: str, queue: QueueName) -> None:
        """Record, durably, that the one delay notice was sent."""
        # Like forced expiry, a mode bit (other-execute; group-execute is
        # forced expiry) on the queue file: it moves with the file and costs
        # no rewrite (Postfix clears the queue file's WARN record in place instead).
        path = self.path(queue_id, queue)
        try:
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | stat.S_IXOTH)
        except FileNotFoundError:
            raise no_such_message(queue_id, queue) from None

    def clear_log(self, kind: str, queue_id: str) -> None:
        """Remove the per-message ``bounce``/``defer``/``trace`` log (after its notice was sent)."""
        check_log_kind(kind)
        _unlink_quietly(self.path(queue_id, kind))

    def append_log(self, kind: str, queue_id: str, outcome: Outcome) -> None:
        check_log_kind(kind)
        path = self.path(queue_id, kind)
        self._makedirs(os.path.dirname(path))
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            if not self._remade(os.path.dirname(path)):
                raise
            fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, encode_log_entry(outcome))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    # --- reading -----------------------------------------------------------
    def read_log(self, kind: str, queue_id: str) -> list[Outcome]:
        check_log_kind(kind)
        try:
            with open(self.path(queue_id, kind), "rb") as fh:
                return decode_log(fh.read())
        except FileNotFoundError:
            return []

    def locate(self, queue_id: str) -> QueueName:
        for queue in SEARCH_ORDER:
            if os.path.exists(self.path(queue_id, queue)):
                return queue
        raise no_such_message(queue_id)

    def read(self, queue_id: str, queue: QueueName | None = None, *,
             with_content: bool = True) -> QueuedMessage:
        queues = SEARCH_ORDER if queue is None else (QueueName(queue),)
        for q in queues:
            path = self.path(queue_id, q)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                st = os.fstat(fd)
                if with_content:
                    data = _read_all(fd)
                    qf = self._decode(data, queue_id, q, path)
                    if st.st_size >= _HEAD_MEMO_BYTES:
                        # Read to be delivered (the queue manager reads
                        # whole files): what mark_done will need is kept
                        # now, so a big message is never decoded twice.
                        del data
                        self._remember_head(queue_id, st, qf)
                else:
                    qf = self._decode_head(fd, queue_id, q, path)
            finally:
                os.close(fd)
            return QueuedMessage(queue_id, q, attrs.evolve(qf.envelope, queue_id=queue_id),
                                 qf.message or Message(b""), qf.size,
                                 st.st_mtime if q is QueueName.DEFERRED else 0.0,
                                 bool(st.st_mode & stat.S_IXGRP), bool(st.st_mode & stat.S_IXOTH))
        raise no_such_message(queue_id, queue)

    def read_file(self, path: str | os.PathLike) -> records.QueueFile:
        """Decode any queue file by path (postcat FILE); never moves it."""
        with open(path, "rb") as fh:
            return records.decode(fh.read())

    def _decode(self, data: bytes, queue_id: str, queue: QueueName, path: str) -> records.QueueFile:
        try:
            return records.decode(data)
        except QueueFileCorrupt as exc:
            self._quarantine(queue_id, queue, path, exc)
            raise

    def _decode_head(self, fd: int, queue_id: str, queue: QueueName, path: str) -> records.QueueFile:
        data = b""
        while True:
            chunk = os.pread(fd, _HEAD_CHUNK, len(data))
            data += chunk
            if records.head_end(data) >= 0:
                return self._decode_partial(data, queue_id, queue, path)
            if not chunk:
                return self._decode(data, queue_id, queue, path)   # raises: no M record

    def _decode_partial(self, data: bytes, queue_id: str, queue: QueueName, path: str) -> records.QueueFile:
        try:
            return records.decode(data, with_content=False)
        except QueueFileCorrupt as exc:
            self._quarantine(queue_id, queue, path, exc)
            raise

    def _quarantine(self, queue_id: str, queue: QueueName, path: str, exc: Exception) -> None:
        if queue is QueueName.CORRUPT:
            return
        log.warning("%s: queue file %s is corrupt (%s); moved to the corrupt queue",
                    queue_id, os.path.relpath(path, self.queue_directory), exc)
        try:
            self.move(queue_id, queue, QueueName.CORRUPT)
        except (OSError, QueueError) as move_exc:    # never crash over a bad file
            log.warning("%s: cannot move to the corrupt queue: %s", queue_id, move_exc)

    def ids(self, queue: QueueName) -> Iterator[str]:
        top = os.path.join(self.queue_directory, QueueName(queue).value)
        return _walk_ids(top)

    def scan_ids(self, queue: QueueName, *, due_by: float | None = None) -> Iterator[str]:
        """The queue's IDs as the directory is read (nothing is listed
        ahead); with ``due_by``, only deferred messages due by then or
        forced to expire. Decided from each entry's status, without opening
        a file (the due time is the mtime, forced expiry a mode bit).

        Files moved into the queue after the scan began are left for the
        next scan, as a queue run must not try a message it just deferred.

        >>> import tempfile
        >>> store = FileQueueStore(tempfile.mkdtemp())
        >>> qid = store.enqueue(QueueName.DEFERRED, Envelope("", ()), Message(b""))
        >>> store.set_next_attempt(qid, QueueName.DEFERRED, 1000.0)
        >>> list(store.scan_ids(QueueName.DEFERRED, due_by=999.0)), list(store.scan_ids(QueueName.DEFERRED)) == [qid]
        ([], True)
        """
        top = os.path.join(self.queue_directory, QueueName(queue).value)
        return _scan_ids(top, due_by, time.time())

    # --- maintenance (postsuper -p, -s) --------------------------------------
    def temp_files(self) -> Iterator[str]:
        """Paths of temporary files in every queue directory."""
        for name in QUEUE_DIRS:
            top = os.path.join(self.queue_directory, name)
            for path in _walk(top):
                if os.path.basename(path).startswith(TEMP_PREFIX):
                    yield path

    def purge_temp(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        removed = 0
        for path in list(self.temp_files()):
            name = os.path.basename(path)
            try:
                pid = int(name[len(TEMP_PREFIX):].split(".")[0])
                age = now - os.stat(path).st_mtime
            except (ValueError, FileNotFoundError):
                pid, age = 0, MAX_TEMP_AGE + 1
            if age > MAX_TEMP_AGE or not _pid_alive(pid):
                if _unlink_quietly(path):
                    log.info("%s: removed stale temporary file", os.path.relpath(path, self.queue_directory))
                    removed += 1
        return removed

    def repair(self) -> dict[str, int]:
        """Move misplaced queue files to where their name says (after a
        ``hash_queue_depth`` change or a restore); give files with names that
        are not queue IDs a fresh ID. Returns ``{"moved": n, "renamed": n}``."""
        counts = {"moved": 0, "renamed": 0}
        for name in (q.value for q in QueueName):
            top = os.path.join(self.queue_directory, name)
            for path in list(_walk(top)):
                base = os.path.basename(path)
                if base.startswith(TEMP_PREFIX):
                    continue
                if not is_queue_id(base):
                    st = os.stat(path)
                    new_id = make_queue_id(int(st.st_mtime), int(st.st_mtime * 1e6) % 1_000_000, st.st_ino)
                    target = self.path(new_id, name)
                    counts["renamed"] += 1
                    log.warning("%s: renamed to %s", os.path.relpath(path, self.queue_directory), new_id)
                else:
                    target = self.path(base, name)
                    if target == path:
                        continue
                    counts["moved"] += 1
                self._makedirs(os.path.dirname(target))
                try:
                    os.rename(path, target)
                except FileNotFoundError:
                    if not self._remade(os.path.dirname(target)):
                        raise
                    os.rename(path, target)
        return counts


@attrs.define(eq=False)
class StagedFile:
    """A queue file written under a temporary name (:meth:`FileQueueStore.stage`).

    :meth:`publish` makes it durable and gives it its queue name (the
    message is then queued); :meth:`discard` removes it. Exactly one of the
    two must be called.
    """

    store: FileQueueStore
    fd: int
    tmp: str
    queue_id: str
    queue: QueueName
    chosen: bool
    _state: list = attrs.field(factory=lambda: ["staged"])
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def publish(self) -> str:
        """fsync the file, name it, fsync its directory; the queue ID.
        Blocking: run it in a worker thread from an event loop."""
        with self._lock:
            if self._state[0] != "staged":
                raise QueueError(f"{self.queue_id}: staged queue file already {self._state[0]}")
            self._state[0] = "published"
        return self.store._publish(self)

    def abandon(self) -> bool:
        """Discard the file unless :meth:`publish` has started; whether it
        was discarded (for a caller cancelled while publish was queued)."""
        with self._lock:
            if self._state[0] != "staged":
                return False
            self._state[0] = "abandoned"
        self.discard()
        return True

    def discard(self) -> None:
        """Remove the unpublished file."""
        try:
            os.close(self.fd)
        except OSError:
            pass
        _unlink_quietly(self.tmp)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _link_new(tmp: str, final: str, queue_id: str, queue: QueueName) -> None:
    # link(2) never replaces an existing name: the atomic "create if absent"
    # for a finished file (rename(2) would silently overwrite).
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise QueueIdInUse(f"{queue_id}: queue ID already in use in the "
                           f"{queue.value} queue") from None


def _unlink_quietly(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def _walk(top: str) -> Iterator[str]:
    try:
        entries = os.scandir(top)
    except FileNotFoundError:
        return
    with entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if len(entry.name) == 1:   # hashed sub-directory
                    yield from _walk(entry.path)
            elif entry.is_file(follow_symlinks=False):
                yield entry.path


def _scan_ids(top: str, due_by: float | None, started: float) -> Iterator[str]:
    try:
        entries = os.scandir(top)
    except FileNotFoundError:
        return
    with entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if len(entry.name) == 1:   # hashed sub-directory
                    yield from _scan_ids(entry.path, due_by, started)
                continue
            if not is_queue_id(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue                   # gone since the directory was read
            if not stat.S_ISREG(st.st_mode) or st.st_ctime > started:
                continue
            if due_by is None or st.st_mtime <= due_by or st.st_mode & stat.S_IXGRP:
                yield entry.name


def _walk_ids(top: str) -> Iterator[str]:
    for path in _walk(top):
        name = os.path.basename(path)
        if is_queue_id(name):
            yield name


def open_queue_store(config) -> FileQueueStore:
    """The daemon's store for a :class:`~mailflow.config.Config`: the file spool."""
    return FileQueueStore.from_config(config)
