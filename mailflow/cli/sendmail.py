"""``mailflow sendmail [options] [recipient ...]``: Sendmail-compatible local submission.

Postfix's sendmail(1) for what mailflow implements: read a message on
stdin, write it durably into ``maildrop/`` (postdrop semantics, via
:func:`mailflow.submit.submit`) and wake pickup; exit 0 only once the file
is on disk. Owns the command line and the stdin conventions; never rewrites
addresses (cleanup does, after pickup).

Flags: ``-f``/``-r`` sender, ``-F`` full name, ``-t`` recipients from
To/Cc/Bcc (Resent-* when present; Bcc removed), ``-i``/``-oi`` (a lone dot
does not end input), ``-N`` notify, ``-R`` ret, ``-V`` envid, ``-C`` config
directory, ``-bm`` (default), ``-bp`` (mailq), ``-bv`` (explain),
``-q``/``-qR``/``-qS`` flush; ``-o*``, ``-B``, ``-G``, ``-h``, ``-L``, ``-m``,
``-n``, ``-O``, ``-U``, ``-v``, ``-X`` are accepted and ignored as Postfix
does. Exit codes (sysexits.h): 64 bad flags or no recipients, 65 an address
that does not parse, 69 cleanup's content checks reject the message (run
here, before anything is queued, when main.cf sets one of
:data:`mailflow.submit.CONTENT_CHECKS`), 75 the spool cannot be written or
has less free space than ``queue_minfree`` and 1.5 times
``message_size_limit`` (:mod:`mailflow.queue.space`, smtpd's rule).

Start-up is most of what a sendmail process costs, so the usual path reads
main.cf through :class:`mailflow.config.quick.QuickConfig` and writes with
:func:`mailflow.submit.drop`, importing neither attrs nor asyncio; it falls
back to the full Config whenever that gives a different answer.

>>> opts = parse_args(["-oi", "-f", "a@example.com", "-N", "success,delay", "b@example.net"])
>>> (opts.sender, opts.ignore_dots, sorted(opts.notify), opts.recipients)
('a@example.com', True, ['DELAY', 'SUCCESS'], ['b@example.net'])
"""

from __future__ import annotations

import getopt
import os
import re
import sys

from mailflow.cli.main import EX_DATAERR, EX_OK, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE, Context

HELP = "submit mail (Sendmail-compatible flags)"

_OPTSTRING = "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q:r:tvx"
_USAGE = "sendmail: fatal: usage: sendmail [options]"


class UsageError(Exception):
    """A command line sendmail cannot act on (exit 64)."""


class Options:
    """What the command line asked for (a plain class: sendmail never imports attrs).

    >>> Options(recipients=["b@example.net"]).mode
    'm'
    """

    def __init__(self, recipients: list | None = None) -> None:
        self.mode = "m"                   # -b: m deliver, p mailq, v verify, q flush
        self.sender: str | None = None
        self.fullname: str | None = None
        self.extract = False              # -t
        self.ignore_dots = False          # -i / -oi
        self.notify: list = []
        self.ret: str | None = None
        self.envid: str | None = None
        self.config_dir: str | None = None
        self.site: str | None = None      # -qR/-qS
        self.recipients: list = list(recipients or [])

    def __repr__(self) -> str:
        return "Options(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"


def parse_args(argv: list[str]) -> Options:
    """Parse sendmail's flags (GNU getopt: options may follow recipients).

    Raises UsageError with Postfix's wording for a bad flag.

    >>> parse_args(["-bp"]).mode
    'p'
    """
    args = ["-q@" if a == "-q" else a for a in argv]     # bare -q: flush now
    try:
        opts, rest = getopt.gnu_getopt(args, _OPTSTRING)
    except getopt.GetoptError as exc:
        raise UsageError(f"sendmail: invalid option -- '{exc.opt}'") from None
    o = Options(recipients=rest)
    for flag, value in opts:
        if flag in ("-f", "-r"):
            o.sender = value
        elif flag == "-F":
            o.fullname = value
        elif flag == "-t":
            o.extract = True
        elif flag == "-i":
            o.ignore_dots = True
        elif flag == "-o":
            if value.startswith("i"):
                o.ignore_dots = True
            # every other -o option is ignored, as Postfix's sendmail does
        elif flag == "-C":
            o.config_dir = os.path.dirname(value) if value.endswith("main.cf") else value
        elif flag == "-N":
            words = [w.strip().upper() for w in value.split(",") if w.strip()]
            if not words or any(w not in ("NEVER", "SUCCESS", "DELAY", "FAILURE") for w in words) \
                    or ("NEVER" in words and len(words) > 1):
                raise UsageError(f"sendmail: fatal: bad -N option value: {value}")
            o.notify = words
        elif flag == "-R":
            if value.upper() not in ("FULL", "HDRS"):
                raise UsageError(f"sendmail: fatal: bad -R option value: {value} (expected full or hdrs)")
            o.ret = value.upper()
        elif flag == "-V":
            o.envid = value
        elif flag == "-b":
            if value not in ("m", "p", "v"):
                raise UsageError(f"sendmail: fatal: unsupported: -b{value}")
            o.mode = value
        elif flag == "-q":
            if value == "@":
                o.mode = "q"
            elif value[:1] in ("R", "S"):
                o.mode, o.site = "q", value[1:]
            # -q<interval>: ignored, as Postfix does
        elif flag == "-I":
            raise UsageError("sendmail: fatal: unsupported: -I (use mailflow postalias)")
    return o


def _read_message(stdin, ignore_dots: bool) -> bytes:
    data = stdin.read().replace(b"\r\n", b"\n")
    if not ignore_dots:
        # A line with only "." ends the input (sendmail(1) without -i).
        if data.startswith(b".\n") or data == b".":
            return b""
        at = data.find(b"\n.\n")
        if at >= 0:
            return data[:at + 1]
        if data.endswith(b"\n."):
            return data[:-1]
    return data


# A bare user@domain or user needs no RFC 5322 parser; keeps startup fast.
_SIMPLE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(@[A-Za-z0-9.-]+)?")


def _addresses(text: str) -> list[str]:
    if _SIMPLE.fullmatch(text) and ".." not in text and not text.startswith("."):
        return [text]
    from mailflow.address.parse import parse_header_addresses
    return [a.address for a in parse_header_addresses(text) if a.address is not None]


def _extract(data: bytes) -> tuple[list[str], bytes]:
    """Recipients from the headers (``-t``) and the content without Bcc."""
    split = data.find(b"\n\n")
    head, body = (data, b"") if split < 0 else (data[:split + 1], data[split + 1:])
    lines = head.decode("utf-8", "surrogateescape").split("\n")
    fields: list[list[str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and fields:
            fields[-1].append(line)
        elif line:
            fields.append([line])
    names = [f[0].partition(":")[0].strip().lower() for f in fields]
    # RFC 5322 3.6.6 / Postfix cleanup: with Resent- headers, use those.
    resent = any(n.startswith("resent-") for n in names)
    wanted = ("resent-to", "resent-cc", "resent-bcc") if resent else ("to", "cc", "bcc")
    rcpts: list[str] = []
    kept: list[str] = []
    for name, field in zip(names, fields):
        if name in wanted:
            rcpts += _addresses("\n".join(field).partition(":")[2])
        if name not in ("bcc", "resent-bcc"):
            kept += field
    new_head = "\n".join(kept) + ("\n" if kept else "")
    return rcpts, new_head.encode("utf-8", "surrogateescape") + body


def _login() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())


def _who() -> str:
    """``login(uid)`` for error messages, as Postfix's sendmail writes them.

    Looked up only when a message needs it: the password database lookup
    is a noticeable part of a short sendmail run.
    """
    return f"{_login()}({os.getuid()})"


def run(argv: list[str], ctx: Context) -> int:
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        if "invalid option" in str(exc):
            print(_USAGE, file=sys.stderr)
        return EX_USAGE
    if opts.config_dir:
        ctx = ctx.replace(config_dir=opts.config_dir, config_dir_given=True)
    if opts.mode == "p":
        from mailflow.cli.postqueue import open_store, show_queue
        show_queue(open_store(ctx)[1], sys.stdout)
        return EX_OK
    if opts.mode == "q":
        from mailflow.cli import postqueue
        return postqueue.run(["-s", opts.site] if opts.site else ["-f"], ctx)
    if opts.mode == "v":
        from mailflow.address.explain import explain_report
        print(explain_report(ctx.load_config(), opts.recipients, opts.sender))
        return EX_OK
    return _send(opts, ctx)


def _send(opts: Options, ctx: Context) -> int:
    from mailflow.errors import AddressError
    try:
        if opts.sender is None:
            sender = _login()
        else:
            found = _addresses(opts.sender) if opts.sender.strip() not in ("", "<>") else [""]
            if len(found) != 1:
                raise AddressError(f"bad address {opts.sender!r}: expected one address")
            sender = found[0]
    except AddressError as exc:
        print(f"sendmail: fatal: {_who()}: -f option specified malformed sender: {exc}", file=sys.stderr)
        return EX_DATAERR
    try:
        recipients = [a for arg in opts.recipients for a in _addresses(arg)]
    except AddressError as exc:
        print(f"sendmail: fatal: {_who()}: malformed recipient address: {exc}", file=sys.stderr)
        return EX_DATAERR
    if not recipients and not opts.extract:
        print(f"sendmail: fatal: {_who()}: Recipient addresses must be specified on the command line "
              "or via the -t option", file=sys.stderr)
        return EX_USAGE
    data = _read_message(sys.stdin.buffer, opts.ignore_dots)
    if opts.extract:
        try:
            found, data = _extract(data)
        except AddressError as exc:
            print(f"sendmail: fatal: {_who()}: malformed address in message header: {exc}", file=sys.stderr)
            return EX_DATAERR
        recipients += found
        if not recipients:
            print(f"sendmail: fatal: {_who()}: No recipient addresses found in message header",
                  file=sys.stderr)
            return EX_DATAERR
    if opts.fullname is not None and not _has_header(data, b"from"):
        # Postfix's cleanup makes From: from the -F full name; the spool has no
        # full-name record, so it is written here (hfrom_format = standard).
        data = f"From: {opts.fullname} <{sender}>\n".encode("utf-8", "surrogateescape") + data
    return _write(data, sender, recipients, opts, ctx)


def _has_header(data: bytes, name: bytes) -> bool:
    split = data.find(b"\n\n")
    head = data if split < 0 else data[:split + 1]
    return any(line.split(b":", 1)[0].strip().lower() == name
               for line in head.split(b"\n") if line[:1] not in (b" ", b"\t") and b":" in line)


# Built-in defaults of the parameters sendmail reads through QuickConfig
# (postconf -d; tests check them against the parameter table).
QUICK_DEFAULTS = {"queue_directory": "/var/spool/mailflow", "header_checks": "",
                  "mime_header_checks": "$header_checks", "nested_header_checks": "$header_checks",
                  "body_checks": "", "queue_minfree": "0", "message_size_limit": "10240000"}


def _space_limits(quick, cfg) -> tuple[int, int] | None:
    """(queue_minfree, message_size_limit), or None when QuickConfig
    cannot read them as numbers (the full Config must)."""
    if cfg is not None:
        return int(cfg["queue_minfree"]), int(cfg["message_size_limit"])
    try:
        return int(quick.expand("queue_minfree") or ""), int(quick.expand("message_size_limit") or "")
    except ValueError:
        return None


def _write(data: bytes, sender: str, recipients: list[str], opts: Options, ctx: Context) -> int:
    from mailflow.config.quick import QuickConfig
    from mailflow.submit import CONTENT_CHECKS, drop, submit, wake_pickup
    quick = QuickConfig(ctx.config_dir, defaults=QUICK_DEFAULTS)
    qdir = quick.expand("queue_directory")
    cfg = None
    # The full Config only when needed: a value QuickConfig cannot expand,
    # hashed queue names, or content checks to run.
    inspect = any(quick.is_set(name) for name in CONTENT_CHECKS)
    if qdir is None or inspect or quick.is_set("hash_queue_names") or quick.is_set("hash_queue_depth"):
        cfg = ctx.load_config()
        qdir = cfg.queue_directory
    else:
        qdir = qdir.strip()
    if inspect:
        refused = _refused(data, sender, recipients, cfg)
        if refused is not None:
            return refused
    limits = _space_limits(quick, cfg)
    if limits is None:
        cfg = ctx.load_config()
        qdir = cfg.queue_directory
        limits = _space_limits(quick, cfg)
    from mailflow.queue.space import enough_space, shortage_text
    if os.path.isdir(qdir) and not enough_space(qdir, *limits):
        # queue_minfree: refused for now, as smtpd does with 452 4.3.1
        # (a spool not made yet is left to the store, which creates it).
        print(f"sendmail: fatal: {shortage_text(qdir)}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        if cfg is None:
            try:
                drop(data, sender, recipients, qdir, envid=opts.envid, ret=opts.ret,
                     notify=opts.notify or None)
            except FileNotFoundError:
                cfg = ctx.load_config()      # no maildrop/ yet: the store creates the spool
            else:
                wake_pickup(qdir)
                return EX_OK
        submit(data, sender, recipients, config=cfg, queue_directory=qdir,
               envid=opts.envid, ret=opts.ret, notify=opts.notify or None)
    except OSError as exc:
        print(f"sendmail: fatal: cannot write to the maildrop queue in {qdir}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EX_TEMPFAIL
    return EX_OK


def _refused(data: bytes, sender: str, recipients: list[str], cfg) -> int | None:
    """Cleanup's content inspection before the message is dropped: the exit
    status and message when cleanup would refuse it for good, else None."""
    from mailflow.submit import check_content
    status = check_content(data, sender, recipients, cfg)
    if status is None or status.is_temporary:
        # A 4.x.x refusal (DEFER rule, a table that cannot answer) is not
        # final: the message goes to maildrop and pickup's cleanup tries again.
        return None
    # Postfix's sendmail exits EX_UNAVAILABLE for a cleanup status that is
    # neither a software error nor a write error (sendmail.c, enqueue()).
    print(f"sendmail: fatal: {status}", file=sys.stderr)
    return EX_UNAVAILABLE
