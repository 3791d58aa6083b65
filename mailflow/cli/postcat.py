"""``mailflow postcat [-c DIR] [-ehbv] [-q] ID|FILE ...``: show a queue file.

Postfix's postcat(1), shaped like its output: ``*** ENVELOPE RECORDS
queue/ID ***`` with Postfix's record names (``message_size``,
``message_arrival_time``, ``sender``, ``original_recipient``, ``recipient``
or ``done_recipient``...), ``*** MESSAGE CONTENTS ***``, ``*** HEADER
EXTRACTED ***``, ``*** MESSAGE FILE END ***``. ``-e``, ``-h``, ``-b`` pick
envelope, headers, body (default all three); ``-v`` also prints each
envelope record's byte offset and raw form. Read-only: never moves a file,
not even a corrupt one. Owns the rendering (:func:`render`) and the command line.
"""

from __future__ import annotations

import getopt
import sys
import time

from mailflow.cli.main import EX_OK, EX_USAGE, Context

HELP = "show the contents of a queue file"

_NOTIFY_BITS = {"NEVER": 1, "SUCCESS": 2, "FAILURE": 4, "DELAY": 8}   # dsn_mask.h
_RET_BITS = {"FULL": 1, "HDRS": 2}


def _ctime(seconds: float) -> str:
    t = time.localtime(seconds)
    return time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", t)


def render(data: bytes, name: str, *, envelope: bool = True, header: bool = True,
           body: bool = True, verbose: bool = False) -> str:
    """Postcat's text for one queue file; raises QueueFileCorrupt.

    >>> from mailflow.queue import records
    >>> from mailflow.model import Envelope, Message, Recipient
    >>> data = records.encode(Envelope("a@x", (Recipient("b@y"),), arrival_time=0), Message(b"S: 1\\n\\nhi\\n"))
    >>> print(render(data, "incoming/X", envelope=False, body=False))
    S: 1
    <BLANKLINE>
    """
    from mailflow.queue import records
    qf = records.decode(data)
    env, out = qf.envelope, []
    banners = envelope
    if envelope:
        out.append(f"*** ENVELOPE RECORDS {name} ***")
        if verbose:
            for offset, kind, fields in records.iter_records(data):
                out.append(f"{offset:6d} {kind} {' '.join(fields)}")
        sizes = (qf.size, qf.content_offset, len(env.recipients), 0, qf.size, 0)
        out.append("message_size: " + " ".join(f"{v:>15}" for v in sizes))
        out.append(f"message_arrival_time: {_ctime(env.arrival_time)}")
        out.append(f"create_time: {_ctime(env.arrival_time)}")
        if env.envid is not None:
            out.append(f"named_attribute: envelope_id={env.envid}")
        if env.ret is not None:
            out.append(f"named_attribute: ret_flags={_RET_BITS[env.ret.value]}")
        if env.client is not None:
            c = env.client
            for key, value in (("client_name", c.name), ("client_address", c.address),
                               ("helo_name", c.helo), ("protocol_name", c.protocol),
                               ("sasl_username", c.sasl_username)):
                if value:
                    out.append(f"named_attribute: {key}={value}")
        out.append(f"sender: {env.sender}")
        for rcpt in env.recipients:
            if rcpt.notify:
                out.append(f"named_attribute: notify_flags={sum(_NOTIFY_BITS[n.value] for n in rcpt.notify)}")
            if rcpt.orcpt:
                out.append(f"named_attribute: dsn_orig_rcpt={rcpt.orcpt}")
            out.append(f"original_recipient: {rcpt.original}")
            out.append(f"{'done_recipient' if rcpt.done else 'recipient'}: {rcpt.address}")
    if banners:
        out.append(f"*** MESSAGE CONTENTS {name} ***")
    text = qf.message.data.decode("utf-8", "surrogateescape")
    head_end = qf.message.data.find(b"\n\n")
    if qf.message.data.startswith(b"\n"):
        head, rest = "", text
    elif head_end < 0:
        head, rest = text, ""
    else:
        cut = len(qf.message.data[:head_end + 1].decode("utf-8", "surrogateescape"))
        head, rest = text[:cut], text[cut:]
    shown = (head if header else "") + (rest if body else "")
    if shown:
        out.append(shown[:-1] if shown.endswith("\n") else shown)
    if banners:
        out.append(f"*** HEADER EXTRACTED {name} ***")
        if env.content_filter:
            # cleanup writes the filter in the extracted segment (Postfix's
            # cleanup_extracted.c), so postcat shows it here.
            out.append(f"content_filter: {env.content_filter}")
        out.append(f"*** MESSAGE FILE END {name} ***")
    return "\n".join(out) + "\n"


def _locate(store, queue_id: str) -> tuple[str, str] | None:
    import os
    from mailflow.queue.store_api import SEARCH_ORDER
    for queue in SEARCH_ORDER:
        path = store.path(queue_id, queue)
        if os.path.exists(path):
            return path, f"{queue.value}/{queue_id}"
    return None


def run(argv: list[str], ctx: Context) -> int:
    try:
        opts, rest = getopt.getopt(argv, "bc:dehnoqsv")
    except getopt.GetoptError as exc:
        print(f"postcat: invalid option -- '{exc.opt}'\npostcat: fatal: usage: postcat [-bdehnoqv] "
              "[-c config_dir] [file(s)...]", file=sys.stderr)
        return EX_USAGE
    flags = {f for f, _ in opts}
    config_dir = next((v for f, v in opts if f == "-c"), None)
    picked = flags & {"-e", "-h", "-b"}
    parts = dict(envelope="-e" in picked or not picked, header="-h" in picked or not picked,
                 body="-b" in picked or not picked, verbose="-v" in flags or "-o" in flags)
    from mailflow.errors import BadQueueIdError, QueueFileCorrupt
    sources: list[tuple[str, str]] = []
    if "-q" in flags:
        from mailflow.cli.postqueue import open_store
        from mailflow.queue.names import validate_queue_id
        _, store = open_store(ctx, config_dir)
        for qid in rest:
            try:
                validate_queue_id(qid)
            except BadQueueIdError as exc:
                print(f"postcat: fatal: bad mail queue ID: {qid} ({str(exc).split(': ', 1)[-1]})",
                      file=sys.stderr)
                return 1
            found = _locate(store, qid)
            if found is None:
                print(f"postcat: fatal: open queue file {qid}: No such file or directory", file=sys.stderr)
                return 1
            sources.append(found)
    else:
        if not rest:
            print("postcat: fatal: usage: postcat [-bdehnoqv] [-c config_dir] [file(s)...]", file=sys.stderr)
            return EX_USAGE
        sources = [(path, path) for path in rest]
    for path, name in sources:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            print(f"postcat: fatal: open {path}: {exc.strerror}", file=sys.stderr)
            return 1
        try:
            sys.stdout.write(render(data, name, **parts))
        except QueueFileCorrupt as exc:
            print(f"postcat: warning: {name}: input is not a valid queue file ({exc})", file=sys.stderr)
    return EX_OK
