"""Weeks, local instants and nudge slots in a member's zone, including daylight-saving edges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from habits import timekeeping as tk

BERLIN = tk.zone("Europe/Berlin")
NEW_YORK = tk.zone("America/New_York")
SYDNEY = tk.zone("Australia/Sydney")
LOS_ANGELES = tk.zone("America/Los_Angeles")
TOKYO = tk.zone("Asia/Tokyo")
AUCKLAND = tk.zone("Pacific/Auckland")
UTC_ZONE = tk.zone("UTC")

EVERY_DAY = tk.days_mask(range(7))
NINE = 9 * 60

# Days on which the clocks change in 2026.
SPRING_FORWARD = {
    "Europe/Berlin": date(2026, 3, 29),
    "America/New_York": date(2026, 3, 8),
    "Australia/Sydney": date(2026, 10, 4),
}
FALL_BACK = {
    "Europe/Berlin": date(2026, 10, 25),
    "America/New_York": date(2026, 11, 1),
    "Australia/Sydney": date(2026, 4, 5),
}
ALL_TRANSITIONS = [
    pytest.param(name, day, id=f"{name}-{day}")
    for name, day in [*SPRING_FORWARD.items(), *FALL_BACK.items()]
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def slots(days: int, minute: int, tz: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    return list(islice(tk.nudge_slots(days, minute, tz, after), count))


# --- aware / naive guards ----------------------------------------------------------------------


def test_require_aware_returns_an_aware_datetime_unchanged() -> None:
    moment = utc(2026, 11, 23, 13, 0)
    assert tk.require_aware(moment) is moment


def test_require_aware_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        tk.require_aware(datetime(2026, 11, 23, 13, 0))


def test_to_instant_refuses_an_aware_wall_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        tk.to_instant(utc(2026, 11, 23, 9, 0), BERLIN)


def test_week_of_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="naive"):
        tk.week_of(datetime(2026, 11, 23, 9, 0), BERLIN)


def test_nudge_slots_refuses_a_naive_after() -> None:
    with pytest.raises(ValueError, match="naive"):
        next(iter(tk.nudge_slots(EVERY_DAY, NINE, BERLIN, datetime(2026, 11, 23, 9, 0))))


def test_zone_refuses_a_name_that_is_not_an_iana_zone() -> None:
    with pytest.raises(KeyError):
        tk.zone("Mars/Olympus")


def test_zone_returns_the_named_zone() -> None:
    assert str(tk.zone("Europe/Berlin")) == "Europe/Berlin"


NOT_PLACES = [
    "localtime",
    "Factory",
    "posixrules",
    "posix/Europe/Berlin",
    "right/UTC",
    "SystemV/EST5EDT",
]
PLACES = ["UTC", "Etc/UTC", "Etc/GMT+5", "Europe/Berlin", "America/New_York"]


@pytest.fixture
def fresh_zone_cache() -> Iterator[None]:
    tk.known_zone_names.cache_clear()
    tk.zone.cache_clear()
    yield
    tk.known_zone_names.cache_clear()
    tk.zone.cache_clear()


@pytest.mark.parametrize("name", NOT_PLACES)
def test_known_zone_names_leave_out_names_that_are_not_places(
    name: str, fresh_zone_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some systems' zone trees hold these; pretend this one holds them all.
    monkeypatch.setattr(tk, "available_timezones", lambda: {*NOT_PLACES, *PLACES})
    assert tk.known_zone_names() == frozenset(PLACES)
    with pytest.raises(KeyError):
        tk.zone(name)


@pytest.mark.parametrize("name", NOT_PLACES)
def test_the_real_zone_list_has_no_names_that_are_not_places(name: str) -> None:
    assert name not in tk.known_zone_names()
    assert not any(n.startswith(("posix/", "right/", "SystemV/")) for n in tk.known_zone_names())


@pytest.mark.parametrize("name", PLACES)
def test_known_zone_names_keep_utc_and_real_places(name: str) -> None:
    assert name in tk.known_zone_names()
    assert str(tk.zone(name)) == name


# --- weeks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", range(7))
def test_every_day_of_a_week_maps_to_its_monday(offset: int) -> None:
    monday = date(2026, 11, 23)
    assert tk.week_start(monday + timedelta(days=offset)) == monday


@pytest.mark.parametrize("offset", range(7))
def test_every_day_of_a_sunday_week_maps_to_its_sunday(offset: int) -> None:
    sunday = date(2026, 11, 22)
    assert tk.week_start(sunday + timedelta(days=offset), tk.SUNDAY) == sunday


def test_a_sunday_closes_a_monday_week_but_opens_a_sunday_week() -> None:
    sunday = date(2026, 11, 29)
    assert tk.week_start(sunday, tk.MONDAY) == date(2026, 11, 23)
    assert tk.week_start(sunday, tk.SUNDAY) == sunday


@pytest.mark.parametrize(
    ("day", "starts_on", "expected"),
    [
        (date(2026, 12, 31), tk.MONDAY, date(2026, 12, 28)),
        (date(2027, 1, 1), tk.MONDAY, date(2026, 12, 28)),
        (date(2027, 1, 3), tk.MONDAY, date(2026, 12, 28)),
        (date(2027, 1, 4), tk.MONDAY, date(2027, 1, 4)),
        (date(2026, 12, 31), tk.SUNDAY, date(2026, 12, 27)),
        (date(2027, 1, 1), tk.SUNDAY, date(2026, 12, 27)),
        (date(2027, 1, 2), tk.SUNDAY, date(2026, 12, 27)),
        (date(2027, 1, 3), tk.SUNDAY, date(2027, 1, 3)),
    ],
)
def test_a_week_spans_the_year_boundary(day: date, starts_on: int, expected: date) -> None:
    assert tk.week_start(day, starts_on) == expected


def test_iso_week_53_of_2026_is_one_coach_week() -> None:
    days = [date(2026, 12, 28) + timedelta(days=i) for i in range(7)]
    assert {d.isocalendar()[:2] for d in days} == {(2026, 53)}
    assert {tk.week_start(d) for d in days} == {date(2026, 12, 28)}


def test_the_week_after_iso_week_53_is_week_1_of_2027() -> None:
    following = tk.week_start(date(2027, 1, 4))
    assert following == date(2026, 12, 28) + timedelta(days=7)
    assert following.isocalendar()[:2] == (2027, 1)


def test_late_sunday_in_los_angeles_belongs_to_the_local_week_not_the_utc_one() -> None:
    # Sunday 2026-11-29 23:30 PST is already Monday 07:30 in UTC.
    instant = utc(2026, 11, 30, 7, 30)
    assert tk.local_date(instant, LOS_ANGELES) == date(2026, 11, 29)
    assert tk.week_of(instant, LOS_ANGELES) == date(2026, 11, 23)
    assert tk.week_of(instant, UTC_ZONE) == date(2026, 11, 30)


def test_late_saturday_in_los_angeles_belongs_to_the_local_sunday_week() -> None:
    # Saturday 2026-11-28 23:30 PST is Sunday 07:30 UTC: with Sunday weeks, still last week.
    instant = utc(2026, 11, 29, 7, 30)
    assert tk.week_of(instant, LOS_ANGELES, tk.SUNDAY) == date(2026, 11, 22)
    assert tk.week_of(instant, UTC_ZONE, tk.SUNDAY) == date(2026, 11, 29)


def test_early_monday_in_tokyo_opens_the_local_week_while_utc_is_still_sunday() -> None:
    instant = utc(2026, 11, 29, 15, 30)  # Monday 00:30 JST
    assert tk.week_of(instant, TOKYO) == date(2026, 11, 30)
    assert tk.week_of(instant, UTC_ZONE) == date(2026, 11, 23)


def test_new_years_eve_in_los_angeles_stays_in_2026_although_utc_is_2027() -> None:
    instant = utc(2027, 1, 1, 7, 30)  # 2026-12-31 23:30 PST
    assert tk.local_date(instant, LOS_ANGELES) == date(2026, 12, 31)
    assert tk.week_of(instant, LOS_ANGELES) == date(2026, 12, 28)


def test_new_years_day_in_auckland_is_2027_although_utc_is_2026() -> None:
    instant = utc(2026, 12, 31, 11, 30)  # 2027-01-01 00:30 NZDT
    assert tk.local_date(instant, AUCKLAND) == date(2027, 1, 1)
    assert tk.week_of(instant, AUCKLAND, tk.SUNDAY) == date(2026, 12, 27)


def test_week_bounds_of_an_ordinary_week_are_local_midnights_168_hours_apart() -> None:
    begin, end = tk.week_bounds(date(2026, 11, 23), BERLIN)
    assert begin == utc(2026, 11, 22, 23, 0)
    assert end - begin == timedelta(hours=168)
    assert end.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 11, 30, 0, 0)


@pytest.mark.parametrize(
    ("zone_name", "week", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 23), 167),
        ("Europe/Berlin", date(2026, 10, 19), 169),
        ("America/New_York", date(2026, 3, 2), 167),
        ("America/New_York", date(2026, 10, 26), 169),
        ("Australia/Sydney", date(2026, 9, 28), 167),
        ("Australia/Sydney", date(2026, 3, 30), 169),
    ],
)
def test_week_bounds_across_a_dst_change_keep_local_midnights(
    zone_name: str, week: date, hours: int
) -> None:
    tz = tk.zone(zone_name)
    begin, end = tk.week_bounds(week, tz)
    assert end - begin == timedelta(hours=hours)
    assert begin.astimezone(tz).replace(tzinfo=None) == datetime.combine(week, time())
    assert end.astimezone(tz).replace(tzinfo=None) == datetime.combine(
        week + timedelta(days=7), time()
    )


def test_consecutive_weeks_touch_without_gap_or_overlap() -> None:
    week = date(2026, 10, 19)
    _, end = tk.week_bounds(week, BERLIN)
    begin_next, _ = tk.week_bounds(week + timedelta(days=7), BERLIN)
    assert end == begin_next


def test_weeks_between_lists_week_starts_inclusively_across_the_year_end() -> None:
    weeks = tk.weeks_between(date(2026, 12, 21), date(2027, 1, 11))
    assert weeks == [date(2026, 12, 21), date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 11)]


def test_weeks_between_a_week_and_itself_is_that_week() -> None:
    assert tk.weeks_between(date(2026, 11, 23), date(2026, 11, 23)) == [date(2026, 11, 23)]


def test_weeks_between_is_empty_when_first_is_after_last() -> None:
    assert tk.weeks_between(date(2026, 11, 30), date(2026, 11, 23)) == []


# --- local wall times --------------------------------------------------------------------------


def test_to_instant_of_an_ordinary_wall_time() -> None:
    assert tk.to_instant(datetime(2026, 11, 23, 9, 0), BERLIN) == utc(2026, 11, 23, 8, 0)


@pytest.mark.parametrize(
    ("zone_name", "wall", "expected"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 0)),
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 0), utc(2026, 3, 29, 1, 0)),
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 59), utc(2026, 3, 29, 1, 0)),
        ("America/New_York", datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 7, 0)),
        ("Australia/Sydney", datetime(2026, 10, 4, 2, 30), utc(2026, 10, 3, 16, 0)),
    ],
)
def test_a_wall_time_in_the_spring_gap_maps_to_the_first_valid_minute_after_it(
    zone_name: str, wall: datetime, expected: datetime
) -> None:
    tz = tk.zone(zone_name)
    instant = tk.to_instant(wall, tz)
    assert instant == expected
    assert instant.astimezone(tz).time() == time(3, 0)


@pytest.mark.parametrize(
    ("zone_name", "wall", "expected"),
    [
        ("Europe/Berlin", datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30)),
        ("America/New_York", datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 5, 30)),
        ("Australia/Sydney", datetime(2026, 4, 5, 2, 30), utc(2026, 4, 4, 15, 30)),
    ],
)
def test_an_ambiguous_wall_time_maps_to_its_first_occurrence(
    zone_name: str, wall: datetime, expected: datetime
) -> None:
    tz = tk.zone(zone_name)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    assert first < second
    assert tk.to_instant(wall, tz) == expected == first


@pytest.mark.parametrize(
    ("zone_name", "wall"),
    [
        ("Europe/Berlin", datetime(2026, 10, 25, 2, 30)),
        ("America/New_York", datetime(2026, 11, 1, 1, 30)),
        ("Australia/Sydney", datetime(2026, 4, 5, 2, 30)),
    ],
)
def test_is_ambiguous_is_true_for_a_wall_time_that_happens_twice(
    zone_name: str, wall: datetime
) -> None:
    assert tk.is_ambiguous(wall, tk.zone(zone_name))


@pytest.mark.parametrize(
    ("zone_name", "wall"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 30)),  # does not exist at all
        ("America/New_York", datetime(2026, 3, 8, 2, 30)),  # does not exist at all
        ("Europe/Berlin", datetime(2026, 10, 25, 9, 0)),
        ("Europe/Berlin", datetime(2026, 11, 23, 2, 30)),
    ],
)
def test_is_ambiguous_is_false_for_gaps_and_ordinary_times(zone_name: str, wall: datetime) -> None:
    assert not tk.is_ambiguous(wall, tk.zone(zone_name))


# --- nudge slots -------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone_name", "day"), ALL_TRANSITIONS)
def test_a_nine_oclock_nudge_stays_at_nine_local_on_both_sides_of_a_dst_change(
    zone_name: str, day: date
) -> None:
    tz = tk.zone(zone_name)
    after = tk.to_instant(datetime.combine(day - timedelta(days=2), time(12)), tz)
    before_day, change_day, after_day = slots(EVERY_DAY, NINE, tz, after, 3)
    for slot in (before_day, change_day, after_day):
        assert slot.astimezone(tz).time() == time(9, 0)
    assert [s.astimezone(tz).date() for s in (before_day, change_day, after_day)] == [
        day - timedelta(days=1),
        day,
        day + timedelta(days=1),
    ]
    # The UTC hour shifts by the DST change: the local hour is what stays.
    assert change_day - before_day != timedelta(hours=24)
    assert after_day - change_day == timedelta(hours=24)


def test_berlin_nine_oclock_in_utc_before_and_after_spring_forward() -> None:
    after = utc(2026, 3, 28, 0, 0)
    assert slots(EVERY_DAY, NINE, BERLIN, after, 2) == [
        utc(2026, 3, 28, 8, 0),
        utc(2026, 3, 29, 7, 0),
    ]


def test_sydney_nine_oclock_in_utc_before_and_after_clocks_go_back() -> None:
    after = utc(2026, 4, 3, 0, 0)
    assert slots(EVERY_DAY, NINE, SYDNEY, after, 2) == [
        utc(2026, 4, 3, 22, 0),  # Sat 04-04 09:00 AEDT
        utc(2026, 4, 4, 23, 0),  # Sun 04-05 09:00 AEST
    ]


@pytest.mark.parametrize(
    ("zone_name", "expected"),
    [
        ("Europe/Berlin", utc(2026, 3, 29, 1, 0)),
        ("America/New_York", utc(2026, 3, 8, 7, 0)),
        ("Australia/Sydney", utc(2026, 10, 3, 16, 0)),
    ],
)
def test_a_slot_inside_the_spring_gap_fires_once_at_the_first_valid_minute(
    zone_name: str, expected: datetime
) -> None:
    tz = tk.zone(zone_name)
    day = SPRING_FORWARD[zone_name]
    after = tk.to_instant(datetime.combine(day - timedelta(days=1), time(12)), tz)
    on_day, next_day = slots(EVERY_DAY, 2 * 60 + 30, tz, after, 2)
    assert on_day == expected
    assert on_day.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, time(3, 0))
    assert next_day.astimezone(tz).replace(tzinfo=None) == datetime.combine(
        day + timedelta(days=1), time(2, 30)
    )


@pytest.mark.parametrize(
    ("zone_name", "minute", "first_occurrence"),
    [
        ("Europe/Berlin", 2 * 60 + 30, utc(2026, 10, 25, 0, 30)),
        ("America/New_York", 1 * 60 + 30, utc(2026, 11, 1, 5, 30)),
        ("Australia/Sydney", 2 * 60 + 30, utc(2026, 4, 4, 15, 30)),
    ],
)
def test_an_ambiguous_slot_fires_once_at_its_first_occurrence(
    zone_name: str, minute: int, first_occurrence: datetime
) -> None:
    tz = tk.zone(zone_name)
    day = FALL_BACK[zone_name]
    after = tk.to_instant(datetime.combine(day - timedelta(days=1), time(12)), tz)
    found = slots(EVERY_DAY, minute, tz, after, 3)
    on_day = [s for s in found if s.astimezone(tz).date() == day]
    assert on_day == [first_occurrence]
    assert on_day[0].astimezone(tz).fold == 0


@pytest.mark.parametrize(
    ("zone_name", "minute", "between"),
    [
        ("Europe/Berlin", 2 * 60 + 30, utc(2026, 10, 25, 1, 0)),
        ("America/New_York", 1 * 60 + 30, utc(2026, 11, 1, 6, 0)),
        ("Australia/Sydney", 2 * 60 + 30, utc(2026, 4, 4, 16, 0)),
    ],
)
def test_an_ambiguous_slot_does_not_fire_again_at_its_second_occurrence(
    zone_name: str, minute: int, between: datetime
) -> None:
    # ``between`` lies after the first occurrence and before the second one.
    tz = tk.zone(zone_name)
    day = FALL_BACK[zone_name]
    upcoming = slots(EVERY_DAY, minute, tz, between, 1)[0]
    assert upcoming.astimezone(tz).date() == day + timedelta(days=1)


@pytest.mark.parametrize(("zone_name", "day"), ALL_TRANSITIONS)
@pytest.mark.parametrize("minute", [0, 60 + 30, 2 * 60 + 30, NINE, 23 * 60 + 59])
def test_slots_across_a_dst_week_are_strictly_ordered_and_one_per_local_day(
    zone_name: str, day: date, minute: int
) -> None:
    tz = tk.zone(zone_name)
    after = tk.to_instant(datetime.combine(day - timedelta(days=10), time()), tz)
    found = slots(EVERY_DAY, minute, tz, after, 21)
    assert all(a < b for a, b in pairwise(found))
    local_days = [s.astimezone(tz).date() for s in found]
    assert len(set(local_days)) == len(local_days)
    assert local_days == [local_days[0] + timedelta(days=i) for i in range(21)]


def test_slots_follow_the_chosen_weekdays_only() -> None:
    mon_thu = tk.days_mask([0, 3])
    found = slots(mon_thu, NINE, BERLIN, utc(2026, 11, 23, 12, 0), 4)
    assert [s.astimezone(BERLIN).date() for s in found] == [
        date(2026, 11, 26),
        date(2026, 11, 30),
        date(2026, 12, 3),
        date(2026, 12, 7),
    ]


def test_slots_are_strictly_after_the_given_instant() -> None:
    exactly_nine = utc(2026, 11, 23, 8, 0)  # 09:00 Berlin
    assert slots(EVERY_DAY, NINE, BERLIN, exactly_nine, 1) == [utc(2026, 11, 24, 8, 0)]


def test_slots_skip_local_days_before_not_before() -> None:
    found = list(
        islice(
            tk.nudge_slots(EVERY_DAY, NINE, BERLIN, utc(2026, 11, 23, 12, 0), date(2026, 12, 2)),
            2,
        )
    )
    assert found == [utc(2026, 12, 2, 8, 0), utc(2026, 12, 3, 8, 0)]


def test_a_not_before_in_the_past_changes_nothing() -> None:
    after = utc(2026, 11, 23, 12, 0)
    with_past = list(islice(tk.nudge_slots(EVERY_DAY, NINE, BERLIN, after, date(2026, 1, 1)), 3))
    assert with_past == slots(EVERY_DAY, NINE, BERLIN, after, 3)


def test_an_empty_schedule_has_no_slots() -> None:
    assert list(tk.nudge_slots(0, NINE, BERLIN, utc(2026, 11, 23, 12, 0))) == []


def test_a_local_slot_uses_the_local_date_not_the_utc_date() -> None:
    # 23:30 in Los Angeles on Monday is Tuesday in UTC.
    monday_only = tk.days_mask([0])
    found = slots(monday_only, 23 * 60 + 30, LOS_ANGELES, utc(2026, 11, 23, 12, 0), 1)
    assert found == [utc(2026, 11, 24, 7, 30)]
    assert found[0].astimezone(LOS_ANGELES).weekday() == 0


def test_next_slot_returns_the_first_slot() -> None:
    assert tk.next_slot(EVERY_DAY, NINE, BERLIN, utc(2026, 11, 23, 12, 0)) == utc(
        2026, 11, 24, 8, 0
    )


def test_next_slot_skips_the_given_week() -> None:
    found = tk.next_slot(
        EVERY_DAY, NINE, BERLIN, utc(2026, 11, 23, 12, 0), skip_week=date(2026, 11, 23)
    )
    assert found == utc(2026, 11, 30, 8, 0)


def test_next_slot_skips_a_sunday_week_with_sunday_starts() -> None:
    found = tk.next_slot(
        EVERY_DAY,
        NINE,
        BERLIN,
        utc(2026, 11, 23, 12, 0),
        skip_week=date(2026, 11, 22),
        starts_on=tk.SUNDAY,
    )
    assert found == utc(2026, 11, 29, 8, 0)


def test_next_slot_avoids_the_given_instant() -> None:
    found = tk.next_slot(
        EVERY_DAY, NINE, BERLIN, utc(2026, 11, 23, 12, 0), avoid=utc(2026, 11, 24, 8, 0)
    )
    assert found == utc(2026, 11, 25, 8, 0)


def test_next_slot_gives_up_after_the_horizon() -> None:
    found = tk.next_slot(
        EVERY_DAY, NINE, BERLIN, utc(2026, 11, 23, 12, 0), skip_week=date(2026, 11, 23), horizon=3
    )
    assert found is None


def test_next_slot_of_an_empty_schedule_is_none() -> None:
    assert tk.next_slot(0, NINE, BERLIN, utc(2026, 11, 23, 12, 0)) is None


def test_checkin_instant_is_the_nudge_time_on_the_next_weeks_first_day() -> None:
    assert tk.checkin_instant(date(2026, 11, 23), BERLIN, NINE) == utc(2026, 11, 30, 8, 0)


def test_checkin_instant_after_a_dst_week_keeps_the_local_time() -> None:
    checkin = tk.checkin_instant(date(2026, 10, 19), BERLIN, NINE)
    assert checkin == utc(2026, 10, 26, 8, 0)
    assert checkin.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 10, 26, 9, 0)


def test_checkin_instant_in_a_gap_moves_to_the_first_valid_minute() -> None:
    # Sunday weeks in Sydney: the week after 2026-09-27 opens on the spring-forward Sunday.
    checkin = tk.checkin_instant(date(2026, 9, 27), SYDNEY, 2 * 60 + 30)
    assert checkin == utc(2026, 10, 3, 16, 0)


# --- days and minutes --------------------------------------------------------------------------


def test_days_mask_and_mask_days_round_trip() -> None:
    assert tk.mask_days(tk.days_mask([4, 0, 2, 0])) == [0, 2, 4]


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (range(7), "every day"),
        (range(5), "weekdays"),
        ([5, 6], "weekends"),
        ([0, 3], "Mon Thu"),
        ([6], "Sun"),
    ],
)
def test_describe_days(days: range | list[int], text: str) -> None:
    assert tk.describe_days(tk.days_mask(days)) == text


@pytest.mark.parametrize(("minute", "text"), [(0, "00:00"), (NINE, "09:00"), (1110, "18:30")])
def test_describe_minute(minute: int, text: str) -> None:
    assert tk.describe_minute(minute) == text


# --- time left ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (timedelta(days=3), "3 days left"),
        (timedelta(days=2, hours=1), "3 days left"),
        (timedelta(days=1), "1 day left"),
        (timedelta(hours=23), "23 hours left"),
        (timedelta(hours=1, minutes=30), "1 hour left"),
        (timedelta(minutes=59), "less than an hour left"),
    ],
)
def test_humanize_left(left: timedelta, text: str) -> None:
    end = utc(2026, 11, 29, 23, 0)
    assert tk.humanize_left(end - left, end) == text


def test_humanize_left_at_the_start_of_a_25_hour_week_says_seven_days() -> None:
    begin, end = tk.week_bounds(date(2026, 10, 19), BERLIN)
    assert tk.humanize_left(begin, end, BERLIN) == "7 days left"


def test_humanize_left_at_the_start_of_a_23_hour_week_says_seven_days() -> None:
    begin, end = tk.week_bounds(date(2026, 3, 23), BERLIN)
    assert tk.humanize_left(begin, end, BERLIN) == "7 days left"


def test_humanize_left_with_a_zone_counts_local_days_including_today() -> None:
    _, end = tk.week_bounds(date(2026, 10, 19), BERLIN)
    saturday_evening = tk.to_instant(datetime(2026, 10, 24, 20, 0), BERLIN)
    assert tk.humanize_left(saturday_evening, end, BERLIN) == "2 days left"


def test_humanize_left_with_a_zone_on_the_last_day_counts_hours() -> None:
    _, end = tk.week_bounds(date(2026, 10, 19), BERLIN)
    sunday_noon = tk.to_instant(datetime(2026, 10, 25, 12, 0), BERLIN)
    assert tk.humanize_left(sunday_noon, end, BERLIN) == "12 hours left"


# --- unusual zones -----------------------------------------------------------------------------


def test_a_half_hour_dst_gap_maps_to_its_end() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30 on 2026-10-04.
    lord_howe = tk.zone("Australia/Lord_Howe")
    instant = tk.to_instant(datetime(2026, 10, 4, 2, 15), lord_howe)
    assert instant == utc(2026, 10, 3, 15, 30)
    assert instant.astimezone(lord_howe).time() == time(2, 30)


def test_a_week_whose_first_midnight_does_not_exist_starts_at_the_first_valid_minute() -> None:
    # Chile springs forward at 24:00: Sunday 2026-09-06 starts at 01:00 local.
    santiago = tk.zone("America/Santiago")
    begin, end = tk.week_bounds(date(2026, 9, 6), santiago)
    assert begin == utc(2026, 9, 6, 4, 0)
    assert begin.astimezone(santiago).replace(tzinfo=None) == datetime(2026, 9, 6, 1, 0)
    assert end - begin == timedelta(hours=167)
    assert tk.week_bounds(date(2026, 8, 30), santiago)[1] == begin
