"""Nudges and recaps as DMs: buttons, the *I published* form, closed DMs and rate limits.

Delivery is driven deterministically: the clock is moved by hand and the engine's real delivery
loop (``Dispatcher.tick``) runs once, sending through the adapter's sender to the fake Discord.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.discord import DiscordAdapter
from habits.delivery import Dispatcher, Outcome
from habits.messages import NUDGE_ACTIONS, Notice
from habits.model import ManualClock, MemberRef
from tests.bot.discord.conftest import ANA, BEN, Store
from tests.bot.discord.fake_discord import FakeDiscord, custom_ids

MONDAY_9AM = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)  # the week-opening check-in is due
THURSDAY_9AM = datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)  # Thursday's nudge is due
NUDGE_BUTTONS = [
    "habit:published",
    "habit:snooze_later",
    "habit:snooze_tomorrow",
    "habit:smaller_step",
]


def buttons(message: dict[str, Any]) -> list[str]:
    return custom_ids(message["components"])


async def test_the_week_opens_with_a_dm_whose_buttons_all_work(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    clock.set(MONDAY_9AM)

    assert await dispatcher.tick() == 1

    [dm] = fake.dms_to(ANA)
    assert dm["content"].startswith("**Weekly check-in**")
    assert "First tiny step:" in dm["content"]
    assert buttons(dm) == NUDGE_BUTTONS
    assert [d.status for d in store.deliveries(ANA)] == ["sent"]

    later = await fake.click(ANA, dm, "habit:snooze_later")
    assert later.ephemeral
    assert "Snoozed — I'll nudge you again Mon 23 Nov 12:00" in later.content
    member = store.member(ANA)
    assert member is not None
    assert member.next_nudge_at == MONDAY_9AM + timedelta(hours=3)

    tomorrow = await fake.click(ANA, dm, "habit:snooze_tomorrow")
    assert "Snoozed — I'll nudge you again Tue 24 Nov 09:00" in tomorrow.content
    member = store.member(ANA)
    assert member is not None
    assert member.next_nudge_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    smaller = await fake.click(ANA, dm, "habit:smaller_step")
    assert smaller.content.startswith(("Even smaller", "Another tiny one"))

    form = await fake.click(ANA, dm, "habit:published")
    assert form.type == 9  # the modal
    assert form.data["custom_id"] == "habit:form:published"
    assert custom_ids(form.data["components"]) == ["url", "title"]
    assert store.publications(ANA) == []  # opening the form logs nothing

    submitted = await fake.submit(
        ANA, "habit:form:published", {"url": "https://example.com/week-1", "title": "Week one"}
    )
    assert submitted.ephemeral
    assert "Logged “Week one”" in submitted.content
    assert "goal met" in submitted.content
    [row] = store.publications(ANA)
    assert (row.url, row.title, row.source) == ("https://example.com/week-1", "Week one", "button")
    assert row.request_key == submitted.interaction_id


async def test_a_form_submitted_twice_logs_once_and_a_bad_link_is_refused(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    bad = await fake.submit(ANA, "habit:form:published", {"url": "not a link", "title": "Hi"})
    assert bad.ephemeral
    assert "doesn't look like a web link" in bad.content
    assert store.publications(ANA) == []

    payload = fake.interaction(
        5,
        {
            "custom_id": "habit:form:published",
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": "url", "value": ""}]},
                {"type": 1, "components": [{"type": 4, "custom_id": "title", "value": "Twice"}]},
            ],
        },
        ANA,
    )
    interaction_id = await fake.send_interaction(payload)
    first = await fake.answer_to(interaction_id)
    assert "Logged “Twice”" in first.content
    await fake.send_interaction(payload)  # Discord redelivers the same interaction
    await fake.wait_until(lambda: len(fake.callbacks[interaction_id]) == 2)
    assert "Already logged" in fake.callbacks[interaction_id][1].content
    assert [r.title for r in store.publications(ANA)] == ["Twice"]


async def test_the_dm_channel_is_opened_once_and_a_thursday_nudge_follows(
    fake: FakeDiscord, adapter: DiscordAdapter, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    clock.set(MONDAY_9AM)
    assert await dispatcher.tick() == 1
    clock.set(THURSDAY_9AM)
    assert await dispatcher.tick() == 1

    check_in, nudge = fake.dms_to(ANA)
    assert check_in["content"].startswith("**Weekly check-in**")
    assert nudge["content"].startswith("**Nudge**")
    assert "0 of 1 this week" in nudge["content"]
    assert buttons(nudge) == NUDGE_BUTTONS
    assert len(fake.requests_to("POST", "/users/@me/channels")) == 1


async def test_two_missed_weeks_bring_a_smaller_goal_button(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 2})
    clock.set(MONDAY_9AM + timedelta(weeks=2))  # weeks one and two closed with nothing

    assert await dispatcher.tick() == 1

    [recap] = fake.dms_to(ANA)
    assert "Would a smaller goal help? Try 1 post a week." in recap["content"]
    assert buttons(recap) == ["habit:smaller_goal:/goal 1", *NUDGE_BUTTONS]
    answer = await fake.click(ANA, recap, "habit:smaller_goal:/goal 1")
    assert "Goal set: 1 post a week" in answer.content
    member = store.member(ANA)
    assert member is not None
    assert member.goal_target == 1


async def test_closed_dms_mark_the_member_unreachable_without_retries_and_they_are_told(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    await fake.slash(BEN, "goal", {"count": 1})
    fake.close_dms(ANA)
    clock.set(MONDAY_9AM)

    assert await dispatcher.tick() == 1  # Ben's

    assert len(fake.dms_to(BEN)) == 1
    refused = [r for r in fake.requests_to("POST", "/channels/") if r.path.endswith("/messages")]
    assert len(refused) == 2  # one for each; Ana's got 403 / 50007
    ana = store.member(ANA)
    assert ana is not None
    assert ana.unreachable
    assert ana.next_nudge_at is None
    [delivery] = store.deliveries(ANA)
    assert delivery.status == "failed"
    assert "50007" in delivery.detail

    # No retry storm: the next ticks don't ask Discord about Ana, and nor does a direct send.
    clock.set(THURSDAY_9AM)
    assert await dispatcher.tick() == 1  # Ben's Thursday nudge only
    notice = Notice(MemberRef.discord(ANA), "nudge", "hello", NUDGE_ACTIONS)
    assert (await adapter.sender.send(notice)).outcome is Outcome.UNREACHABLE
    after = [r for r in fake.requests_to("POST", "/channels/") if r.path.endswith("/messages")]
    assert len(after) == 3  # only Ben's nudge was added

    # Ana's next command tells her, and turns nudges back on.
    answer = await fake.slash(ANA, "streak")
    assert "I couldn't send you direct messages lately" in answer.data["embeds"][0]["description"]
    ana = store.member(ANA)
    assert ana is not None
    assert not ana.unreachable
    assert ana.next_nudge_at is not None


async def test_a_short_429_on_a_dm_is_waited_out_and_the_dm_sent(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    fake.rate_limit("/channels/", retry_after=0.2)
    clock.set(MONDAY_9AM)

    assert await dispatcher.tick() == 1

    posts = [r for r in fake.requests_to("POST", "/channels/") if r.path.endswith("/messages")]
    assert len(posts) == 2  # the 429, then the retry after retry_after
    assert len(fake.dms_to(ANA)) == 1
    assert [d.status for d in store.deliveries(ANA)] == ["sent"]


async def test_a_long_429_goes_back_to_the_delivery_loop_with_its_retry_after(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    notice = Notice(MemberRef.discord(ANA), "nudge", "hello", NUDGE_ACTIONS)
    fake.rate_limit("/channels/", retry_after=120.0)

    result = await adapter.sender.send(notice)

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == timedelta(seconds=120)
    assert fake.dms_to(ANA) == []

    fake.rate_limit("/channels/", retry_after=90.0)
    clock.set(MONDAY_9AM)
    assert await dispatcher.tick() == 0
    [delivery] = store.deliveries(ANA)
    assert delivery.status == "pending"
    assert delivery.not_before == MONDAY_9AM + timedelta(seconds=90)
    assert fake.dms_to(ANA) == []
