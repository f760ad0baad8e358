"""The fake refuses what Slack refuses, so an adapter bug cannot pass against it."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.bot.slack.fake_slack import RESPONSE_URL_USES, FakeSlack


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
