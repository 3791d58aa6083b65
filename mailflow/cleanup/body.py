"""The message body as content checks see it: MIME part headers, headers of
attached messages, and body lines.

This module owns walking the body of one message for
``mime_header_checks``, ``nested_header_checks`` and ``body_checks`` (and
Python rules), and applying their line edits. It walks only as far as it
must: up to ``body_checks_size_limit`` bytes per part for body checks, and
through the whole body only when the message is multipart or an attached
message (to find part headers). Boundaries are found with bytes
comparisons; nothing builds the ``email`` object model. No I/O.

>>> from mailflow.cleanup.actions import CleanupState
>>> from mailflow.cleanup.rules import body_rule
>>> state = CleanupState("QID", "local", None)
>>> inspect_body(b"keep\\nsecret\\n", [], state, [], [body_rule(lambda l: "IGNORE" if l == "secret" else None)])
b'keep\\n'
"""

from __future__ import annotations

import re
from typing import Sequence

from mailflow.cleanup.actions import IGNORE, PREPEND, REPLACE, CleanupState, ask_rules
from mailflow.cleanup.headers import Header, is_mime_header

__all__ = ["inspect_body", "multipart_boundary"]

_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))', re.I)


def multipart_boundary(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/*`` Content-Type value, else None.

    >>> multipart_boundary('multipart/mixed; boundary="b1"'), multipart_boundary("text/plain")
    (b'b1', None)
    """
    if not content_type.lower().startswith("multipart/"):
        return None
    m = _BOUNDARY.search(content_type)
    if not m:
        return None
    return (m.group(1) if m.group(1) is not None else m.group(2)).encode("utf-8", "surrogateescape")


def _match_boundary(line: bytes, boundaries: list[bytes]) -> tuple[int, bool] | None:
    """Which open boundary a ``--...`` line is (innermost first), and
    whether it closes its multipart (RFC 2046 section 5.1.1)."""
    stripped = line.rstrip(b" \t")
    for index in range(len(boundaries) - 1, -1, -1):
        b = boundaries[index]
        if stripped == b:
            return index, False
        if stripped == b + b"--":
            return index, True
    return None


def _line(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape") + b"\n"


def _edit(edits: list, edit: str | None, start: int, stop: int, text: str) -> None:
    if edit == IGNORE:
        edits.append((start, stop, b""))
    elif edit == REPLACE:
        edits.append((start, stop, _line(text)))
    elif edit == PREPEND:
        edits.append((start, start, _line(text)))


class _Walk:
    """State of one body walk."""

    def __init__(self, body: bytes, state: CleanupState, header_rules: Sequence[object],
                 body_rules: Sequence[object]) -> None:
        self.body = body
        self.state = state
        self.header_rules = header_rules
        self.body_rules = body_rules
        self.edits: list[tuple[int, int, bytes]] = []

    def part_headers(self, spans: list[tuple[int, int]], mode: str) -> str:
        """Check the headers of one MIME part (mode ``part``) or attached
        message (mode ``nested``); return its Content-Type value."""
        ctype = ""
        for start, stop in spans:
            h = Header.parse(self.body[start:stop].decode("utf-8", "surrogateescape"))
            if h.lname == "content-type":
                ctype = h.value
            # Postfix: all headers of a multipart part and MIME headers
            # anywhere go to mime_header_checks; the rest of an attached
            # message's headers to nested_header_checks.
            kind = "mime" if mode == "part" or is_mime_header(h.lname) else "nested"
            verdict = ask_rules(self.header_rules, lambda r: r.check_header(h, kind),
                                self.state, "mime_header_checks")
            if verdict is not None:
                _edit(self.edits, self.state.apply(verdict, "header", h.text), start, stop + 1, verdict.text)
        return ctype

    def line(self, start: int, stop: int, line: bytes) -> None:
        text = line.decode("utf-8", "surrogateescape")
        verdict = ask_rules(self.body_rules, lambda r: r.check_body(text), self.state, "body_checks")
        if verdict is not None:
            _edit(self.edits, self.state.apply(verdict, "body", text), start, stop, verdict.text)

    def result(self) -> bytes:
        if not self.edits:
            return self.body
        out, last = [], 0
        for start, stop, new in self.edits:
            out.append(self.body[last:start])
            out.append(new)
            last = stop
        out.append(self.body[last:])
        return b"".join(out)


def inspect_body(body: bytes, headers: Sequence[Header], state: CleanupState,
                 header_rules: Sequence[object], body_rules: Sequence[object], *,
                 limit: int = 51200, mime: bool = True) -> bytes:
    """Run the rules over the body; return it with line edits applied.

    ``headers`` are the message's own headers (for its Content-Type);
    ``limit`` is body_checks_size_limit (bytes per part); ``mime`` False
    (disable_mime_input_processing) gives every body line to body rules.
    """
    walk = _Walk(body, state, header_rules, body_rules)
    ctype = next((h.value for h in headers if h.lname == "content-type"), "") if mime else ""
    boundaries: list[bytes] = []
    mode = "body"            # "body", "part" (multipart part headers), "nested"
    top = multipart_boundary(ctype)
    if top:
        boundaries.append(b"--" + top)
    elif mime and ctype.lower().startswith("message/rfc822"):
        mode = "nested"
    need_all = bool(boundaries) or mode == "nested"
    segment = 0
    spans: list[tuple[int, int]] = []
    pos, n = 0, len(body)
    while pos < n and not state.stopped:
        nl = body.find(b"\n", pos)
        end = n if nl < 0 else nl
        nxt = n if nl < 0 else nl + 1
        line = body[pos:end]
        if mode != "body":
            if line[:1] in (b" ", b"\t") and spans:
                spans[-1] = (spans[-1][0], end)
            elif line:
                spans.append((pos, end))
            else:
                part_type = walk.part_headers(spans, mode)
                spans, mode, segment = [], "body", 0
                sub = multipart_boundary(part_type)
                if sub:
                    boundaries.append(b"--" + sub)
                elif part_type.lower().startswith("message/rfc822"):
                    mode = "nested"
        elif boundaries and line.startswith(b"--") and \
                (hit := _match_boundary(line, boundaries)) is not None:
            index, closing = hit
            del boundaries[index + 1:]
            if closing:
                boundaries.pop()
            else:
                mode, spans = "part", []
            segment = 0
        elif body_rules and segment < limit:
            segment += len(line) + 1
            walk.line(pos, nxt, line)
        elif not need_all:
            break
        pos = nxt
    return walk.result()
