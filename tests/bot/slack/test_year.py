"""/streak on Slack: the year as a line of blocks, and *Show my year*, which uploads the picture
to the member's DM (an ephemeral reply cannot carry a file) through the fake Slack's
files.getUploadURLExternal, upload URL and files.completeUploadExternal."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot import picture
from habits.model import WeekState
from tests.bot.slack.conftest import Harness
from tests.fakes.slack_server import _error, wait_until

ALT = (
    "A picture of your last 52 weeks, one square a week: 0 met (darker the further over your "
    "goal), 0 missed, 0 frozen, 0 rest, 51 with no goal; this week: in progress. Current "
    "streak: 0 weeks, longest: 0; 1 publication in all."
)


def show_year_button(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    [button] = [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "habit_show_year"
    ]
    return button


async def test_streak_shows_the_year_as_blocks_and_offers_its_picture(slack: Harness) -> None:
    await slack.command("/goal", "2 posts")
    await slack.command("/published", "https://example.com/a")

    reply = await slack.command("/streak")

    [heatmap] = [
        element["text"]
        for block in reply["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
        if "(" in element["text"] and "no goal" in element["text"]
    ]
    assert heatmap == "·" * 51 + "▯  (▯ this week · no goal)"
    button = show_year_button(reply["blocks"])
    assert button["text"]["text"] == "Show my year"
    assert button["value"] == "/streak"
    assert not slack.fake.calls_to("files.getUploadURLExternal")  # nothing uploaded unasked


async def test_show_my_year_uploads_the_png_to_the_dm_with_its_alt_text(slack: Harness) -> None:
    await slack.command("/goal", "2 posts")
    await slack.command("/published", "https://example.com/a")
    button = show_year_button((await slack.command("/streak"))["blocks"])

    answer = await slack.click(button["action_id"], button["value"])

    assert answer is not None
    assert answer["text"] == "I've sent the picture of your year to our direct messages."
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] is False  # the card stays
    [asked] = slack.fake.calls_to("files.getUploadURLExternal")
    assert asked.args["filename"] == "year.png"
    assert asked.args["alt_txt"] == ALT
    [shared] = slack.fake.shared_files
    assert shared["channel"] == "DU1"
    assert shared["files"][0]["title"] == "Your year of writing"
    image = Image.open(io.BytesIO(slack.fake.uploads[shared["files"][0]["id"]]))
    assert (image.format, image.size) == ("PNG", (picture.WIDTH, picture.HEIGHT))
    left, top, _, _ = picture.cell_box(51)
    this_week = image.convert("RGB").getpixel((left + 1, top + 1))
    assert this_week == picture.FILLS[WeekState.IN_PROGRESS]


async def test_a_failed_upload_says_so_and_how_to_try_again(
    slack: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await slack.command("/goal", "1 post")
    monkeypatch.setattr(
        slack.fake,
        "_files_get_upload_url_external",
        lambda workspace, args: _error("not_allowed_token_type"),
    )

    answer = await slack.click("habit_show_year", "/streak")

    assert answer is not None
    assert answer["text"] == (
        "I couldn't send the picture of your year just now. Try /streak again."
    )
    assert not slack.fake.shared_files


async def test_the_home_tab_shows_the_year_and_its_button_sends_the_picture(
    slack: Harness,
) -> None:
    await slack.command("/goal", "1 post")
    await wait_until(lambda: slack.fake.homes_of("T1", "U1"))
    view = slack.fake.homes_of("T1", "U1")[-1]
    button = show_year_button(view["blocks"])

    await slack.click(button["action_id"], button["value"], with_response_url=False)

    await wait_until(lambda: slack.fake.shared_files)
    [shared] = slack.fake.shared_files
    assert shared["channel"] == "DU1"
    assert not slack.fake.messages_to("T1", "U1")  # the picture is the answer: no extra DM
