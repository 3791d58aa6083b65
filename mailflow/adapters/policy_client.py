"""The socket side of ``check_policy_service``: talk to a policy server.

This module owns the connections to SMTPD policy servers over ``inet:host:port``
and ``unix:path`` sockets (a relative ``unix:private/policy`` is under
``queue_directory``, as in Postfix). A connection is kept open between
requests and closed after ``max_idle`` seconds without use, after
``max_ttl`` seconds of life, or after ``request_limit`` requests; a request
that fails is tried again on a new connection up to ``try_limit`` times,
``retry_delay`` apart (Postfix's attr_clnt). Every wait is bounded by
``timeout``. A request that still has no answer raises
:class:`~mailflow.smtpd.policy.PolicyError`; the restriction then uses the
default action. The protocol itself is :mod:`mailflow.smtpd.policy`.

>>> client = PolicyClient(queue_directory="/var/spool/mailflow")
>>> client.address("unix:private/policy"), client.address("inet:[::1]:9998")
(('unix', '/var/spool/mailflow/private/policy'), ('inet', ('::1', 9998)))
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Awaitable, Callable, Mapping

import attrs

from mailflow.smtpd.policy import PolicyError, PolicyOptions, encode_request, parse_response

__all__ = ["PolicyClient", "run_with_client"]

#: The longest policy response read (Postfix limits attribute text too).
MAX_RESPONSE = 64 * 1024


@attrs.define
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened: float
    last_used: float
    requests: int = 0

    def close(self) -> None:
        self.writer.close()


class PolicyClient:
    """Connections to policy servers, one kept per endpoint.

    Safe to share between sessions of one event loop: requests to the same
    endpoint take turns on its connection (a policy server answers one
    request at a time per connection).
    """

    def __init__(self, *, queue_directory: str = ".", clock=time.monotonic) -> None:
        self.queue_directory = queue_directory
        self._clock = clock
        self._connections: dict[str, _Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"PolicyClient({len(self._connections)} open)"

    def address(self, endpoint: str) -> tuple[str, object]:
        """``("unix", path)`` or ``("inet", (host, port))`` for an endpoint.

        >>> PolicyClient().address("inet:127.0.0.1:10031")
        ('inet', ('127.0.0.1', 10031))
        """
        kind, sep, rest = endpoint.partition(":")
        if not sep or kind not in ("inet", "unix") or not rest:
            raise PolicyError(f"{endpoint}: expected inet:host:port or unix:pathname")
        if kind == "unix":
            return "unix", rest if os.path.isabs(rest) else os.path.join(self.queue_directory, rest)
        host, _, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not port.isdigit():
            raise PolicyError(f"{endpoint}: bad port {port!r}")
        return "inet", (host or "localhost", int(port))

    async def _open(self, endpoint: str, timeout: float) -> _Connection:
        kind, where = self.address(endpoint)
        if kind == "unix":
            coro = asyncio.open_unix_connection(str(where))
        else:
            host, port = where  # type: ignore[misc]
            coro = asyncio.open_connection(host, port)
        reader, writer = await asyncio.wait_for(coro, timeout)
        now = self._clock()
        return _Connection(reader, writer, now, now)

    def _usable(self, conn: _Connection, options: PolicyOptions) -> bool:
        now = self._clock()
        if conn.reader.at_eof() or conn.writer.is_closing():
            return False
        if options.max_idle and now - conn.last_used >= options.max_idle:
            return False
        if options.max_ttl and now - conn.opened >= options.max_ttl:
            return False
        return not (options.request_limit and conn.requests >= options.request_limit)

    async def _once(self, options: PolicyOptions, payload: bytes) -> str:
        endpoint = options.endpoint
        conn = self._connections.get(endpoint)
        if conn is not None and not self._usable(conn, options):
            self._connections.pop(endpoint, None)
            conn.close()
            conn = None
        if conn is None:
            conn = self._connections[endpoint] = await self._open(endpoint, options.timeout)
        try:
            conn.writer.write(payload)
            await asyncio.wait_for(conn.writer.drain(), options.timeout)
            data = await asyncio.wait_for(conn.reader.readuntil(b"\n\n"), options.timeout)
        except BaseException:
            self._connections.pop(endpoint, None)
            conn.close()
            raise
        conn.requests += 1
        conn.last_used = self._clock()
        return parse_response(data)

    async def request(self, options: PolicyOptions, attributes: Mapping[str, str]) -> str:
        """Send one request; return the ``action`` text, or raise PolicyError."""
        payload = encode_request(attributes)
        lock = self._locks.setdefault(options.endpoint, asyncio.Lock())
        last: BaseException | None = None
        async with lock:
            for attempt in range(max(1, options.try_limit)):
                if attempt:
                    await asyncio.sleep(options.retry_delay)
                try:
                    return await self._once(options, payload)
                except PolicyError as exc:
                    last = exc            # a malformed answer: asking again won't help
                    break
                except (OSError, EOFError, asyncio.TimeoutError,
                        asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    last = exc
        raise PolicyError(f"problem talking to server {options.endpoint}: "
                          f"{type(last).__name__}: {last}".rstrip(": "))

    async def close(self) -> None:
        """Close every open connection (on reload or shutdown)."""
        conns, self._connections = list(self._connections.values()), {}
        for conn in conns:
            conn.close()
            try:
                await conn.writer.wait_closed()
            except OSError:
                pass


def run_with_client(func: Callable[["PolicyClient"], Awaitable[Any]], *,
                    queue_directory: str = ".") -> Any:
    """Run ``func(client)`` to completion in a new event loop with a fresh
    :class:`PolicyClient`, closing its connections at the end: what a
    one-shot command (``mailflow explain --smtpd``) needs.

    >>> run_with_client(lambda client: asyncio.sleep(0, result=repr(client)))
    'PolicyClient(0 open)'
    """
    async def main() -> Any:
        client = PolicyClient(queue_directory=queue_directory)
        try:
            return await func(client)
        finally:
            await client.close()

    return asyncio.run(main())
