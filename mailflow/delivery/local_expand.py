"""local(8)'s decisions, pure: alias, ``.forward`` and ``:include:`` expansion.

Owns turning one local recipient into a list of :class:`Delivery` actions
(to a user's mailbox, a file, a command, a forwarded address, or a status
when it cannot be delivered), following aliases(5) and local(8): alias
values ``user``, ``/file``, ``|command``, ``:include:/file``, ``\\user``;
``owner-`` aliases; ``forward_path`` with ``$home``, ``$user``,
``$extension``, ``$recipient_delimiter`` ...; ``allow_mail_to_commands`` and
``allow_mail_to_files`` per class (alias, forward, include). Lookups and
file reads are passed in, so this module does no I/O.

>>> aliases = {"postmaster": "root", "root": "alice, |/usr/bin/log-it", "alice": "alice, /tmp/copy"}.get
>>> users = {"alice": LocalUser("alice", "/home/alice")}.get
>>> for d in plan_local("postmaster@example.com", LocalPolicy(), aliases=aliases, users=users):
...     print(d.kind, d.target)
mailbox alice
file /tmp/copy
command /usr/bin/log-it
"""

from __future__ import annotations

from typing import Callable, Iterable

import attrs

from mailflow.delivery.pipe_argv import expand, split_recipient
from mailflow.delivery.users import LocalUser
from mailflow.model import DsnStatus
from mailflow.tables.aliases import alias_targets

__all__ = ["Target", "Delivery", "LocalPolicy", "parse_alias_value", "parse_include",
           "forward_files", "plan_local", "ALIAS", "FORWARD", "INCLUDE"]

ALIAS, FORWARD, INCLUDE = "alias", "forward", "include"


@attrs.frozen
class Target:
    """One item of an alias value or a .forward/:include: file.

    ``kind`` is ``address``, ``mailbox`` (``\\user``: no further aliasing),
    ``file``, ``command`` or ``include``.
    """

    kind: str
    text: str


@attrs.frozen
class Delivery:
    """One thing local delivery must do for a recipient.

    ``kind``: ``mailbox`` (``user`` set), ``file``, ``command`` (target is
    the path or command; ``user`` whose rights and home apply, if any),
    ``forward`` (target is an address to re-submit), or ``status`` (an
    error: ``status`` set). ``sender`` replaces the envelope sender when an
    ``owner-`` alias applies; ``via`` is the class (alias, forward,
    include) that produced it.
    """

    kind: str
    target: str
    user: LocalUser | None = None
    status: DsnStatus | None = None
    sender: str | None = None
    via: str = ""


@attrs.frozen
class LocalPolicy:
    """The local(8) parameters the planner needs."""

    recipient_delimiter: str = ""
    allow_mail_to_commands: frozenset = frozenset({ALIAS, FORWARD})
    allow_mail_to_files: frozenset = frozenset({ALIAS, FORWARD})
    forward_path: tuple = ("$home/.forward${recipient_delimiter}${extension}", "$home/.forward")
    luser_relay: str = ""
    owner_domain: str = ""
    max_depth: int = 100


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].replace('\\"', '"')
    return text


def _classify(item: str) -> Target:
    # aliases(5): the whole item or just the command may be quoted:
    # "|/bin/prog a" and |"/bin/prog a" (the form postalias stores).
    text = _unquote(item) if item[1:2] in ("|", "/", ":") else item
    if text.startswith("|"):
        return Target("command", _unquote(text[1:].strip()))
    if text.startswith("/"):
        return Target("file", text)
    if text.lower().startswith(":include:"):
        return Target("include", text[len(":include:"):].strip())
    if text.startswith("\\"):
        return Target("mailbox", text[1:])
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return Target("address", text)


def parse_alias_value(value: str) -> list[Target]:
    """The targets of an alias value.

    >>> [(t.kind, t.text) for t in parse_alias_value('bob, "|/bin/x -a, b", /var/log/m, :include:/etc/l, \\\\me')]
    [('address', 'bob'), ('command', '/bin/x -a, b'), ('file', '/var/log/m'), ('include', '/etc/l'), ('mailbox', 'me')]
    >>> parse_alias_value('|"/usr/bin/procmail -a x"')
    [Target(kind='command', text='/usr/bin/procmail -a x')]
    """
    return [_classify(item) for item in alias_targets(value)]


def parse_include(text: str) -> list[Target]:
    """The targets in a ``.forward`` or ``:include:`` file: one or more per
    line, ``#`` comment lines and blank lines ignored.

    >>> [(t.kind, t.text) for t in parse_include("# me\\n\\\\alice\\nbob@example.net, |/bin/v\\n")]
    [('mailbox', 'alice'), ('address', 'bob@example.net'), ('command', '/bin/v')]
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return parse_alias_value(", ".join(lines))


def forward_files(policy: LocalPolicy, user: LocalUser, recipient: str) -> list[str]:
    """The ``forward_path`` entries expanded for one user (empty ones dropped).

    >>> forward_files(LocalPolicy(recipient_delimiter="+"), LocalUser("joe", "/home/joe"), "joe+list@x")
    ['/home/joe/.forward+list', '/home/joe/.forward']
    >>> forward_files(LocalPolicy(recipient_delimiter="+"), LocalUser("joe", "/home/joe"), "joe@x")
    ['/home/joe/.forward']
    """
    local, user_part, ext, domain = split_recipient(recipient, policy.recipient_delimiter)
    values = {"home": user.home, "user": user.name, "extension": ext, "domain": domain,
              "local": local, "recipient": recipient, "shell": user.shell,
              "recipient_delimiter": policy.recipient_delimiter if ext else "",
              "mailbox": local}
    out: list[str] = []
    for template in policy.forward_path:
        # local(8): a path whose ${extension} is empty when there is no
        # extension collapses to the plain .forward; drop repeats.
        path = expand(template, values, strict=False)
        if path and path not in out:
            out.append(path)
    return out


def plan_local(recipient: str, policy: LocalPolicy, *,
               aliases: Callable[[str], str | None],
               users: Callable[[str], LocalUser | None],
               read_file: Callable[[str], str | None] = lambda path: None,
               is_local: Callable[[str], bool] = lambda domain: True) -> list[Delivery]:
    """Everything to do for ``recipient`` (an address in a local domain).

    ``aliases(name)`` returns an alias value or None, ``users(name)`` a
    LocalUser or None, ``read_file(path)`` a file's text or None when it
    does not exist (raising OSError for other problems), and
    ``is_local(domain)`` tells whether an address expands here or is
    forwarded.
    """
    return _Planner(policy, aliases, users, read_file, is_local).recipient(
        recipient, depth=0, chain=frozenset(), sender=None)


@attrs.define
class _Planner:
    policy: LocalPolicy
    aliases: Callable[[str], str | None]
    users: Callable[[str], LocalUser | None]
    read_file: Callable[[str], str | None]
    is_local: Callable[[str], bool]

    def recipient(self, address: str, *, depth: int, chain: frozenset,
                  sender: str | None) -> list[Delivery]:
        if depth > self.policy.max_depth:
            return [Delivery("status", address, status=DsnStatus(
                "5.4.6", f"alias database loop for {address}"))]
        local, user, ext, domain = split_recipient(address, self.policy.recipient_delimiter)
        keys = [local.lower()] + ([user.lower()] if ext else [])
        for key in keys:
            if key in chain:
                continue  # "x: x, y" -- a name in its own expansion is the mailbox
            value = self.aliases(key)
            if value is None:
                continue
            if self.aliases("owner-" + key) is not None:
                # aliases(5): errors for this list go to owner-NAME.
                sender = f"owner-{key}@{self.policy.owner_domain or domain}".rstrip("@")
            return self.targets(parse_alias_value(value), via=ALIAS, depth=depth + 1,
                                chain=chain | {key}, sender=sender, user=None, domain=domain)
        return self.mailbox_or_forward(user.lower(), address, depth=depth, chain=chain,
                                       sender=sender, via="")

    def mailbox_or_forward(self, name: str, address: str, *, depth: int, chain: frozenset,
                           sender: str | None, via: str) -> list[Delivery]:
        account = self.users(name)
        if account is None:
            if self.policy.luser_relay:
                relay = expand(self.policy.luser_relay, {"user": name, "local": name}, strict=False)
                return [Delivery("forward", relay, sender=sender, via=via)]
            return [Delivery("status", address, status=DsnStatus("5.1.1", f'unknown user: "{name}"'))]
        marker = "forward:" + account.name
        if marker not in chain:
            for path in forward_files(self.policy, account, address):
                text = self.read_file(path)
                if text is None:
                    continue
                return self.targets(parse_include(text), via=FORWARD, depth=depth + 1,
                                    chain=chain | {marker, account.name}, sender=sender,
                                    user=account, domain=address.rpartition("@")[2])
        return [Delivery("mailbox", account.name, user=account, sender=sender, via=via)]

    def targets(self, targets: Iterable[Target], *, via: str, depth: int, chain: frozenset,
                sender: str | None, user: LocalUser | None, domain: str) -> list[Delivery]:
        out: list[Delivery] = []
        allowed = {"command": self.policy.allow_mail_to_commands,
                   "file": self.policy.allow_mail_to_files}
        for t in targets:
            if t.kind in allowed:
                if via in allowed[t.kind]:
                    out.append(Delivery(t.kind, t.text, user=user, sender=sender, via=via))
                else:
                    # local(8): allow_mail_to_commands/files name the classes allowed.
                    out.append(Delivery("status", t.text, status=DsnStatus(
                        "5.7.1", f"mail to {t.kind} is restricted"), via=via))
            elif t.kind == "include":
                out.extend(self.include(t.text, depth=depth, chain=chain, sender=sender,
                                        user=user, domain=domain))
            elif t.kind == "mailbox":
                out.extend(self.mailbox_or_forward(t.text.lower(), t.text, depth=depth,
                                                   chain=chain | {"forward:" + t.text.lower()},
                                                   sender=sender, via=via))
            else:
                out.extend(self.address(t.text, via=via, depth=depth, chain=chain,
                                        sender=sender, domain=domain))
        return out

    def include(self, path: str, *, depth: int, chain: frozenset, sender: str | None,
                user: LocalUser | None, domain: str) -> list[Delivery]:
        if ("include:" + path) in chain:
            return []
        try:
            text = self.read_file(path)
        except OSError as exc:
            text, why = None, exc.strerror
        else:
            why = "No such file or directory"
        if text is None:
            return [Delivery("status", path, status=DsnStatus(
                "5.3.0", f"cannot open include file {path}: {why}"), via=INCLUDE)]
        return self.targets(parse_include(text), via=INCLUDE, depth=depth + 1,
                            chain=chain | {"include:" + path}, sender=sender, user=user,
                            domain=domain)

    def address(self, text: str, *, via: str, depth: int, chain: frozenset,
                sender: str | None, domain: str) -> list[Delivery]:
        local, at, dom = text.rpartition("@")
        if not at:
            local, dom = text, ""
        if not local:
            return []
        if not dom or self.is_local(dom.lower()):
            full = f"{local}@{dom or domain}" if (dom or domain) else local
            return self.recipient(full, depth=depth, chain=chain, sender=sender)
        return [Delivery("forward", text, sender=sender, via=via)]
