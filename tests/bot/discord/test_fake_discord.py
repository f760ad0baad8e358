"""The fake refuses what Discord refuses, so the adapter's tests cannot pass on what Discord
would reject. Plain HTTP against the fake, no bot."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_server import FakeDiscord


def command(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "goal", "description": "Your goal", "type": 1, "options": []}
    return {**base, **changes}


def option(name: str, required: bool = False, **changes: Any) -> dict[str, Any]:
    return {"name": name, "description": "An option", "type": 3, "required": required, **changes}


async def call(
    fake: FakeDiscord, method: str, path: str, body: Any, *, auth: bool = True
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bot {fake.token}"} if auth else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_base_url + path, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    "commands",
    [
        [command(name="Goal")],
        [command(name="x" * 33)],
        [command(description="")],
        [command(description="d" * 101)],
        [command(options=[option(f"o{i}") for i in range(26)])],
        [command(options=[option("later"), option("first", required=True)])],
        [command(options=[option("change", choices=[{"name": "n" * 101, "value": "v"}])])],
    ],
    ids=[
        "uppercase",
        "long-name",
        "no-description",
        "long-description",
        "26-options",
        "required-after-optional",
        "long-choice-name",
    ],
)
async def test_commands_discord_refuses_are_refused(
    fake: FakeDiscord, commands: list[dict[str, Any]]
) -> None:
    status, body = await call(
        fake, "PUT", f"/applications/{fake.application_id}/commands", commands
    )

    assert (status, body["code"]) == (400, 50035)
    assert body["errors"]["0"]
    assert fake.commands == {}


async def test_valid_commands_are_echoed_with_ids(fake: FakeDiscord) -> None:
    commands = [command(options=[option("count", required=True), option("label")])]

    status, body = await call(
        fake, "PUT", f"/applications/{fake.application_id}/commands", commands
    )

    assert status == 200
    assert body[0]["name"] == "goal"
    assert body[0]["id"]


async def test_empty_or_over_long_messages_are_refused(fake: FakeDiscord) -> None:
    _, channel = await call(fake, "POST", "/users/@me/channels", {"recipient_id": "42"})
    path = f"/channels/{channel['id']}/messages"

    assert (await call(fake, "POST", path, {"content": ""}))[1]["code"] == 50006
    status, body = await call(fake, "POST", path, {"content": "x" * 2001})
    assert (status, body["code"]) == (400, 50035)
    assert (await call(fake, "POST", path, {"content": "x" * 2000}))[0] == 200


async def test_an_interaction_is_answered_once_then_followed_up(fake: FakeDiscord) -> None:
    payload = fake.interaction(2, {"id": "1", "name": "streak", "type": 1}, 42)
    callback = f"/interactions/{payload['id']}/{payload['token']}/callback"

    first = await call(fake, "POST", callback, {"type": 4, "data": {"content": "hi"}}, auth=False)
    second = await call(fake, "POST", callback, {"type": 4, "data": {"content": "hi"}}, auth=False)
    followup = await call(
        fake,
        "POST",
        f"/webhooks/{fake.application_id}/{payload['token']}",
        {"content": "more"},
        auth=False,
    )

    assert first[0] == 200
    assert second == (400, {"message": "Interaction has already been acknowledged.", "code": 40060})
    assert followup[0] == 200
    assert len(fake.callbacks[payload["id"]]) == 1
