"""sysexits.h exit codes and what a delivery agent makes of them.

Owns the table of Postfix's sys_exits.c (exit code -> RFC 3463 code and
text) and the wording pipe(8) and local(8) use for a command's result. Pure:
it never runs a program.

>>> command_status(75, "/usr/bin/deliver", "mailbox busy\\n")
DsnStatus(code='4.3.0', text='temporary failure. Command output: mailbox busy ')
>>> command_status(1, "/usr/bin/deliver", "")
DsnStatus(code='5.3.0', text='Command died with status 1: "/usr/bin/deliver"')
"""

from __future__ import annotations

from mailflow.model import DsnStatus

__all__ = [
    "EX_OK", "EX_USAGE", "EX_DATAERR", "EX_NOINPUT", "EX_NOUSER", "EX_NOHOST",
    "EX_UNAVAILABLE", "EX_SOFTWARE", "EX_OSERR", "EX_OSFILE", "EX_CANTCREAT",
    "EX_IOERR", "EX_TEMPFAIL", "EX_PROTOCOL", "EX_NOPERM", "EX_CONFIG",
    "SYS_EXITS", "exit_detail", "is_soft", "command_status", "signal_status",
    "timeout_status",
]

EX_OK = 0
EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOUSER, EX_NOHOST = 64, 65, 66, 67, 68
EX_UNAVAILABLE, EX_SOFTWARE, EX_OSERR, EX_OSFILE, EX_CANTCREAT = 69, 70, 71, 72, 73
EX_IOERR, EX_TEMPFAIL, EX_PROTOCOL, EX_NOPERM, EX_CONFIG = 74, 75, 76, 77, 78

# Postfix global/sys_exits.c: code -> (RFC 3463 detail, text). Only the two
# "4" entries are recoverable; everything else bounces.
SYS_EXITS: dict[int, tuple[str, str]] = {
    EX_USAGE: ("5.3.0", "command line usage error"),
    EX_DATAERR: ("5.6.0", "data format error"),
    EX_NOINPUT: ("5.3.0", "cannot open input"),
    EX_NOUSER: ("5.1.1", "user unknown"),
    EX_NOHOST: ("5.1.2", "host name unknown"),
    EX_UNAVAILABLE: ("5.3.0", "service unavailable"),
    EX_SOFTWARE: ("5.3.0", "internal software error"),
    EX_OSERR: ("4.3.0", "system resource problem"),
    EX_OSFILE: ("5.3.0", "critical OS file missing"),
    EX_CANTCREAT: ("5.2.0", "can't create user output file"),
    EX_IOERR: ("5.3.0", "input/output error"),
    EX_TEMPFAIL: ("4.3.0", "temporary failure"),
    EX_PROTOCOL: ("5.5.0", "remote error in protocol"),
    EX_NOPERM: ("5.7.0", "permission denied"),
    EX_CONFIG: ("5.3.5", "local configuration error"),
}

# sys_exits.c's entry for any other code: permanent.
_UNKNOWN_DSN = "5.3.0"


def exit_detail(code: int) -> tuple[str, str]:
    """``(dsn, text)`` for an exit code, as Postfix's sys_exits_detail().

    >>> exit_detail(67), exit_detail(3)
    (('5.1.1', 'user unknown'), ('5.3.0', 'unknown mail system error 3'))
    """
    return SYS_EXITS.get(code) or (_UNKNOWN_DSN, f"unknown mail system error {code}")


def is_soft(code: int) -> bool:
    """Whether the exit code means "try again later" (sys_exits_softerror).

    >>> is_soft(75), is_soft(71), is_soft(67), is_soft(1)
    (True, True, False, False)
    """
    return exit_detail(code)[0].startswith("4")


_CONTROL = {c: " " for c in range(32)} | {127: " "}


def _with_output(text: str, output: str) -> str:
    # pipe_command.c appends the program's output with control characters
    # (newlines) made spaces: "out67\n" shows as "Command output: out67 ".
    output = output.translate(_CONTROL)
    return f"{text}. Command output: {output}" if output.strip() else text


def command_status(code: int, command: str, output: str = "") -> DsnStatus:
    """The status for a command that exited with ``code``.

    A sysexits.h code gives its table text; any other non-zero code gives
    ``Command died with status N: "command"`` (Postfix pipe_command.c).

    >>> command_status(0, "x").code
    '2.0.0'
    >>> command_status(67, "/bin/x", "no such user").text
    'user unknown. Command output: no such user'
    """
    if code == 0:
        return DsnStatus.parse("2.0.0", "delivered")
    if code in SYS_EXITS:
        dsn, text = SYS_EXITS[code]
        return DsnStatus(dsn, _with_output(text, output))
    return DsnStatus(_UNKNOWN_DSN, _with_output(f'Command died with status {code}: "{command}"', output))


def signal_status(signum: int, command: str, output: str = "") -> DsnStatus:
    """A command killed by a signal is deferred (pipe_command.c: 4.3.0).

    >>> signal_status(9, "/bin/x")
    DsnStatus(code='4.3.0', text='Command died with signal 9: "/bin/x"')
    """
    return DsnStatus("4.3.0", _with_output(f'Command died with signal {signum}: "{command}"', output))


def timeout_status(command: str, output: str = "") -> DsnStatus:
    """A command that ran past its time limit is bounced, as Postfix's
    pipe_command() does (5.3.0; measured with Postfix 3.7.11's pipe(8)).

    >>> str(timeout_status("/bin/x"))
    '5.3.0 Command time limit exceeded: "/bin/x"'
    """
    return DsnStatus("5.3.0", _with_output(f'Command time limit exceeded: "{command}"', output))
