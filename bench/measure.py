"""Timing statistics and memory probes (resident set size and tracemalloc)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import os
import re
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def progress(message: str) -> None:
    """Progress goes to stderr so stdout carries only the report."""
    print(f"  … {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Latency:
    """Milliseconds over a set of samples."""

    count: int
    mean: float
    p50: float
    p99: float
    worst: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        ms = [s * 1000 for s in seconds]
        if len(ms) < 2:
            only = ms[0] if ms else float("nan")
            return cls(len(ms), only, only, only, only)
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(len(ms), statistics.fmean(ms), statistics.median(ms), cuts[98], max(ms))


def time_calls(func: Callable[[int], object], count: int) -> list[float]:
    """Seconds per call of ``func(i)`` for i in range(count)."""
    timings = []
    clock = time.perf_counter
    for index in range(count):
        start = clock()
        func(index)
        timings.append(clock() - start)
    return timings


# --- resident set size -------------------------------------------------------------------------


def _load_trim() -> Callable[[], object]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return lambda: None
    return lambda: trim(0)


_trim = _load_trim()


def settle() -> None:
    """Collect garbage and hand free heap pages back to the OS, so RSS deltas mean growth."""
    gc.collect()
    _trim()


def rss_bytes() -> int:
    """The process's resident set size right now."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:  # not Linux: fall back to the peak, which is the best the OS offers
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (Linux >= 4.0): VmHWM then tracks from now."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as status:
            found = re.search(r"VmHWM:\s+(\d+) kB", status.read())
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


@dataclass
class PeakRss:
    """Filled in by :func:`peak_rss`: RSS before, peak during and after the block, in bytes."""

    before: int = 0
    peak: int = 0
    after: int = 0
    method: str = ""

    @property
    def peak_added(self) -> int:
        return max(0, self.peak - self.before)

    @property
    def retained(self) -> int:
        return max(0, self.after - self.before)


@contextmanager
def peak_rss() -> Iterator[PeakRss]:
    """The RSS peak over the block: the kernel's high-water mark, else a 2 ms polling thread."""
    settle()
    result = PeakRss(before=rss_bytes())
    if _reset_peak_rss() and _peak_rss_bytes() is not None:
        result.method = "VmHWM"
        yield result
        result.peak = max(_peak_rss_bytes() or 0, result.before)
    else:
        result.method = "polled"
        stop = threading.Event()
        highest = [result.before]

        def poll() -> None:
            while not stop.wait(0.002):
                highest[0] = max(highest[0], rss_bytes())

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield result
        finally:
            stop.set()
            thread.join()
        result.peak = max(highest[0], rss_bytes())
    result.after = rss_bytes()


# --- tracemalloc -------------------------------------------------------------------------------


@dataclass
class Traced:
    """Python allocations over a block, in bytes: the peak above the start and what stayed."""

    peak_added: int = 0
    retained: int = 0


@contextmanager
def traced() -> Iterator[Traced]:
    gc.collect()
    result = Traced()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        yield result
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        result.peak_added = max(0, peak - start)
        result.retained = max(0, current - start)
    finally:
        tracemalloc.stop()


# --- event-loop lag ----------------------------------------------------------------------------


class LagProbe:
    """How late ``asyncio.sleep`` wakes while other work runs: the event loop's lag.

    Discord heartbeats and the 3 s interaction deadline ride on the same loop as the sweep, so
    a figure here is how long every other coroutine of the process was kept waiting.
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.late: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def _run(self) -> None:
        clock = time.perf_counter
        while not self._stopping:
            start = clock()
            await asyncio.sleep(self.interval)
            self.late.append(max(0.0, clock() - start - self.interval))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> Latency:
        """Stop probing; the lateness of every wake-up, in milliseconds."""
        self._stopping = True
        if self._task is not None:
            await self._task
        return Latency.of(self.late)
