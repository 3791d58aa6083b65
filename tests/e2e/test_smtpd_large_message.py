"""A 50 MB message through the daemon's smtpd: the worker's memory stays
bounded while it arrives (the part past smtpd_message_memory_limit goes to
an unlinked file in the spool), and the message is delivered whole."""

from __future__ import annotations

import hashlib
import smtplib
from pathlib import Path

from e2e_helpers import free_port, smtpd_line, wait_until

SIZE = 50 * 1000 * 1000


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _workers(master: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{master}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"mailflow.services.workers" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def _message() -> bytes:
    line = b"x" * 76 + b"\r\n"
    return b"Subject: fifty megabytes\r\n\r\n" + line * (SIZE // len(line))


def test_a_50_mb_message_keeps_the_worker_small_and_arrives_whole(make_mta):
    port = free_port()
    mta = make_mta(master_extra=smtpd_line(port),
                   main_extra="smtpd_worker_processes = 1\nmessage_size_limit = 0\n"
                              "virtual_mailbox_limit = 0\n")
    [worker] = wait_until(lambda: _workers(mta.master_pid()), "the smtpd worker")
    data = _message()
    before = _peak_rss_kb(worker)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=120) as c:
        assert c.sendmail("x@example.org", ["a@example.com"], data) == {}
    growth_mb = (_peak_rss_kb(worker) - before) / 1024
    assert growth_mb < 20, f"the smtpd worker grew {growth_mb:.1f} MB for a 50 MB message"

    [path] = mta.wait_for_mail(mta.maildir("a"))
    body = path.read_bytes().split(b"\n\n", 1)[1]
    expected = data.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
    assert hashlib.sha256(body).digest() == hashlib.sha256(expected).digest()
    wait_until(mta.queue_is_empty, "an empty queue")
