"""smtpd's pure core: what the SMTP front door decides, with no sockets.

Restriction lists and access(5) actions, recipient validation, client
rate limits (anvil) and SASL exchanges live here; the network session that
uses them is :mod:`mailflow.services.smtpd`.
"""
