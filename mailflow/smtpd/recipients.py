"""Recipient (and sender) validation at RCPT TO: is this address known here?

This module owns Postfix's ``check_rcpt_maps`` (``reject_unlisted_recipient``,
``reject_unlisted_sender`` and the implicit checks that
``smtpd_reject_unlisted_recipient`` adds): the address is resolved with
trivial-rewrite (:mod:`mailflow.address.resolve`) and, by its address class,
looked up in ``local_recipient_maps``, ``virtual_mailbox_maps`` or
``relay_recipient_maps``. An address that a canonical or virtual alias map
knows is accepted as it is (cleanup rewrites it later). Replies and codes are
Postfix's (``unknown_local_recipient_reject_code`` and friends); a table that
cannot answer gives ``451 4.3.0 <addr>: Temporary lookup failure``, never a
rejection. It does table lookups only: no DNS, no sockets.

>>> v = RecipientValidator.from_config(None, myhostname="mx.example.com",
...     mydestination="example.com", local_recipient_maps="inline:{ann=1}")
>>> v.check("ann@example.com").reply is None
True
>>> str(v.check("bob@example.com").reply)
'550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local recipient table'
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from mailflow.address.resolve import TrivialRewrite
from mailflow.address.rewrite import config_bool, config_value
from mailflow.errors import TableError
from mailflow.smtpd.access import dsn_fix, split_dsn
from mailflow.smtpd.reply import Reply, make_reply
from mailflow.tables.addresses import lookup_address
from mailflow.tables.maps import Maps, open_maps

__all__ = ["RecipientValidator", "RecipientCheck"]

SENDER = "Sender address"
RECIPIENT = "Recipient address"


@attrs.frozen
class RecipientCheck:
    """The outcome: ``reply`` None when the address is acceptable; ``detail``
    says which table decided (for the explain trace).

    >>> RecipientCheck(None, "local_recipient_maps: found").reply is None
    True
    """

    reply: Reply | None
    detail: str = ""


def _maps(cfg: Any, name: str, opener: Callable[[str], Any] | None) -> Maps | None:
    value = config_value(cfg, name)
    if not value:
        return None
    if opener is not None:
        from mailflow.tables.maps import split_maps
        return Maps([opener(spec) for spec in split_maps(value)], split_maps(value))
    return open_maps(value, cfg)


@attrs.define
class RecipientValidator:
    """The validation tables of one configuration, opened once."""

    rewrite: TrivialRewrite
    canonical: list[tuple[str, Maps]]          # (parameter, maps) that accept as-is
    sender_canonical: Maps | None
    local_maps: Maps | None
    virtual_mailbox_maps: Maps | None
    relay_recipient_maps: Maps | None
    codes: dict[str, int]
    show_table: bool = True
    double_bounce: str = "double-bounce"
    soft_bounce: bool = False

    @classmethod
    def from_config(cls, cfg: Any = None, *, rewrite: TrivialRewrite | None = None,
                    opener: Callable[[str], Any] | None = None,
                    **overrides: Any) -> "RecipientValidator":
        """Open the tables ``cfg`` names (None: Postfix defaults); ``opener``
        opens one ``type:name`` (default: the shared table cache)."""
        if overrides:
            from mailflow.config import Config
            cfg = cfg.with_overrides(**overrides) if cfg is not None else Config(**overrides)
        rewrite = rewrite or TrivialRewrite.from_config(cfg)
        canonical = [(name, m) for name in ("recipient_canonical_maps", "canonical_maps",
                                            "virtual_alias_maps")
                     if (m := _maps(cfg, name, opener)) is not None]

        def code(name: str) -> int:
            return int(config_value(cfg, name) or 550)

        return cls(
            rewrite=rewrite, canonical=canonical,
            sender_canonical=_maps(cfg, "sender_canonical_maps", opener),
            local_maps=_maps(cfg, "local_recipient_maps", opener),
            virtual_mailbox_maps=_maps(cfg, "virtual_mailbox_maps", opener),
            relay_recipient_maps=_maps(cfg, "relay_recipient_maps", opener),
            codes={k: code(f"unknown_{k}_reject_code")
                   for k in ("local_recipient", "virtual_alias", "virtual_mailbox",
                             "relay_recipient")},
            show_table=config_bool(cfg, "show_user_unknown_table_name"),
            double_bounce=config_value(cfg, "double_bounce_sender") or "double-bounce",
            soft_bounce=config_bool(cfg, "soft_bounce"),
        )

    def _find(self, maps: Maps, address: str) -> bool:
        # Postfix mail_addr_find(): user+ext@domain, user@domain, user+ext
        # and user when the domain is local, then @domain.
        match = lookup_address(maps, address.lower(), delimiter=self.rewrite.delimiter,
                               local_domain=self.rewrite.is_local, style="virtual")
        return match is not None

    def check(self, address: str, *, sender: str = "",
              reply_class: str = RECIPIENT) -> RecipientCheck:
        """Validate ``address`` (internal form); ``reply_class`` is
        ``"Recipient address"`` or ``"Sender address"`` (reject_unlisted_sender,
        where ``sender`` is then the recipient, as Postfix passes it)."""
        try:
            return self._check(address, sender, reply_class)
        except TableError as exc:
            return RecipientCheck(make_reply(451, "4.3.0", f"<{address}>: Temporary lookup failure"),
                                  f"table lookup failed: {exc}")

    def _reject(self, code: int, dsn: str, text: str) -> Reply:
        return make_reply(code, dsn, text, soft_bounce=self.soft_bounce)

    def _check(self, address: str, sender: str, reply_class: str) -> RecipientCheck:
        res = self.rewrite.resolve(self.rewrite.rewrite(address), self.rewrite.rewrite(sender)
                                   if sender else None)
        if res.fail:
            return RecipientCheck(make_reply(451, "4.3.0", f"<{address}>: Temporary lookup failure"),
                                  "address resolver failure")
        rcpt = res.recipient
        is_sender = reply_class == SENDER
        for name, maps in self.canonical:
            if self._find(maps, rcpt):
                return RecipientCheck(None, f"{name}: found {rcpt}")
        if is_sender and self.sender_canonical is not None and self._find(self.sender_canonical, rcpt):
            return RecipientCheck(None, f"sender_canonical_maps: found {rcpt}")
        if res.transport in ("error", "retry"):
            temporary = res.transport == "retry"
            default = ("4.1.0" if is_sender else "4.1.1") if temporary else \
                ("5.1.0" if is_sender else "5.1.1")
            dsn, text = split_dsn(res.nexthop, default)
            if temporary:
                code = 450
            else:
                code = self.codes["virtual_alias"] if res.address_class == "virtual_alias" else 550
            return RecipientCheck(self._reject(code, dsn_fix(dsn, reply_class),
                                               f"<{address}>: {reply_class} rejected: {text}"),
                                  f"resolves to {res.transport}: {res.nexthop}")
        dsn = "5.1.0" if is_sender else "5.1.1"
        klass = res.address_class
        local, _, _ = rcpt.rpartition("@")
        if klass == "local":
            if self.local_maps is None:
                return RecipientCheck(None, "local_recipient_maps is empty: accepted")
            if local.lower() in (self.double_bounce.lower(), "postmaster", "mailer-daemon"):
                return RecipientCheck(None, f"{local} is always accepted")
            return self._in_table(self.local_maps, "local_recipient_maps", "local_recipient",
                                  "local recipient table", rcpt, address, reply_class, dsn)
        if klass == "virtual_mailbox" and self.virtual_mailbox_maps is not None:
            return self._in_table(self.virtual_mailbox_maps, "virtual_mailbox_maps",
                                  "virtual_mailbox", "virtual mailbox table", rcpt, address,
                                  reply_class, dsn)
        if klass == "relay" and self.relay_recipient_maps is not None:
            return self._in_table(self.relay_recipient_maps, "relay_recipient_maps",
                                  "relay_recipient", "relay recipient table", rcpt, address,
                                  reply_class, dsn)
        return RecipientCheck(None, f"class {klass}: not validated")

    def _in_table(self, maps: Maps, param: str, code_name: str, table_text: str, rcpt: str,
                  address: str, reply_class: str, dsn: str) -> RecipientCheck:
        if self._find(maps, rcpt):
            return RecipientCheck(None, f"{param}: found {rcpt}")
        suffix = f" in {table_text}" if self.show_table else ""
        return RecipientCheck(
            self._reject(self.codes[code_name], dsn,
                         f"<{address}>: {reply_class} rejected: User unknown{suffix}"),
            f"{param}: {rcpt} not found")
