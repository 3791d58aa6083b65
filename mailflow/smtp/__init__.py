"""The SMTP/ESMTP/LMTP protocol engine, both sides, with no I/O.

Bytes go in, events come out; replies and commands go out as bytes. The
smtpd service (:mod:`mailflow.services.smtpd`) and the smtp/lmtp delivery
agents drive it over asyncio streams; tests drive it with plain bytes.
"""
