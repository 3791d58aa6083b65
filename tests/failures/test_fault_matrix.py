"""The fault-injection matrix: every file-system call on every local mail
path fails once, and no accepted message is lost.

For each path (sendmail, postdrop, pickup with cleanup, the queue manager
with its activation, each local delivery agent and the bounce, defer and
trace logs, postsuper) a counting run finds the fault points (see
:mod:`faults`); then for each point N a fresh mail system runs the path
with the Nth call failing (EIO, ENOSPC, EROFS, EACCES in turn) and the test
checks:

- the submitter was refused (exit 75) or the message is in a queue;
- once the path settles, nothing is left in ``active/``;
- a log line (or the command's error message) names the error;
- once the fault has cleared, pickup and the queue manager deliver every
  recipient at least once and at most twice (at-least-once: a delivery
  whose "done" mark failed is made again), or return it to the sender in a
  non-delivery notice (an agent may judge a disk error permanent, as
  Postfix's local(8) does for a mailbox it cannot open); every notice
  arrives, and every queue is empty.

Problems are collected over all points and reported together.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from pathlib import Path
from typing import Callable

import pytest

from mailflow.cli.main import main
from mailflow.interfaces import QueueName
from mailflow.model import Message
from mailflow.queue import records

from faults import Faults
from mail_world import CONTENT, RECIPIENTS, SENDER, World

EX_TEMPFAIL = 75


def cli(world: World, *args: str, stdin: bytes = b"") -> tuple[int, str]:
    """Run ``mailflow -c ETC ARGS`` in process; (status, stderr)."""
    err = io.StringIO()
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(["-c", str(world.etc), *args])
    finally:
        sys.stdin = saved
    return status, err.getvalue()


class Path_:
    """One mail path: how to set it up, run it, and finish it afterwards."""

    #: notices expected once everything is delivered (success: NOTIFY=SUCCESS kept)
    success_notices = 1

    def setup(self, world: World) -> None:
        pass

    def run(self, world: World) -> tuple[int, str]:
        raise NotImplementedError

    def after_refusal(self, world: World) -> None:
        """The submitter was refused: it tries again (fault-free)."""


class Sendmail(Path_):
    success_notices = 0            # the command line cannot ask for NOTIFY=SUCCESS per recipient

    def run(self, world):
        return cli(world, "sendmail", "-f", SENDER, *RECIPIENTS, stdin=CONTENT)

    def after_refusal(self, world):
        assert self.run(world)[0] == 0


class Postdrop(Path_):
    def run(self, world):
        return cli(world, "postdrop", stdin=records.encode(world.envelope(), Message(CONTENT)))

    def after_refusal(self, world):
        assert self.run(world)[0] == 0


class PickupCleanup(Path_):
    def setup(self, world):
        world.enqueue(QueueName.MAILDROP)

    def run(self, world):
        world.pickup()
        world.pickup()              # the next scan
        return 0, ""


class Qmgr(Path_):
    """Activation, the local/virtual/pipe agents, the bounce, defer and trace
    logs, the notices through cleanup, deferral."""

    def setup(self, world):
        world.enqueue(QueueName.INCOMING)

    def run(self, world):
        world.run_qmgr(b"I")        # the extra wake-up is the next queue run
        return 0, ""


class QmgrAllFinal(Qmgr):
    """The same, with every recipient final at the first attempt (nothing
    deferred holds the message back): a lost log entry would be a lost notice."""

    def setup(self, world):
        world.defer_later = False
        super().setup(world)


class Postsuper(Path_):
    def setup(self, world):
        world.enqueue(QueueName.DEFERRED)

    def run(self, world):
        status, err = 0, ""
        for flag in ("-h", "-H", "-r"):
            s, e = cli(world, "postsuper", flag, "ALL")
            status, err = max(status, s), err + e
        return status, err

    def after_refusal(self, world):
        cli(world, "postsuper", "-H", "ALL")


class PostsuperDelete(Path_):
    """``postsuper -d``: deleted, or still there and delivered later."""

    def setup(self, world):
        world.enqueue(QueueName.DEFERRED)

    def run(self, world):
        return cli(world, "postsuper", "-d", "ALL")


PATHS: dict[str, Callable[[], Path_]] = {
    "sendmail": Sendmail, "postdrop": Postdrop, "pickup+cleanup": PickupCleanup,
    "qmgr+agents+logs": Qmgr, "qmgr, all final": QmgrAllFinal,
    "postsuper -h/-H/-r": Postsuper, "postsuper -d": PostsuperDelete,
}


def count_points(root: Path, path: Path_) -> int:
    world = World(root)
    path.setup(world)
    with Faults() as counting:
        path.run(world)
    return len(counting.calls)


def check_point(root: Path, path: Path_, point: int, records_: list) -> list[str]:
    world = World(root)
    path.setup(world)
    records_.clear()
    with Faults(fail_at=point) as faults:
        status, err = path.run(world)
    if faults.fired is None:
        return []                   # fewer calls this time (thread timing): nothing failed
    where = f"point {point} {faults.fired[0]}({Path(faults.fired[1]).name}) {faults.strerror}"
    problems = []
    queued = world.queued()
    if queued.get("active"):
        problems.append(f"{where}: left in active/: {queued['active']}")
    said = err + "\n".join(records_)
    if faults.strerror not in said:
        problems.append(f"{where}: no log line names the error")
    deleted = isinstance(path, PostsuperDelete) and status == 0 and not queued
    if status != 0 and isinstance(path, (Sendmail, Postdrop)):
        if status != EX_TEMPFAIL:
            problems.append(f"{where}: exit {status}, not {EX_TEMPFAIL}")
        path.after_refusal(world)
    elif status != 0:
        path.after_refusal(world)
    elif not queued and isinstance(path, (Sendmail, Postdrop, PickupCleanup)):
        problems.append(f"{where}: accepted, but in no queue")
    world.recover()
    copies = world.copies()
    if world.queued():
        problems.append(f"{where}: still queued after recovery: {world.queued()}")
    if deleted:
        return problems
    want = dict.fromkeys(("alice", "bob", "u", "p", "later", "bounce"), (1, 2))
    want["success"] = (path.success_notices, 2 * path.success_notices)
    returned = world.returned()
    for name, (low, high) in want.items():
        if copies[name] == 0 and name in returned:
            continue                # failed for good, and the sender was told: not lost
        if not low <= copies[name] <= high:
            problems.append(f"{where}: {name} got {copies[name]} copies, want {low}..{high}")
    return problems


class _Lines(logging.Handler):
    def __init__(self, lines: list) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines():
    lines: list[str] = []
    handler = _Lines(lines)
    root = logging.getLogger("mailflow")
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old)


@pytest.mark.parametrize("name", list(PATHS))
def test_every_fault_point_keeps_the_mail(tmp_path, name, log_lines):
    """Each fault point of the path fails once in turn: the mail is refused or kept, never stranded in active/, the error is logged, and after the fault clears every recipient gets the message once or twice."""
    path = PATHS[name]()
    points = count_points(tmp_path / "count", path)
    assert points > 0
    problems = []
    for point in range(points):
        problems += check_point(tmp_path / str(point), path, point, log_lines)
    assert problems == [], f"{len(problems)} of {points} fault points:\n" + "\n".join(problems)
