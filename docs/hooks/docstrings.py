r"""Docstrings as Markdown for the API reference (a griffe extension).

mailflow's docstrings are written for ``help()`` and doctest: Sphinx-style
roles (:class:`Config`, :pep:`562`) and bare ``>>>`` sessions. Rendered as
Markdown, a role shows its markup and a ``>>>`` line becomes three nested
block quotes. This extension rewrites each docstring once, when mkdocstrings
loads it: a role becomes a code span (a PEP or RFC a link), and a run of
``>>>`` lines with their output becomes a fenced ``pycon`` block. The source
is untouched, so doctest still runs the same text.

>>> to_markdown(":class:`~mailflow.model.Envelope` per :rfc:`5321`")
'`Envelope` per [RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)'
>>> to_markdown("Text.\n>>> 1 + 1\n2\n\nMore.").split("\n")
['Text.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?P<role>class|func|meth|attr|data|mod|exc|obj|pep|rfc):`(?P<text>[^`]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _role(match: re.Match[str]) -> str:
    role, text = match["role"], match["text"]
    if role == "pep":
        return f"[PEP {text}](https://peps.python.org/pep-{int(text):04d}/)"
    if role == "rfc":
        number, _, section = text.partition("#")
        anchor = f"#{section}" if section else ""
        return f"[RFC {number}](https://www.rfc-editor.org/rfc/rfc{number}{anchor})"
    # `Title <target>` shows the title; `~a.b.C` shows the last part, as Sphinx does.
    explicit = re.fullmatch(r"(?s)(.*?)\s*<[^>]+>", text)
    if explicit:
        text = explicit[1]
    elif text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"`{text}`"


def to_markdown(text: str) -> str:
    r"""Rewrite one docstring's roles and doctest sessions as Markdown.

    A role may wrap onto the next line; code (fenced or a session) is kept.

    >>> to_markdown(":meth:`QueueStore.enqueue\n<mailflow.interfaces.QueueStore.enqueue>`")
    '`QueueStore.enqueue`'
    """
    out: list[str] = []
    prose: list[str] = []  # lines since the last code block, rewritten together

    def flush() -> None:
        if prose:
            out.extend(_ROLE.sub(_role, "\n".join(prose)).split("\n"))
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

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one (see :func:`to_markdown`)."""
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
