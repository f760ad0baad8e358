"""Nudges and check-ins as DMs: buttons, the *I published* form, closed DMs and rate limits.

Delivery is driven deterministically: the clock is moved by hand and the engine's real delivery
loop (``Dispatcher.tick``) runs once, sending through the adapter's sender to the fake Discord.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.discord import DiscordAdapter
from bot.discord.sender import MAX_RATELIMIT_WAIT, SEND_TIMEOUT
from bot.runtime import Runtime
from habits.catalogue import M
from habits.delivery import DeliverySettings, Dispatcher, Outcome
from habits.messages import NUDGE_ACTIONS, Notice, say
from habits.model import MAX_TITLE, MAX_URL, DeliveryKind, ManualClock, MemberRef
from tests.bot.discord.conftest import ANA, BEN, Harness, Store
from tests.fakes.discord_server import FakeDiscord, Recorded, custom_ids

MONDAY_9AM = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)  # the week-opening check-in is due
THURSDAY_9AM = datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)  # Thursday's nudge is due
NUDGE_BUTTONS = [
    "habit:published",
    "habit:snooze_later",
    "habit:snooze_tomorrow",
    "habit:smaller_step",
]

HELLO = (say(M.WELCOME_BACK),)


def buttons(message: dict[str, Any]) -> list[str]:
    return custom_ids(message["components"])


def text_inputs(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for component in components:
        if component.get("type") == 4:
            found.append(component)
        found += text_inputs(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            found += text_inputs([component["component"]])
    return found


def dm_posts(fake: FakeDiscord) -> list[Recorded]:
    return [r for r in fake.requests_to("POST", "/channels/") if r.path.endswith("/messages")]


def dm_opens(fake: FakeDiscord, user_id: int) -> list[Recorded]:
    opens = fake.requests_to("POST", "/users/@me/channels")
    return [r for r in opens if str(r.body["recipient_id"]) == str(user_id)]


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
    [post] = dm_posts(fake)
    assert post.body["allowed_mentions"] == {"parse": []}  # a DM never pings anyone
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
    assert smaller.content.startswith(("Even smaller: ", "That's the smallest step"))

    form = await fake.click(ANA, dm, "habit:published")
    assert form.type == 9  # the modal
    assert form.data["custom_id"] == "habit:form:published"
    assert custom_ids(form.data["components"]) == ["url", "title"]
    inputs = {i["custom_id"]: i for i in text_inputs(form.data["components"])}
    assert inputs["url"]["max_length"] == MAX_URL  # the engine's limits, within Discord's 4,000
    assert inputs["title"]["max_length"] == MAX_TITLE
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


async def test_a_form_delivered_twice_logs_once_and_a_bad_link_is_refused(
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
    # The gateway delivers the same submit again after a RESUME: logged once, and the bot's
    # second answer is refused by Discord (40060) without harm.
    await fake.request_reconnect(replay=[interaction_id])
    await fake.wait_until(lambda: interaction_id in fake.refused_callbacks)
    assert len(fake.callbacks[interaction_id]) == 1
    assert [r.title for r in store.publications(ANA)] == ["Twice"]
    after = await fake.submit(ANA, "habit:form:published", {"url": "", "title": "Thrice"})
    assert "Logged “Thrice”" in after.content  # still serving


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

    [checkin] = fake.dms_to(ANA)
    assert "Would a smaller goal help? Try 1 post a week." in checkin["content"]
    assert buttons(checkin) == ["habit:smaller_goal:/goal 1", *NUDGE_BUTTONS]
    answer = await fake.click(ANA, checkin, "habit:smaller_goal:/goal 1")
    assert "Goal set: 1 post a week" in answer.content
    member = store.member(ANA)
    assert member is not None
    assert member.goal_target == 1


async def test_closed_dms_mark_the_member_unreachable_without_retries_and_they_are_told(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    runtime: Runtime,
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
    assert len(dm_posts(fake)) == 2  # one for each; Ana's got 403 / 50007
    ana = store.member(ANA)
    assert ana is not None
    assert ana.unreachable
    assert ana.next_nudge_at is None
    [delivery] = store.deliveries(ANA)
    assert delivery.status == "failed"
    assert "50007" in delivery.detail

    # No retry storm: the database flag stops the engine composing anything for Ana, so later
    # ticks (on this replica or any other) make no DM request for her.
    for day in range(3, 10):  # Thursday's nudge, the weekend, next Monday's check-in...
        clock.set(MONDAY_9AM + timedelta(days=day))
        await dispatcher.tick()
    assert len(dm_opens(fake, ANA)) == 1
    assert len(fake.dms_to(BEN)) == 4  # Thursday's nudge, Sunday's heads-up, Monday's check-in
    assert len(dm_posts(fake)) == 5  # Ana's one 403 and Ben's four
    assert len(store.deliveries(ANA)) == 1

    # Ana opens her DMs and uses a command — here through the engine directly, as a second
    # replica serving her would: nothing in this adapter still thinks she is unreachable.
    fake.open_dms(ANA)
    reply = await runtime.call(runtime.coach.handle, MemberRef.discord(ANA), "/streak")
    assert "I couldn't send you direct messages lately" in reply.text
    ana = store.member(ANA)
    assert ana is not None
    assert not ana.unreachable
    assert ana.next_nudge_at is not None
    due = ana.next_nudge_at if ana.next_nudge_at.tzinfo else ana.next_nudge_at.replace(tzinfo=UTC)
    clock.set(due + timedelta(seconds=30))
    assert await dispatcher.tick() >= 1
    assert len(fake.dms_to(ANA)) == 1  # through the cached DM channel
    assert len(dm_opens(fake, ANA)) == 1


async def test_a_member_with_closed_dms_is_told_on_their_next_slash_command(
    fake: FakeDiscord,
    adapter: DiscordAdapter,
    dispatcher: Dispatcher,
    clock: ManualClock,
    store: Store,
) -> None:
    await fake.slash(ANA, "goal", {"count": 1})
    fake.close_dms(ANA)
    clock.set(MONDAY_9AM)
    assert await dispatcher.tick() == 0

    answer = await fake.slash(ANA, "streak")

    assert "I couldn't send you direct messages lately" in answer.data["embeds"][0]["description"]
    ana = store.member(ANA)
    assert ana is not None
    assert not ana.unreachable


async def test_an_unknown_user_is_unreachable_and_a_direct_send_reports_it(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    fake.fail("POST", "/users/@me/channels", 404, 10013, "Unknown User")
    notice = Notice(MemberRef.discord(BEN), DeliveryKind.NUDGE, HELLO, NUDGE_ACTIONS)

    result = await adapter.sender.send(notice)

    assert result.outcome is Outcome.UNREACHABLE
    assert "10013" in result.detail
    fake.close_dms(ANA)
    closed = await adapter.sender.send(Notice(MemberRef.discord(ANA), DeliveryKind.NUDGE, HELLO))
    assert closed.outcome is Outcome.UNREACHABLE
    assert "50007" in closed.detail


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
    notice = Notice(MemberRef.discord(ANA), DeliveryKind.NUDGE, HELLO, NUDGE_ACTIONS)
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


async def test_a_429_longer_than_5_s_is_not_waited_in_place(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    assert adapter.client is not None
    assert adapter.client.http.max_ratelimit_timeout == MAX_RATELIMIT_WAIT <= 5
    notice = Notice(MemberRef.discord(ANA), DeliveryKind.NUDGE, HELLO, NUDGE_ACTIONS)
    fake.rate_limit("/channels/", retry_after=6.0)
    loop = asyncio.get_running_loop()
    started = loop.time()

    result = await adapter.sender.send(notice)

    assert loop.time() - started < 2  # back to the delivery loop at once, not after 6 s
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == timedelta(seconds=6)
    assert fake.dms_to(ANA) == []
    assert (await adapter.sender.send(notice)).outcome is Outcome.SENT


async def test_a_retried_send_of_one_delivery_shows_once(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    # The same delivery sent twice, as after an answer lost to a timeout: same nonce, one DM.
    notice = Notice(MemberRef.discord(ANA), DeliveryKind.NUDGE, HELLO, key="nudge-41")

    first = await adapter.sender.send(notice)
    again = await adapter.sender.send(notice)

    assert (first.outcome, again.outcome) == (Outcome.SENT, Outcome.SENT)
    posts = fake.requests_to("POST", "/channels/")
    assert [p.body["nonce"] for p in posts] == ["nudge-41", "nudge-41"]
    assert all(p.body["enforce_nonce"] for p in posts)
    assert len(fake.dms_to(ANA)) == 1


async def test_a_send_that_hangs_is_cut_off_and_retried_later(
    fake: FakeDiscord, harness: Harness, runtime: Runtime
) -> None:
    assert SEND_TIMEOUT <= 20 < DeliverySettings().lease.total_seconds()
    adapter = await harness.adapter(runtime, send_timeout=0.3)
    fake.stall("/channels/", 30.0)
    loop = asyncio.get_running_loop()
    started = loop.time()

    result = await adapter.sender.send(Notice(MemberRef.discord(ANA), DeliveryKind.NUDGE, HELLO))

    assert loop.time() - started < 2
    assert result.outcome is Outcome.RETRY
    assert "0.3 s" in result.detail


async def test_form_input_long_emoji_or_not_a_link(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    form = "habit:form:published"
    # Registered with max_length 200 (MAX_TITLE); a title longer anyway (a client that ignores
    # it) is shortened, and the reply says so.
    long = await fake.submit(ANA, form, {"url": "", "title": "🦄" * 5000})
    assert long.ephemeral
    assert "The title was long, so I kept its first 200 characters" in long.content
    assert len(long.content) <= 2000
    emoji = await fake.submit(ANA, form, {"url": "", "title": "🎉 Shipped 👩‍💻"})
    assert "Logged “🎉 Shipped 👩‍💻”" in emoji.content
    titles = [r.title for r in store.publications(ANA)]
    assert titles == ["🦄" * 199 + "…", "🎉 Shipped 👩‍💻"]

    for url in ["not a link", "🔗", "ftp://example.com/x", "https://" + "a" * 5000 + ".com"]:
        bad = await fake.submit(ANA, form, {"url": url, "title": "Bad link"})
        assert bad.ephemeral, url
        # The form's field wants a bare link, so that is the example (no command syntax).
        assert bad.content.endswith("Example: https://example.com/my-post"), url
        assert len(bad.content) <= 500, url
    assert len(store.publications(ANA)) == 2  # the bad ones stored nothing


async def test_an_unknown_habit_button_or_form_is_answered_privately(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    button = {"type": 2, "style": 1, "label": "Teleport", "custom_id": "habit:teleport"}
    message = fake.message("0", {"components": [{"type": 1, "components": [button]}]})

    clicked = await fake.click(ANA, message, "habit:teleport")

    assert clicked.type == 4
    assert clicked.ephemeral
    assert "That button is out of date" in clicked.content
    assert clicked.content.endswith("Example: /habit help")

    submitted = await fake.submit(ANA, "habit:form:checkin", {"note": "hi"})
    assert submitted.ephemeral
    assert "That form is out of date" in submitted.content
    assert submitted.content.endswith("Example: /habit help")
    assert store.member(ANA) is None
