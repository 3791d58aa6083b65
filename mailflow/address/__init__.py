"""Addresses: Postfix's internal and external forms, RFC 5321/5322 parsing,
and the pure address mappings cleanup applies (canonical, masquerading,
virtual alias expansion).

Nothing in this package does I/O: tables arrive opened, settings arrive as
values. Rewriting to canonical form and resolving to a transport live in
:mod:`mailflow.address.rewrite` and :mod:`mailflow.address.resolve`.

>>> from mailflow.address import quote_address, unquote_address
>>> unquote_address(quote_address("a b@example.com"))
'a b@example.com'
"""

from mailflow.address.quote import quote_address, split_address, unquote_address
from mailflow.address.parse import (AddressSyntaxError, HeaderAddress, parse_header_addresses, parse_path,
                                    rewrite_header_addresses)
from mailflow.address.canonical import canonical_map
from mailflow.address.masquerade import masquerade
from mailflow.address.virtual import Expansion, expand_virtual

__all__ = ["quote_address", "unquote_address", "split_address",
           "parse_path", "parse_header_addresses", "rewrite_header_addresses",
           "HeaderAddress", "AddressSyntaxError", "canonical_map", "masquerade",
           "Expansion", "expand_virtual"]
