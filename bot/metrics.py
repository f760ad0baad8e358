"""The process's Prometheus metrics: commands, deliveries, sweeps, rate limits, uptime.

One :class:`Metrics` per process, with a registry of its own (not prometheus_client's global
one), so tests and several runtimes in one interpreter never share counters. It is the delivery
loop's observer (``habits.delivery.DeliveryObserver``) and the engine's command observer.
"""

from __future__ import annotations

import platform as python_platform
import time
from collections.abc import Callable
from datetime import datetime
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
COMMAND_OUTCOMES = ("ok", "refused", "error")
DELIVERY_OUTCOMES = ("sent", "failed", "skipped", "unreachable", "retry")
RATE_LIMIT_SCOPES = ("global", "route", "workspace", "channel")
OTHER = "other"  # what an unexpected label value is counted as: label values stay bounded


def _version() -> str:
    try:
        return metadata.version("habit-coach")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _bounded(value: str, known: tuple[str, ...]) -> str:
    return value if value in known else OTHER


class Metrics:
    """Counters and gauges of one `habit-coach run` process, rendered for a Prometheus scrape.

    ``now`` is the engine's clock: the sweep lag compares it with the moment the last sweep
    looked at, which the engine took from that same clock.
    """

    def __init__(self, now: Callable[[], datetime], *, process_collector: bool = True):
        self._now = now
        self._started = time.monotonic()
        self._created = now()
        self._last_sweep: datetime | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        if process_collector:  # CPU, memory, open files of this process (Linux /proc)
            ProcessCollector(registry=self.registry)
        self._info(self.registry)
        self._commands = Counter(
            "habit_coach_commands",
            "Commands members sent, by platform, command and outcome (ok, refused, error).",
            ["platform", "kind", "outcome"],
            registry=self.registry,
        )
        self._deliveries = Counter(
            "habit_coach_deliveries",
            "Nudges and check-ins settled, by platform, kind and outcome.",
            ["platform", "kind", "outcome"],
            registry=self.registry,
        )
        self._rate_limited = Counter(
            "habit_coach_rate_limited",
            "429 answers from a chat platform, by platform and the scope of the limit.",
            ["platform", "scope"],
            registry=self.registry,
        )
        self._swept = Counter(
            "habit_coach_swept_members",
            "Members the sweep advanced (one nudge or check-in logged for each).",
            registry=self.registry,
        )
        self._ticks = Counter(
            "habit_coach_ticks", "Sweep-and-deliver ticks finished.", registry=self.registry
        )
        self._backlog = Gauge(
            "habit_coach_delivery_backlog",
            "Deliveries claimable at the end of the last tick (pending and due).",
            registry=self.registry,
        )
        lag = Gauge(
            "habit_coach_sweep_lag_seconds",
            "Seconds since the moment the last finished sweep looked at (since start-up "
            "before the first sweep), computed at scrape time.",
            registry=self.registry,
        )
        lag.set_function(self.sweep_lag_seconds)
        uptime = Gauge(
            "habit_coach_uptime_seconds",
            "Seconds since this process started.",
            registry=self.registry,
        )
        uptime.set_function(lambda: time.monotonic() - self._started)

    @staticmethod
    def _info(registry: CollectorRegistry) -> None:
        info = Gauge(
            "habit_coach_build_info",
            "Always 1; the labels say which version runs on which Python.",
            ["version", "python"],
            registry=registry,
        )
        info.labels(version=_version(), python=python_platform.python_version()).set(1)

    # --- the engine's command observer ---------------------------------------------------------

    def command(self, platform: str, kind: str, outcome: str) -> None:
        """One command handled; ``kind`` is the command's name, never the text typed."""
        self._commands.labels(platform, kind, _bounded(outcome, COMMAND_OUTCOMES)).inc()

    # --- habits.delivery.DeliveryObserver ------------------------------------------------------

    def delivery_settled(self, platform: str, kind: str, outcome: str) -> None:
        self._deliveries.labels(platform, kind, _bounded(outcome, DELIVERY_OUTCOMES)).inc()

    def tick_finished(self, swept: int, backlog: int, sweep_moment: datetime) -> None:
        self._ticks.inc()
        self._swept.inc(swept)
        self._backlog.set(backlog)
        self._last_sweep = sweep_moment

    # --- the senders' 429s ---------------------------------------------------------------------

    def rate_limited(self, platform: str, scope: str) -> None:
        """A platform answered 429; ``scope`` is global, route, workspace or channel."""
        self._rate_limited.labels(platform, _bounded(scope, RATE_LIMIT_SCOPES)).inc()

    # --- reading ---------------------------------------------------------------------------------

    def sweep_lag_seconds(self) -> float:
        """How far behind the clock the last sweep is; before any, how long we have waited."""
        since = self._last_sweep or self._created
        return max(0.0, (self._now() - since).total_seconds())

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
