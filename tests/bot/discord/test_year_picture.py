"""/streak on Discord: the picture of the year attached to the ephemeral answer and shown in
its embed, through the fake Discord's multipart upload."""

from __future__ import annotations

import io

from PIL import Image

from bot import picture
from bot.discord import DiscordAdapter
from tests.bot.discord.conftest import ANA
from tests.fakes.discord_server import FakeDiscord


async def test_streak_attaches_the_year_as_a_png_shown_in_the_card(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    await fake.slash(ANA, "published", {"title": "One"})
    await fake.slash(ANA, "published", {"title": "Two"})  # twice the goal: the darkest green

    answer = await fake.slash(ANA, "streak")

    assert answer.type == 4
    assert answer.ephemeral
    [embed] = answer.data["embeds"]
    assert embed["image"]["url"] == "attachment://year.png"
    assert "Streak: 1 week" in embed["description"]
    [attachment] = answer.data["attachments"]
    assert attachment["filename"] == "year.png"
    assert attachment["description"] == (
        "A picture of your last 52 weeks, one square a week: 0 met (darker the further over your "
        "goal), 0 missed, 0 frozen, 0 rest, 51 with no goal; this week: met. Current streak: "
        "1 week, longest: 1; 2 publications in all."
    )
    [(filename, content)] = answer.files.values()
    assert filename == "year.png"
    image = Image.open(io.BytesIO(content))
    assert image.format == "PNG"
    assert image.size == (picture.WIDTH, picture.HEIGHT)
    left, top, _, _ = picture.cell_box(51)
    assert image.convert("RGB").getpixel((left + 1, top + 1)) == picture.MET_SHADES[2]


async def test_other_answers_carry_no_picture(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    answer = await fake.slash(ANA, "goal", {"count": 1})

    assert not answer.files
    assert not answer.data.get("attachments")
