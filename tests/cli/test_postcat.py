"""mailflow postcat: Postfix's section banners and record names, -e/-h/-b, by ID or file."""

from __future__ import annotations

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName as Q
from mailflow.model import DsnStatus, Envelope, Message, Notify, Outcome, Recipient

# Postfix 3.7.11's `postcat -q ID` for a held message (private instance), for the shape:
POSTFIX_SHAPE = """\
*** ENVELOPE RECORDS hold/4jcpB45NThzJBkk ***
message_size:             270             323               2               0             270               0
message_arrival_time: Sun Nov 29 13:37:48 2026
create_time: Sun Nov 29 13:37:48 2026
named_attribute: rewrite_context=local
sender_fullname: root
sender: sender@example.com
named_attribute: dsn_orig_rcpt=rfc822;b@remote.test
original_recipient: b@remote.test
recipient: b@remote.test
*** MESSAGE CONTENTS hold/4jcpB45NThzJBkk ***
Subject: one

hello
*** HEADER EXTRACTED hold/4jcpB45NThzJBkk ***
*** MESSAGE FILE END hold/4jcpB45NThzJBkk ***
"""
BODY = b"Subject: one\nTo: b@remote.test\n\nhello\n"


@pytest.fixture
def spool(config_dir) -> FileQueueStore:
    """The file spool named by the test config."""
    return FileQueueStore(config_dir.parent / "spool")


@pytest.fixture
def held(spool) -> str:
    """A held message with DSN details and one recipient already delivered."""
    env = Envelope("sender@example.com",
                   (Recipient("b@remote.test", orcpt="rfc822;b@remote.test",
                              notify={Notify.SUCCESS, Notify.DELAY}),
                    Recipient("c@remote.test")), envid="E1")
    qid = spool.enqueue(Q.HOLD, env, Message(BODY))
    spool.mark_done(qid, Q.HOLD, [Outcome(Recipient("c@remote.test"), DsnStatus.parse("2.0.0"))])
    return qid


def _labels(text: str) -> list[str]:
    # "*** ENVELOPE RECORDS name ***" -> "*** ENVELOPE RECORDS"; "sender: x" -> "sender"
    return [" ".join(line.split()[:3]) if line.startswith("***") else line.split(":")[0]
            for line in text.splitlines() if ": " in line or line.startswith("***")]


def test_full_output_has_postfix_sections(run_cli, config_dir, held):
    """Without flags: envelope, contents, extracted and end banners, named queue/ID."""
    r = run_cli("-c", config_dir, "postcat", "-q", held)
    assert r.status == 0
    banners = [line for line in r.out.splitlines() if line.startswith("***")]
    assert banners == [f"*** {s} hold/{held} ***" for s in
                       ("ENVELOPE RECORDS", "MESSAGE CONTENTS", "HEADER EXTRACTED", "MESSAGE FILE END")]
    assert f"message_size: {len(BODY):>15}" in r.out
    assert "named_attribute: envelope_id=E1" in r.out
    assert "named_attribute: notify_flags=10" in r.out          # SUCCESS|DELAY, as Postfix's dsn_mask
    assert "named_attribute: dsn_orig_rcpt=rfc822;b@remote.test" in r.out
    assert "recipient: b@remote.test" in r.out and "done_recipient: c@remote.test" in r.out
    assert "\nSubject: one\nTo: b@remote.test\n\nhello\n*** HEADER EXTRACTED" in r.out


def test_record_names_are_postfix_names(run_cli, config_dir, held):
    """Every record label we print is one Postfix's postcat prints."""
    r = run_cli("-c", config_dir, "postcat", "-e", "-q", held)
    postfix_labels = set(_labels(POSTFIX_SHAPE)) | {"done_recipient"}
    assert set(_labels(r.out)) <= postfix_labels


@pytest.mark.parametrize("flag,expected", [
    pytest.param("-h", "Subject: one\nTo: b@remote.test\n", id="headers"),
    pytest.param("-b", "\nhello\n", id="body-with-separator-line-as-postfix"),
])
def test_header_or_body_only(run_cli, config_dir, held, flag, expected):
    """-h prints only headers, -b only the body (from the blank line), no banners."""
    r = run_cli("-c", config_dir, "postcat", flag, "-q", held)
    assert r.out == expected


def test_envelope_only_keeps_banners(run_cli, config_dir, held):
    """-e prints the envelope and the empty section banners, as Postfix does."""
    r = run_cli("-c", config_dir, "postcat", "-e", "-q", held)
    assert "Subject" not in r.out
    assert r.out.endswith(f"*** MESSAGE CONTENTS hold/{held} ***\n*** HEADER EXTRACTED hold/{held} ***\n"
                          f"*** MESSAGE FILE END hold/{held} ***\n")


def test_by_file_name(run_cli, config_dir, spool, held):
    """postcat FILE names the file in its banners."""
    path = spool.path(held, Q.HOLD)
    r = run_cli("postcat", path)
    assert r.out.startswith(f"*** ENVELOPE RECORDS {path} ***\n")


def test_not_a_queue_file_warns(run_cli, tmp_path):
    """A file that is not a queue file gets Postfix's warning."""
    f = tmp_path / "junk"
    f.write_text("hello\n")
    r = run_cli("postcat", f)
    assert r.status == 0 and f"postcat: warning: {f}: input is not a valid queue file" in r.err


def test_corrupt_file_is_shown_not_moved(run_cli, config_dir, spool, held):
    """postcat is read-only: a damaged file is reported and stays where it is."""
    with open(spool.path(held, Q.HOLD), "r+b") as fh:
        fh.truncate(40)
    r = run_cli("-c", config_dir, "postcat", "-q", held)
    assert "input is not a valid queue file" in r.err
    assert spool.locate(held) is Q.HOLD


@pytest.mark.parametrize("bad", ["../../etc/passwd", "%2e%2e", "/etc/passwd"])
def test_bad_ids_are_refused(run_cli, config_dir, bad):
    """Path-like IDs never reach the file system."""
    r = run_cli("-c", config_dir, "postcat", "-q", bad)
    assert r.status == 1 and f"postcat: fatal: bad mail queue ID: {bad}" in r.err


def test_missing_id(run_cli, config_dir, spool):
    """An unknown ID is Postfix's open error."""
    r = run_cli("-c", config_dir, "postcat", "-q", "4jcpB45NThzJBkk")
    assert r.status == 1 and "open queue file 4jcpB45NThzJBkk: No such file or directory" in r.err


def test_verbose_shows_raw_records_with_offsets(run_cli, config_dir, held):
    """-v adds each raw record with its byte offset."""
    r = run_cli("-c", config_dir, "postcat", "-v", "-e", "-q", held)
    assert "     0 " not in r.out.splitlines()[1]  # offset 0 is the magic line, not a record
    assert any(line.split()[1:2] == ["S"] for line in r.out.splitlines() if line[:6].strip().isdigit())


def test_content_filter_is_shown_in_the_extracted_section(run_cli, config_dir, spool):
    """A message with a content filter shows it after the HEADER EXTRACTED banner, as Postfix's postcat."""
    env = Envelope("a@example.com", (Recipient("b@example.com"),), content_filter="smtp:[127.0.0.1]:10025")
    qid = spool.enqueue(Q.INCOMING, env, Message(BODY))
    r = run_cli("-c", config_dir, "postcat", "-q", qid)
    assert f"*** HEADER EXTRACTED incoming/{qid} ***\ncontent_filter: smtp:[127.0.0.1]:10025\n" in r.out
