"""Edits of main.cf and master.cf text, as ``postconf -e/-X/-#/-Me/-MX/-M#`` make them.

Pure text → text: comments, blank lines and the order of everything not
touched are kept. Writing the result to disk (atomically) is the caller's
job (:mod:`mailflow.cli.postconf`). Behaviour follows Postfix 3.7's
postconf(1): ``-e`` replaces every definition of a name in place and appends
new names at the end in the order given; ``-X`` removes every definition
(with its continuation lines); ``-#`` comments each physical line out.
``-Me`` writes the entry in postconf's folded ``-M`` layout, replacing the
old one in place or appending.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from mailflow.config.main_cf import logical_lines, split_assignment
from mailflow.config.master_cf import Service, format_service, parse_master_cf, split_args
from mailflow.errors import ConfigError

__all__ = ["edit_main", "remove_main", "comment_main",
           "edit_master", "remove_master", "comment_master", "parse_assignment"]


def parse_assignment(text: str) -> tuple[str, str]:
    """``'name = value'`` or ``name=value`` from the command line.

    >>> parse_assignment(" myhostname =  mx.example ")
    ('myhostname', 'mx.example')
    """
    return split_assignment(text.strip(), filename=None)


def _spans(text: str, key_of) -> list[tuple[int, int, str | None]]:
    """(first, last, key) per logical line, 0-based physical line numbers."""
    spans = []
    for first, last, line in logical_lines(text):
        spans.append((first - 1, last - 1, key_of(line)))
    return spans


def _main_key(line: str) -> str | None:
    name, sep, _ = line.partition("=")
    return name.strip() if sep else None


def _rewrite(text: str, spans, replace: Mapping[str, list[str] | None],
             comment: bool = False) -> tuple[list[str], set[str]]:
    """Apply replacements to the logical lines whose key is in ``replace``."""
    lines = text.splitlines()
    out: list[str] = []
    seen: set[str] = set()
    by_first = {first: (last, key) for first, last, key in spans}
    k = 0
    while k < len(lines):
        if k in by_first and by_first[k][1] in replace:
            last, key = by_first[k]
            seen.add(key)
            if comment:
                out += ["#" + line for line in lines[k:last + 1]]
            elif replace[key] is not None:
                out += replace[key]
            k = last + 1
            continue
        out.append(lines[k])
        k += 1
    return out, seen


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def edit_main(text: str, assignments: Mapping[str, str]) -> str:
    """Set parameters: every existing definition is replaced, new ones appended.

    >>> print(edit_main("# c\\nrelayhost = a\\n  b\\nmyorigin = x\\n", {"relayhost": "new", "mydomain": "d"}), end="")
    # c
    relayhost = new
    myorigin = x
    mydomain = d
    """
    replace = {name: [f"{name} = {value}".rstrip()] for name, value in assignments.items()}
    out, seen = _rewrite(text, _spans(text, _main_key), replace)
    out += [replace[name][0] for name in assignments if name not in seen]
    return _join(out)


def remove_main(text: str, names: Iterable[str]) -> str:
    """Remove every definition of the names (``postconf -X``).

    >>> remove_main("a = 1\\nb = 2\\n  3\\n", ["b"])
    'a = 1\\n'
    """
    out, _ = _rewrite(text, _spans(text, _main_key), {name: None for name in names})
    return _join(out)


def comment_main(text: str, names: Iterable[str]) -> str:
    """Comment out every definition of the names (``postconf -#``).

    >>> comment_main("a = 1\\nb = 2\\n  3\\n", ["b"])
    'a = 1\\n#b = 2\\n#  3\\n'
    """
    out, _ = _rewrite(text, _spans(text, _main_key), {name: None for name in names}, comment=True)
    return _join(out)


def _master_key(line: str) -> str | None:
    fields = split_args(line)
    return f"{fields[0]}/{fields[1]}" if len(fields) >= 2 else None


def fold_service(service: Service, width: int = 80) -> list[str]:
    """The entry in ``postconf -Mf`` layout: ``-o`` options on their own lines.

    >>> for line in fold_service(parse_master_cf("smtp inet n - n - - smtpd -o a=b\\n")["smtp/inet"]):
    ...     print(line)
    smtp       inet  n       -       n       -       -       smtpd
        -o a=b
    """
    head = format_service(Service(service.service, service.type, fields=service.fields,
                                  argv=service.argv[:1]))
    lines: list[str] = []
    current = head
    words = list(service.argv[1:])
    k = 0
    while k < len(words):
        word = words[k]
        if word == "-o" and k + 1 < len(words):
            # Each -o option gets a line of its own; text after it starts anew.
            value = words[k + 1]
            if any(c.isspace() for c in value) and not value.startswith("{"):
                value = "{" + value + "}"
            if current:
                lines.append(current)
            lines.append(f"    -o {value}")
            current = ""
            k += 2
            continue
        if word.startswith("{") and word.endswith("}"):
            word = "{" + word[1:-1].strip() + "}"
        if not current:
            current = "    " + word
        elif len(current) + 1 + len(word) >= width:  # lines stay under 80 columns
            lines.append(current)
            current = "    " + word
        else:
            current += " " + word
        k += 1
    if current:
        lines.append(current)
    return lines


def edit_master(text: str, entry: str, key: str | None = None) -> str:
    """Add or replace one service entry (``postconf -Me 'name/type = entry'``).

    ``entry`` is the whole master.cf line; ``key`` (``name/type``) must match it.

    >>> print(edit_master("# c\\nsmtp inet n - n - - smtpd\\n", "smtp inet n - y - 10 smtpd -o x=y"), end="")
    # c
    smtp       inet  n       -       y       -       10      smtpd
        -o x=y
    """
    service = next(iter(parse_master_cf(entry + "\n", "-Me")))
    if key is not None and key != service.key:
        raise ConfigError(f"service name/type \"{key}\" does not match the entry \"{entry}\"")
    new = fold_service(service)
    out, seen = _rewrite(text, _spans(text, _master_key), {service.key: new})
    if service.key not in seen:
        out += new
    return _join(out)


def remove_master(text: str, keys: Iterable[str]) -> str:
    """Remove service entries by ``name/type`` (``postconf -MX``).

    >>> remove_master("a unix - - n - - x\\n  -o b=c\\nd unix - - n - - y\\n", ["a/unix"])
    'd unix - - n - - y\\n'
    """
    out, _ = _rewrite(text, _spans(text, _master_key), {key: None for key in keys})
    return _join(out)


def comment_master(text: str, keys: Iterable[str]) -> str:
    """Comment out service entries by ``name/type`` (``postconf -M#``).

    >>> comment_master("a unix - - n - - x\\n  -o b=c\\n", ["a/unix"])
    '#a unix - - n - - x\\n#  -o b=c\\n'
    """
    out, _ = _rewrite(text, _spans(text, _master_key), {key: None for key in keys}, comment=True)
    return _join(out)
