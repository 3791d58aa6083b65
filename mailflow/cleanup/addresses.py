"""Address helpers for cleanup: which headers hold sender or recipient
addresses, and the header address token count.

The rewriting itself comes from the address package:
:func:`mailflow.address.rewrite.rewrite_address` (trivial-rewrite's local and
remote contexts), :func:`mailflow.address.canonical.canonical_map`,
:func:`mailflow.address.masquerade.masquerade`,
:func:`mailflow.address.parse.rewrite_header_addresses` and
:func:`mailflow.address.virtual.expand_virtual`; the pipeline decides the
order and the classes. No I/O.

>>> "sender" in SENDER_HEADERS, "reply-to" in RECIPIENT_HEADERS
(True, True)
"""

from __future__ import annotations

__all__ = ["SENDER_HEADERS", "RECIPIENT_HEADERS", "count_tokens"]

# Postfix's header_opts.c: headers flagged HDR_OPT_SENDER hold sender
# addresses, HDR_OPT_RECIP/HDR_OPT_XRECIP recipient addresses (Reply-To is a
# recipient: replies go there).
SENDER_HEADERS = frozenset({
    "from", "sender", "errors-to", "return-path", "resent-from", "resent-sender",
})
RECIPIENT_HEADERS = frozenset({
    "to", "cc", "bcc", "apparently-to", "reply-to", "return-receipt-to",
    "resent-to", "resent-cc", "resent-bcc", "resent-reply-to",
})


def count_tokens(value: str) -> int:
    """A rough RFC 822 token count, for header_address_token_limit.

    >>> count_tokens("Ann <ann@example.com>")
    8
    """
    count, word = 0, False
    for ch in value:
        if ch in "<>()@,;:\".[]":
            count += 1
            word = False
        elif ch.isspace():
            word = False
        elif not word:
            count += 1
            word = True
    return count
