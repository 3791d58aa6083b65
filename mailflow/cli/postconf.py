"""``mailflow postconf``: show or edit main.cf and master.cf, as Postfix's postconf(1).

Owns option handling, output layout and the atomic rewrite of the files;
parsing, expansion and text edits live in :mod:`mailflow.config`. Output
is Postfix's: ``name = value`` lines sorted by name (runs of whitespace
shown as one space), ``postconf -M`` entries in aligned columns, warnings
as ``postconf: warning: ...`` on stderr.

Modes: (none) all parameters, ``-n`` only those set, ``-d`` defaults
(also for a config directory that does not exist), ``name...`` just those.
A Postfix parameter that mailflow does not implement is listed when main.cf
sets it, as Postfix lists it; loading main.cf has already warned, once, that
mailflow ignores it. Flags: ``-h`` value only, ``-H`` name only, ``-x`` expand
``$name``, ``-f`` fold long lines; ``-e name=value...``, ``-X name...``, ``-# name...`` edit main.cf;
``-M [name[/type]...]`` (``-Mf`` folded), ``-F``, ``-P`` show master.cf;
``-Me 'name/type = entry'``, ``-MX name/type``, ``-M# name/type`` edit it;
``-c DIR`` and ``-o name=value`` as in Postfix.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from mailflow.adapters.files import fsync_directory
from mailflow.config import DEFAULT_CONFIG_DIR, Config
from mailflow.config import edit as edits
from mailflow.config.master_cf import Service, command_text, format_service
from mailflow.config.params import PARAMS, TRANSPORT_DEFAULTS
from mailflow.config.postfix_names import POSTFIX_ONLY

HELP = "show or edit main.cf and master.cf"
USAGE = ("usage: mailflow [-c DIR] postconf [-c DIR] [-dhHnx] [-o name=value] [name ...]\n"
         "       postconf -e 'name = value' ... | -X name ... | -# name ...\n"
         "       postconf -M[f] [service[/type] ...] | -F [service/type[/field] ...]"
         " | -P [service/type[/name] ...]\n"
         "       postconf -Me 'service/type = entry' | -MX service/type ... | -M# service/type ...")

_FLAGS = set("dehHfFMnPxX#")
# Delivery agents whose master.cf services get per-transport parameters in
# postconf's listing (Postfix 3.7 registers these for the qmgr-fed agents).
_AGENTS = {"smtp", "lmtp", "local", "virtual", "pipe", "error"}
_FIELD_NAMES = ("service", "type", "private", "unprivileged", "chroot", "wakeup",
                "process_limit")


def _fail(message: str) -> int:
    print(f"postconf: fatal: {message}", file=sys.stderr)
    return 1


def _warn(message: str) -> None:
    print(f"postconf: warning: {message}", file=sys.stderr)


def run(argv: list[str], ctx) -> int:
    flags: set[str] = set()
    config_dir = ctx.config_dir
    overrides: dict[str, str] = {}
    args: list[str] = []
    k = 0
    while k < len(argv):
        arg = argv[k]
        if arg in ("-?", "--help"):
            print(USAGE)
            return 0
        if arg == "--":
            args += argv[k + 1:]
            break
        if not arg.startswith("-") or arg == "-":
            args.append(arg)
            k += 1
            continue
        letters = arg[1:]
        for i, letter in enumerate(letters):
            if letter in ("c", "o"):
                value = letters[i + 1:] or (argv[k + 1] if k + 1 < len(argv) else None)
                if value is None:
                    return _fail(f"option -{letter} requires an argument\n{USAGE}")
                if not letters[i + 1:]:
                    k += 1
                if letter == "c":
                    config_dir = value
                else:
                    name, val = edits.parse_assignment(value)
                    overrides[name] = val
                break
            if letter not in _FLAGS:
                return _fail(f"invalid option -{letter}\n{USAGE}")
            flags.add(letter)
        k += 1

    edit_flags = flags & {"e", "X", "#"}
    # -d shows the built-in defaults, which need no configuration: Postfix
    # prints them for a directory that does not exist, too.
    defaults_only = "d" in flags and not (edit_flags or flags & {"M", "F", "P"})
    if not defaults_only and not os.path.isdir(config_dir):
        return _fail(f"open {os.path.join(config_dir, 'main.cf')}: No such file or directory")
    if len(edit_flags) > 1:
        return _fail("specify at most one of -e, -X and -#")
    if "M" in flags:
        return _master(flags, args, config_dir)
    if "F" in flags or "P" in flags:
        return _fields(flags, args, config_dir)
    if edit_flags:
        return _edit_main(edit_flags.pop(), args, config_dir)
    return _show(flags, args, config_dir, overrides)


# --- main.cf ---------------------------------------------------------------
def _load(config_dir: str, overrides: dict[str, str] | None = None) -> Config:
    cfg = Config.from_directory(config_dir, log_warnings=False, **(overrides or {}))
    for warning in cfg.warnings:
        _warn(warning)
    return cfg


def _display(value: str) -> str:
    # postconf prints a value word by word: runs of whitespace become one space.
    return " ".join(value.split())


def _all_names(cfg: Config, defaults_only: bool) -> list[str]:
    names = set(PARAMS)
    for service in cfg.master:
        if service.type == "unix" and service.command in _AGENTS:
            for suffix in TRANSPORT_DEFAULTS:
                if suffix != "time_limit" or service.command == "pipe":
                    names.add(f"{service.service}_{suffix}")
    if not defaults_only:
        names |= {n for n in cfg.names_set() if _shown(cfg, n)}
    return sorted(names)


def _shown(cfg: Config, name: str) -> bool:
    # A name set in main.cf that postconf lists: one mailflow knows, or a
    # Postfix parameter that mailflow does not implement. Postfix lists the
    # latter (a main.cf copied from Postfix reads back whole); the warning
    # that mailflow ignores it comes once, from loading main.cf.
    return cfg.is_known(name) or name in POSTFIX_ONLY


def _show(flags: set[str], names: list[str], config_dir: str,
          overrides: dict[str, str]) -> int:
    if "n" in flags and "d" in flags:
        return _fail("specify only one of -d and -n")
    cfg = _load(config_dir, overrides)
    if not names:
        if "n" in flags:
            names = sorted(n for n in cfg.names_set() if _shown(cfg, n) and
                           (n != "config_directory" or os.path.abspath(config_dir)
                            != DEFAULT_CONFIG_DIR))
        else:
            names = _all_names(cfg, "d" in flags)
    for name in names:
        if "d" in flags:
            value = cfg.default(name)
        elif "n" in flags and not cfg.is_set(name):
            continue
        else:
            value = cfg.raw(name)
        if value is None:
            # Asked for by name: a Postfix parameter has a default, but
            # Postfix's, which mailflow does not know.
            _warn(f"{name}: parameter is not implemented by mailflow" if name in POSTFIX_ONLY
                  else f"{name}: unknown parameter")
            continue
        if "x" in flags:
            value = (Config(_config_dir=config_dir) if "d" in flags else cfg).expand(name)
        value = _display(value)
        if "h" in flags:
            line = value
        elif "H" in flags:
            line = name
        else:
            line = f"{name} = {value}" if value else f"{name} ="
        print(fold_line(line) if "f" in flags else line)
    return 0


def fold_line(line: str, width: int = 80) -> str:
    """Postfix's ``-f``: break before a word that would reach ``width``; indent 4.

    >>> print(fold_line("name = " + "word " * 20))
    name = word word word word word word word word word word word word word word
        word word word word word word
    """
    words = line.split()
    lines = [words[0]] if words else [""]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) >= width:
            lines.append("    " + word)
        else:
            lines[-1] += " " + word
    return "\n".join(lines)


def _edit_main(flag: str, args: list[str], config_dir: str) -> int:
    path = Path(config_dir) / "main.cf"
    text = path.read_text() if path.exists() else ""
    if flag == "e":
        assignments: dict[str, str] = {}
        for arg in args:
            name, value = edits.parse_assignment(arg)
            assignments[name] = value
        new = edits.edit_main(text, assignments)
    elif flag == "X":
        new = edits.remove_main(text, args)
    else:
        new = edits.comment_main(text, args)
    write_atomically(path, new)
    return 0


# --- master.cf -------------------------------------------------------------
def _matches(service: Service, request: str) -> bool:
    if "/" in request:
        return service.key == request
    return service.service == request


def _select(cfg: Config, requests: list[str]) -> list[Service]:
    if not requests:
        return list(cfg.master)
    chosen = []
    for request in requests:
        found = [s for s in cfg.master if _matches(s, request)]
        if not found:
            _warn(f"unmatched request: \"{request}\"")
        chosen += [s for s in found if s not in chosen]
    return [s for s in cfg.master if s in chosen]


def _master(flags: set[str], args: list[str], config_dir: str) -> int:
    path = Path(config_dir) / "master.cf"
    if flags & {"e", "X", "#"}:
        text = path.read_text() if path.exists() else ""
        if "e" in flags:
            for arg in args:
                key, sep, entry = arg.partition("=")
                if not sep or "/" not in key:
                    return _fail(f"-Me: expected 'service/type = entry', got \"{arg}\"")
                text = edits.edit_master(text, entry.strip(), key.strip())
        elif "X" in flags:
            text = edits.remove_master(text, args)
        else:
            text = edits.comment_master(text, args)
        write_atomically(path, text)
        return 0
    if "h" in flags:
        return _fail("with option -M, do not specify -h")
    cfg = _load(config_dir)
    for service in _select(cfg, args):
        if "f" in flags:
            print("\n".join(edits.fold_service(service)))
        else:
            print(format_service(service))
    return 0


def _fields(flags: set[str], args: list[str], config_dir: str) -> int:
    cfg = _load(config_dir)
    requests = [(a.rsplit("/", 1) if a.count("/") == 2 else [a, None]) for a in args] or [[None, None]]
    for request, detail in requests:
        services = list(cfg.master) if request is None else _select(cfg, [request])
        for service in services:
            if "F" in flags:
                values = list(zip(_FIELD_NAMES, service.fields))
                values.append(("command", command_text(service)))
            else:
                values = sorted(service.overrides.items())
            for name, value in values:
                if detail is not None and name != detail:
                    continue
                if "h" in flags:
                    print(value)
                else:
                    print(f"{service.key}/{name} = {value}".rstrip())
    return 0


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old or the new file, never half.

    Written to a temporary file in the same directory, fsynced, renamed over
    the original (keeping its permissions), and the directory fsynced.
    """
    directory = path.parent
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_directory(str(directory))


__all__ = ["HELP", "fold_line", "run", "write_atomically"]
