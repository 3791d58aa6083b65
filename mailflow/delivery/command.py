"""Running one delivery command: message on stdin, output captured, time-limited.

Owns the asyncio subprocess (no shell unless the caller asks for
``/bin/sh -c`` explicitly, as local(8)'s mailbox_command does), killing the
whole process group at the time limit, and turning the result into a
status through :mod:`sysexits`. Used by the pipe and local agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Mapping, Sequence

import attrs

from mailflow.delivery import sysexits
from mailflow.model import DsnStatus

__all__ = ["CommandResult", "run_command", "OUTPUT_LIMIT"]

# Postfix keeps at most this much command output for the reason text.
OUTPUT_LIMIT = 2048


@attrs.frozen
class CommandResult:
    """What a command did: its exit code, or the signal that killed it, or a timeout.

    >>> CommandResult(75, output="busy").status("/bin/x").code
    '4.3.0'
    >>> CommandResult(None, timed_out=True).status("/bin/x").text
    'Command time limit exceeded: "/bin/x"'
    """

    exit_code: int | None
    signal: int | None = None
    timed_out: bool = False
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def status(self, command: str) -> DsnStatus:
        """The DSN status Postfix's pipe_command() gives this result."""
        if self.timed_out:
            return sysexits.timeout_status(command, self.output)
        if self.signal is not None:
            return sysexits.signal_status(self.signal, command, self.output)
        return sysexits.command_status(self.exit_code or 0, command, self.output)


async def run_command(argv: Sequence[str], data: bytes, *, time_limit: float = 0,
                      env: Mapping[str, str] | None = None, cwd: str | None = None,
                      user: int | str | None = None, group: int | str | None = None,
                      program: str = "pipe") -> CommandResult:
    """Run ``argv`` (no shell) with ``data`` on stdin; stdout and stderr are
    captured together. ``time_limit`` 0 means none; ``program`` names the
    agent in the message about a command that cannot be started."""
    kwargs = {}
    if user is not None:
        kwargs["user"] = user
    if group is not None:
        kwargs["group"] = group
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(env) if env is not None else None,
            cwd=cwd or None, start_new_session=True, **kwargs)
    except OSError as exc:
        # Postfix's child reports a failed exec and exits EX_TEMPFAIL, so the
        # mail is deferred with this output (Postfix 3.7: "temporary failure.
        # Command output: pipe: fatal: pipe_command: execvp /x: No such file
        # or directory ").
        return CommandResult(sysexits.EX_TEMPFAIL,
                             output=f"{program}: fatal: pipe_command: execvp {argv[0]}: "
                                    f"{exc.strerror}\n")
    chunks: list[bytes] = []

    async def feed() -> None:
        try:
            proc.stdin.write(data)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the program need not read its input
        finally:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.close()

    async def drain() -> None:
        size = 0
        while True:
            chunk = await proc.stdout.read(65536)
            if not chunk:
                return
            if size < OUTPUT_LIMIT:
                chunks.append(chunk[: OUTPUT_LIMIT - size])
            size += len(chunk)

    async def run() -> int:
        await asyncio.gather(feed(), drain())
        return await proc.wait()

    timed_out = False
    try:
        if time_limit and time_limit > 0:
            returncode = await asyncio.wait_for(run(), time_limit)
        else:
            returncode = await run()
    except asyncio.TimeoutError:
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        returncode = await proc.wait()
    output = b"".join(chunks).decode("utf-8", "replace")
    if timed_out:
        return CommandResult(None, timed_out=True, output=output)
    if returncode < 0:
        return CommandResult(None, signal=-returncode, output=output)
    return CommandResult(returncode, output=output)
