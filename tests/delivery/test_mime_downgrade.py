"""The 8BITMIME -> 7BIT conversion: Postfix's own output as golden files,
the rules one by one, and decoding the result gives the original back."""

from __future__ import annotations

import email
import email.policy
import quopri
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.delivery.mime_downgrade import MimeNestingError, downgrade, needs_downgrade, qp_line

GOLDEN = Path(__file__).parent / "golden" / "mime_downgrade"
CASES = sorted(p.stem for p in GOLDEN.glob("*.in"))


@pytest.mark.parametrize("name", CASES)
def test_same_bytes_as_postfix(name):
    """Each .in is a message as Postfix 3.7 queued it (sent as is to a
    server with 8BITMIME); .ref is what its smtp client sent to a server
    without 8BITMIME (smtp-sink -8)."""
    data = (GOLDEN / f"{name}.in").read_bytes()
    assert downgrade(data) == (GOLDEN / f"{name}.ref").read_bytes()


def test_golden_cases_cover_the_structures():
    assert len(CASES) >= 8


def test_only_parts_declared_8bit_are_encoded():
    """No Content-Transfer-Encoding means 7bit: Postfix leaves such a body
    alone even with 8-bit bytes in it."""
    data = b"Subject: x\n\nraw \xe9\n"
    assert downgrade(data) == data


def test_cte_header_moves_to_the_end_of_the_headers():
    data = b"Content-Transfer-Encoding: binary\nSubject: x\n\n\xff\n"
    assert downgrade(data) == (b"Subject: x\nContent-Transfer-Encoding: quoted-printable\n\n"
                               b"=FF\n")


def test_headers_only_message_still_gets_its_cte_replaced():
    assert downgrade(b"Subject: x\nContent-Transfer-Encoding: 8bit") == (
        b"Subject: x\nContent-Transfer-Encoding: quoted-printable\n")


def test_missing_empty_line_after_the_primary_headers_is_added():
    data = b"Content-Transfer-Encoding: 8bit\nnot a header \xe9\n"
    assert downgrade(data) == (b"Content-Transfer-Encoding: quoted-printable\n\n"
                               b"not a header =E9\n")


@pytest.mark.parametrize("line, out", [
    (b"", [b""]),
    (b"a=b", [b"a=3Db"]),
    (b"\x00\x1f\x7f\x80", [b"=00=1F=7F=80"]),
    (b"end\t", [b"end=09"]),
    (b"x" * 73, [b"x" * 73]),
    (b"x" * 74, [b"x" * 73 + b"=", b"x"]),
    (b"\xe9" * 30, [b"=E9" * 25 + b"=", b"=E9" * 5]),
], ids=["empty", "equals", "controls", "trailing-tab", "73", "74", "encoded-run"])
def test_qp_lines(line, out):
    assert qp_line(line) == out


def test_nesting_beyond_the_limit_is_an_error():
    """Postfix bounces it: 5.6.0 MIME nesting exceeds safety limit."""
    depth = 5
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\nContent-Transfer-Encoding: 8bit"
                    b"\n\n--b%d\n" % (i, i) for i in range(depth))
    data = head + b"Content-Transfer-Encoding: 8bit\n\n\xe9\n"
    assert b"=E9" in downgrade(data, nesting_limit=depth)
    with pytest.raises(MimeNestingError, match="MIME nesting exceeds safety limit"):
        downgrade(data, nesting_limit=2)


def test_needs_downgrade():
    assert needs_downgrade(b"\xe9") and not needs_downgrade(b"ascii only\n")


_BYTES_LINE = st.binary(max_size=300).map(lambda b: b.replace(b"\n", b""))


@settings(max_examples=150, deadline=None)
@given(st.lists(_BYTES_LINE, max_size=20))
def test_decoding_a_converted_text_part_gives_the_original(lines):
    """The converted body is 7-bit, lines at most 76 long, and quoted-printable
    decoding gives back the original lines."""
    body = b"".join(line + b"\n" for line in lines)
    data = b"Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n" + body
    out = downgrade(data)
    head, _, encoded = out.partition(b"\n\n")
    assert head == b"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable"
    assert out.isascii()
    assert all(len(line) <= 76 for line in encoded.split(b"\n"))
    assert quopri.decodestring(encoded) == body


_PART_LINE = _BYTES_LINE.filter(lambda b: not b.startswith(b"--") and b[:1] not in (b"\r",))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"8bit", b"binary", b"7bit"]),
                          st.lists(_PART_LINE.map(lambda b: b.rstrip(b"\r")), min_size=1,
                                   max_size=6)),
                min_size=1, max_size=4))
def test_decoding_each_part_of_a_multipart_gives_the_original(parts):
    """Multipart structure survives: every part, decoded by Python's email
    package, is the original bytes; 8-bit parts come out as quoted-printable."""
    msg = [b"MIME-Version: 1.0", b"Content-Type: multipart/mixed; boundary=\"=_b\"",
           b"Content-Transfer-Encoding: 8bit", b""]
    for cte, lines in parts:
        msg += [b"--=_b", b"Content-Type: application/octet-stream",
                b"Content-Transfer-Encoding: " + cte, b""] + lines
    msg += [b"--=_b--", b""]
    out = downgrade(b"\n".join(msg))
    parsed = email.message_from_bytes(out, policy=email.policy.compat32)
    assert parsed["Content-Transfer-Encoding"] == "7bit"
    got = parsed.get_payload()
    assert len(got) == len(parts)
    for part, (cte, lines) in zip(got, parts):
        original = b"\n".join(lines)
        if cte == b"7bit":
            # Left exactly as it was, 8-bit bytes and all.
            assert part["Content-Transfer-Encoding"] == "7bit"
            assert b"\n\n" + original + b"\n--=_b" in out
        else:
            assert part["Content-Transfer-Encoding"] == "quoted-printable"
            # The line end before the boundary belongs to the boundary (RFC 2046).
            assert quopri.decodestring(part.get_payload(decode=False).encode("ascii")) \
                == original
