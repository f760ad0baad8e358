"""The picture of the year, checked as a picture: its size, the colour of every cell against the
member's weeks, the marks that tell states apart in grey, the same bytes every time."""

from __future__ import annotations

import asyncio
import io
import itertools
import threading
from datetime import date, timedelta

import pytest
from PIL import Image

from bot import picture
from habits.coach import Coach
from habits.messages import YEAR_WEEKS, Reply, YearCard
from habits.model import ManualClock, MemberRef, Streak, WeekState, WeekSummary

ANA = MemberRef.console("ana")
START = date(2025, 12, 1)
EVERY_STATE = (
    WeekState.MET,
    WeekState.MISSED,
    WeekState.FROZEN,
    WeekState.REST,
    WeekState.IN_PROGRESS,
    WeekState.OFF,
)


def card_of(weeks: list[WeekSummary], current: int = 0, longest: int = 0) -> YearCard:
    this_week = weeks[-1]
    total = sum(w.count for w in weeks)
    return YearCard.of(weeks, Streak(current, longest, total, this_week, (), "3 days left"))


def varied_weeks() -> list[WeekSummary]:
    """52 weeks of every state, met ones at each distance over the goal."""
    cycle = [
        (2, 2, WeekState.MET),
        (3, 2, WeekState.MET),
        (4, 2, WeekState.MET),
        (1, 2, WeekState.MISSED),
        (0, 2, WeekState.FROZEN),
        (0, 2, WeekState.REST),
        (0, None, WeekState.OFF),
    ]
    weeks = [
        WeekSummary(START + timedelta(weeks=i), *cycle[i % len(cycle)])
        for i in range(YEAR_WEEKS - 1)
    ]
    return [*weeks, WeekSummary(START + timedelta(weeks=51), 1, 2, WeekState.IN_PROGRESS)]


def image_of(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def fill_of(image: Image.Image, index: int) -> tuple[int, int, int]:
    """The colour in a cell's corner, where no mark is drawn."""
    left, top, _, _ = picture.cell_box(index)
    colour = image.convert("RGB").getpixel((left + 1, top + 1))
    assert isinstance(colour, tuple)
    return colour[0], colour[1], colour[2]


def cell_crop(image: Image.Image, index: int) -> Image.Image:
    left, top, right, bottom = picture.cell_box(index)
    return image.crop((left, top, right + 1, bottom + 1))


def test_the_picture_is_a_png_of_the_documented_size_under_40_kb() -> None:
    png = picture.render_year(card_of(varied_weeks(), 3, 9))

    image = image_of(png)
    assert image.format == "PNG"
    assert image.size == (picture.WIDTH, picture.HEIGHT)
    assert len(png) < 40_000


def test_every_cell_has_the_colour_of_its_week() -> None:
    weeks = varied_weeks()
    image = image_of(picture.render_year(card_of(weeks)))

    expected = {
        (2, 2): picture.MET_SHADES[0],  # the goal reached
        (3, 2): picture.MET_SHADES[1],  # half as much again
        (4, 2): picture.MET_SHADES[2],  # double
    }
    for index, week in enumerate(weeks):
        if week.state is WeekState.MET:
            assert fill_of(image, index) == expected[(week.count, week.target)], index
        else:
            assert fill_of(image, index) == picture.FILLS[week.state], index


def test_the_cells_follow_the_members_own_weeks(coach: Coach, clock: ManualClock) -> None:
    coach.handle(ANA, "/goal 1")
    coach.handle(ANA, "/published A")
    coach.handle(ANA, "/published B")  # double the goal: the darkest green
    clock.advance(timedelta(days=7))  # nothing: missed
    clock.advance(timedelta(days=7))
    coach.handle(ANA, "/goal rest")  # this week: rest
    reply = coach.handle(ANA, "/streak")
    assert reply.year is not None

    image = image_of(picture.render_year(reply.year))

    last = YEAR_WEEKS - 1
    assert fill_of(image, last - 2) == picture.MET_SHADES[2]
    assert fill_of(image, last - 1) == picture.FILLS[WeekState.MISSED]
    assert fill_of(image, last) == picture.FILLS[WeekState.REST]
    assert {fill_of(image, i) for i in range(last - 2)} == {picture.FILLS[WeekState.OFF]}


def test_the_palette_tells_every_state_apart_in_colour() -> None:
    fills = [*picture.MET_SHADES, *picture.FILLS.values()]
    assert len(set(fills)) == len(fills)


def test_in_grey_every_state_still_looks_different() -> None:
    """A member who sees no colour (or prints the picture) still tells the weeks apart: each
    state's cell differs from every other's in grey, by its mark or its shade."""
    weeks = [WeekSummary(START + timedelta(weeks=i), 2, 2, s) for i, s in enumerate(EVERY_STATE)]
    weeks.append(WeekSummary(START + timedelta(weeks=6), 4, 2, WeekState.MET))  # darkest met
    weeks.append(WeekSummary(START + timedelta(weeks=7), 0, 2, WeekState.IN_PROGRESS))
    image = image_of(picture.render_year(card_of(weeks))).convert("L")
    offset = YEAR_WEEKS - len(weeks)  # padded with weeks of no goal before these

    cells = [cell_crop(image, offset + i).tobytes() for i in range(len(weeks) - 1)]
    for (a, first), (b, second) in itertools.combinations(enumerate(cells), 2):
        assert first != second, (weeks[a].state, weeks[b].state)


def test_the_same_weeks_give_the_same_bytes() -> None:
    card = card_of(varied_weeks(), 4, 12)
    assert picture.render_year(card) == picture.render_year(card)


def test_with_picture_draws_on_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = picture.render_year

    def spy(card: YearCard) -> bytes:
        threads.append(threading.current_thread())
        return real(card)

    monkeypatch.setattr(picture, "render_year", spy)
    reply = Reply.of(card_of(varied_weeks()))

    async def draw() -> tuple[Reply, threading.Thread]:
        return await picture.with_picture(reply), threading.current_thread()

    drawn, loop_thread = asyncio.run(draw())

    assert drawn.attachment is not None
    assert drawn.attachment.filename == "year.png"
    assert drawn.attachment.mime_type == "image/png"
    assert drawn.attachment.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert threads
    assert threads[0] is not loop_thread


def test_a_picture_that_cannot_be_drawn_leaves_the_card_as_it_is(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(card: YearCard) -> bytes:
        raise OSError("no memory for pixels")

    monkeypatch.setattr(picture, "render_year", broken)
    reply = Reply.of(card_of(varied_weeks()))

    assert asyncio.run(picture.with_picture(reply)) is reply
    assert "drawing the year failed" in caplog.text


def test_a_reply_without_a_year_gets_no_picture() -> None:
    reply = Reply.of()
    assert asyncio.run(picture.with_picture(reply)) is reply


def test_heatmap_is_a_block_a_week_with_the_legend_of_what_it_shows() -> None:
    text = picture.heatmap(card_of(varied_weeks()))

    cells, _, legend = text.partition("  ")
    assert len(cells) == YEAR_WEEKS
    assert cells[:7] == "▅▆█▁▒░·"
    assert cells[-1] == "▯"
    assert legend == "(▅▆█ met ▁ missed ▒ frozen ░ rest ▯ this week · no goal)"


def test_heatmap_explains_only_the_marks_it_shows() -> None:
    weeks = [WeekSummary(START, 1, 1, WeekState.MET)]
    text = picture.heatmap(card_of(weeks))

    assert text.endswith("·▅  (▅▆█ met · no goal)")
