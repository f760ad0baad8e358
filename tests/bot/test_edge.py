"""The HTTP server's edge, over real sockets on 127.0.0.1: deadlines for a request's head, body
and idle keep-alive, the cap on connections, and handler failures that end as one log line.

The limits are set small (tenths of a second) so nothing waits for real ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import bootstrap
from bot.edge import AddressRateLimit, HttpLimits
from bot.ops import OpsServer
from bot.runtime import Runtime
from bot.settings import Settings
from habits.model import ManualClock
from tests.conftest import MONDAY
from tests.fakes.slack_server import wait_until

LIMITS = HttpLimits(header_timeout=0.2, body_timeout=0.3, keepalive_timeout=0.4, max_connections=5)


@pytest.fixture
def runtime(sqlite_url: str) -> Iterator[Runtime]:
    settings = Settings(_env_file=None, database_url=sqlite_url)  # type: ignore[call-arg]
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    yield runtime
    runtime.close()


async def read_body(request: web.Request) -> web.StreamResponse:
    return web.Response(text=f"{len(await request.read())} bytes\n")


async def fail(request: web.Request) -> web.StreamResponse:
    raise RuntimeError("a bug in a handler")


async def serve(runtime: Runtime, limits: HttpLimits) -> OpsServer:
    server = OpsServer(runtime, "127.0.0.1", 0, limits=limits)
    await server.start()
    server.add_route("POST", "/body", read_body)
    server.add_route("GET", "/fail", fail)
    return server


@pytest.fixture
async def server(runtime: Runtime) -> AsyncIterator[OpsServer]:
    server = await serve(runtime, LIMITS)
    yield server
    await server.close()


async def connect(server: OpsServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def closed_after(reader: asyncio.StreamReader) -> tuple[float, bytes]:
    """Seconds until the server closes the connection, and what it sent before."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):
        received = await reader.read()
    return loop.time() - started, received


async def healthz(server: OpsServer) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.port}/healthz") as answer,
    ):
        return answer.status


# --- deadlines -------------------------------------------------------------------------------


async def test_a_connection_that_sends_no_request_head_is_closed(server: OpsServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends

    waited, received = await closed_after(reader)

    assert LIMITS.header_timeout * 0.9 <= waited < LIMITS.header_timeout + 1
    assert received == b""
    writer.close()


async def test_a_head_trickled_a_byte_at_a_time_is_still_cut_off(server: OpsServer) -> None:
    reader, writer = await connect(server)

    async def trickle() -> None:
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 1000:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.02)

    trickling = asyncio.create_task(trickle())
    try:
        waited, _ = await closed_after(reader)
    finally:
        trickling.cancel()
        writer.close()

    assert waited < LIMITS.header_timeout + 1


async def test_a_body_that_does_not_arrive_is_cut_off_with_one_quiet_line(
    server: OpsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await connect(server)
    writer.write(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")

    waited, received = await closed_after(reader)

    assert LIMITS.body_timeout * 0.9 <= waited < LIMITS.body_timeout + 1
    assert b" 200 " not in received
    writer.close()
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert len([r for r in caplog.records if r.name.startswith(("bot.", "aiohttp"))]) <= 2


async def test_an_idle_kept_alive_connection_is_closed(server: OpsServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(5):
        answer = await reader.readuntil(b'"ok"}')
    assert answer.startswith(b"HTTP/1.1 200")

    waited, _ = await closed_after(reader)

    assert LIMITS.keepalive_timeout * 0.9 <= waited < LIMITS.keepalive_timeout + 1
    writer.close()


async def test_a_complete_request_is_answered_well_within_the_deadlines(
    server: OpsServer,
) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
    async with asyncio.timeout(5):
        answer = await reader.readuntil(b"bytes\n")
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"10 bytes\n")
    writer.close()


# --- the cap -----------------------------------------------------------------------------------


async def test_at_the_cap_a_new_connection_replaces_a_slow_one_and_probes_answer(
    runtime: Runtime,
) -> None:
    limits = HttpLimits(header_timeout=30, body_timeout=30, keepalive_timeout=30, max_connections=5)
    server = await serve(runtime, limits)
    slow = [await connect(server) for _ in range(20)]
    try:
        for _, writer in slow:
            writer.write(b"GET /healthz HTTP/1.1\r\n")  # half a head each, held open
            await writer.drain()

        statuses = [await healthz(server) for _ in range(3)]

        assert statuses == [200, 200, 200]
        assert server.guard.open_connections <= limits.max_connections
    finally:
        for _, writer in slow:
            writer.close()
        await server.close()


async def test_at_the_cap_with_every_connection_in_a_request_a_new_one_gets_503(
    runtime: Runtime,
) -> None:
    limits = HttpLimits(header_timeout=30, body_timeout=30, keepalive_timeout=30, max_connections=2)
    server = await serve(runtime, limits)
    busy = [await connect(server) for _ in range(2)]
    try:
        for _, writer in busy:  # each head arrives whole; each body waits
            writer.write(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
            await writer.drain()
        await wait_until(lambda: server.guard.connections_in_a_request == 2)  # heads read

        reader, writer = await connect(server)
        _, received = await closed_after(reader)

        assert received.startswith(b"HTTP/1.1 503")
        writer.close()
    finally:
        for _, writer in busy:
            writer.close()
        await server.close()


# --- failures at the edge ----------------------------------------------------------------------


async def test_a_failing_handler_answers_500_and_logs_one_line_without_a_traceback(
    server: OpsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as session:
        for _ in range(50):
            async with session.get(f"http://127.0.0.1:{server.port}/fail") as answer:
                assert answer.status == 500

    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1
    assert lines[0].exc_info is None
    assert "RuntimeError: a bug in a handler at " in lines[0].getMessage()
    assert "Traceback" not in caplog.text
    assert await healthz(server) == 200


def test_an_address_gets_its_burst_then_one_request_per_interval() -> None:
    now = [0.0]
    limit = AddressRateLimit(3, 10.0, clock=lambda: now[0])

    assert [limit.retry_after("a") for _ in range(4)] == [0, 0, 0, 10]
    assert limit.retry_after("b") == 0  # another address has its own bucket
    now[0] = 10.0
    assert limit.retry_after("a") == 0
    assert limit.retry_after("a") == 10
