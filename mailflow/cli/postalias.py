"""``mailflow postalias``: build and query alias databases (postalias(1)).

The same flags as ``mailflow postmap`` (``-q``, ``-q -``, ``-s``, ``-i``,
``-d``, ``-f``, ``-r``, ``-w``, ``-N``/``-n``), reading aliases(5) files:
``name: value, value``, continuation lines, comments, ``:include:`` and
``|command`` values kept as text, quoted names. With no file argument the
tables in ``alias_database`` are built. ``-q -`` and ``-s`` print
``key:<TAB>value``, and every built table gets Postfix's ``@: @`` entry
(Sendmail's "database complete" marker).

This module owns only the command line; parsing is in
:mod:`mailflow.tables.aliases`.
"""

from __future__ import annotations

from typing import Any, Iterator

from mailflow.cli.postmap import Tool, USAGE

HELP = "build or query alias databases"


class AliasTool(Tool):
    """postalias: postmap with aliases(5) syntax and ``key:<TAB>value`` output."""

    prog = "postalias"
    optstring = "Nc:d:finopq:rsvw"

    def entries(self, text: str, filename: str) -> Iterator[tuple[str, str]]:
        from mailflow.tables.aliases import parse_aliases
        for _, key, value in parse_aliases(text, filename, fold=self.fold, warn=self.warn):
            yield key, value

    def extra(self) -> list[tuple[str, str]]:
        return [("@", "@")]

    def format_pair(self, key: str, value: str) -> str:
        return f"{key}:\t{value}"

    def default_maps(self) -> list[str]:
        # postalias(1): with no file argument, the tables in alias_database.
        from mailflow.tables.maps import split_maps
        return split_maps(self.config().expand("alias_database") or "")

    def usage(self) -> str:
        return USAGE.format(prog=self.prog).replace("-bfFhimnNoprsuUvw", "-Nfinoprsvw")


def run(argv: list[str], ctx: Any) -> int:
    """Entry point for ``mailflow postalias``."""
    if argv[:1] == ["--help"]:
        print(AliasTool(ctx).usage())
        print(__doc__.split("\n\n")[1])
        return 0
    return AliasTool(ctx).main(argv)
