"""Many workspaces: Bolt's OAuth install stores installations in our records, each
workspace's requests and DMs use its own bot token, and members never see another workspace."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.edge import AddressRateLimit
from bot.logs import CHATTY_SDK_LOGGERS, configure_logging
from bot.slack.adapter import INSTALL_BURST
from bot.slack.installations import (
    BOT_KIND,
    INSTALLATION_KIND,
    STATE_KIND,
    RecordOAuthStateStore,
    TooManyPendingInstallsError,
)
from tests.bot.slack.conftest import Harness, running_adapter
from tests.fakes.slack_server import (
    FakeSlack,
    app_uninstalled,
    form_body,
    post_signed,
    slash_command,
    wait_until,
)

THURSDAY_NINE_BERLIN = datetime(2026, 11, 26, 8, 0, 30, tzinfo=UTC)


@pytest.fixture
async def multi(tmp_path: Path, fake: FakeSlack) -> AsyncIterator[Harness]:
    async with running_adapter(
        tmp_path,
        fake,
        "http",
        slack_bot_token=None,
        slack_client_id="1111.2222",
        slack_client_secret="test-client-secret-not-real",
    ) as harness:
        yield harness


async def install(harness: Harness, team: str, enterprise: str | None = None) -> str:
    """Walk Bolt's OAuth flow as a workspace admin's browser would; returns the final page."""
    code = harness.fake.pending_install(team, enterprise_id=enterprise)
    base = f"http://127.0.0.1:{harness.adapter.http_port}"
    async with aiohttp.ClientSession(trust_env=False) as browser:
        async with browser.get(f"{base}/slack/install", allow_redirects=False) as page:
            assert page.status == 200
            cookie = page.headers["Set-Cookie"]
            html = await page.text()
        state = re.search(r"slack-app-oauth-state=([^;]+)", cookie)
        assert state is not None
        assert f"state={state.group(1)}" in html  # the "Add to Slack" link carries it
        async with browser.get(
            f"{base}/slack/oauth_redirect",
            params={"code": code, "state": state.group(1)},
            headers={"Cookie": f"slack-app-oauth-state={state.group(1)}"},
            allow_redirects=False,
        ) as done:
            assert done.status == 200
            return await done.text()


async def test_an_oauth_install_is_stored_and_serves_that_workspace(multi: Harness) -> None:
    await install(multi, "T2")
    multi.fake.add_user("T2", "U1", "Asia/Tokyo", "Kei")

    bot = await multi.runtime.call(multi.runtime.records.get, BOT_KIND, "-:T2")
    assert bot is not None
    assert bot["bot_token"] == multi.fake.workspace("T2").bot_token
    assert bot["bot_user_id"] == "UBOTT2"

    reply = await multi.command("/goal", "1 post", team="T2", user="U1")

    assert reply["text"].startswith("Goal set: 1 post a week.")
    stored = await multi.stored("U1", "T2")
    assert stored is not None
    assert stored["member"]["timezone"] == "Asia/Tokyo"
    [users_info] = multi.fake.calls_to("users.info")
    assert users_info.team_id == "T2"  # asked with T2's own bot token


async def test_an_unknown_oauth_state_is_refused(multi: Harness) -> None:
    await install(multi, "T2")
    base = f"http://127.0.0.1:{multi.adapter.http_port}"
    code = multi.fake.pending_install("T3")
    async with (
        aiohttp.ClientSession(trust_env=False) as browser,
        browser.get(
            f"{base}/slack/oauth_redirect",
            params={"code": code, "state": "made-up-state"},
            headers={"Cookie": "slack-app-oauth-state=made-up-state"},
        ) as page,
    ):
        assert page.status == 401
    assert await multi.runtime.call(multi.runtime.records.get, BOT_KIND, "-:T3") is None


async def test_two_workspaces_cannot_see_each_other(multi: Harness) -> None:
    await install(multi, "T2")
    await install(multi, "T3")
    multi.fake.add_user("T2", "U1", "Europe/Berlin", "Ana in T2")
    multi.fake.add_user("T3", "U1", "Europe/Berlin", "Someone else in T3")  # same user id

    await multi.command("/goal", "1 post", team="T2", user="U1")
    await multi.command("/published", "https://example.com/t2 Only in T2", team="T2", user="U1")
    other = await multi.command("/streak", team="T3", user="U1")

    assert "Total published: 0" in other["text"]
    assert await multi.stored("U1", "T3") is None
    in_t2 = await multi.stored("U1", "T2")
    assert in_t2 is not None
    assert [p["title"] for p in in_t2["publications"]] == ["Only in T2"]
    assert (
        multi.fake.homes_of("T3", "U1")[0]["blocks"]
        != multi.fake.homes_of("T2", "U1")[-1]["blocks"]
    )


async def test_nudges_go_out_with_each_workspaces_own_token(multi: Harness) -> None:
    await install(multi, "T2")
    await install(multi, "T3")
    multi.fake.add_user("T2", "U1", "Europe/Berlin")
    multi.fake.add_user("T3", "U7", "Europe/Berlin")
    await multi.command("/goal", "1 post", team="T2", user="U1")
    await multi.command("/goal", "1 post", team="T3", user="U7")

    assert await multi.tick_at(THURSDAY_NINE_BERLIN) == 2

    assert [(m["team"], m["user"]) for m in multi.fake.messages] in (
        [("T2", "U1"), ("T3", "U7")],
        [("T3", "U7"), ("T2", "U1")],
    )


async def test_a_request_from_a_workspace_without_an_installation_stores_nothing(
    multi: Harness,
) -> None:
    response_url = multi.fake.new_response_url()
    body = form_body(
        slash_command("/goal", "1 post", team="T9", user="U1", response_url=response_url)
    )

    answer = await post_signed(multi.events_url, body, "application/x-www-form-urlencoded")

    assert answer.status == 200
    told = multi.fake.responses_to(response_url)
    await wait_until(lambda: told)
    assert "install" in told[0]["text"].lower()  # Bolt tells the member why nothing happened
    assert await multi.stored("U1", "T9") is None


async def test_with_a_single_bot_token_members_are_still_keyed_by_workspace(
    http_slack: Harness,
) -> None:
    await http_slack.command("/published", "https://example.com/a", team="T1", user="U1")
    other = await http_slack.command("/streak", team="TOTHER", user="U1")

    assert "Total published: 0" in other["text"]
    assert await http_slack.stored("U1", "TOTHER") is None


async def test_a_workspace_is_authorized_with_auth_test_once_not_on_every_request(
    multi: Harness,
) -> None:
    await install(multi, "T2")
    multi.fake.add_user("T2", "U1", "Europe/Berlin")
    before = len(multi.fake.calls_to("auth.test"))

    for _ in range(3):
        await multi.command("/streak", team="T2", user="U1")
    await multi.command("/goal", "1 post", team="T2", user="U1")

    after = multi.fake.calls_to("auth.test")[before:]
    assert [c.team_id for c in after] == ["T2"]  # the first request only


async def test_an_enterprise_grid_install_gets_its_nudges(multi: Harness) -> None:
    await install(multi, "T4", enterprise="E1")
    multi.fake.add_user("T4", "U1", "Europe/Berlin", "Gita")

    reply = await multi.command("/goal", "1 post", team="T4", user="U1", enterprise="E1")
    assert reply["text"].startswith("Goal set: 1 post a week.")
    stored = await multi.runtime.call(multi.runtime.records.get, BOT_KIND, "E1:T4")
    assert stored is not None
    assert stored["enterprise_id"] == "E1"

    assert await multi.tick_at(THURSDAY_NINE_BERLIN) == 1  # found by the team alone

    [nudge] = multi.fake.messages_to("T4", "U1")
    assert nudge["text"].startswith("0 of 1 this week")
    in_t4 = await multi.stored("U1", "T4")
    assert in_t4 is not None
    assert in_t4["member"]["workspace"] == "T4"


@pytest.mark.parametrize("enterprise", [None, "E1"], ids=["workspace", "grid"])
async def test_an_uninstall_deletes_the_installation_and_stops_serving_the_workspace(
    multi: Harness, enterprise: str | None
) -> None:
    await install(multi, "T2", enterprise=enterprise)
    multi.fake.add_user("T2", "U1", "Europe/Berlin")
    await multi.command("/goal", "1 post", team="T2", user="U1", enterprise=enterprise)
    key = f"{enterprise or '-'}:T2"
    records = multi.runtime.records
    assert await multi.runtime.call(records.get, INSTALLATION_KIND, f"{key}:UINSTALLER")

    answer = await multi.post("events_api", app_uninstalled(team="T2", enterprise=enterprise))
    assert answer.status == 200

    remaining = [
        (BOT_KIND, key),
        (BOT_KIND, "-:T2"),
        (INSTALLATION_KIND, key),
        (INSTALLATION_KIND, f"{key}:UINSTALLER"),  # the installer's own record too
    ]
    await wait_until(lambda: all(records.get(kind, k) is None for kind, k in remaining))
    told = await multi.command("/streak", team="T2", user="U1", enterprise=enterprise)
    assert "install" in told["text"].lower()  # no cached token keeps serving it
    assert await multi.tick_at(THURSDAY_NINE_BERLIN) == 0
    assert multi.fake.messages == []


async def test_a_reinstall_by_someone_else_keeps_only_the_latest_installer(
    multi: Harness,
) -> None:
    await install(multi, "T2")
    first = await multi.runtime.call(multi.runtime.records.get, INSTALLATION_KIND, "-:T2")
    assert first is not None
    assert first["user_id"] == "UINSTALLER"
    multi.fake.next_installer = "UADMIN"

    await install(multi, "T2")

    records = multi.runtime.records
    assert await multi.runtime.call(records.get, INSTALLATION_KIND, "-:T2:UINSTALLER") is None
    assert await multi.runtime.call(records.get, INSTALLATION_KIND, "-:T2:UADMIN") is not None


# --- the install page: bounded state -----------------------------------------------------------


async def states(harness: Harness) -> int:
    return await harness.runtime.call(harness.runtime.records.count, STATE_KIND)


async def test_a_thousand_install_page_visits_cannot_leave_a_thousand_states(
    multi: Harness,
) -> None:
    base = f"http://127.0.0.1:{multi.adapter.http_port}"
    statuses: list[int] = []
    retry_after: set[str] = set()
    async with aiohttp.ClientSession(trust_env=False) as browser:
        for _ in range(1000):
            async with browser.get(f"{base}/slack/install", allow_redirects=False) as page:
                statuses.append(page.status)
                if page.status == 429:
                    retry_after.add(page.headers["Retry-After"])

    assert statuses.count(200) == INSTALL_BURST
    assert statuses.count(429) == 1000 - INSTALL_BURST
    assert all(int(seconds) >= 1 for seconds in retry_after)
    assert await states(multi) == INSTALL_BURST


async def test_states_expire_after_ten_minutes_and_are_purged_when_new_ones_are_issued(
    multi: Harness,
) -> None:
    store = RecordOAuthStateStore(multi.runtime)
    issued = [await store.async_issue() for _ in range(5)]
    multi.clock.advance(timedelta(minutes=10, seconds=1))

    fresh = await store.async_issue()

    assert await states(multi) == 1
    assert not await store.async_consume(issued[0])
    assert await store.async_consume(fresh)
    assert await states(multi) == 0


async def test_past_the_cap_of_pending_states_the_install_page_is_refused(
    multi: Harness,
) -> None:
    store = RecordOAuthStateStore(multi.runtime, max_pending=3)
    for _ in range(3):
        await store.async_issue()

    with pytest.raises(TooManyPendingInstallsError):
        await store.async_issue()
    assert await states(multi) == 3

    multi.clock.advance(timedelta(minutes=11))
    await store.async_issue()  # the expired ones made room
    assert await states(multi) == 1


async def test_debug_logs_of_an_install_show_neither_the_code_nor_the_state(
    multi: Harness, capfd: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG")
    try:
        multi.adapter.install_visits = AddressRateLimit(100, 1.0)
        code = multi.fake.pending_install("T2")
        base = f"http://127.0.0.1:{multi.adapter.http_port}"
        async with aiohttp.ClientSession(trust_env=False) as browser:
            async with browser.get(f"{base}/slack/install") as page:
                state = re.search(r"slack-app-oauth-state=([^;]+)", page.headers["Set-Cookie"])
            assert state is not None
            async with browser.get(
                f"{base}/slack/oauth_redirect",
                params={"code": code, "state": state.group(1)},
                headers={"Cookie": f"slack-app-oauth-state={state.group(1)}"},
            ) as done:
                assert done.status == 200
        logging.getLogger("slack_bolt.AsyncApp").debug("callback: {'code': ['%s']}", code)
        logging.getLogger("bot.slack").debug("our own DEBUG line")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name in CHATTY_SDK_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)

    err = capfd.readouterr().err
    assert "our own DEBUG line" in err  # the floor is for the SDKs only
    assert code not in err
    assert state.group(1) not in err
