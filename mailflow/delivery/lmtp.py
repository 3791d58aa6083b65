"""lmtp(8): deliver to a mailbox server over LMTP (RFC 2033), e.g. Dovecot.

Owns nothing of its own: it is :class:`~mailflow.delivery.smtp.SmtpAgent`
in LMTP mode, reading the ``lmtp_*`` parameters. The next hop names the
server: ``unix:/path`` (a unix-domain socket), ``inet:host:port``,
``host:port`` or ``[host]:port`` (TCP; the port defaults to
``lmtp_tcp_port``, 24). LMTP never looks up MX records. The client greets
with LHLO and reads one reply per accepted recipient after the message, so
one recipient's full mailbox does not fail the others. Use it as
``mailbox_transport = lmtp:unix:/path``, ``virtual_transport = lmtp:...``
or in ``transport_maps``.

>>> LmtpAgent(None, None)
LmtpAgent(protocol='lmtp')
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from mailflow.delivery.smtp import SmtpAgent
from mailflow.interfaces import DnsResolver

__all__ = ["LmtpAgent"]


class LmtpAgent(SmtpAgent):
    """The ``lmtp`` command of master.cf."""

    def __init__(self, cfg: Any = None, service: Any = None, *,
                 resolver: DnsResolver | None = None,
                 my_addresses: Sequence[str] | None = None,
                 shuffle: Callable[[list], None] | None = None) -> None:
        super().__init__(cfg, service, resolver=resolver, lmtp=True, my_addresses=my_addresses,
                         shuffle=shuffle)
