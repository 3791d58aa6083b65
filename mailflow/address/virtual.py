"""Virtual alias expansion (``virtual_alias_maps``), as a pure function.

This module owns the one-to-many expansion that Postfix's cleanup(8) applies
to every envelope recipient (cleanup_map1n.c): look the address up, replace it
by the addresses in the result, and repeat for each of those until an address
has no entry or maps to itself. It returns the whole expansion as a tree, so
``explain`` can show it and cleanup can take the final recipients from it.

It never opens tables, reads configuration or logs: the caller passes an
opened :class:`~mailflow.interfaces.Table` and the limits. A table that cannot
answer raises :class:`~mailflow.errors.TableError`, which propagates (the
caller defers the message, as Postfix does).

Semantics, per virtual(5) and cleanup(8):

* A result may hold several addresses separated by commas or whitespace.
* An address that expands to a list containing itself is kept, and is not
  expanded again anywhere in this expansion ("the recursion terminates when
  the left-hand side appears in its own expansion").
* Lookup order is virtual(5)'s: ``user+ext@domain``, ``user@domain``,
  ``user+ext`` and ``user`` (only when ``local_domain(domain)``), ``@domain``.
  A catch-all ``@domain`` entry therefore never hides a user-specific one.
* A result ``@otherdomain`` means the same user in ``otherdomain``.
* With ``propagate_extension`` (``virtual`` in
  ``propagate_unmatched_extensions``), an extension that had to be removed to
  find a match is appended to every result address.
* Running past ``recursion_limit`` (virtual_alias_recursion_limit), past
  ``expansion_limit`` (virtual_alias_expansion_limit), an alias loop, or a
  result that is no address makes the whole expansion fail with Postfix's
  ``4.6.0 Alias expansion error``; the message is then deferred and the
  recipient stays unexpanded. Postfix finds a loop only when a limit is hit;
  we report it as soon as it is certain, with ``looped`` set.

>>> from mailflow.tables import MemoryTable
>>> t = MemoryTable({"sales@example.com": "ann@example.com, bob@example.com",
...                  "bob@example.com": "bob@example.com, bob@archive.example"})
>>> e = expand_virtual("sales@example.com", t)
>>> e.leaves()
['ann@example.com', 'bob@example.com', 'bob@archive.example']
>>> print(e.render())
sales@example.com
  ann@example.com
  bob@example.com
    bob@example.com
    bob@archive.example
"""

from __future__ import annotations

from typing import Callable, Iterator

import attrs

from mailflow.address.canonical import map_address, split_result
from mailflow.address.quote import quote_address
from mailflow.interfaces import Table
from mailflow.model import DsnStatus

__all__ = ["Expansion", "expand_virtual", "ALIAS_EXPANSION_ERROR", "split_result"]

#: cleanup_map1n.c: every overrun, loop or bad result defers with this reason.
ALIAS_EXPANSION_ERROR = DsnStatus("4.6.0", "Alias expansion error")


@attrs.frozen
class Expansion:
    """One node of a virtual alias expansion tree.

    ``children`` are the addresses this one expanded to (empty for a final
    recipient). ``error`` is set on the node where expansion failed;
    ``looped`` says that the failure is an alias loop, and ``reason`` is the
    warning Postfix's cleanup logs for it (without the queue ID), e.g.
    ``unreasonable virtual_alias_maps map nesting for a@example.com``.

    >>> leaf = Expansion("a@example.com")
    >>> Expansion("x@example.com", (leaf,)).leaves()
    ['a@example.com']
    """

    address: str
    children: tuple["Expansion", ...] = ()
    error: DsnStatus | None = None
    looped: bool = False
    reason: str = ""
    # Final recipients in Postfix's order (its argv after expansion), set by
    # expand_virtual on the root; a hand-built tree falls back to depth first.
    order: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)

    def walk(self) -> Iterator["Expansion"]:
        """This node and every node below it, depth first, in order.

        >>> [n.address for n in Expansion("a", (Expansion("b"),)).walk()]
        ['a', 'b']
        """
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def errors(self) -> list["Expansion"]:
        """The nodes that carry an error (empty when the expansion worked).

        >>> Expansion("a", error=ALIAS_EXPANSION_ERROR).errors()[0].error.code
        '4.6.0'
        """
        return [n for n in self.walk() if n.error is not None]

    def leaves(self) -> list[str]:
        """The final recipients, in order, without duplicates.

        The order is Postfix's: each address takes the place of the one it
        came from, and further results of a list go to the end, so it can
        differ from the tree's depth-first order. Duplicates are compared without regard to case, as Postfix's
        duplicate filter does. When the expansion failed, the result is the
        unexpanded address alone (Postfix keeps the recipient as given and
        defers the message).

        >>> Expansion("a", (Expansion("B"), Expansion("b"))).leaves()
        ['B']
        >>> Expansion("a", (Expansion("b", error=ALIAS_EXPANSION_ERROR),)).leaves()
        ['a']
        """
        if self.errors():
            return [self.address]
        found = self.order or [n.address for n in self.walk() if not n.children]
        seen: set[str] = set()
        out: list[str] = []
        for addr in found:
            key = addr.lower()
            if key not in seen:
                seen.add(key)
                out.append(addr)
        return out

    def render(self, indent: str = "  ") -> str:
        """The tree as indented text, one address per line.

        >>> print(Expansion("a", (Expansion("b", error=ALIAS_EXPANSION_ERROR, looped=True),)).render())
        a
          b (alias loop: 4.6.0 Alias expansion error)
        """
        lines: list[str] = []

        def emit(node: Expansion, depth: int) -> None:
            text = indent * depth + node.address
            if node.error is not None:
                why = "alias loop: " if node.looped else ""
                text += f" ({why}{node.error})"
            lines.append(text)
            for child in node.children:
                emit(child, depth + 1)

        emit(self, 0)
        return "\n".join(lines)


class _Node:
    """Mutable node used while expanding; frozen into Expansion at the end."""

    __slots__ = ("address", "parent", "children", "error", "looped", "reason", "seen_size")

    def __init__(self, address: str, parent: "_Node | None") -> None:
        self.address = address
        self.parent = parent
        self.children: list[_Node] = []
        self.error: DsnStatus | None = None
        self.looped = False
        self.reason = ""
        self.seen_size = -1   # size of the been-here set when this node was expanded

    def freeze(self) -> Expansion:
        return Expansion(self.address, tuple(c.freeze() for c in self.children),
                         self.error, self.looped, self.reason)


def _loops(node: _Node, seen_size: int) -> bool:
    """Whether expanding ``node`` would repeat an ancestor's expansion forever.

    An ancestor with the same address, expanded while the been-here set had
    the same size, means nothing on the path between them can stop the
    recursion: each address on it expanded without meeting itself, and only
    such a meeting adds to the set. Postfix would run into a limit; the
    outcome (4.6.0) is the same, found sooner.
    """
    key = node.address.lower()
    up = node.parent
    while up is not None:
        if up.seen_size == seen_size and up.address.lower() == key:
            return True
        up = up.parent
    return False


def expand_virtual(address: str, table: Table, *, recursion_limit: int = 1000,
                   expansion_limit: int = 1000, delimiter: str = "",
                   local_domain: Callable[[str], bool] | None = None,
                   propagate_extension: bool = True,
                   rewrite: Callable[[str], str] | None = None,
                   address_length_limit: int = 1000,
                   title: str = "virtual_alias_maps") -> Expansion:
    """Expand ``address`` (internal form) through ``table``; return the tree.

    ``rewrite`` canonicalizes each result address as Postfix does through
    trivial-rewrite in the ``local`` context (for example appending
    ``@$myorigin`` to a bare user); without it results are used as found.
    ``address_length_limit`` is virtual_alias_address_length_limit.
    ``title`` names the table in error reasons, as Postfix's maps title.

    >>> from mailflow.tables import MemoryTable
    >>> loop = MemoryTable({"a@x": "b@x", "b@x": "a@x"})
    >>> e = expand_virtual("a@x", loop)
    >>> [(n.address, n.looped, str(n.error)) for n in e.errors()]
    [('a@x', True, '4.6.0 Alias expansion error')]
    >>> e.leaves()
    ['a@x']
    >>> e.errors()[0].reason
    'unreasonable virtual_alias_maps map nesting for a@x'
    """
    root = _Node(address, None)
    slots: list[_Node] = [root]
    seen: set[str] = set()        # Postfix's been_here table (case folded)

    def fail(node: _Node, reason: str, looped: bool = False) -> Expansion:
        # cleanup_map1n.c's warnings name the address being expanded; a
        # loop is what Postfix reports as nesting too deep.
        node.error = ALIAS_EXPANSION_ERROR
        node.looped = looped
        node.reason = reason
        return root.freeze()

    arg = 0
    while arg < len(slots):
        if len(slots) > expansion_limit:
            return fail(root, f"unreasonable {title} map expansion size for {address}")
        count = 0
        while True:
            node = slots[arg]
            if node.address.lower() in seen:
                break
            if count >= recursion_limit:
                return fail(node, f"unreasonable {title} map nesting for {address}")
            if _loops(node, len(seen)):
                return fail(node, f"unreasonable {title} map nesting for {address}",
                            looped=True)
            results = map_address(node.address, table, delimiter=delimiter,
                                  local_domain=local_domain,
                                  propagate_extension=propagate_extension,
                                  rewrite=rewrite, style="virtual")
            if results is None:
                break
            if not results:
                return fail(node, f"{title} lookup of {node.address} returns non-address result")
            node.seen_size = len(seen)
            lhs = node.address.lower()
            for i, result in enumerate(results):
                external = quote_address(result)
                if len(external) > address_length_limit:
                    return fail(node, f"unreasonable {title} result {external[:300]}...")
                child = _Node(result, node)
                node.children.append(child)
                if i == 0:
                    slots[arg] = child
                else:
                    slots.append(child)
                # Allow an address to expand into itself once.
                if result.lower() == lhs:
                    seen.add(lhs)
            count += 1
        arg += 1
    return attrs.evolve(root.freeze(), order=tuple(n.address for n in slots))
