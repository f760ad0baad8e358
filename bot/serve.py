"""`habit-coach run`: every configured chat adapter, one engine and one scheduler, one process.

The HTTP server (health, readiness, metrics, Slack's requests) listens first; each adapter
connects, then hands the engine its :class:`~habits.delivery.Sender`; the sweep starts once all
are up, so no nudge is claimed for a platform nobody can deliver to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from bot.adapters import AdapterError, ChatAdapter
from bot.ops import OpsServer
from bot.runtime import Runtime

log = logging.getLogger(__name__)

START_CANCEL_GRACE = 5.0  # seconds a cancelled adapter start may take to unwind


def configured_adapters(runtime: Runtime, server: OpsServer | None = None) -> list[ChatAdapter]:
    """One adapter per platform whose credentials the settings carry; Slack's HTTP routes go
    on ``server``."""
    settings = runtime.settings
    adapters: list[ChatAdapter] = []
    if settings.discord_configured:
        from bot.discord import DiscordAdapter

        adapters.append(DiscordAdapter(runtime))
    if settings.slack_configured:
        from bot.slack import SlackAdapter

        adapters.append(SlackAdapter(runtime, server=server))
    return adapters


async def serve(
    runtime: Runtime,
    adapters: Sequence[ChatAdapter],
    stop: asyncio.Event | None = None,
    server: OpsServer | None = None,
) -> int:
    """Start ``server``, then the adapters, tick the scheduler, and run until ``stop`` is set
    or an adapter dies; the server closes last.

    Returns the process exit code: 0 after a requested stop, 1 when an adapter or the server
    failed.
    """
    stop = stop or asyncio.Event()
    started: list[ChatAdapter] = []
    if server is not None:
        server.watch(adapters)
        try:
            await server.start()
        except OSError as exc:
            print(
                f"habit-coach: cannot listen on {server.host}:{server.requested_port} "
                f"(HTTP_HOST/HTTP_PORT): {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    try:
        for adapter in adapters:
            try:
                if not await _start_unless_stopped(adapter, stop):
                    print(f"habit-coach: stopped while {adapter.name} was starting.", flush=True)
                    return 0
            except AdapterError as exc:
                print(f"habit-coach: {adapter.name} could not start: {exc}", file=sys.stderr)
                return 1
            started.append(adapter)
            print(f"habit-coach: {adapter.name} is connected.", flush=True)
        if server is not None:
            print(f"habit-coach: HTTP is served on port {server.port}.", flush=True)
        runtime.start_scheduler({a.platform: a.sender for a in started})
        watchers = [asyncio.ensure_future(a.wait_closed()) for a in started]
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait([stopper, *watchers], return_when=asyncio.FIRST_COMPLETED)
        if server is not None:
            server.stopping = True  # /readyz says so at once: traffic moves elsewhere
        for task in (stopper, *watchers):
            task.cancel()
        if stopper in done:
            return 0
        log.error("an adapter stopped on its own; shutting down")
        return 1
    finally:
        await runtime.stop_scheduler_and_drain()
        for adapter in reversed(adapters):
            try:
                await adapter.close()
            except Exception:  # closing the others matters more than this one's error
                log.exception("closing %s failed", adapter.name)
        if server is not None:
            await server.close()


async def _start_unless_stopped(adapter: ChatAdapter, stop: asyncio.Event) -> bool:
    """Start ``adapter``, unless ``stop`` is set first: then cancel the start, return False.

    A start can take long (Discord's login, command sync and gateway: up to a minute and a
    half), longer than a container platform waits between SIGTERM and SIGKILL.
    """
    if stop.is_set():
        return False
    starting = asyncio.ensure_future(adapter.start())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([starting, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not starting.done():
            starting.cancel()
            # An adapter closes what it opened when its start is cancelled; serve closes every
            # adapter afterwards anyway, so a start slow to unwind is not waited for long.
            await asyncio.wait([starting], timeout=START_CANCEL_GRACE)
            if not starting.done():
                log.warning(
                    "%s did not stop starting within %.0f s", adapter.name, START_CANCEL_GRACE
                )
    if stop.is_set():
        if starting.done() and not starting.cancelled() and starting.exception() is not None:
            log.info("%s failed to start during shutdown: %s", adapter.name, starting.exception())
        return False
    starting.result()  # AdapterError for serve to report
    return True


def install_stop_signals(stop: asyncio.Event) -> list[signal.Signals]:
    """SIGINT and SIGTERM set ``stop`` so `serve` shuts down cleanly.

    Returns the list the signals are appended to as they arrive, so the caller can tell an
    interrupt (Ctrl-C) from a service manager's stop.
    """
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, on_signal, sig)
    return received
