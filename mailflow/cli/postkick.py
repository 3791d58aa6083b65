"""``mailflow postkick [-c DIR] [-v] CLASS SERVICE REQUEST``: wake a service.

Postfix's postkick(1): write REQUEST (with C-style escapes such as ``\\n``
and ``\\101`` decoded) into the wake-up channel ``$queue_directory/CLASS/SERVICE``
of a running mail system. Owns only the command line; the channel is
:mod:`mailflow.adapters.kick`. Exit 0 when the request was written, 1 when
nobody listens or on a usage error (as Postfix's postkick, with its wording on stderr).

>>> unescape(r"W\\n\\101")
b'W\\nA'
"""

from __future__ import annotations

import re
import sys

from mailflow.cli.main import EX_OK, Context

HELP = "wake a mail system service (postkick CLASS SERVICE REQUEST)"

_USAGE = "postkick: fatal: usage: postkick [-c config_dir] [-v] class service request"
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", '"': '"', "'": "'", "?": "?"}
_ESCAPE_RE = re.compile(r"\\([0-7]{1,3}|.)", re.S)


def unescape(text: str) -> bytes:
    """Decode the C escapes Postfix's unescape(3) knows (``\\n``, ``\\ooo``...).

    >>> unescape("F"), unescape(r"a\\\\b")
    (b'F', b'a\\\\b')
    """
    def sub(m: re.Match) -> str:
        code = m.group(1)
        if code[0] in "01234567":
            return chr(int(code, 8) & 0xFF)
        return _ESCAPES.get(code, code)
    return _ESCAPE_RE.sub(sub, text).encode("latin-1", "replace")


def run(argv: list[str], ctx: Context) -> int:
    from mailflow.adapters.kick import kick
    args = list(argv)
    config_dir = None
    while args and args[0].startswith("-") and args[0] != "-":
        flag = args.pop(0)
        if flag == "-c" and args:
            config_dir = args.pop(0)
        elif flag == "-v":
            continue
        elif flag in ("-h", "--help"):
            print(_USAGE.split("usage: ", 1)[1])
            return EX_OK
        else:
            print(_USAGE, file=sys.stderr)
            return 1
    if len(args) != 3:
        print(_USAGE, file=sys.stderr)
        return 1
    klass, service, request = args
    if klass not in ("public", "private"):
        print(f"postkick: fatal: bad class: {klass} (expected public or private)", file=sys.stderr)
        return 1
    from mailflow.cli.postqueue import tool_config
    cfg = tool_config(ctx, config_dir)
    if kick(str(cfg.queue_directory), service, unescape(request), klass=klass):
        return EX_OK
    print(f"postkick: warning: Cannot contact class {klass} service {service}"
          " - perhaps the mail system is down", file=sys.stderr)
    return 1
