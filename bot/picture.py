"""The picture of a member's year (:class:`YearCard`): a PNG drawn with Pillow, and the same
weeks as a row of Unicode blocks for a terminal or a text-only message.

One cell a week, oldest first. The colours are Okabe and Ito's colour-blind-safe palette, and
every state but met carries its own mark (a bar, a pause sign, a snowflake, a dot), so the
picture still tells the weeks apart in grey. Met weeks are shaded darker the further over the
goal they went. Text uses ``ImageFont.load_default(size=…)``: Pillow's bundled scalable font
(Aileron Regular, CC0: public domain), so the picture is the same on every machine and no font
file of the system is read. Drawing is deterministic: the same weeks give the same bytes.

Drawing takes a few milliseconds of CPU: async callers use :func:`with_picture`, which draws on
a worker thread so the event loop (Discord heartbeats, Slack acks) never waits for it.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import replace
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from habits.catalogue import DateStyle, M, format_date
from habits.messages import (
    PLAIN,
    STATE_LEGEND,
    Attachment,
    Reply,
    YearCard,
    render,
    say,
)
from habits.model import WeekState, WeekSummary

log = logging.getLogger(__name__)

FILENAME = "year.png"
MIME_TYPE = "image/png"

Colour = tuple[int, int, int]

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BACKGROUND: Colour = (255, 255, 255)
INK: Colour = (34, 34, 34)
MUTED_INK: Colour = (102, 102, 102)
MET_SHADES: tuple[Colour, ...] = (
    (128, 206, 185),  # met: the goal reached
    (0, 158, 115),  # bluish green: half as much again
    (0, 94, 69),  # twice the goal or more
)
FILLS: dict[WeekState, Colour] = {
    WeekState.MISSED: (230, 159, 0),  # orange
    WeekState.FROZEN: (86, 180, 233),  # sky blue
    WeekState.REST: (204, 121, 167),  # reddish purple
    WeekState.IN_PROGRESS: (240, 228, 66),  # yellow
    WeekState.OFF: (235, 235, 235),  # light grey: no goal that week
}

CELL, GAP, PAD = 14, 3, 16
COLUMNS = 52
TITLE_SIZE, TEXT_SIZE = 15, 12
TITLE_Y, STATS_Y, CELLS_Y = 12, 33, 56
DATES_Y = CELLS_Y + CELL + 5
LEGEND_Y = DATES_Y + 22
WIDTH = 2 * PAD + COLUMNS * CELL + (COLUMNS - 1) * GAP
HEIGHT = LEGEND_Y + CELL + PAD

# The legend, in the order it is drawn; met is shown in its three shades.
LEGEND_STATES = (
    WeekState.MET,
    WeekState.MISSED,
    WeekState.FROZEN,
    WeekState.REST,
    WeekState.IN_PROGRESS,
    WeekState.OFF,
)

# The same weeks as text: taller blocks for met weeks further over the goal.
MET_BLOCKS = ("▅", "▆", "█")
BLOCKS: dict[WeekState, str] = {
    WeekState.MISSED: "▁",
    WeekState.FROZEN: "▒",
    WeekState.REST: "░",
    WeekState.IN_PROGRESS: "▯",
    WeekState.OFF: "·",
}


def met_level(week: WeekSummary) -> int:
    """How far over its goal a met week went: 0 (reached), 1 (half as much again), 2 (double)."""
    if week.target is None or week.target <= 0:
        return 0
    if week.count >= 2 * week.target:
        return 2
    return 1 if 2 * week.count >= 3 * week.target else 0


def cell_colour(week: WeekSummary) -> Colour:
    if week.state is WeekState.MET:
        return MET_SHADES[met_level(week)]
    return FILLS[week.state]


def cell_box(index: int) -> tuple[int, int, int, int]:
    """The pixels of week ``index`` (0: the oldest), inclusive corners."""
    left = PAD + index * (CELL + GAP)
    return left, CELLS_Y, left + CELL - 1, CELLS_Y + CELL - 1


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _mark(draw: ImageDraw.ImageDraw, state: WeekState, box: tuple[int, int, int, int]) -> None:
    """The state's own mark inside its cell, so grey-scale still tells the states apart."""
    left, top, right, bottom = box
    mid_x, mid_y = (left + right) // 2, (top + bottom) // 2
    if state is WeekState.MISSED:  # a low bar: nothing built up
        draw.rectangle((left + 3, bottom - 4, right - 3, bottom - 3), fill=INK)
    elif state is WeekState.REST:  # a pause sign
        draw.rectangle((mid_x - 3, top + 3, mid_x - 2, bottom - 3), fill=INK)
        draw.rectangle((mid_x + 2, top + 3, mid_x + 3, bottom - 3), fill=INK)
    elif state is WeekState.FROZEN:  # a snowflake: three crossing strokes
        draw.line((mid_x, top + 2, mid_x, bottom - 2), fill=INK)
        draw.line((left + 3, top + 4, right - 3, bottom - 4), fill=INK)
        draw.line((left + 3, bottom - 4, right - 3, top + 4), fill=INK)
    elif state is WeekState.IN_PROGRESS:  # a dot: still going
        draw.ellipse((mid_x - 2, mid_y - 2, mid_x + 2, mid_y + 2), fill=INK)


def _cell(draw: ImageDraw.ImageDraw, week: WeekSummary, box: tuple[int, int, int, int]) -> None:
    draw.rectangle(box, fill=cell_colour(week))
    _mark(draw, week.state, box)


def render_year(card: YearCard) -> bytes:
    """The year as a PNG: title, figures, one cell a week with its first and last dates, and a
    legend. Blocking CPU work: call it on a worker thread (see :func:`with_picture`)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((PAD, TITLE_Y), render(card.title, PLAIN), font=_font(TITLE_SIZE), fill=INK)
    draw.text((PAD, STATS_Y), render(card.stats, PLAIN), font=_font(TEXT_SIZE), fill=MUTED_INK)
    for index, week in enumerate(card.weeks[-COLUMNS:]):
        _cell(draw, week, cell_box(index))
    text = _font(TEXT_SIZE)
    if card.weeks:
        this_year = card.weeks[-1].start.year
        first = format_date(card.weeks[0].start, DateStyle.DAY, this_year)
        last = format_date(card.weeks[-1].start, DateStyle.DAY, this_year)
        draw.text((PAD, DATES_Y), first, font=text, fill=MUTED_INK)
        draw.text((WIDTH - PAD, DATES_Y), last, font=text, fill=MUTED_INK, anchor="ra")
    x = PAD
    for state in LEGEND_STATES:
        samples = (
            [WeekSummary(card.weeks[0].start, n, 2, state) for n in (2, 3, 4)]
            if state is WeekState.MET
            else [WeekSummary(card.weeks[0].start, 0, None, state)]
        )
        for sample in samples:
            _cell(draw, sample, (x, LEGEND_Y, x + CELL - 1, LEGEND_Y + CELL - 1))
            x += CELL + 1
        label = render(say(STATE_LEGEND[state]), PLAIN)
        draw.text((x + 3, LEGEND_Y + CELL // 2), label, font=text, fill=INK, anchor="lm")
        x += 3 + int(draw.textlength(label, font=text)) + 14
    out = io.BytesIO()
    # No optimize=True: it triples the time for 3 % fewer bytes of a picture of flat colours.
    image.save(out, format="PNG")
    return out.getvalue()


def with_picture_now(reply: Reply) -> Reply:
    """``reply`` with its year drawn as a PNG attachment (unchanged if it has no year)."""
    card = reply.year
    if card is None or reply.attachment is not None:
        return reply
    return replace(reply, attachment=Attachment(FILENAME, render_year(card), MIME_TYPE))


async def with_picture(reply: Reply) -> Reply:
    """:func:`with_picture_now` on a worker thread: the event loop never draws. A picture
    that cannot be drawn leaves the reply as it is (the card still has every figure)."""
    if reply.year is None:
        return reply
    try:
        return await asyncio.to_thread(with_picture_now, reply)
    except Exception:
        log.exception("drawing the year failed")
        return reply


def heatmap(card: YearCard) -> str:
    """The year as one line of Unicode blocks, a block a week, and the legend of those shown."""
    cells = "".join(
        MET_BLOCKS[met_level(w)] if w.state is WeekState.MET else BLOCKS[w.state]
        for w in card.weeks
    )
    shown = {w.state for w in card.weeks}
    legend = " ".join(
        render(
            say(
                M.LEGEND_ENTRY,
                mark="".join(MET_BLOCKS) if state is WeekState.MET else BLOCKS[state],
                meaning=say(STATE_LEGEND[state]),
            ),
            PLAIN,
        )
        for state in LEGEND_STATES
        if state in shown
    )
    return render(say(M.YEAR_HEATMAP, cells=cells, legend=legend), PLAIN)
