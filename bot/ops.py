"""The one HTTP server of `habit-coach run`: health, readiness, metrics, and Slack's requests.

``/healthz`` answers while the event loop does; ``/readyz`` only when the database answers and
every adapter is connected; ``/metrics`` is the Prometheus text format. In Slack HTTP mode the
Slack adapter adds ``/slack/events`` and the OAuth pages here, so a deployment opens one port.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

from bot.logs import redact
from bot.metrics import CONTENT_TYPE
from bot.runtime import Runtime

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DATABASE_TIMEOUT = 2.0  # seconds the readiness query may take before the database counts as down
PROBE_KIND, PROBE_KEY = "ops", "readiness-probe"  # a record nobody writes: an indexed miss


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
    ):
        self.runtime = runtime
        self.host = host
        self.requested_port = port
        self.port: int | None = None  # the port actually bound, once started
        self.database_timeout = database_timeout
        self._adapters: list[Connectable] = []
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/healthz"): self._healthz,
            ("GET", "/readyz"): self._readyz,
            ("GET", "/metrics"): self._metrics,
        }
        self.stopping = False  # set when shutdown begins: not ready from then on
        self._runner: web.AppRunner | None = None
        self._probe: asyncio.Future[Any] | None = None

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on host:port; raises OSError (port taken, address unknown) for the caller."""
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
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
        """A trivial indexed read through the engine's own threads, cut off after a moment.

        At most one probe is in flight: a database that hangs would otherwise collect one
        stuck worker thread per scrape, and starve the engine of its threads.
        """
        if self._probe is None or self._probe.done():
            records = self.runtime.records
            self._probe = asyncio.ensure_future(
                self.runtime.call(records.get, PROBE_KIND, PROBE_KEY)
            )
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), self.database_timeout)
        except TimeoutError:
            return f"no answer within {self.database_timeout:g} s"
        except Exception as exc:  # any failure of the query is the answer we report
            first_line = (str(exc).splitlines() or [""])[0][:200]
            return redact(f"{type(exc).__name__}: {first_line}")
        return "ok"


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, sort_keys=True),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
