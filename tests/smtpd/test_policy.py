"""check_policy_service against real policy servers on 127.0.0.1 and on a unix socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mailflow.adapters.policy_client import PolicyClient
from mailflow.smtpd.policy import PolicyError, PolicyOptions, parse_policy_spec

from .helpers import facts, restrictions


class PolicyServer:
    """A small policy server: answers each request with ``answer(attrs)``,
    records the requests and the connections it saw."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, str]] = []
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                data = await reader.readuntil(b"\n\n")
                attrs = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
                self.requests.append(attrs)
                reply = self.answer(attrs)
                if reply is None:            # hang up without an answer
                    break
                if isinstance(reply, float):
                    await asyncio.sleep(reply)
                    continue
                writer.write(reply.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()

    async def start_inet(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"inet:127.0.0.1:{port}"

    async def start_unix(self, path: Path) -> str:
        self.server = await asyncio.start_unix_server(self.handle, str(path))
        return f"unix:{path}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def by_sender(attrs: dict[str, str]) -> str:
    if attrs.get("sender", "").startswith("spam"):
        return "action=REJECT spam is not welcome\n\n"
    if attrs.get("sender", "").startswith("grey"):
        return "action=DEFER_IF_PERMIT greylisted, try again\n\n"
    return "action=DUNNO\n\n"


def run_rcpt(endpoint_spec: str, client: PolicyClient, **kw):
    r = restrictions(policy_client=client,
                     smtpd_recipient_restrictions=f"check_policy_service {endpoint_spec}, "
                                                  "reject_unauth_destination")
    return r.check_rcpt(facts(**kw))


def test_inet_policy_server_decides_and_sees_postfix_attributes():
    """The server's REJECT becomes the reply; the request carries Postfix's attributes."""
    async def main():
        server = PolicyServer(by_sender)
        endpoint = await server.start_inet()
        client = PolicyClient()
        try:
            spam = await run_rcpt(endpoint, client, sender="spam@example.net")
            ok = await run_rcpt(endpoint, client, sender="ann@example.net")
        finally:
            await client.close()
            await server.stop()
        return server, spam, ok

    server, spam, ok = asyncio.run(main())
    assert str(spam.reply) == ("554 5.7.1 <ann@example.com>: Recipient address rejected: "
                               "spam is not welcome")
    assert ok.verdict == "accept"
    first = server.requests[0]
    assert first["request"] == "smtpd_access_policy"
    assert first["protocol_state"] == "RCPT" and first["protocol_name"] == "ESMTP"
    assert first["client_address"] == "203.0.113.9" and first["client_name"] == "unknown"
    assert first["helo_name"] == "client.example.net"
    assert first["sender"] == "spam@example.net" and first["recipient"] == "ann@example.com"
    assert first["recipient_count"] == "0"
    assert server.connections == 1            # the connection was reused


def test_unix_policy_server_defer_if_permit(tmp_path):
    """Over a unix socket, DEFER_IF_PERMIT defers a permitted recipient with 450 4.7.1."""
    async def main():
        server = PolicyServer(by_sender)
        endpoint = await server.start_unix(tmp_path / "policy")
        client = PolicyClient()
        try:
            return await run_rcpt(endpoint, client, sender="grey@example.net")
        finally:
            await client.close()
            await server.stop()

    d = asyncio.run(main())
    assert str(d.reply) == ("450 4.7.1 <ann@example.com>: Recipient address rejected: "
                            "greylisted, try again")


def test_relative_unix_path_is_under_queue_directory(tmp_path):
    """unix:private/policy is found under queue_directory, as in Postfix."""
    (tmp_path / "private").mkdir()

    async def main():
        server = PolicyServer(by_sender)
        await server.start_unix(tmp_path / "private" / "policy")
        client = PolicyClient(queue_directory=str(tmp_path))
        try:
            return await run_rcpt("unix:private/policy", client, sender="spam@example.net")
        finally:
            await client.close()
            await server.stop()

    assert asyncio.run(main()).verdict == "reject"


def test_unreachable_server_uses_the_default_action():
    """No server: smtpd_policy_service_default_action (451 4.3.5) after the tries."""
    async def main():
        server = PolicyServer(by_sender)
        endpoint = await server.start_inet()
        await server.stop()                       # nothing listens there any more
        r = restrictions(smtpd_policy_service_retry_delay="0s",
                         smtpd_recipient_restrictions=f"check_policy_service {endpoint}, "
                                                      "reject_unauth_destination")
        try:
            return await r.check_rcpt(facts())
        finally:
            await r.policy_client.close()

    d = asyncio.run(main())
    assert str(d.reply) == ("451 4.3.5 <ann@example.com>: Recipient address rejected: "
                            "Server configuration problem")


def test_timeout_and_per_service_default_action():
    """A server that does not answer within timeout= gets default_action= from the braces."""
    async def main():
        server = PolicyServer(lambda attrs: 5.0)   # never answers in time
        endpoint = await server.start_inet()
        client = PolicyClient()
        spec = f"{{ {endpoint}, timeout=1s, default_action=DUNNO, try_limit=1 }}"
        try:
            return await run_rcpt(spec, client), server
        finally:
            await client.close()
            await server.stop()

    d, server = asyncio.run(main())
    assert d.verdict == "accept"
    assert len(server.requests) == 1
    step = [s for s in d.trace if s.restriction.startswith("check_policy_service")][0]
    assert "default action DUNNO" in step.detail


def test_server_that_hangs_up_is_retried_on_a_new_connection():
    """A dropped connection is retried (try_limit) on a fresh one."""
    calls = []

    def flaky(attrs):
        calls.append(1)
        return None if len(calls) == 1 else "action=OK\n\n"

    async def main():
        server = PolicyServer(flaky)
        endpoint = await server.start_inet()
        client = PolicyClient()
        options = PolicyOptions(endpoint, timeout=5, retry_delay=0)
        try:
            return await client.request(options, {"request": "smtpd_access_policy"}), server
        finally:
            await client.close()
            await server.stop()

    action, server = asyncio.run(main())
    assert action == "OK" and server.connections == 2


def test_answer_without_action_is_a_policy_error():
    """A reply with no action= attribute is an error, not an accept."""
    async def main():
        server = PolicyServer(lambda attrs: "foo=bar\n\n")
        endpoint = await server.start_inet()
        client = PolicyClient()
        try:
            await client.request(PolicyOptions(endpoint, timeout=5), {"request": "x"})
        finally:
            await client.close()
            await server.stop()

    with pytest.raises(PolicyError, match="without action"):
        asyncio.run(main())


def test_request_limit_opens_a_new_connection():
    """smtpd_policy_service_request_limit closes a connection after N requests."""
    async def main():
        server = PolicyServer(lambda attrs: "action=DUNNO\n\n")
        endpoint = await server.start_inet()
        client = PolicyClient()
        options = PolicyOptions(endpoint, timeout=5, request_limit=1)
        try:
            for _ in range(3):
                await client.request(options, {"request": "x"})
        finally:
            await client.close()
            await server.stop()
        return server

    assert asyncio.run(main()).connections == 3


def test_bad_settings_in_braces_are_a_server_error():
    """An unknown per-service setting gives 451 4.3.5, never an accept."""
    with pytest.raises(ValueError, match="unknown setting"):
        parse_policy_spec("{ inet:127.0.0.1:1, colour=blue }", PolicyOptions(""))
    r = restrictions(policy_client=PolicyClient(),
                     smtpd_recipient_restrictions="check_policy_service { inet:127.0.0.1:1, "
                                                  "colour=blue }, reject_unauth_destination")
    assert str(asyncio.run(r.check_rcpt(facts())).reply) == "451 4.3.5 Server configuration error"
