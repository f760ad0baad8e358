"""The one HTTP server of `habit-coach run`: health, readiness, metrics, and Slack's requests.

``/healthz`` answers while the event loop does; ``/readyz`` only when the database takes a
write and every adapter is connected; ``/metrics`` is the Prometheus text format. In Slack HTTP
mode the Slack adapter adds ``/slack/events`` and the OAuth pages here, so a deployment opens one
port. Every handler's failure ends at the edge as one throttled log line and a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from aiohttp import web

from bot.edge import ConnectionGuard, GuardedSite, HttpLimits
from bot.logs import Throttled, redact
from bot.metrics import CONTENT_TYPE
from bot.runtime import Runtime

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DATABASE_TIMEOUT = 2.0  # seconds the readiness write may take before the database counts as down
# Readiness proves a write commits: each replica upserts its own heartbeat record. A probe
# every few seconds reuses an answer younger than PROBE_CACHE_SECONDS; heartbeats of replicas
# gone for STALE_HEARTBEAT are purged, a few at a time, at most once per that interval.
HEARTBEAT_KIND = "ops-heartbeat"
PROBE_CACHE_SECONDS = 2.0
STALE_HEARTBEAT = timedelta(hours=1)
PURGE_BATCH = 100
# SQLSTATEs and SQLite result codes that say why a database refuses writes.
READ_ONLY = ("25006", "SQLITE_READONLY")
DISK_FULL = ("53100", "SQLITE_FULL")


def replica_name() -> str:
    """This process, as delivery leases name it (host name and pid)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def describe_database_error(exc: BaseException) -> str:
    """Why the database refused, in a few words: "read-only", "disk full" or the error class,
    then the driver's first line (passwords redacted)."""
    original = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
    first_line = (str(exc).splitlines() or [""])[0][:200]
    detail = redact(f"{type(exc).__name__}: {first_line}")
    if isinstance(code, str) and code.startswith(READ_ONLY):
        return f"read-only ({detail})"
    if code in DISK_FULL or "disk is full" in first_line:
        return f"disk full ({detail})"
    return detail


def describe_failure(exc: BaseException) -> str:
    """An exception on one line: its class, first line and the innermost frame it came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    first_line = (str(exc).splitlines() or [""])[0][:200]
    return redact(f"{type(exc).__name__}: {first_line}{where}")


class Connectable(Protocol):
    """What readiness asks of an adapter (bot.adapters.ChatAdapter has it)."""

    name: str

    def connected(self) -> bool: ...


class OpsServer:
    """An aiohttp server whose routes can be added while it runs.

    aiohttp freezes its router when the server starts, but the Slack adapter knows its routes
    only once it starts, after this server; so one catch-all route looks requests up in a table
    of our own, which adapters fill in (and empty again when they close).
    """

    def __init__(
        self,
        runtime: Runtime,
        host: str,
        port: int,
        *,
        database_timeout: float = DATABASE_TIMEOUT,
        probe_cache_seconds: float = PROBE_CACHE_SECONDS,
        limits: HttpLimits | None = None,
    ):
        self.runtime = runtime
        self.host = host
        self.requested_port = port
        self.port: int | None = None  # the port actually bound, once started
        self.database_timeout = database_timeout
        self.probe_cache_seconds = probe_cache_seconds
        self.limits = limits or HttpLimits.from_settings(runtime.settings)
        self.guard = ConnectionGuard(self.limits)
        self.replica = replica_name()
        self._adapters: list[Connectable] = []
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/healthz"): self._healthz,
            ("GET", "/readyz"): self._readyz,
            ("GET", "/metrics"): self._metrics,
        }
        self.stopping = False  # set when shutdown begins: not ready from then on
        self._runner: web.AppRunner | None = None
        self._probe: asyncio.Future[Any] | None = None
        self._database: tuple[float, str] | None = None  # (when, state) of the last probe
        self._next_purge = 0.0
        self._beats = 0
        self._failures = Throttled(log)  # handler errors: one line a minute at most
        self._hang_ups = Throttled(log)  # clients that went away mid-request

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on host:port; raises OSError (port taken, address unknown) for the caller."""
        app = web.Application(middlewares=[self._edge])
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.limits.keepalive_timeout,
        )
        await self._runner.setup()
        site = GuardedSite(self._runner, self.host, self.requested_port, self.guard)
        try:
            await site.start()
        except BaseException:
            await self.close()
            raise
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.requested_port
        log.info("serving /healthz, /readyz and /metrics on %s:%s", self.host, self.port)

    @property
    def serving(self) -> bool:
        return self._runner is not None and self.port is not None

    async def close(self) -> None:
        """Stop listening; safe to call twice."""
        runner, self._runner = self._runner, None
        self.port = None
        if runner is not None:
            await runner.cleanup()

    # --- what others add -------------------------------------------------------------------------

    def watch(self, adapters: Sequence[Connectable]) -> None:
        """The adapters /readyz waits for (every configured one, connected or not yet)."""
        self._adapters = list(adapters)

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        key = (method.upper(), path)
        if key in self._routes:
            raise ValueError(f"{method} {path} is already served")
        self._routes[key] = handler

    def remove_route(self, method: str, path: str) -> None:
        self._routes.pop((method.upper(), path), None)

    # --- requests --------------------------------------------------------------------------------

    @web.middleware
    async def _edge(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Where every request starts and ends: the connection guard hears of both, and no
        handler's exception goes further (aiohttp would log each one's full traceback)."""
        self.guard.request_started(request)
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except (ConnectionError, web.RequestPayloadError) as exc:
            self._hang_ups.log(
                logging.INFO,
                "%s %s: the client went away mid-request (%s)",
                request.method,
                request.path,
                type(exc).__name__,
            )
            return web.Response(status=400, text="Incomplete request\n")
        except Exception as exc:
            self._failures.log(
                logging.ERROR,
                "%s %s failed: %s",
                request.method,
                request.path,
                describe_failure(exc),
            )
            return web.Response(status=500, text="Internal error\n")
        finally:
            self.guard.request_finished(request)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self._routes.get((request.method, request.path))
        if handler is None and request.method == "HEAD":
            handler = self._routes.get(("GET", request.path))
        if handler is not None:
            return await handler(request)
        if any(path == request.path for _, path in self._routes):
            allowed = sorted({method for method, path in self._routes if path == request.path})
            return web.Response(status=405, headers={"Allow": ", ".join(allowed)})
        return web.Response(status=404, text="Not found\n")

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        # Answering at all is the check: a blocked event loop answers nothing.
        return _json({"status": "ok"}, 200)

    async def _readyz(self, request: web.Request) -> web.StreamResponse:
        checks = await self.readiness()
        not_ready = [name for name, state in checks.items() if state != "ok"]
        body: dict[str, Any] = {"status": "not ready" if not_ready else "ready", "checks": checks}
        if not_ready:
            body["not_ready"] = not_ready
        return _json(body, 503 if not_ready else 200)

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        metrics = self.runtime.metrics
        if metrics is None:
            return web.Response(status=404, text="Metrics are not collected in this process.\n")
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    # --- readiness -------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, str]:
        """Each check's state: "ok", or why not, in words for whoever reads the probe."""
        checks = {"database": await self._database_state()}
        if self.stopping:
            checks["process"] = "shutting down"
        if not self._adapters:
            checks["adapters"] = "none started yet"
        for adapter in self._adapters:
            checks[adapter.name] = "ok" if adapter.connected() else "not connected"
        return checks

    async def _database_state(self) -> str:
        """This replica's heartbeat upserted in one short transaction through the engine's own
        threads, cut off after a moment: a database that answers reads but refuses writes
        (read-only, disk full) is not ready. An answer is reused for ``probe_cache_seconds``.

        At most one probe is in flight: a database that hangs would otherwise collect one
        stuck worker thread per scrape, and starve the engine of its threads.
        """
        now = asyncio.get_running_loop().time()
        if self._database is not None and now - self._database[0] < self.probe_cache_seconds:
            return self._database[1]
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self.runtime.call(self._write_heartbeat, now))
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), self.database_timeout)
        except TimeoutError:
            state = f"no answer within {self.database_timeout:g} s"
        except Exception as exc:  # any failure of the write is the answer we report
            state = describe_database_error(exc)
        else:
            state = "ok"
        self._database = (asyncio.get_running_loop().time(), state)
        return state

    def _write_heartbeat(self, now: float) -> None:
        """On a database thread: the heartbeat, and now and then the purge of stale ones."""
        records = self.runtime.records
        # A value that changes each time: SQLite skips rewriting a row that would not change.
        self._beats += 1
        records.put(HEARTBEAT_KIND, self.replica, {"replica": self.replica, "beat": self._beats})
        if now >= self._next_purge:
            self._next_purge = now + STALE_HEARTBEAT.total_seconds()
            records.purge(HEARTBEAT_KIND, STALE_HEARTBEAT, PURGE_BATCH)


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, sort_keys=True),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
