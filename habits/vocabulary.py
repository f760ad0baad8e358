"""The words commands are made of (numbers, weekdays, times of day), and typed text cleaned."""

from __future__ import annotations

import re
import unicodedata

from habits import commands as c
from habits import timekeeping as tk

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip

DAY_WORDS: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(("mon", "monday", "mondays"), (0,)),
    **dict.fromkeys(("tue", "tues", "tuesday", "tuesdays"), (1,)),
    **dict.fromkeys(("wed", "weds", "wednesday", "wednesdays"), (2,)),
    **dict.fromkeys(("thu", "thur", "thurs", "thursday", "thursdays"), (3,)),
    **dict.fromkeys(("fri", "friday", "fridays"), (4,)),
    **dict.fromkeys(("sat", "saturday", "saturdays"), (5,)),
    **dict.fromkeys(("sun", "sunday", "sundays"), (6,)),
    **dict.fromkeys(("weekdays", "weekday", "workdays"), (0, 1, 2, 3, 4)),
    **dict.fromkeys(("weekends", "weekend"), (5, 6)),
    **dict.fromkeys(("daily", "everyday"), (0, 1, 2, 3, 4, 5, 6)),
}
_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")


def clean(text: str) -> str:
    """Drop control and format characters (keeping emoji joiners) and fold white space."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\t\n\r\u3000" or category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and ch != "\u200d"):
            continue
        else:
            kept.append(ch)
    return " ".join("".join(kept).split())


def read_number(word: str) -> int | None:
    """A count typed in digits or as a word up to ten ('3', 'three'); None otherwise."""
    if word.isascii() and word.isdigit():
        digits = word.lstrip("0") or "0"
        # Huge numbers are simply out of range; int() refuses strings over 4,300 digits.
        return int(digits) if len(digits) <= 6 else 10**6
    return _WORD_NUMBERS.get(word.lower())


# The days a publication is logged for by name; a weekday is its latest occurrence.
PAST_DAY_WORDS: dict[str, c.PastDay] = {
    "today": c.PastDay(days_back=0),
    "yesterday": c.PastDay(days_back=1),
    **{
        word: c.PastDay(weekday=days[0])
        for word, days in DAY_WORDS.items()
        if len(days) == 1 and not word.endswith("days")
    },
}


def parse_time(text: str) -> int | None:
    """Minutes after midnight for '9', '9am', '9:30', '18:30', '6.30pm', 'noon'; else None."""
    lowered = text.lower().replace(" ", "")
    if lowered == "noon":
        return 12 * 60
    if lowered == "midnight":
        return 0
    match = _TIME_RE.match(lowered)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    meridiem = (match.group(3) or "").replace(".", "")
    if minute > 59:
        return None
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    elif hour > 23:
        return None
    return hour * 60 + minute


def parse_days(words: list[str]) -> tuple[int | None, str | None]:
    """A day mask from words like 'mon wed fri', 'weekdays', 'mon-fri'; else the bad word."""
    days: set[int] = set()
    for word in words:
        word = word.lower().strip(",.")
        if word in ("", "and", "&", "on", "every"):
            continue
        if "-" in word:
            start, _, end = word.partition("-")
            first, last = DAY_WORDS.get(start), DAY_WORDS.get(end)
            if first is None or last is None or len(first) != 1 or len(last) != 1:
                return None, word
            day = first[0]
            days.add(day)
            while day != last[0]:
                day = (day + 1) % 7
                days.add(day)
            continue
        found = DAY_WORDS.get(word)
        if found is None:
            return None, word
        days.update(found)
    return (tk.days_mask(days) if days else None), None
