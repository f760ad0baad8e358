"""Time zones as members type them: a place's IANA name, abbreviations, fixed offsets, search."""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from habits import timekeeping as tk

# What people type for a time zone that is not a place: an abbreviation, or a legacy zone that
# tzdata keeps for old systems (EST is a fixed UTC−5 without daylight saving, linked to
# America/Panama; EST5EDT is a POSIX rule). Each is shared by several places, or means
# different places to different people (CST: Chicago, Shanghai, Havana), so the coach asks
# which place instead of guessing; the places are the ones the name usually means, most used
# first.
_EASTERN = ("America/New_York", "America/Toronto", "America/Detroit")
_CENTRAL = ("America/Chicago", "America/Mexico_City", "America/Winnipeg")
_MOUNTAIN = ("America/Denver", "America/Edmonton", "America/Boise")
_PACIFIC = ("America/Los_Angeles", "America/Vancouver", "America/Tijuana")
_CENTRAL_EUROPE = ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome")
_EASTERN_EUROPE = ("Europe/Athens", "Europe/Helsinki", "Europe/Kyiv", "Europe/Bucharest")
_GREENWICH = ("Europe/London", "UTC", "Europe/Dublin")
ZONE_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("est", "edt", "et", "est5edt", "eastern"), _EASTERN),
    **dict.fromkeys(("cst", "cst6cdt"), (*_CENTRAL, "Asia/Shanghai", "America/Havana")),
    **dict.fromkeys(("cdt", "ct", "central"), _CENTRAL),
    "mst": ("America/Denver", "America/Phoenix", "America/Edmonton"),
    **dict.fromkeys(("mdt", "mt", "mst7mdt", "mountain"), _MOUNTAIN),
    "pst": (*_PACIFIC, "Asia/Manila"),
    **dict.fromkeys(("pdt", "pt", "pst8pdt", "pacific"), _PACIFIC),
    **dict.fromkeys(("akst", "akdt"), ("America/Anchorage", "America/Juneau")),
    "hst": ("Pacific/Honolulu", "America/Adak"),
    "hdt": ("America/Adak",),
    "ast": ("America/Halifax", "America/Puerto_Rico", "Asia/Riyadh"),
    "adt": ("America/Halifax",),
    **dict.fromkeys(("nst", "ndt"), ("America/St_Johns",)),
    **dict.fromkeys(("gmt", "greenwich"), _GREENWICH),
    "bst": ("Europe/London", "Asia/Dhaka"),
    "ist": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    **dict.fromkeys(("wet", "west"), ("Europe/Lisbon", "Atlantic/Canary")),
    **dict.fromkeys(("cet", "cest", "met", "mest"), _CENTRAL_EUROPE),
    **dict.fromkeys(("eet", "eest"), (*_EASTERN_EUROPE, "Africa/Cairo")),
    "msk": ("Europe/Moscow",),
    "gst": ("Asia/Dubai",),
    "pkt": ("Asia/Karachi",),
    "ict": ("Asia/Bangkok", "Asia/Ho_Chi_Minh"),
    "wib": ("Asia/Jakarta",),
    "sgt": ("Asia/Singapore",),
    "hkt": ("Asia/Hong_Kong",),
    "pht": ("Asia/Manila",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "awst": ("Australia/Perth",),
    "acst": ("Australia/Adelaide", "Australia/Darwin"),
    "acdt": ("Australia/Adelaide",),
    "aest": ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane"),
    "aedt": ("Australia/Sydney", "Australia/Melbourne", "Australia/Hobart"),
    **dict.fromkeys(("nzst", "nzdt"), ("Pacific/Auckland",)),
    "sast": ("Africa/Johannesburg",),
    "cat": ("Africa/Maputo",),
    "eat": ("Africa/Nairobi",),
    "wat": ("Africa/Lagos",),
    "brt": ("America/Sao_Paulo",),
    "art": ("America/Argentina/Buenos_Aires",),
}
# tzdata's names that are not places: Etc/… fixed offsets, and names with no area that are
# abbreviations or POSIX rules (EST, EST5EDT, GMT0, UCT). UTC itself is a fine zone.
_LEGACY_ZONE_RE = re.compile(r"^(Etc/.*|[A-Z0-9+-]+|Greenwich|Universal|Zulu)$")
# "UTC+5", "GMT-3", "utc+05:30", "+0530": an offset as people write it (UTC+5 is ahead of UTC).
_OFFSET_RE = re.compile(r"^(utc|gmt)?([+-])(\d{1,2})(?::?(\d{2}))?$")
# tzdata's "Etc/GMT+5" is the POSIX spelling, with the sign turned round: it is UTC−5.
_POSIX_OFFSET_RE = re.compile(r"^etc/gmt([+-])(\d{1,2})$")
# A place's offsets in winter and in summer (either counts): offsets are stable enough that any
# recent year shows them, and zone search stays free of the clock.
_OFFSET_PROBES = (datetime(2025, 1, 15, 12, tzinfo=UTC), datetime(2025, 7, 15, 12, tzinfo=UTC))


def _is_place(name: str) -> bool:
    """Whether a zone name is a place a member can live in (or UTC), not a legacy name."""
    return name == "UTC" or not _LEGACY_ZONE_RE.match(name)


def _abbreviation_key(text: str) -> str:
    key = _folded(text).removeprefix("etc/")
    return "gmt" if key in ("gmt0", "gmt+0", "gmt-0", "gmt_0") else key


def abbreviation_places(text: str) -> tuple[str, ...]:
    """The places a time-zone abbreviation ('EST', 'cet', 'GMT') usually means; () otherwise."""
    return ZONE_ABBREVIATIONS.get(_abbreviation_key(text), ())


def typed_offset(text: str) -> int | None:
    """Minutes ahead of UTC for a fixed offset ('UTC+5', 'GMT-3', '+05:30', 'Etc/GMT+5');
    None when the text is not one (or not a real offset)."""
    folded = _folded(text).replace("_", "").replace("−", "-")
    posix = _POSIX_OFFSET_RE.match(folded)
    if posix is not None:
        minutes = int(posix.group(2)) * 60 * (-1 if posix.group(1) == "+" else 1)
    else:
        match = _OFFSET_RE.match(folded)
        if match is None:
            return None
        hours, mins = int(match.group(3)), int(match.group(4) or 0)
        if mins >= 60:
            return None
        minutes = (hours * 60 + mins) * (-1 if match.group(2) == "-" else 1)
    return minutes if -12 * 60 <= minutes <= 14 * 60 else None


def places_at_offset(minutes: int, limit: int = 4) -> list[str]:
    """Places whose clocks are ``minutes`` ahead of UTC in winter or summer: well-known ones
    first, then any country's zone."""
    wanted = timedelta(minutes=minutes)
    meant = (place for places in ZONE_ABBREVIATIONS.values() for place in places)
    others = sorted(
        n
        for n in tk.known_zone_names()
        if "/" in n and _is_place(n) and not n.startswith("Antarctica/")  # research stations
    )
    found: list[str] = []
    for name in (*POPULAR_ZONES, *meant, *others):
        if name == "UTC" or name in found or tk.preferred_zone_name(name) != name:
            continue
        tz = tk.zone(name)
        if any(probe.astimezone(tz).utcoffset() == wanted for probe in _OFFSET_PROBES):
            found.append(name)
            if len(found) == limit:
                break
    return found


@lru_cache(maxsize=1)
def _zones_by_folded_name() -> dict[str, str]:
    return {name.lower(): name for name in tk.known_zone_names()}


@lru_cache(maxsize=1)
def _zones_by_city() -> dict[str, list[str]]:
    cities: dict[str, list[str]] = {}
    for name in sorted(tk.known_zone_names()):
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/")):
            cities.setdefault(name.rsplit("/", 1)[1].lower(), []).append(name)
    return cities


def _folded(text: str) -> str:
    return text.strip().replace(" ", "_").lower()


def resolve_zone(text: str) -> str | None:
    """The IANA name for 'Europe/Berlin', 'europe/berlin', 'Berlin' or 'New York'; an old name
    ('Kiev', 'US/Eastern') gives the place's current one. An abbreviation ('EST'), a fixed
    offset ('UTC+5', 'Etc/GMT+5') or a legacy zone ('EST5EDT') gives None: none is a place."""
    if abbreviation_places(text):
        return None
    offset = typed_offset(text)
    if offset is not None:
        return "UTC" if offset == 0 else None
    folded = _folded(text)
    found = _zones_by_folded_name().get(folded)
    if found is None:
        matches = _zones_by_city().get(folded, [])
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        return None
    preferred = tk.preferred_zone_name(found)
    if preferred == "UTC":  # Etc/UTC, UCT, Zulu
        return preferred
    name = preferred if preferred in tk.known_zone_names() else found
    return name if _is_place(found) and _is_place(name) else None


def suggest_zones(text: str, limit: int = 3) -> list[str]:
    folded = _folded(text)
    by_name = _zones_by_folded_name()
    close = difflib.get_close_matches(folded, by_name.keys(), n=limit, cutoff=0.6)
    city = folded.rsplit("/", 1)[-1]
    close += [
        by_name[name.lower()]
        for key in difflib.get_close_matches(city, _zones_by_city().keys(), n=limit, cutoff=0.75)
        for name in _zones_by_city()[key]
    ]
    seen: list[str] = []
    for found in (by_name.get(n, n) for n in close):
        name = tk.preferred_zone_name(found)
        if _is_place(found) and _is_place(name) and name not in seen:
            seen.append(name)
    return seen[:limit]


POPULAR_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


@lru_cache(maxsize=1)
def _current_zone_names() -> tuple[str, ...]:
    """Every place's zone name, old ones too, so "kiev" still finds its place (search_zones
    shows each by its preferred name); no Etc/… offsets or legacy names like EST5EDT."""
    return tuple(sorted(n for n in tk.known_zone_names() if _is_place(n)))


def search_zones(typed: str, limit: int = 25) -> list[str]:
    """IANA zones for what was typed, for autocomplete: cities starting with it first, then
    names starting with it, then names containing it, then near misses; popular zones when
    nothing is typed yet."""
    query = _folded(typed)
    if not query:
        return list(POPULAR_ZONES[:limit])
    meant = list(abbreviation_places(typed))  # "est": the places it usually means, first
    offset = typed_offset(typed)
    if offset is not None:
        meant += ["UTC"] if offset == 0 else places_at_offset(offset)
    city_start: list[str] = []
    name_start: list[str] = []
    inside: list[str] = []
    for name in _current_zone_names():
        folded = name.lower()
        city = folded.rsplit("/", 1)[-1]
        if city.startswith(query):
            city_start.append(name)
        elif folded.startswith(query):
            name_start.append(name)
        elif query in folded:
            inside.append(name)
    found: list[str] = []
    for candidate in (*meant, *city_start, *name_start, *inside, *suggest_zones(typed, 5)):
        name = tk.preferred_zone_name(candidate)  # a renamed zone once, by its current name
        if name not in found and name in tk.known_zone_names() and _is_place(name):
            found.append(name)
    return found[:limit]
