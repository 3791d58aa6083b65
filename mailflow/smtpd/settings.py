"""The smtpd parameters, read once from a Config.

This module owns the list of main.cf parameters the SMTP session itself
reads (limits, timeouts, greeting, what EHLO advertises) and their
conversion to Python values; their defaults are Postfix's, from the shared
parameter table. Restriction lists and tables are not here: the restriction
engine (:mod:`mailflow.smtpd.restrictions`) reads those.

>>> s = SmtpdSettings.from_config(None)
>>> s.message_size_limit, s.recipient_limit, s.hard_error_limit
(10240000, 1000, 20)
>>> s.ehlo_keywords()
['PIPELINING', 'SIZE 10240000', 'VRFY', 'ETRN', 'ENHANCEDSTATUSCODES', '8BITMIME', 'DSN', 'SMTPUTF8', 'CHUNKING']
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["SmtpdSettings"]


def _config(cfg: Any) -> Any:
    if cfg is None:
        from mailflow.config import Config
        return Config()
    return cfg


@attrs.frozen
class SmtpdSettings:
    """Every session parameter smtpd reads, as Python values.

    Times are seconds; sizes bytes; 0 means "no limit" where Postfix says so.
    """

    myhostname: str
    banner: str
    message_size_limit: int
    recipient_limit: int
    line_length_limit: int
    timeout: float
    soft_error_limit: int
    hard_error_limit: int
    error_sleep_time: float
    junk_command_limit: int
    helo_required: bool
    delay_reject: bool
    disable_vrfy: bool
    smtputf8_enable: bool
    discard_ehlo_keywords: frozenset
    bare_newline: str
    bare_newline_exclusions: tuple
    bare_newline_reject_code: int
    peername_lookup: bool
    strict_rfc821_envelopes: bool
    tls_security_level: str
    tls_auth_only: bool
    tls_wrappermode: bool
    tls_handshake_timeout: float
    tls_received_header: bool
    tls_ask_ccert: bool
    sasl_auth_enable: bool
    sasl_authenticated_header: bool
    broken_sasl_auth_clients: bool
    authorized_xclient_hosts: tuple
    authorized_xforward_hosts: tuple
    upstream_proxy_protocol: str
    upstream_proxy_timeout: float
    mynetworks: tuple
    queue_minfree: int
    message_memory_limit: int = 1 << 20

    @classmethod
    def from_config(cls, cfg: Any) -> "SmtpdSettings":
        """Read the parameters (``cfg`` None: Postfix's defaults).

        >>> from mailflow.config import Config
        >>> SmtpdSettings.from_config(Config(smtpd_timeout="10s")).timeout
        10.0
        """
        c = _config(cfg)

        def get(name: str, default: Any) -> Any:
            return c.get(name, default)

        level = str(get("smtpd_tls_security_level", "") or "")
        if not level:
            # Postfix: an empty level falls back to the obsolete
            # smtpd_use_tls/smtpd_enforce_tls booleans.
            level = ("encrypt" if get("smtpd_enforce_tls", False)
                     else "may" if get("smtpd_use_tls", False) else "none")
        return cls(
            myhostname=str(c["myhostname"]),
            banner=str(c["smtpd_banner"]),
            message_size_limit=int(c["message_size_limit"]),
            recipient_limit=int(c["smtpd_recipient_limit"]),
            line_length_limit=int(c["line_length_limit"]),
            timeout=float(c["smtpd_timeout"]),
            soft_error_limit=int(c["smtpd_soft_error_limit"]),
            hard_error_limit=int(c["smtpd_hard_error_limit"]),
            error_sleep_time=float(c["smtpd_error_sleep_time"]),
            junk_command_limit=int(c["smtpd_junk_command_limit"]),
            helo_required=bool(c["smtpd_helo_required"]),
            delay_reject=bool(c["smtpd_delay_reject"]),
            disable_vrfy=bool(c["disable_vrfy_command"]),
            smtputf8_enable=bool(c["smtputf8_enable"]),
            discard_ehlo_keywords=frozenset(k.upper() for k in c["smtpd_discard_ehlo_keywords"]),
            bare_newline=_bare_newline(str(c["smtpd_forbid_bare_newline"])),
            bare_newline_exclusions=tuple(c["smtpd_forbid_bare_newline_exclusions"]),
            bare_newline_reject_code=int(c["smtpd_forbid_bare_newline_reject_code"]),
            peername_lookup=bool(c["smtpd_peername_lookup"]),
            strict_rfc821_envelopes=bool(c["strict_rfc821_envelopes"]),
            tls_security_level=level,
            tls_auth_only=bool(get("smtpd_tls_auth_only", False)),
            tls_wrappermode=bool(get("smtpd_tls_wrappermode", False)),
            tls_handshake_timeout=float(get("smtpd_starttls_timeout", 300)),
            tls_received_header=bool(get("smtpd_tls_received_header", False)),
            tls_ask_ccert=bool(get("smtpd_tls_ask_ccert", False)),
            sasl_auth_enable=bool(get("smtpd_sasl_auth_enable", False)),
            sasl_authenticated_header=bool(get("smtpd_sasl_authenticated_header", False)),
            broken_sasl_auth_clients=bool(get("broken_sasl_auth_clients", False)),
            authorized_xclient_hosts=tuple(get("smtpd_authorized_xclient_hosts", ()) or ()),
            authorized_xforward_hosts=tuple(get("smtpd_authorized_xforward_hosts", ()) or ()),
            upstream_proxy_protocol=str(get("smtpd_upstream_proxy_protocol", "") or ""),
            upstream_proxy_timeout=float(get("smtpd_upstream_proxy_timeout", 5)),
            mynetworks=tuple(c["mynetworks"]),
            queue_minfree=int(get("queue_minfree", 0)),
            # The headers always stay in memory, where cleanup reads them.
            message_memory_limit=max(int(get("smtpd_message_memory_limit", 1 << 20)),
                                     int(get("header_size_limit", 102400)), 4096),
        )

    def ehlo_keywords(self, *, starttls: bool = False, auth: tuple[str, ...] = (),
                      xclient: bool = False, xforward: bool = False) -> list[str]:
        """The EHLO keywords, in Postfix 3.7's order, minus
        ``smtpd_discard_ehlo_keywords``.

        ``starttls`` and ``auth`` (the SASL mechanisms) are offered only when
        the session can honour them right now (TLS configured and not yet
        active; AUTH enabled and allowed on this connection).

        >>> s = attrs.evolve(SmtpdSettings.from_config(None),
        ...                  discard_ehlo_keywords=frozenset({"VRFY", "ETRN"}))
        >>> s.ehlo_keywords(starttls=True, auth=("PLAIN", "LOGIN"))[:4]
        ['PIPELINING', 'SIZE 10240000', 'STARTTLS', 'AUTH PLAIN LOGIN']
        """
        words = ["PIPELINING",
                 f"SIZE {self.message_size_limit}" if self.message_size_limit else "SIZE",
                 "VRFY", "ETRN"]
        if starttls:
            words.append("STARTTLS")
        if auth:
            mechanisms = " ".join(auth)
            words.append(f"AUTH {mechanisms}")
            if self.broken_sasl_auth_clients:
                words.append(f"AUTH={mechanisms}")
        if xclient:
            words.append("XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT")
        if xforward:
            words.append("XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT")
        words += ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN"]
        if self.smtputf8_enable:
            words.append("SMTPUTF8")
        words.append("CHUNKING")
        drop = self.discard_ehlo_keywords
        if not drop:
            return words
        return [w for w in words if w.split(" ", 1)[0].split("=", 1)[0] not in drop]


def _bare_newline(value: str) -> str:
    """smtpd_forbid_bare_newline's value as the engine's policy name.

    >>> _bare_newline("yes"), _bare_newline("normalize"), _bare_newline("no")
    ('reject', 'normalize', 'no')
    """
    v = value.strip().lower()
    if v in ("yes", "reject", "true", "1"):
        return "reject"
    if v in ("no", "false", "0"):
        return "no"
    return "normalize"
