"""The session's throw-away certificates (skipped without the openssl command)."""

from __future__ import annotations

import pytest

from tests.tls.certs import Certs, have_openssl, make_certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certs:
    """A CA, a server and a client certificate it signs, and a self-signed one."""
    if not have_openssl():
        pytest.skip("the openssl command is not installed; it makes the test certificates")
    return make_certs(tmp_path_factory.mktemp("certs"))
