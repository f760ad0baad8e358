"""Calendar arithmetic in a member's zone: weeks, local instants and nudge slots.

Every function takes and returns aware datetimes (UTC for instants) or plain dates (local
calendar days). Daylight-saving rules live here and nowhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil import rrule
from dateutil.relativedelta import relativedelta
from dateutil.tz import datetime_ambiguous, datetime_exists

MONDAY = 0
SUNDAY = 6
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_RRULE_DAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)


def require_aware(moment: datetime) -> datetime:
    """Refuse naive datetimes early: a naive instant is a bug, never a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment


# Names in the zone database that are not places a member lives in: the host's own setting,
# the "no zone set" placeholder, POSIX rule files and the duplicate posix/ and right/ trees.
_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})
_NOT_PLACE_PREFIXES = ("posix/", "right/", "SystemV/")


@lru_cache(maxsize=1)
def known_zone_names() -> frozenset[str]:
    """IANA names a member may choose; 'UTC' and 'Etc/UTC' are in, 'localtime' is not."""
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_PLACES and not name.startswith(_NOT_PLACE_PREFIXES)
    )


def _zone_database_file(name: str) -> str:
    """A text file of the zone database (tzdata.zi, zone.tab): from the tzdata package the
    project pins, so every file comes from one release; else the system's; else empty."""
    with contextlib.suppress(ImportError, OSError):
        return resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    for folder in TZPATH:
        with contextlib.suppress(OSError):
            return (Path(folder) / name).read_text(encoding="utf-8")
    return ""


@lru_cache(maxsize=1)
def _links() -> dict[str, str]:
    """Alias → target for every link in the zone database ("Europe/Kiev" → "Europe/Kyiv")."""
    links = {}
    for line in _zone_database_file("tzdata.zi").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()[:3]
            links[alias] = target
    return links


@lru_cache(maxsize=1)
def _country_zones() -> frozenset[str]:
    """The zones listed for a country (zone.tab), e.g. Europe/Oslo, even where the database
    now links one to another."""
    names = set()
    for line in _zone_database_file("zone.tab").splitlines():
        if line and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) >= 3:
                names.add(fields[2])
    return frozenset(names)


_PLAIN_NAMES = {"Etc/UTC": "UTC", "Etc/GMT": "GMT"}


@lru_cache(maxsize=1024)
def preferred_zone_name(name: str) -> str:
    """The name to offer for a zone: its own, if it is a country's zone or no alias; else the
    current name it links to ("Europe/Kiev" → "Europe/Kyiv", "UCT" → "UTC")."""
    seen = {name}
    while name not in _country_zones() and name in _links():
        name = _links()[name]
        if name in seen:  # a malformed database: stop rather than loop
            break
        seen.add(name)
    return _PLAIN_NAMES.get(name, name)


@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; raises KeyError for names that are not real zones."""
    if name not in known_zone_names():
        raise KeyError(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but unreadable
        raise KeyError(name) from exc


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return require_aware(instant).astimezone(tz).date()


def to_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time, following the coach's DST rules.

    A wall time that happens twice (clocks go back) maps to its first occurrence; one that does
    not exist (clocks go forward) maps to the first valid moment after it, i.e. the transition.
    """
    if wall.tzinfo is not None:
        raise ValueError("to_instant takes a naive local wall time")
    first = wall.replace(tzinfo=tz, fold=0)
    if datetime_exists(first):
        # fold=0 is the earlier of two readings when the wall time is ambiguous.
        return first.astimezone(UTC)
    # Inside a gap the two folds land either side of the transition; find the first instant
    # whose local reading is at or after the requested wall time.
    a = first.astimezone(UTC)
    b = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = (a, b) if a < b else (b, a)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        reading = datetime.fromtimestamp(mid, UTC).astimezone(tz).replace(tzinfo=None)
        if reading >= wall:
            hi_s = mid
        else:
            lo_s = mid + 1
    return datetime.fromtimestamp(lo_s, UTC)


def is_ambiguous(wall: datetime, tz: ZoneInfo) -> bool:
    """Whether the wall time happens twice; a wall time in a spring-forward gap is not."""
    local = wall.replace(tzinfo=tz)
    # dateutil only compares the offsets of both folds, which also differ inside a gap.
    return bool(datetime_exists(local) and datetime_ambiguous(local))


# --- weeks -------------------------------------------------------------------------------------


def week_start(day: date, starts_on: int = MONDAY) -> date:
    """The first local day of the week that contains ``day``."""
    return day - timedelta(days=(day.weekday() - starts_on) % 7)


def week_of(instant: datetime, tz: ZoneInfo, starts_on: int = MONDAY) -> date:
    return week_start(local_date(instant, tz), starts_on)


def week_bounds(start: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of local midnight at the start of the week and of the next week."""
    begin = to_instant(datetime.combine(start, time()), tz)
    end = to_instant(datetime.combine(start + timedelta(days=7), time()), tz)
    return begin, end


def weeks_between(first: date, last: date) -> list[date]:
    """Week starts from ``first`` to ``last`` inclusive (both must be week starts)."""
    weeks = []
    current = first
    while current <= last:
        weeks.append(current)
        current += relativedelta(weeks=1)
    return weeks


# --- nudge slots -------------------------------------------------------------------------------


def days_mask(days: Iterable[int]) -> int:
    mask = 0
    for day in days:
        mask |= 1 << day
    return mask


def mask_days(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


def describe_days(mask: int) -> str:
    days = mask_days(mask)
    if days == list(range(7)):
        return "every day"
    if days == list(range(5)):
        return "weekdays"
    if days == [5, 6]:
        return "weekends"
    return " ".join(DAY_NAMES[d] for d in days)


def describe_minute(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def nudge_slots(
    days: int, minute_of_day: int, tz: ZoneInfo, after: datetime, not_before: date | None = None
) -> Iterable[datetime]:
    """UTC instants of the schedule's slots strictly after ``after``, in order, forever.

    ``not_before`` skips local days before it (a pause). Slots are generated on the local
    calendar by dateutil's rrule and then mapped to instants with :func:`to_instant`.
    """
    require_aware(after)
    if not days:
        return
    start_day = local_date(after, tz)
    if not_before is not None and not_before > start_day:
        start_day = not_before
    # Start a day early so a slot the DST rule moves forward across midnight is not lost.
    start = datetime.combine(start_day - timedelta(days=1), time())
    rule = rrule.rrule(
        rrule.WEEKLY,
        dtstart=start,
        byweekday=[_RRULE_DAYS[d] for d in mask_days(days)],
        byhour=minute_of_day // 60,
        byminute=minute_of_day % 60,
        bysecond=0,
        cache=False,
    )
    for wall in rule:
        instant = to_instant(wall, tz)
        if instant > after and (not_before is None or wall.date() >= not_before):
            yield instant


def next_slot(
    days: int,
    minute_of_day: int,
    tz: ZoneInfo,
    after: datetime,
    not_before: date | None = None,
    skip_week: date | None = None,
    starts_on: int = MONDAY,
    avoid: datetime | None = None,
    horizon: int = 400,
    skip_first_days: bool = False,
) -> datetime | None:
    """The first slot after ``after`` that is not in ``skip_week`` nor equal to ``avoid``;
    with ``skip_first_days``, not on the first day of any week either."""
    for index, instant in enumerate(nudge_slots(days, minute_of_day, tz, after, not_before)):
        if index >= horizon:
            return None
        week = week_of(instant, tz, starts_on)
        if skip_week is not None and week == skip_week:
            continue
        if avoid is not None and instant == avoid:
            continue
        if skip_first_days and local_date(instant, tz) == week:
            continue
        return instant
    return None


def checkin_instant(week: date, tz: ZoneInfo, minute_of_day: int) -> datetime:
    """When the check-in closing ``week`` goes out: the nudge time on the next week's first day."""
    next_week = week + timedelta(days=7)
    return to_instant(datetime.combine(next_week, time()) + timedelta(minutes=minute_of_day), tz)


def humanize_left(now: datetime, end: datetime, tz: ZoneInfo | None = None) -> str:
    """'3 days left', '5 hours left', 'less than an hour left'.

    With ``tz`` (and ``end`` a local midnight) days are counted on the local calendar, so a
    week with a 25-hour day never shows "8 days left".
    """
    days, hours = left_until(now, end, tz)
    if days:
        return f"{days} days left" if days != 1 else "1 day left"
    if hours:
        return f"{hours} hours left" if hours != 1 else "1 hour left"
    return "less than an hour left"


def left_until(now: datetime, end: datetime, tz: ZoneInfo | None = None) -> tuple[int, int]:
    """What is left until ``end``: (days, 0) from a day on, else (0, whole hours)."""
    remaining = end - now
    if remaining >= timedelta(days=1):
        if tz is not None:
            last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
            return (last_day - local_date(now, tz)).days + 1, 0
        return remaining.days + (1 if remaining.seconds else 0), 0
    return 0, max(int(remaining.total_seconds() // 3600), 0)
