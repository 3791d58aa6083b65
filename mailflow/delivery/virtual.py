"""virtual(8): deliver to mailboxes named by lookup tables, for any domain.

Owns the virtual agent: ``virtual_mailbox_maps`` gives a path under
``virtual_mailbox_base``; a path ending in ``/`` is a Maildir, anything
else an mbox file (locked per ``virtual_mailbox_lock``). Messages larger
than ``virtual_mailbox_limit`` bounce. ``virtual_uid_maps`` and
``virtual_gid_maps`` set the owner of what is written only when running as
root; otherwise mail is written as the current user. All file work for a
request runs in one worker thread, so the event loop never blocks.

>>> import asyncio, tempfile, mailbox
>>> from mailflow.model import DeliveryRequest, Envelope, Message, Recipient
>>> base = tempfile.mkdtemp()
>>> agent = VirtualAgent(None, None, mailbox_base=base,
...                      mailbox_maps={"bob@example.com": "example.com/bob/"})
>>> r = Recipient("bob@example.com")
>>> req = DeliveryRequest("Q1", "virtual", "example.com", Envelope("a@example.org", (r,)),
...                       (r,), Message(b"Subject: hi\\n\\nhello\\n"))
>>> str(asyncio.run(agent.deliver(req))[0].status)
'2.0.0 delivered to maildir'
>>> [m["delivered-to"] for m in mailbox.Maildir(base + "/example.com/bob", create=False)]
['bob@example.com']
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Sequence

from mailflow.address.quote import quote_address
from mailflow.delivery.agentutil import failure_status, in_thread, is_root, warn_once
from mailflow.delivery.locking import parse_lock_styles
from mailflow.delivery.mailcopy import CopyFlags, render
from mailflow.delivery.maildir import deliver_maildir
from mailflow.delivery.maps import Maps
from mailflow.delivery.mbox import append_mbox
from mailflow.delivery.pipe_argv import split_recipient
from mailflow.delivery.settings import Settings
from mailflow.errors import TemporaryFailure
from mailflow.model import DeliveryRequest, DsnStatus, Outcome, Recipient

__all__ = ["VirtualAgent", "lookup_keys"]

log = logging.getLogger("mailflow.virtual")



def unknown_user(address: str) -> DsnStatus:
    """virtual(8)'s bounce for an address not in virtual_mailbox_maps (its
    deliver_unknown() text; smtpd says "User unknown in virtual mailbox table").

    >>> str(unknown_user("nobody@example.com"))
    '5.1.1 unknown user: "nobody@example.com"'
    """
    return DsnStatus("5.1.1", f'unknown user: "{address}"')


def lookup_keys(address: str, delimiter: str = "") -> list[str]:
    """The keys virtual(8) tries, in order: the address, the address without
    its extension, then ``@domain`` (lowercased, as Postfix's mail_addr_find).

    The keys are in external form, as Postfix 3.5+ looks them up: a local
    part that is not a dot-atom is quoted, so the table line
    ``"john..doe"@example.com  johndoe/`` is what ``john..doe@example.com``
    finds.

    >>> lookup_keys("Bob+Tag@Example.com", "+")
    ['bob+tag@example.com', 'bob@example.com', '@example.com']
    >>> lookup_keys("john..doe@example.com")
    ['"john..doe"@example.com', '@example.com']
    """
    address = address.lower()
    mailbox, user, ext, domain = split_recipient(address, delimiter)
    keys = [quote_address(address)]
    if ext:
        keys.append(quote_address(f"{user}@{domain}" if domain else user))
    if domain:
        keys.append("@" + domain)
    return keys


class VirtualAgent:
    """The ``virtual`` command of master.cf.

    Keyword arguments override the matching ``virtual_*`` parameters for
    embedded use: ``mailbox_base``, ``mailbox_maps``, ``uid_maps``,
    ``gid_maps``, ``mailbox_limit``, ``locks``, ``fsync``.
    """

    relay = "virtual"

    def __init__(self, cfg: Any = None, service: Any = None, *, mailbox_base: str | None = None,
                 mailbox_maps: Any = None, uid_maps: Any = None, gid_maps: Any = None,
                 mailbox_limit: int | None = None, locks: Sequence[str] | None = None,
                 fsync: bool = True) -> None:
        s = Settings(cfg)
        self.base = s.text("virtual_mailbox_base") if mailbox_base is None else mailbox_base
        self.maps = Maps(s.text("virtual_mailbox_maps") if mailbox_maps is None else mailbox_maps, cfg)
        self.limit = s.int("virtual_mailbox_limit") if mailbox_limit is None else mailbox_limit
        self.locks = parse_lock_styles(s.text("virtual_mailbox_lock") if locks is None else locks,
                                       "virtual_mailbox_lock")
        self.delimiter = s.text("recipient_delimiter")
        self.fsync = fsync
        self.uid_maps = self.gid_maps = None
        uid_spec = s.text("virtual_uid_maps") if uid_maps is None else uid_maps
        gid_spec = s.text("virtual_gid_maps") if gid_maps is None else gid_maps
        if uid_spec or gid_spec:
            if is_root():
                self.uid_maps, self.gid_maps = Maps(uid_spec, cfg), Maps(gid_spec, cfg)
                self.min_uid = s.int("virtual_minimum_uid")
            else:
                warn_once(log, "uid_maps", "virtual_uid_maps/virtual_gid_maps ignored: "
                          "not running as root; mail is written as the current user")

    def __repr__(self) -> str:
        return f"VirtualAgent(base={self.base!r}, maps={self.maps!r})"

    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]:
        return await in_thread(self.deliver_sync, request)

    def deliver_sync(self, request: DeliveryRequest) -> list[Outcome]:
        """The whole request, blocking (what :meth:`deliver` runs in a thread)."""
        return [Outcome(r, self._one(request, r), relay=self.relay) for r in request.recipients]

    def _find(self, address: str) -> str | None:
        for key in lookup_keys(address, self.delimiter):
            value = self.maps.get(key)
            if value is not None:
                return value.strip()
        return None

    def _one(self, request: DeliveryRequest, rcpt: Recipient) -> DsnStatus:
        try:
            path = self._find(rcpt.address)
            if not path:
                return unknown_user(rcpt.address)
            full = os.path.join(self.base, path) if self.base else path
            owner = self._owner(rcpt.address)
            env = request.envelope
            if path.endswith("/"):
                data = render(request.message.data, sender=env.sender, recipient=rcpt.address,
                              original=rcpt.original, flags=CopyFlags.MAILDIR)
                name = deliver_maildir(full, data, size_limit=self.limit, fsync=self.fsync)
                if owner:
                    _chown_tree(full, ("", "tmp", "new", "cur", "new/" + name), owner)
                return DsnStatus("2.0.0", "delivered to maildir")
            data = render(request.message.data, sender=env.sender, recipient=rcpt.address,
                          original=rcpt.original, flags=CopyFlags.MBOX, now=time.time())
            os.makedirs(os.path.dirname(full) or ".", exist_ok=True)
            append_mbox(full, data, locks=self.locks, size_limit=self.limit, fsync=self.fsync)
            if owner:
                _chown_tree(full, ("",), owner)
            return DsnStatus("2.0.0", "delivered to mailbox")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return failure_status(exc)

    def _owner(self, address: str) -> tuple[int, int] | None:
        if self.uid_maps is None:
            return None
        uid = gid = None
        for key in lookup_keys(address, self.delimiter):
            uid = uid if uid is not None else self.uid_maps.get(key)
            gid = gid if gid is not None else self.gid_maps.get(key)
        if uid is None or gid is None:
            raise TemporaryFailure(DsnStatus("4.3.5", f"recipient {address}: uid or gid not found"))
        if int(uid) < self.min_uid:
            raise TemporaryFailure(DsnStatus("4.3.5", f"recipient {address}: bad uid {uid}"))
        return int(uid), int(gid)


def _chown_tree(base: str, subs: Sequence[str], owner: tuple[int, int]) -> None:
    for sub in subs:
        os.chown(os.path.join(base, sub) if sub else base, *owner)
