"""``mailflow [-c DIR] COMMAND ...``: dispatch to one module per command.

A command is a module in :mod:`mailflow.cli` with ``HELP`` (one line) and
``run(argv, ctx) -> int``. Adding a command is one line in :data:`COMMANDS`;
modules are imported only when their command runs, so ``sendmail`` starts
fast. Exit codes follow sysexits.h.
"""

from __future__ import annotations

import importlib
import os
import sys

from mailflow.config.quick import find_config_dir

EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOUSER = 0, 64, 65, 66, 67
EX_UNAVAILABLE, EX_SOFTWARE, EX_OSERR, EX_OSFILE, EX_CANTCREAT = 69, 70, 71, 72, 73
EX_IOERR, EX_TEMPFAIL, EX_PROTOCOL, EX_NOPERM, EX_CONFIG = 74, 75, 76, 77, 78

# name -> (module, one-line help). Order is the order of `mailflow --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "start": ("mailflow.cli.control", "start the mail system in the background"),
    "start-fg": ("mailflow.cli.control", "run the mail system in the foreground, logging to stderr"),
    "stop": ("mailflow.cli.control", "stop the mail system gracefully"),
    "reload": ("mailflow.cli.control", "re-read main.cf and master.cf without dropping work"),
    "status": ("mailflow.cli.control", "tell whether the mail system is running"),
    "check": ("mailflow.cli.control", "check the configuration and create missing queue directories"),
    "flush": ("mailflow.cli.control", "retry deferred mail now"),
    "explain": ("mailflow.cli.explain", "show how recipients would be rewritten and routed"),
    "postconf": ("mailflow.cli.postconf", "show or edit main.cf and master.cf"),
    "postmap": ("mailflow.cli.postmap", "build or query lookup tables"),
    "postalias": ("mailflow.cli.postalias", "build or query alias databases"),
    "postqueue": ("mailflow.cli.postqueue", "list the queue (-p, -j) or flush it (-f)"),
    "postsuper": ("mailflow.cli.postsuper", "delete, hold, release, requeue or repair queued mail"),
    "postcat": ("mailflow.cli.postcat", "show the contents of a queue file"),
    "postdrop": ("mailflow.cli.postdrop", "write a message from stdin into the maildrop queue"),
    "sendmail": ("mailflow.cli.sendmail", "submit mail (Sendmail-compatible flags)"),
    "postkick": ("mailflow.cli.postkick", "wake a mail system service"),
    "postlock": ("mailflow.cli.postlock", "run a command while holding a mailbox lock"),
    "postlog": ("mailflow.cli.postlog", "write a log line in the mail system's format"),
}

# Commands whose configuration warnings are logged, not printed (Context.load_config).
_QUIET_COMMANDS = frozenset({"sendmail"})


class Context:
    """What every command gets: the config directory and the command name.

    A small frozen value class written out by hand rather than with attrs:
    importing attrs costs more than ``sendmail``'s whole own work.

    >>> ctx = Context("/etc/mailflow", "sendmail")
    >>> ctx.replace(config_dir="/srv/mail")
    Context(config_dir='/srv/mail', command='sendmail', config_dir_given=False)
    """

    __slots__ = ("config_dir", "command", "config_dir_given")

    def __init__(self, config_dir: str, command: str, config_dir_given: bool = False) -> None:
        object.__setattr__(self, "config_dir", config_dir)
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "config_dir_given", config_dir_given)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Context is frozen: cannot set {name!r}")

    def _fields(self) -> tuple:
        return (self.config_dir, self.command, self.config_dir_given)

    def __eq__(self, other: object) -> bool:
        return self._fields() == other._fields() if type(other) is Context else NotImplemented

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (f"Context(config_dir={self.config_dir!r}, command={self.command!r}, "
                f"config_dir_given={self.config_dir_given!r})")

    def replace(self, **changes: object) -> "Context":
        """A copy with some fields changed (what ``attrs.evolve`` would give)."""
        fields = dict(zip(self.__slots__, self._fields()))
        fields.update(changes)
        return Context(**fields)  # type: ignore[arg-type]

    def load_config(self):
        """The Config for ``config_dir``; a ConfigError is reported by main().

        Its warnings (an unknown or unimplemented parameter, an undefined
        ``$name``) go to stderr as ``mailflow/COMMAND: warning: ...``, the
        prefix of the command's own fatal errors, so a user sees which
        command read the file. ``sendmail`` is the exception: programs run
        it and may take any stderr output for a failure (Postfix's sendmail
        says nothing about main.cf's contents), so its warnings only go to
        the ``mailflow.config`` logger.

        >>> import contextlib, io, os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> with open(os.path.join(d, "main.cf"), "w") as fh: _ = fh.write("mydestinations = x\\n")
        >>> err = io.StringIO()
        >>> with contextlib.redirect_stderr(err): _ = Context(d, "status").load_config()
        >>> print(err.getvalue().replace(d, "DIR"), end="")
        mailflow/status: warning: DIR/main.cf, line 1: unknown parameter "mydestinations"; did you mean "mydestination"? (ignored)
        """
        from mailflow.config import Config
        if self.command in _QUIET_COMMANDS:
            return Config.from_directory(self.config_dir)
        cfg = Config.from_directory(self.config_dir, log_warnings=False)
        for text in cfg.warnings:
            warn(self.command, text)
        return cfg


def warn(command: str, text: str) -> None:
    """Print ``mailflow/COMMAND: warning: TEXT`` on stderr.

    >>> import contextlib, sys
    >>> with contextlib.redirect_stderr(sys.stdout): warn("explain", "a problem")
    mailflow/explain: warning: a problem
    """
    print(f"mailflow/{command}: warning: {text}", file=sys.stderr)


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: mailflow [-c CONFIG_DIR] COMMAND [ARGS...]", "",
             "Commands (mailflow COMMAND --help for each):"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "CONFIG_DIR defaults to $MAILFLOW_CONFIG_DIR, else /etc/mailflow."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    config_dir = None
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-h", "--help"):
            print(usage())
            return EX_OK
        if flag == "-c" and args:
            config_dir = args.pop(0)
        elif flag.startswith("-c") and len(flag) > 2:
            config_dir = flag[2:]
        else:
            print(f"mailflow: unknown option {flag}\n{usage()}", file=sys.stderr)
            return EX_USAGE
    if not args:
        print(usage(), file=sys.stderr)
        return EX_USAGE
    name = args.pop(0)
    if name not in COMMANDS:
        print(f"mailflow: unknown command {name!r}\n{usage()}", file=sys.stderr)
        return EX_USAGE
    module = importlib.import_module(COMMANDS[name][0])
    ctx = Context(find_config_dir(config_dir), name, config_dir is not None)
    from mailflow.errors import ConfigError
    try:
        if args == ["--help"]:
            return _command_help(module, ctx)
        return int(module.run(args, ctx) or 0)
    except ConfigError as exc:
        print(f"mailflow/{name}: fatal: {exc}", file=sys.stderr)
        return EX_CONFIG
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EX_IOERR
    except KeyboardInterrupt:
        return 130


def _command_help(module, ctx: Context) -> int:
    """``mailflow COMMAND --help``: the command's own help when it has one.

    The Postfix tools (sendmail, postqueue, postsuper, ...) keep Postfix's
    command line, which has no ``--help`` and answers it with a usage error;
    for those, print the command's description from its module docstring.
    """
    import contextlib
    import io
    import textwrap

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        status = int(module.run(["--help"], ctx) or 0)
    if status == EX_OK:
        sys.stderr.write(errors.getvalue())
        return EX_OK
    doc = textwrap.dedent((module.__doc__ or "").split("\n", 1)[-1])
    first = (module.__doc__ or "").split("\n", 1)[0]
    print(("usage: " + first + "\n" + doc).replace("``", "").rstrip())
    return EX_OK


if __name__ == "__main__":
    sys.exit(main())
