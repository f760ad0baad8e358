"""Pacing for chat platforms: token buckets that wait without spinning, and a sliding counter.

The adapters' senders use these to stay under a platform's limits instead of finding them with
429s. Everything runs on an injected monotonic clock and sleep, so tests drive time exactly.

A :class:`TokenBucket` is a generic cell-rate algorithm: each acquisition reserves its place on a
virtual timeline at once, in call order, and sleeps (once) until its turn, so concurrent callers
are served first come, first served and no one polls. A caller that cannot be served within its
timeout learns so at once, without taking a place.

:func:`retry_after` reads a 429's ``Retry-After`` for both senders.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

Clock = Callable[[], float]  # monotonic seconds
Sleep = Callable[[float], Awaitable[None]]

# The longest wait a Retry-After may ask for: a larger value (a proxy's mistake, a date years
# ahead) would park every send behind it; the delivery loop's own backoff takes over from here.
MAX_RETRY_AFTER = 3600.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def retry_after(
    headers: Mapping[str, Any],
    *,
    now: Callable[[], datetime] = _utc_now,
    cap: float = MAX_RETRY_AFTER,
) -> float | None:
    """Seconds a response's ``Retry-After`` asks to wait, at most ``cap``; None without one.

    The header is found whatever its casing, and its value unwrapped from a list (Slack's SDK
    keeps them so). Either delay-seconds (fractions allowed: some proxies send them) or an
    HTTP-date, counted from ``now``; a date already past is 0. A negative, empty or unreadable
    value is None, like no header: each caller then waits its own default.
    """
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            seconds = _retry_after_value(raw, now)
            return None if seconds is None else min(seconds, cap)
    return None


def _retry_after_value(raw: object, now: Callable[[], datetime]) -> float | None:
    text = (raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)).strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_date(text, now)
    if math.isnan(seconds) or seconds < 0:
        return None
    return seconds  # inf included: the caller's cap applies


def _seconds_until_date(text: str, now: Callable[[], datetime]) -> float | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": RFC 5322's unknown zone; HTTP-dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now()).total_seconds())


@dataclass
class _Waiter:
    """A reservation that has not started yet; a pause moves its ``start`` later."""

    start: float


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` at once; FIFO across concurrent callers."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._rate = rate
        self.burst = burst
        self.clock = clock
        self._sleep = sleep
        # The theoretical moment at which every reservation so far is paid for: the bucket is
        # full when it lies in the past, and holds (tat - now) × rate tokens of debt otherwise.
        self._tat = clock()
        self._paused_until = float("-inf")
        self._waiters: list[_Waiter] = []

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the rate for reservations made from now on (queued ones keep their turn)."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        now = self.clock()
        # Keep the debt the same in tokens, so a lower rate stretches it rather than erasing it.
        debt_tokens = max(0.0, self._tat - now) * self._rate
        self._rate = rate
        self._tat = now + debt_tokens / rate

    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def idle(self) -> bool:
        """Full, nobody waiting, not paused: a bucket made afresh would behave the same."""
        now = self.clock()
        return self._tat <= now and not self._waiters and self._paused_until <= now

    def delay(self, tokens: float = 1.0) -> float:
        """Seconds a caller asking for ``tokens`` now would wait (nothing is reserved)."""
        now = self.clock()
        return max(0.0, self._start_for(tokens, now) - now)

    def _start_for(self, tokens: float, now: float) -> float:
        finish = max(self._tat, now) + tokens / self._rate
        return max(now, self._paused_until, finish - self.burst / self._rate)

    async def acquire(self, tokens: float = 1.0, max_wait: float | None = None) -> bool:
        """Take ``tokens``, waiting for them; False at once if that would take over ``max_wait`` s.

        A pause that arrives while waiting can push the turn past the deadline: then the caller
        gives up with False and its place stays spent (the bucket errs on the slow side).
        """
        if tokens > self.burst:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.burst}")
        now = self.clock()
        start = self._start_for(tokens, now)
        if max_wait is not None and start - now > max_wait:
            return False
        self._tat = max(self._tat, now) + tokens / self._rate
        if start <= now:
            return True
        deadline = None if max_wait is None else now + max_wait
        waiter = _Waiter(start)
        self._waiters.append(waiter)
        try:
            while (now := self.clock()) < waiter.start:
                if deadline is not None and waiter.start > deadline:
                    return False
                await self._sleep(waiter.start - now)
            return True
        finally:
            self._waiters.remove(waiter)

    def pause_until(self, moment: float) -> None:
        """Nothing is granted before ``moment``: the bucket's time stands still until then.

        Queued callers keep their order and spacing, shifted by the pause, so they do not all
        rush out together when it ends (a global Retry-After).
        """
        now = self.clock()
        base = max(now, self._paused_until)
        if moment <= base:
            return
        shift = moment - base
        for waiter in self._waiters:
            waiter.start = max(waiter.start, now) + shift
        self._tat = max(self._tat, now) + shift
        self._paused_until = moment

    def pause_for(self, seconds: float) -> None:
        self.pause_until(self.clock() + max(0.0, seconds))


class AdaptiveTokenBucket(TokenBucket):
    """A bucket that halves its rate on each 429 and creeps back up while none arrive.

    For limits a platform does not publish (Slack's per-workspace cap): multiplicative decrease,
    additive increase of ``recovery`` tokens/s per second without a 429, never above ``ceiling``
    nor below ``floor``. 429s within ``cooldown`` of the last decrease count once: a burst of
    answers to requests sent before the first 429 says nothing new.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        ceiling: float,
        floor: float,
        recovery: float,
        decrease: float = 0.5,
        cooldown: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ):
        if not 0 < floor <= rate <= ceiling or not 0 < decrease < 1:
            raise ValueError("needs 0 < floor <= rate <= ceiling and 0 < decrease < 1")
        super().__init__(rate, burst, clock=clock, sleep=sleep)
        self.ceiling = ceiling
        self.floor = floor
        self.recovery = recovery
        self.decrease = decrease
        self.cooldown = cooldown
        self._last_change = clock()
        self._last_decrease = float("-inf")

    def _recover(self) -> None:
        now = self.clock()
        if self._rate < self.ceiling and now > self._paused_until:
            grown = self._rate + self.recovery * (now - max(self._last_change, self._paused_until))
            self.set_rate(min(self.ceiling, grown))
        self._last_change = now

    async def acquire(self, tokens: float = 1.0, max_wait: float | None = None) -> bool:
        self._recover()
        return await super().acquire(tokens, max_wait)

    def delay(self, tokens: float = 1.0) -> float:
        self._recover()
        return super().delay(tokens)

    def rate_limited(self, retry_after: float) -> None:
        """A 429: slow down (once per cooldown) and grant nothing for ``retry_after`` seconds."""
        self._recover()
        now = self.clock()
        if now - self._last_decrease >= self.cooldown:
            self._last_decrease = now
            self.set_rate(max(self.floor, self._rate * self.decrease))
        self.pause_for(retry_after)
        self._last_change = max(now, self._paused_until)


class SlidingWindowCounter:
    """Events in the last ``window`` seconds (e.g. invalid requests per 10 minutes)."""

    def __init__(self, window: float, *, clock: Clock = time.monotonic):
        self.window = window
        self.clock = clock
        self._events: deque[float] = deque()

    def add(self, count: int = 1) -> None:
        now = self.clock()
        self._events.extend([now] * count)

    def _expire(self, now: float) -> None:
        while self._events and self._events[0] <= now - self.window:
            self._events.popleft()

    def count(self) -> int:
        self._expire(self.clock())
        return len(self._events)

    def room_in(self, needed: int, limit: int) -> float:
        """Seconds until ``needed`` more fit under ``limit`` as old events leave the window."""
        now = self.clock()
        self._expire(now)
        excess = len(self._events) + needed - limit
        if excess <= 0:
            return 0.0
        if excess > len(self._events):
            return float("inf")
        return self._events[excess - 1] + self.window - now


class KeyedSpacing:
    """At most one event per ``interval`` seconds per key (Slack: a message a second a channel).

    Keys nobody used for a while are forgotten, so memory stays bounded by recent activity.
    """

    def __init__(
        self,
        interval: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        forget_after: float = 60.0,
    ):
        self.interval = interval
        self.clock = clock
        self._sleep = sleep
        self.forget_after = max(forget_after, interval)
        self._buckets: dict[str, TokenBucket] = {}
        self._last_prune = clock()

    def bucket(self, key: str) -> TokenBucket:
        self._prune()
        found = self._buckets.get(key)
        if found is None:
            found = TokenBucket(1 / self.interval, 1, clock=self.clock, sleep=self._sleep)
            self._buckets[key] = found
        return found

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self) -> None:
        now = self.clock()
        if now - self._last_prune < self.forget_after:
            return
        self._last_prune = now
        for key in [key for key, bucket in self._buckets.items() if bucket.idle]:
            del self._buckets[key]
