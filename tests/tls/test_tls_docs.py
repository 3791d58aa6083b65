"""The examples of docs/smtpd-tls-auth.md run as shown."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "smtpd-tls-auth.md"


def test_tls_auth_page_python_examples_run():
    """Every Python block of the TLS and AUTH page runs and its assertions hold."""
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert blocks
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"smtpd-tls-auth.md#{i}", "exec"), namespace)


def test_tls_auth_page_reply_table_matches_the_code():
    """The replies the page lists are the texts the exchange produces."""
    from mailflow.smtpd.sasl import SaslExchange
    text = PAGE.read_text()
    for reply in (SaslExchange().command("PLAIN", tls_auth_only=True).reply,
                  SaslExchange().command("PLAIN", authenticated=True).reply,
                  SaslExchange().command("PLAIN", in_transaction=True).reply,
                  SaslExchange().command("PLAIN", enabled=False).reply,
                  SaslExchange().command("").reply,
                  SaslExchange(["PLAIN"]).command("LOGIN").reply):
        assert f"`{reply}`" in text
