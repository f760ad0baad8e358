"""`habit-coach run`: every configured chat adapter, one engine and one scheduler, one process.

Each adapter connects, then hands the engine its :class:`~habits.delivery.Sender`; the sweep
starts once all are up, so no nudge is claimed for a platform nobody can deliver to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from bot.adapters import AdapterError, ChatAdapter
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def configured_adapters(runtime: Runtime) -> list[ChatAdapter]:
    """One adapter per platform whose credentials the settings carry."""
    settings = runtime.settings
    adapters: list[ChatAdapter] = []
    if settings.discord_configured:
        from bot.discord import DiscordAdapter

        adapters.append(DiscordAdapter(runtime))
    if settings.slack_configured:
        from bot.slack import SlackAdapter

        adapters.append(SlackAdapter(runtime))
    return adapters


async def serve(
    runtime: Runtime,
    adapters: Sequence[ChatAdapter],
    stop: asyncio.Event | None = None,
) -> int:
    """Start the adapters, tick the scheduler, and run until ``stop`` is set or one dies.

    Returns the process exit code: 0 after a requested stop, 1 when an adapter failed.
    """
    stop = stop or asyncio.Event()
    started: list[ChatAdapter] = []
    try:
        for adapter in adapters:
            try:
                await adapter.start()
            except AdapterError as exc:
                print(f"habit-coach: {adapter.name} could not start: {exc}", file=sys.stderr)
                return 1
            started.append(adapter)
            print(f"habit-coach: {adapter.name} is connected.", flush=True)
        runtime.start_scheduler({a.platform: a.sender for a in started}, runtime.coach.now())
        watchers = [asyncio.ensure_future(a.wait_closed()) for a in started]
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait([stopper, *watchers], return_when=asyncio.FIRST_COMPLETED)
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


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` so `serve` shuts down cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
