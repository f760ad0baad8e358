"""The fake refuses what Slack refuses, so an adapter bug cannot pass against it."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import RESPONSE_URL_USES, FakeSlack


async def post(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_a_response_url_takes_five_posts(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    statuses = [(await post(url, {"text": f"reply {n}"}))[0] for n in range(RESPONSE_URL_USES)]

    assert statuses == [200] * 5
    assert await post(url, {"text": "one too many"}) == (404, "used_url")
    assert len(fake.responses_to(url)) == 5


async def test_messages_without_text_or_with_bad_blocks_are_refused(fake: FakeSlack) -> None:
    token = fake.workspace("T1").bot_token
    api = f"{fake.base_url}chat.postMessage"

    _, empty = await post(api, {"channel": "U1"}, token)
    _, not_a_list = await post(api, {"channel": "U1", "text": "hi", "blocks": {"a": 1}}, token)
    url = fake.new_response_url()

    assert empty == {"ok": False, "error": "no_text"}
    assert not_a_list == {"ok": False, "error": "invalid_blocks"}
    assert await post(url, {"blocks": []}) == (400, "no_text")
    assert fake.messages == []
    assert fake.responses_to(url) == []


async def test_history_shows_the_dm_newest_first_with_metadata_only_when_asked(
    fake: FakeSlack,
) -> None:
    client = AsyncWebClient(token=fake.workspace("T1").bot_token, base_url=fake.base_url)
    for n in range(3):
        metadata = {"event_type": "habit_coach_notice", "event_payload": {"delivery_key": f"k{n}"}}
        await client.chat_postMessage(channel="U1", text=f"message {n}", metadata=metadata)
    await client.chat_postMessage(channel="U2", text="someone else's")

    plain = await client.conversations_history(channel="DU1", limit=2)
    full = await client.conversations_history(channel="DU1", include_all_metadata=True)

    assert [m["text"] for m in plain["messages"]] == ["message 2", "message 1"]
    assert plain["has_more"] is True
    assert all("metadata" not in m for m in plain["messages"])
    keys = [m["metadata"]["event_payload"]["delivery_key"] for m in full["messages"]]
    assert keys == ["k2", "k1", "k0"]


async def test_malformed_metadata_and_unknown_channels_are_refused(fake: FakeSlack) -> None:
    token = fake.workspace("T1").bot_token
    api = f"{fake.base_url}chat.postMessage"

    _, refused = await post(api, {"channel": "U1", "text": "hi", "metadata": {"a": 1}}, token)
    client = AsyncWebClient(token=token, base_url=fake.base_url)
    with pytest.raises(SlackApiError) as unknown:
        await client.conversations_history(channel="DU404")

    assert refused == {"ok": False, "error": "invalid_metadata_format"}
    assert unknown.value.response["error"] == "channel_not_found"
    assert fake.messages == []
