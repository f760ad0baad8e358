"""The picture of the year: how long one takes to draw, how big its PNG is, and what drawing it
does to the event loop, each beside a baseline measured in the same process.

Baselines: for the time, encoding a blank PNG of the same size (what any picture costs on this
machine, so the drawing's own share shows); for the loop, the same pictures drawn on the event
loop itself instead of on a worker thread (``bot.picture.with_picture``).
"""

from __future__ import annotations

import asyncio
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta

from PIL import Image

from bench.measure import LagProbe, Latency, time_calls
from bot import picture
from habits.messages import YEAR_WEEKS, Reply, YearCard
from habits.model import Streak, WeekState, WeekSummary

LAG_PICTURES = 20  # pictures drawn while the loop is probed, each way


@dataclass(frozen=True)
class PictureResult:
    samples: int
    render: Latency  # ms per picture
    blank: Latency  # ms per blank PNG of the same size (the baseline)
    size_bytes: int
    lag_thread: Latency  # loop lateness while pictures are drawn on a worker thread
    lag_inline: Latency  # ... and while they are drawn on the loop (the baseline)


def busy_year(seed: int = 2026) -> YearCard:
    """52 weeks of every state, met ones at every shade: the most a picture has to draw."""
    rng = random.Random(seed)
    start = date(2025, 12, 1)
    states = [WeekState.MET, WeekState.MISSED, WeekState.FROZEN, WeekState.REST, WeekState.OFF]
    weeks = []
    for index in range(YEAR_WEEKS - 1):
        state = rng.choice(states)
        count = rng.randint(2, 5) if state is WeekState.MET else 0
        target = None if state is WeekState.OFF else 2
        weeks.append(WeekSummary(start + timedelta(weeks=index), count, target, state))
    this_week = WeekSummary(start + timedelta(weeks=YEAR_WEEKS - 1), 1, 2, WeekState.IN_PROGRESS)
    total = sum(w.count for w in weeks) + 1
    return YearCard.of([*weeks, this_week], Streak(4, 12, total, this_week, (), "2 days left"))


def _blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (picture.WIDTH, picture.HEIGHT), picture.BACKGROUND).save(out, format="PNG")
    return out.getvalue()


async def _lag(reply: Reply, on_thread: bool) -> Latency:
    probe = LagProbe(interval=0.001)
    probe.start()
    await asyncio.sleep(0.01)
    for _ in range(LAG_PICTURES):
        if on_thread:
            await picture.with_picture(reply)
        else:
            picture.with_picture_now(reply)
            await asyncio.sleep(0)
    return await probe.stop()


def measure(samples: int) -> PictureResult:
    card = busy_year()
    png = picture.render_year(card)  # warm: the font is loaded once per process
    _blank_png()
    render = Latency.of(time_calls(lambda _: picture.render_year(card), samples))
    blank = Latency.of(time_calls(lambda _: _blank_png(), samples))
    reply = Reply.of(card)
    lag_thread = asyncio.run(_lag(reply, on_thread=True))
    lag_inline = asyncio.run(_lag(reply, on_thread=False))
    return PictureResult(samples, render, blank, len(png), lag_thread, lag_inline)
