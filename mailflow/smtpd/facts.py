"""What smtpd restrictions see: one frozen record of the session so far.

This module owns :class:`SessionFacts`, the only input of
:class:`~mailflow.smtpd.restrictions.SmtpdRestrictions`. The smtpd service
builds a new one at each SMTP stage (with :func:`attrs.evolve`); the
restrictions never read a socket, a clock or the service's state.
It holds data only: no lookups, no I/O.

>>> f = SessionFacts("192.0.2.1", helo="mx.example.com", protocol="ESMTP")
>>> f.namaddr
'unknown[192.0.2.1]'
>>> attrs.evolve(f, sender="a@example.com", stage="MAIL").stage
'MAIL'
"""

from __future__ import annotations

import attrs

__all__ = ["SessionFacts", "STAGES"]

#: The SMTP stages a restriction can run in (Postfix's protocol_state names).
STAGES = ("CONNECT", "HELO", "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", "ETRN", "VRFY")


@attrs.frozen
class SessionFacts:
    """The session as restrictions see it at one stage.

    ``sender`` is None before MAIL FROM and ``""`` for the null sender;
    addresses are in internal (unquoted) form. ``pipelined`` says the client
    sent the current command before it was allowed to (what
    ``reject_unauth_pipelining`` tests). ``defer_if_permit`` carries a
    deferral that an earlier stage raised but could not apply yet (Postfix's
    ``defer_if_permit_client``/``_helo``/``_sender``): the service copies
    :attr:`Decision.defer_if_permit <mailflow.smtpd.restrictions.Decision.defer_if_permit>`
    of the previous stage into the next stage's facts. It matters only with
    ``smtpd_delay_reject = no``; with the default every earlier list is
    evaluated again at RCPT.

    >>> SessionFacts("2001:db8::1", client_name="mx.example.net", client_port=4711).namaddr
    'mx.example.net[2001:db8::1]'
    """

    client_address: str
    client_name: str = "unknown"
    reverse_client_name: str = "unknown"
    client_port: int = 0
    helo: str | None = None
    protocol: str = "SMTP"
    sender: str | None = None
    recipient: str | None = None
    recipient_count: int = 0
    size: int = 0
    sasl_method: str | None = None
    sasl_username: str | None = None
    tls: bool = False
    ccert_fingerprint: str | None = None
    pipelined: bool = False
    etrn_domain: str | None = None
    queue_id: str | None = None
    instance: str = ""
    stage: str = "CONNECT"
    server_address: str = ""
    server_port: int = 0
    defer_if_permit: object = None     # a Reply from an earlier stage, or None

    @property
    def namaddr(self) -> str:
        """``name[address]`` as Postfix writes a client in replies and logs."""
        return f"{self.client_name}[{self.client_address}]"
