"""When a member hears from the coach next: nudge slots and the weekly check-in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from habits import scheduling
from habits import timekeeping as tk
from habits.model import DeliveryKind, Member

NINE = 9 * 60
# Monday 2026-11-23, 14:00 in Berlin (CET, UTC+1).
MONDAY_AFTERNOON = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def member(**overrides: Any) -> Member:
    fields: dict[str, Any] = {
        "platform": "console",
        "workspace": "",
        "user_id": "x",
        "created_at": utc(2026, 1, 1),
        "timezone": "Europe/Berlin",
        "goal_target": 1,
    }
    fields.update(overrides)
    return Member(**fields)


def local(instant: datetime | None, zone_name: str = "Europe/Berlin") -> datetime:
    assert instant is not None
    return instant.astimezone(tk.zone(zone_name)).replace(tzinfo=None)


# --- who gets nothing --------------------------------------------------------------------------


def test_without_a_goal_there_is_no_nudge() -> None:
    assert scheduling.next_nudge(member(goal_target=None), MONDAY_AFTERNOON, False) is None


def test_without_a_goal_there_is_no_checkin() -> None:
    assert scheduling.next_checkin(member(goal_target=None), MONDAY_AFTERNOON) is None


def test_an_unreachable_member_gets_no_nudge() -> None:
    assert scheduling.next_nudge(member(unreachable=True), MONDAY_AFTERNOON, False) is None


def test_an_unreachable_member_gets_no_checkin() -> None:
    assert scheduling.next_checkin(member(unreachable=True), MONDAY_AFTERNOON) is None


def test_nudges_off_means_no_nudge() -> None:
    assert scheduling.next_nudge(member(nudges_on=False), MONDAY_AFTERNOON, False) is None


def test_nudges_off_still_schedules_the_weekly_checkin() -> None:
    checkin = scheduling.next_checkin(member(nudges_on=False), MONDAY_AFTERNOON)
    assert checkin == utc(2026, 11, 30, 8, 0)


def test_an_empty_nudge_schedule_gives_no_nudge() -> None:
    assert scheduling.next_nudge(member(nudge_days=0), MONDAY_AFTERNOON, False) is None


# --- the next nudge ----------------------------------------------------------------------------


def test_the_default_schedule_nudges_on_thursday_at_nine_local() -> None:
    nudge = scheduling.next_nudge(member(), MONDAY_AFTERNOON, False)
    assert nudge == utc(2026, 11, 26, 8, 0)
    assert local(nudge) == datetime(2026, 11, 26, 9, 0)


def test_the_next_nudge_is_strictly_after_the_given_instant() -> None:
    thursday_nine = utc(2026, 11, 26, 8, 0)
    nudge = scheduling.next_nudge(member(), thursday_nine, False)
    assert nudge == utc(2026, 11, 29, 8, 0)  # Sunday's heads-up, the week's last day


def test_nudges_on_the_first_day_of_the_week_are_left_to_the_checkin() -> None:
    # Thursday afternoon: the next Monday slot belongs to the check-in, so Thursday follows.
    after = utc(2026, 11, 26, 13, 0)
    nudge = scheduling.next_nudge(member(heads_up_enabled=False), after, False)
    assert local(nudge) == datetime(2026, 12, 3, 9, 0)


def test_the_checkin_takes_the_skipped_first_day_slot() -> None:
    after = utc(2026, 11, 26, 13, 0)
    checkin = scheduling.next_checkin(member(), after)
    assert local(checkin) == datetime(2026, 11, 30, 9, 0)


def test_a_schedule_only_on_the_first_day_of_the_week_leaves_everything_to_the_checkin() -> None:
    mondays = member(nudge_days=tk.days_mask([0]), heads_up_enabled=False)
    assert scheduling.next_nudge(mondays, MONDAY_AFTERNOON, False) is None
    assert local(scheduling.next_checkin(mondays, MONDAY_AFTERNOON)) == datetime(2026, 11, 30, 9)


def test_sunday_weeks_skip_sunday_slots_not_monday_slots() -> None:
    sunday_week = member(week_starts_on=tk.SUNDAY, nudge_days=tk.days_mask([6, 0]))
    saturday = utc(2026, 11, 28, 12, 0)
    nudge = scheduling.next_nudge(sunday_week, saturday, False)
    assert local(nudge) == datetime(2026, 11, 30, 9, 0)


def test_a_met_week_gets_no_more_nudges_this_week() -> None:
    nudge = scheduling.next_nudge(member(), MONDAY_AFTERNOON, True)
    assert local(nudge) == datetime(2026, 12, 3, 9, 0)


def test_an_unmet_week_keeps_this_weeks_nudges() -> None:
    daily = member(nudge_days=tk.days_mask(range(7)))
    nudge = scheduling.next_nudge(daily, MONDAY_AFTERNOON, False)
    assert local(nudge) == datetime(2026, 11, 24, 9, 0)


def test_a_met_week_resumes_on_the_second_day_of_next_week() -> None:
    daily = member(nudge_days=tk.days_mask(range(7)))
    nudge = scheduling.next_nudge(daily, MONDAY_AFTERNOON, True)
    assert local(nudge) == datetime(2026, 12, 1, 9, 0)


def test_a_met_week_is_judged_in_the_members_zone() -> None:
    # Sunday 23:30 in Los Angeles is Monday in UTC; the met week is still the local one.
    la = member(timezone="America/Los_Angeles", nudge_days=tk.days_mask(range(7)))
    sunday_late = utc(2026, 11, 30, 7, 30)
    nudge = scheduling.next_nudge(la, sunday_late, True)
    assert local(nudge, "America/Los_Angeles") == datetime(2026, 12, 1, 9, 0)


@pytest.mark.parametrize(
    ("paused_until", "expected_local"),
    [
        (date(2026, 12, 10), datetime(2026, 12, 10, 9, 0)),  # a Thursday: that very day
        (date(2026, 12, 8), datetime(2026, 12, 10, 9, 0)),  # a Tuesday: the next Thursday
    ],
)
def test_a_pause_pushes_the_next_nudge_to_that_day_or_later(
    paused_until: date, expected_local: datetime
) -> None:
    paused = member(paused_until=paused_until)
    assert local(scheduling.next_nudge(paused, MONDAY_AFTERNOON, False)) == expected_local


def test_a_pause_in_the_past_changes_nothing() -> None:
    paused = member(paused_until=date(2026, 11, 1))
    assert scheduling.next_nudge(paused, MONDAY_AFTERNOON, False) == utc(2026, 11, 26, 8, 0)


def test_a_rest_pushes_nudges_past_the_rest_and_the_first_day_of_the_week_after() -> None:
    resting = member(rest_until=date(2026, 12, 7))
    nudge = scheduling.next_nudge(resting, MONDAY_AFTERNOON, False)
    assert local(nudge) == datetime(2026, 12, 10, 9, 0)


def test_the_later_of_pause_and_rest_wins() -> None:
    both = member(paused_until=date(2026, 12, 17), rest_until=date(2026, 12, 7))
    assert local(scheduling.next_nudge(both, MONDAY_AFTERNOON, False)) == datetime(2026, 12, 17, 9)


def test_resume_day_is_none_without_pause_or_rest() -> None:
    assert scheduling.resume_day(member()) is None


def test_resume_day_is_the_later_of_pause_and_rest() -> None:
    both = member(paused_until=date(2026, 12, 1), rest_until=date(2026, 12, 7))
    assert scheduling.resume_day(both) == date(2026, 12, 7)


# --- daylight saving ---------------------------------------------------------------------------


def test_a_thursday_nudge_in_new_york_stays_at_nine_across_fall_back() -> None:
    ny = member(timezone="America/New_York")
    first = scheduling.next_nudge(ny, utc(2026, 10, 27, 12, 0), False)
    assert first == utc(2026, 10, 29, 13, 0)  # EDT
    # Sunday 1 Nov, the day clocks go back at 02:00: its heads-up is at nine EST already.
    heads_up = scheduling.next_nudge(ny, first + timedelta(minutes=1), False)
    assert heads_up == utc(2026, 11, 1, 14, 0)
    second = scheduling.next_nudge(ny, heads_up + timedelta(minutes=1), False)
    assert second == utc(2026, 11, 5, 14, 0)  # EST


def test_a_nudge_in_the_spring_gap_fires_at_the_first_valid_minute() -> None:
    # Berlin's 2026-03-29 is a Sunday: 02:30 does not exist and becomes 03:00 CEST.
    sundays = member(nudge_days=tk.days_mask([6]), nudge_minute=2 * 60 + 30)
    nudge = scheduling.next_nudge(sundays, utc(2026, 3, 27, 12, 0), False)
    assert nudge == utc(2026, 3, 29, 1, 0)


def test_an_ambiguous_nudge_fires_once_at_the_first_occurrence() -> None:
    sundays = member(nudge_days=tk.days_mask([6]), nudge_minute=2 * 60 + 30)
    first = scheduling.next_nudge(sundays, utc(2026, 10, 23, 12, 0), False)
    assert first == utc(2026, 10, 25, 0, 30)
    assert first is not None
    again = scheduling.next_nudge(sundays, first, False)
    assert again == utc(2026, 11, 1, 1, 30)


def test_a_sydney_nudge_stays_at_nine_when_the_clocks_go_back() -> None:
    sydney = member(timezone="Australia/Sydney", nudge_days=tk.days_mask([5, 6]))
    saturday = scheduling.next_nudge(sydney, utc(2026, 4, 2, 12, 0), False)
    assert saturday is not None
    sunday = scheduling.next_nudge(sydney, saturday, False)
    assert saturday == utc(2026, 4, 3, 22, 0)
    assert sunday == utc(2026, 4, 4, 23, 0)
    assert local(sunday, "Australia/Sydney") == datetime(2026, 4, 5, 9, 0)


# --- the last day's heads-up ------------------------------------------------------------------

SUNDAY_NINE_BERLIN = utc(2026, 11, 29, 8, 0)


def test_the_heads_up_adds_a_slot_at_nudge_time_on_the_weeks_last_day() -> None:
    thursday_afternoon = utc(2026, 11, 26, 13, 0)
    heads_up = scheduling.next_nudge(member(), thursday_afternoon, False)
    assert heads_up == SUNDAY_NINE_BERLIN
    assert scheduling.nudge_kind(member(), heads_up) is DeliveryKind.HEADSUP
    after = scheduling.next_nudge(member(), heads_up, False)
    assert local(after) == datetime(2026, 12, 3, 9, 0)  # next Thursday: Monday is the check-in's
    assert scheduling.nudge_kind(member(), after) is DeliveryKind.NUDGE


def test_a_last_day_that_is_a_nudge_day_has_one_slot_and_it_is_the_heads_up() -> None:
    sundays = member(nudge_days=tk.days_mask([3, 6]))
    instants = []
    after = MONDAY_AFTERNOON
    for _ in range(4):
        found = scheduling.next_nudge(sundays, after, False)
        assert found is not None
        instants.append(found)
        after = found
    assert [local(i) for i in instants] == [
        datetime(2026, 11, 26, 9, 0),
        datetime(2026, 11, 29, 9, 0),
        datetime(2026, 12, 3, 9, 0),
        datetime(2026, 12, 6, 9, 0),
    ]
    kinds = [scheduling.nudge_kind(sundays, i) for i in instants]
    assert kinds == [DeliveryKind.NUDGE, DeliveryKind.HEADSUP] * 2


def test_with_the_heads_up_off_the_last_day_keeps_only_its_own_nudge() -> None:
    off = member(heads_up_enabled=False)
    thursday_afternoon = utc(2026, 11, 26, 13, 0)
    assert local(scheduling.next_nudge(off, thursday_afternoon, False)) == datetime(2026, 12, 3, 9)
    sundays = member(nudge_days=tk.days_mask([6]), heads_up_enabled=False)
    sunday = scheduling.next_nudge(sundays, thursday_afternoon, False)
    assert sunday == SUNDAY_NINE_BERLIN
    assert scheduling.nudge_kind(sundays, sunday) is DeliveryKind.NUDGE


def test_a_met_week_gets_no_heads_up() -> None:
    thursday_afternoon = utc(2026, 11, 26, 13, 0)
    nudge = scheduling.next_nudge(member(), thursday_afternoon, True)
    assert local(nudge) == datetime(2026, 12, 3, 9, 0)


def test_a_rest_or_a_pause_over_the_last_day_leaves_out_its_heads_up() -> None:
    thursday_afternoon = utc(2026, 11, 26, 13, 0)
    for ending in ({"rest_until": date(2026, 11, 30)}, {"paused_until": date(2026, 11, 30)}):
        nudge = scheduling.next_nudge(member(**ending), thursday_afternoon, False)
        assert local(nudge) == datetime(2026, 12, 3, 9, 0)


def test_sunday_weeks_get_their_heads_up_on_saturday() -> None:
    sunday_week = member(week_starts_on=tk.SUNDAY)
    thursday_afternoon = utc(2026, 11, 26, 13, 0)
    heads_up = scheduling.next_nudge(sunday_week, thursday_afternoon, False)
    assert local(heads_up) == datetime(2026, 11, 28, 9, 0)
    assert scheduling.nudge_kind(sunday_week, heads_up) is DeliveryKind.HEADSUP
    # Sunday opens their week: its slot is the check-in's, and a Sunday instant no heads-up.
    assert local(scheduling.next_checkin(sunday_week, heads_up)) == datetime(2026, 11, 29, 9)
    assert scheduling.nudge_kind(sunday_week, SUNDAY_NINE_BERLIN) is DeliveryKind.NUDGE


@pytest.mark.parametrize(
    ("sunday", "expected"),
    [
        # Berlin springs forward at 02:00 on Sunday 29 March: nine is CEST that morning.
        (date(2026, 3, 29), utc(2026, 3, 29, 7, 0)),
        (date(2026, 3, 22), utc(2026, 3, 22, 8, 0)),
        (date(2026, 4, 5), utc(2026, 4, 5, 7, 0)),
        # and falls back at 03:00 on Sunday 25 October: nine is CET again.
        (date(2026, 10, 18), utc(2026, 10, 18, 7, 0)),
        (date(2026, 10, 25), utc(2026, 10, 25, 8, 0)),
        (date(2026, 11, 1), utc(2026, 11, 1, 8, 0)),
    ],
)
def test_the_heads_up_is_at_nine_local_on_both_sides_of_a_dst_change(
    sunday: date, expected: datetime
) -> None:
    thursday_noon = datetime.combine(sunday - timedelta(days=3), datetime.min.time(), UTC)
    heads_up = scheduling.next_nudge(member(), thursday_noon + timedelta(hours=12), False)
    assert heads_up == expected
    assert local(heads_up) == datetime.combine(sunday, datetime.min.time()) + timedelta(hours=9)
    assert scheduling.nudge_kind(member(), heads_up) is DeliveryKind.HEADSUP


def test_a_snoozed_instant_on_the_last_day_is_the_heads_up_again() -> None:
    later_that_sunday = utc(2026, 11, 29, 11, 30)
    assert scheduling.nudge_kind(member(), later_that_sunday) is DeliveryKind.HEADSUP
    just_after_midnight = utc(2026, 11, 29, 23, 30)  # Monday 00:30 in Berlin
    assert scheduling.nudge_kind(member(), just_after_midnight) is DeliveryKind.NUDGE


# --- the weekly check-in -----------------------------------------------------------------------


def test_the_checkin_is_this_mondays_nudge_time_when_that_is_still_ahead() -> None:
    early_monday = utc(2026, 11, 23, 6, 0)  # 07:00 Berlin
    assert scheduling.next_checkin(member(), early_monday) == utc(2026, 11, 23, 8, 0)


def test_the_checkin_is_next_mondays_nudge_time_once_this_one_passed() -> None:
    assert scheduling.next_checkin(member(), MONDAY_AFTERNOON) == utc(2026, 11, 30, 8, 0)


def test_the_checkin_is_strictly_after_the_given_instant() -> None:
    assert scheduling.next_checkin(member(), utc(2026, 11, 23, 8, 0)) == utc(2026, 11, 30, 8, 0)


def test_the_checkin_follows_the_members_nudge_minute() -> None:
    evening = member(nudge_minute=18 * 60 + 30)
    assert local(scheduling.next_checkin(evening, MONDAY_AFTERNOON)) == datetime(
        2026, 11, 23, 18, 30
    )


def test_sunday_weeks_check_in_on_sunday() -> None:
    sunday_week = member(week_starts_on=tk.SUNDAY)
    checkin = scheduling.next_checkin(sunday_week, MONDAY_AFTERNOON)
    assert local(checkin) == datetime(2026, 11, 29, 9, 0)


def test_the_checkin_after_a_dst_week_keeps_the_local_time() -> None:
    checkin = scheduling.next_checkin(member(), utc(2026, 10, 20, 12, 0))
    assert checkin == utc(2026, 10, 26, 8, 0)
    assert local(checkin) == datetime(2026, 10, 26, 9, 0)


def test_the_checkin_in_a_spring_gap_fires_at_the_first_valid_minute() -> None:
    sydney = member(timezone="Australia/Sydney", week_starts_on=tk.SUNDAY, nudge_minute=2 * 60 + 30)
    checkin = scheduling.next_checkin(sydney, utc(2026, 9, 30, 12, 0))
    assert checkin == utc(2026, 10, 3, 16, 0)


def test_the_checkin_ignores_a_pause() -> None:
    paused = member(paused_until=date(2026, 12, 24))
    assert scheduling.next_checkin(paused, MONDAY_AFTERNOON) == utc(2026, 11, 30, 8, 0)


def test_closed_week_of_a_checkin_is_the_week_before() -> None:
    checkin = utc(2026, 11, 30, 8, 0)
    assert scheduling.closed_week_of_checkin(member(), checkin) == date(2026, 11, 23)


def test_closed_week_of_a_checkin_across_the_year_end() -> None:
    checkin = utc(2027, 1, 4, 8, 0)
    assert scheduling.closed_week_of_checkin(member(), checkin) == date(2026, 12, 28)


def test_plan_returns_the_nudge_and_the_checkin() -> None:
    assert scheduling.plan(member(), MONDAY_AFTERNOON, False) == (
        utc(2026, 11, 26, 8, 0),
        utc(2026, 11, 30, 8, 0),
    )


# --- settle_due: what the sweep logs for a due slot -------------------------------------------

SETTLE_NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
GRACE = timedelta(hours=6)


def never() -> datetime | None:
    raise AssertionError("a fresh slot needs no catch-up plan")


def test_a_slot_within_the_grace_period_is_sent() -> None:
    stored = SETTLE_NOW - timedelta(hours=1)
    assert scheduling.settle_due(stored, SETTLE_NOW, GRACE, never) == ((stored, None),)


def test_a_slot_the_check_in_speaks_for_is_skipped() -> None:
    entries = scheduling.settle_due(SETTLE_NOW, SETTLE_NOW, GRACE, never, spoken_for=True)
    assert entries == ((SETTLE_NOW, scheduling.SPOKEN_FOR),)


def test_a_stale_slot_is_skipped_and_the_latest_fresh_one_caught_up_once() -> None:
    stored = SETTLE_NOW - timedelta(days=3)
    later = SETTLE_NOW - timedelta(minutes=30)
    entries = scheduling.settle_due(stored, SETTLE_NOW, GRACE, lambda: later)
    assert entries == ((stored, scheduling.MISSED), (later, None))


def test_a_stale_slot_with_nothing_fresh_since_is_only_skipped() -> None:
    stored = SETTLE_NOW - timedelta(days=3)
    entries = scheduling.settle_due(stored, SETTLE_NOW, GRACE, lambda: None)
    assert entries == ((stored, scheduling.MISSED),)
    too_old = SETTLE_NOW - timedelta(days=4)  # a "later" slot that is not after the stored one
    assert scheduling.settle_due(stored, SETTLE_NOW, GRACE, lambda: too_old) == entries


def test_a_catch_up_the_check_in_speaks_for_is_skipped_too() -> None:
    stored = SETTLE_NOW - timedelta(days=3)
    entries = scheduling.settle_due(stored, SETTLE_NOW, GRACE, lambda: SETTLE_NOW, spoken_for=True)
    assert entries == ((stored, scheduling.MISSED), (SETTLE_NOW, scheduling.SPOKEN_FOR))


# --- planning_key: what the sweep's memo shares ------------------------------------------------

SNAPSHOTS = st.builds(
    scheduling.Snapshot,
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"]),
    week_starts_on=st.sampled_from([tk.MONDAY, tk.SUNDAY]),
    goal_target=st.none() | st.integers(1, 21),
    nudge_days=st.integers(0, 127),
    nudge_minute=st.integers(0, 24 * 60 - 1),
    nudges_on=st.booleans(),
    paused_until=st.none() | st.dates(date(2026, 11, 1), date(2027, 1, 31)),
    rest_until=st.none() | st.dates(date(2026, 11, 1), date(2027, 1, 31)),
    unreachable=st.booleans(),
    heads_up_enabled=st.booleans(),
)


@given(SNAPSHOTS, st.integers(0, 60 * 24 * 21))
@settings(max_examples=300, deadline=None)
def test_a_planning_key_plans_exactly_like_its_snapshot(
    snapshot: scheduling.Snapshot, minutes: int
) -> None:
    after = MONDAY_AFTERNOON + timedelta(minutes=minutes)
    key = scheduling.planning_key(snapshot)

    assert scheduling.plan(key, after, False) == scheduling.plan(snapshot, after, False)


def test_planning_keys_ignore_the_goal_size_and_all_but_the_resume_day() -> None:
    base = scheduling.Snapshot("UTC", 0, 1, 9, 540, True, None, None, False)
    rested = base._replace(paused_until=date(2026, 12, 1), rest_until=date(2026, 11, 30))

    assert scheduling.planning_key(base._replace(goal_target=3)) == scheduling.planning_key(base)
    assert scheduling.planning_key(base._replace(goal_target=None)) != scheduling.planning_key(base)
    assert scheduling.planning_key(rested) == scheduling.planning_key(
        base._replace(rest_until=date(2026, 12, 1))
    )
