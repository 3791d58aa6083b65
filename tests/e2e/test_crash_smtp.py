"""At least once through the network: SIGKILL the daemon again and again while
clients send mail over SMTP; every message answered 250 is delivered.

A real ``mailflow start`` daemon with smtpd on 127.0.0.1 (two worker
processes, ``smtpd_worker_processes``) and virtual Maildir delivery. Four
client threads send COUNT messages, each with its serial number in the
Subject, the Message-ID and the body, and record which ones got ``250``
after the end of DATA; a message that got anything else (a refused
connection, a reset, a 4xx) is sent again, as a real client would. Meanwhile
the test SIGKILLs the master's process group KILLS times, at random moments
spread over the run, and starts the daemon again each time. In the end every
acknowledged message is in a Maildir (0 lost), duplicates are counted and
printed (at least once, not exactly once), and every queue is empty.

COUNT is 2,000 (about a minute here); MAILFLOW_BIG_TESTS=1 sends 10,000. The
moments of the kills are random; the test prints its seed, and
MAILFLOW_CRASH_SEED=SEED runs with the same one again.
"""

from __future__ import annotations

import os
import random
import re
import signal
import smtplib
import socket
import threading
import time
from collections import Counter

from e2e_helpers import maildir_messages, wait_until

BIG = os.environ.get("MAILFLOW_BIG_TESTS") == "1"
COUNT = 10_000 if BIG else 2_000
KILLS = 10
CLIENTS = 4
USERS = ("a", "b")
SERIAL = re.compile(rb"^serial (\d+)$", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message(n: int) -> bytes:
    return (f"From: <sender@example.net>\r\nTo: <{USERS[n % len(USERS)]}@example.com>\r\n"
            f"Subject: crash {n}\r\nMessage-ID: <crash.{n}@example.net>\r\n\r\n"
            f"serial {n}\r\n").encode()


def serials(mta) -> Counter:
    """How many copies of each serial number the Maildirs hold."""
    seen: Counter = Counter()
    for user in USERS:
        for path in maildir_messages(mta.maildir(user)):
            seen.update(int(n) for n in SERIAL.findall(path.read_bytes()))
    return seen


class Clients:
    """CLIENTS threads that send every serial until each one got 250."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.todo = list(range(COUNT - 1, -1, -1))
        # How many messages may be started so far: the test moves this on
        # ahead of each kill, so that the clients cannot send everything
        # while a slow restart holds the test up, and every kill meets traffic.
        self.limit = COUNT
        self.issued = 0
        self.acked: set[int] = set()
        self.attempts = 0
        self.failures: Counter = Counter()     # why a try was not acknowledged
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self, timeout: float) -> None:
        for t in self.threads:
            t.join(timeout)

    def _take(self) -> int | None:
        while True:
            with self.lock:
                if not self.todo:
                    return None
                if self.issued < self.limit:
                    self.issued += 1
                    return self.todo.pop()
            time.sleep(0.01)

    def _run(self) -> None:
        smtp: smtplib.SMTP | None = None
        n = self._take()
        while n is not None:
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", self.port, "client.example.net", timeout=10)
                with self.lock:
                    self.attempts += 1
                # sendmail() returns only when the end of DATA got 250.
                smtp.sendmail("sender@example.net", [f"{USERS[n % len(USERS)]}@example.com"],
                              message(n))
            except (smtplib.SMTPException, OSError) as exc:
                with self.lock:
                    self.failures[type(exc).__name__] += 1
                if smtp is not None:
                    try:
                        smtp.close()
                    except OSError:
                        pass
                smtp = None
                time.sleep(0.02)     # the daemon may be down: do not spin
                continue             # the same message again
            with self.lock:
                self.acked.add(n)
            n = self._take()
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def test_sigkill_loop_while_receiving_over_smtp_loses_nothing(make_mta, capsys):
    """KILLS SIGKILLs of the master's group during SMTP traffic: every 250 is delivered, the queue empties."""
    port = free_port()
    mta = make_mta(start=False,
                   main_extra="inet_protocols = ipv4\nsmtpd_peername_lookup = no\n",
                   master_extra=f"127.0.0.1:{port} inet n - n - - smtpd\n")
    seed = os.environ.get("MAILFLOW_CRASH_SEED") or str(time.time_ns())
    rng = random.Random(seed)
    started = time.monotonic()
    mta.start()
    clients = Clients(port)
    piece = COUNT // (KILLS + 1)
    clients.limit = piece
    clients.start()
    kills = []        # (acknowledged so far, delivered so far) at each kill
    for k in range(KILLS):
        # A random moment in the k-th of KILLS+1 slices of the run; the
        # clients may start messages up to the end of the next slice.
        goal = k * piece + int(piece * rng.random())
        with clients.lock:
            clients.limit = (k + 2) * piece
        wait_until(lambda: len(clients.acked) >= goal, f"{goal} messages acknowledged", timeout=60)
        time.sleep(rng.random() * 0.05)
        pid = mta.master_pid()
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        kills.append((len(clients.acked), sum(serials(mta).values())))
        wait_until(lambda: not mta.leftovers(), "the killed processes to be gone")
        mta.start()          # takes over the stale master.pid
    with clients.lock:
        clients.limit = COUNT
    clients.join(timeout=120)
    assert not any(t.is_alive() for t in clients.threads), "the clients did not finish"
    wait_until(mta.queue_is_empty, "the queue to be empty", timeout=60)
    took = time.monotonic() - started

    seen = serials(mta)
    lost = sorted(clients.acked - set(seen))
    duplicates = {n: c for n, c in seen.items() if c > 1}
    extra = sum(c - 1 for c in duplicates.values())
    with capsys.disabled():
        print(f"\nSMTP crash loop: {COUNT} messages, {KILLS} SIGKILLs at "
              f"{[a for a, _ in kills]} acknowledged; {clients.attempts} tries "
              f"({dict(clients.failures)} not acknowledged); {len(clients.acked)} acknowledged, "
              f"{len(seen)} delivered, {len(lost)} lost, {len(duplicates)} delivered more than "
              f"once ({extra} extra copies), {took:.1f} s (MAILFLOW_CRASH_SEED={seed})")
    assert lost == []
    assert len(clients.acked) == COUNT
    assert set(seen) == set(range(COUNT))
    assert mta.queue_ids("corrupt") == []
    assert len(kills) == KILLS and kills[-1][0] < COUNT, "the last kill came after all mail was sent"
