"""Limits at the HTTP server's edge: deadlines and a cap on client connections, and per-address
rate limits, so slow, half-sent or repeated requests cannot hold the server or grow its state.

aiohttp's server has an idle keep-alive timeout but no deadline for a request's head or body;
:class:`ConnectionGuard` wraps aiohttp's own protocol object per connection to add them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bot.logs import Throttled

log = logging.getLogger(__name__)

REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class HttpTimeouts(Protocol):
    """The settings the limits come from (bot.settings.Settings has them)."""

    http_header_timeout_seconds: float
    http_body_timeout_seconds: float
    http_keepalive_timeout_seconds: float
    http_max_connections: int


@dataclass(frozen=True)
class HttpLimits:
    """How long a client may take, and how many may be connected at once."""

    header_timeout: float = 10.0  # from connecting (or a kept-alive request's first byte)
    body_timeout: float = 30.0  # from the request's head to the last byte of its body
    keepalive_timeout: float = 75.0  # idle between requests on one connection
    max_connections: int = 500

    @classmethod
    def from_settings(cls, settings: HttpTimeouts) -> HttpLimits:
        return cls(
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
            keepalive_timeout=settings.http_keepalive_timeout_seconds,
            max_connections=settings.http_max_connections,
        )


class _Connection(asyncio.Protocol):
    """One client connection: aiohttp's protocol inside, deadlines around it."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard):
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.Transport | None = None
        self.admitted = False
        self.busy = False  # a request's head has arrived and its handler has not returned
        self._deadline: asyncio.TimerHandle | None = None

    # --- what asyncio calls ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.guard.admit(self):
            transport.write(REFUSED)
            transport.close()
            return
        self.admitted = True
        self.inner.connection_made(transport)
        self.arm(self.guard.limits.header_timeout, "no complete request head")

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if not self.busy and self._deadline is None:
            # The first byte of the next request on a kept-alive connection.
            self.arm(self.guard.limits.header_timeout, "no complete request head")
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        self.guard.forget(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # --- deadlines -------------------------------------------------------------------------------

    def arm(self, seconds: float, why: str, unless: Callable[[], bool] | None = None) -> None:
        """Close the connection in ``seconds`` (``why`` for the log), unless ``unless()`` is
        true by then or another deadline replaces this one."""
        self.disarm()
        self._deadline = asyncio.get_running_loop().call_later(
            seconds, self._expire, seconds, why, unless
        )

    def disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, seconds: float, why: str, unless: Callable[[], bool] | None) -> None:
        self._deadline = None
        if unless is not None and unless():
            return
        self.guard.closed_slow(self, f"{why} within {seconds:g} s")
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class ConnectionGuard:
    """Deadlines for each connection's request head and body, and a cap on connections.

    At the cap a new connection takes the place of the oldest one that is not in a request
    (idle, or still sending a head): so a flood of slow clients cannot keep out the probes,
    whose requests arrive whole at once. With every connection in a request, the new one is
    answered 503.
    """

    def __init__(self, limits: HttpLimits):
        self.limits = limits
        self._open: dict[_Connection, None] = {}  # in order of arrival
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}
        self._slow = Throttled(log)

    def protocol_factory(self, make_inner: Callable[[], asyncio.Protocol]) -> Any:
        return lambda: _Connection(make_inner(), self)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    @property
    def connections_in_a_request(self) -> int:
        return sum(1 for connection in self._open if connection.busy)

    def admit(self, connection: _Connection) -> bool:
        if len(self._open) >= self.limits.max_connections:
            waiting = next((c for c in self._open if not c.busy), None)
            if waiting is None:
                self._slow.log(
                    logging.WARNING, "refused a connection: %d are open", len(self._open)
                )
                return False
            self.forget(waiting)
            waiting.disarm()
            waiting.close()
        self._open[connection] = None
        assert connection.transport is not None
        self._by_transport[connection.transport] = connection
        return True

    def forget(self, connection: _Connection) -> None:
        self._open.pop(connection, None)
        if connection.transport is not None:
            self._by_transport.pop(connection.transport, None)

    def closed_slow(self, connection: _Connection, why: str) -> None:
        peer = connection.transport.get_extra_info("peername") if connection.transport else None
        address = peer[0] if isinstance(peer, tuple) else "a client"
        self._slow.log(logging.INFO, "closed the connection from %s: %s", address, why)

    # --- what the server's middleware tells it ---------------------------------------------------

    def request_started(self, request: web.BaseRequest) -> None:
        """The request's head has arrived: its body now has ``body_timeout`` to follow."""
        connection = self._by_transport.get(request.transport) if request.transport else None
        if connection is None:
            return
        connection.busy = True
        body = request.content
        if body.is_eof():
            connection.disarm()
        else:
            connection.arm(self.limits.body_timeout, "the request body did not arrive", body.is_eof)

    def request_finished(self, request: web.BaseRequest) -> None:
        connection = self._by_transport.get(request.transport) if request.transport else None
        if connection is not None:
            connection.busy = False
            connection.disarm()


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, with each connection's protocol wrapped by a :class:`ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard):
        super().__init__(runner)
        self._host = host
        self._port = port
        self._guard = guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server), self._host, self._port, reuse_address=True
        )


class AddressRateLimit:
    """A token bucket per client address: ``burst`` requests at once, then one per ``every``
    seconds. At most ``max_addresses`` are remembered; past that, full buckets are dropped."""

    def __init__(
        self,
        burst: int,
        every: float,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.burst = burst
        self.every = every
        self.max_addresses = max_addresses
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def retry_after(self, address: str) -> int:
        """0 if the address may go ahead now (and a token is spent), else whole seconds to wait."""
        now = self._clock()
        tokens, at = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.every)
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return max(1, math.ceil((1 - tokens) * self.every))
        self._buckets[address] = (tokens - 1, now)
        if len(self._buckets) > self.max_addresses:
            self._forget_full(now)
        return 0

    def _forget_full(self, now: float) -> None:
        horizon = self.burst * self.every  # a bucket untouched this long is full again
        self._buckets = {a: v for a, v in self._buckets.items() if now - v[1] < horizon}
        while len(self._buckets) > self.max_addresses:  # all recent: forget the oldest
            self._buckets.pop(next(iter(self._buckets)))
