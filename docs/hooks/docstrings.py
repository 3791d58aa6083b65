r"""Docstrings as Markdown for the API reference (a griffe extension).

mailflow's docstrings are written for ``help()`` and doctest: Sphinx-style
roles (:class:`Config`, :pep:`562`) and bare ``>>>`` sessions. Rendered as
Markdown, a role shows its markup and a ``>>>`` line becomes three nested
block quotes. This extension rewrites each docstring once, when mkdocstrings
loads it: a role becomes a code span (a link when it names an object of the
reference page, a PEP or an RFC), and a run of
``>>>`` lines with their output becomes a fenced ``pycon`` block. The source
is untouched, so doctest still runs the same text.

>>> to_markdown(":class:`~mailflow.model.Envelope` per :rfc:`5321`")
'`Envelope` per [RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)'
>>> to_markdown("Text.\n>>> 1 + 1\n2\n\nMore.").split("\n")
['Text.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import griffe

_ROLE = re.compile(r":(?P<role>class|func|meth|attr|data|mod|exc|obj|pep|rfc):`(?P<text>[^`]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")
_REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "python-api.md"


def documented_names(page: str) -> dict[str, str]:
    r"""Each way a docstring may name an object of the API reference, to its path there.

    ``page`` is the reference page's Markdown (its ``::: path`` lines). A
    short name that two objects share is left out, so it never links wrongly.

    >>> names = documented_names("::: mailflow.config.core.Config\n")
    >>> sorted(names.items())[:3]
    [('Config', 'mailflow.config.core.Config'), ('mailflow.Config', 'mailflow.config.core.Config'), ('mailflow.config.core.Config', 'mailflow.config.core.Config')]
    """
    names: dict[str, str] = {}
    shared: set[str] = set()
    for path in re.findall(r"^::: ([\w.]+)$", page, re.M):
        short = path.rsplit(".", 1)[-1]
        for name in (short, f"mailflow.{short}", f"mailflow.testing.{short}"):
            if name in names and names[name] != path:
                shared.add(name)
            names[name] = path
        names[path] = path
    return {name: path for name, path in names.items() if name not in shared or name == path}


def _role(match: re.Match[str], documented: Mapping[str, str]) -> str:
    role, text = match["role"], match["text"]
    if role == "pep":
        return f"[PEP {text}](https://peps.python.org/pep-{int(text):04d}/)"
    if role == "rfc":
        number, _, section = text.partition("#")
        anchor = f"#{section}" if section else ""
        return f"[RFC {number}](https://www.rfc-editor.org/rfc/rfc{number}{anchor})"
    # `Title <target>` shows the title; `~a.b.C` shows the last part, as Sphinx does.
    explicit = re.fullmatch(r"(?s)(.*?)\s*<([^>]+)>", text)
    if explicit:
        text, target = explicit[1], explicit[2]
    elif text.startswith("~"):
        target = text[1:]
        text = target.rsplit(".", 1)[-1]
    else:
        target = text
    path = documented.get(target.rstrip("()"))
    # An object on the reference page becomes a link to it (mkdocs-autorefs
    # resolves the path); anything else stays a code span.
    return f"[`{text}`][{path}]" if path else f"`{text}`"


def to_markdown(text: str, documented: Mapping[str, str] | None = None) -> str:
    r"""Rewrite one docstring's roles and doctest sessions as Markdown.

    A role may wrap onto the next line; code (fenced or a session) is kept.

    >>> to_markdown(":meth:`QueueStore.enqueue\n<mailflow.interfaces.QueueStore.enqueue>`")
    '`QueueStore.enqueue`'

    A role naming an object in ``documented`` (see :func:`documented_names`)
    becomes a link to it:

    >>> to_markdown("see :class:`~mailflow.config.Config`", {"mailflow.config.Config": "m.Config"})
    'see [`Config`][m.Config]'
    """
    names = {} if documented is None else documented
    out: list[str] = []
    prose: list[str] = []  # lines since the last code block, rewritten together

    def flush() -> None:
        if prose:
            out.extend(_ROLE.sub(lambda m: _role(m, names), "\n".join(prose)).split("\n"))
            prose.clear()

    in_fence = in_session = False
    for line in text.split("\n"):
        if in_session and not line.strip():
            out.append("```")
            in_session = False
        if not in_session and _FENCE.match(line):
            flush()
            in_fence = not in_fence
        elif not in_fence and not in_session and line.startswith(">>>"):
            flush()
            if out and out[-1].strip():
                out.append("")  # a fence needs a blank line before it
            out.append("```pycon")
            in_session = True
        (out if in_fence or in_session or _FENCE.match(line) else prose).append(line)
    flush()
    if in_session:
        out.append("```")
    return "\n".join(out)


class MarkdownDocstrings(griffe.Extension):
    """Give every loaded object's docstring its Markdown form."""

    def __init__(self) -> None:
        super().__init__()
        self.documented = documented_names(_REFERENCE.read_text(encoding="utf-8"))

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one (see :func:`to_markdown`)."""
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value, self.documented)
