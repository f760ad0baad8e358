"""The one command grammar every adapter shares: any text becomes a command or a clear error.

The parser never raises. Each error names what was wrong and carries an example that works.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

import idna
from url_normalize import url_normalize

from habits import commands as c
from habits import timekeeping as tk
from habits.catalogue import DateStyle, Form, M
from habits.coaching import singular_label
from habits.messages import CommandRef, MemberText, Say, When, say
from habits.model import MAX_LABEL, MAX_REST_WEEKS, MAX_TARGET, MAX_TITLE, MAX_URL, MIN_TARGET

COMMAND_NAMES = ("goal", "published", "streak", "nudges", "timezone", "habit")

_LINK, _TITLE = "https://example.com/my-post", "My first post"
EXAMPLE_COMMANDS: dict[str, CommandRef] = {
    "goal": CommandRef.to(Form.GOAL, count=1, label="post"),
    "rest": CommandRef.to(Form.GOAL_REST_WEEKS, weeks=2),
    "week": CommandRef.to(Form.GOAL_WEEK, day="sunday"),
    "published": CommandRef.to(Form.PUBLISHED_LINK, url=_LINK, title=_TITLE),
    "backdate": CommandRef.to(Form.PUBLISHED_ON, day="yesterday", url=_LINK, title=_TITLE),
    "list": CommandRef.to(Form.PUBLISHED_LIST),
    "remove": CommandRef.to(Form.PUBLISHED_REMOVE, number=2),
    "nudges": CommandRef.to(Form.NUDGES_SCHEDULE, days="mon thu", time="9:00"),
    "pause": CommandRef.to(Form.NUDGES_PAUSE, span="2w"),
    "snooze": CommandRef.to(Form.NUDGES_SNOOZE, until="tomorrow"),
    "timezone": CommandRef.to(Form.TIMEZONE, zone="Europe/Berlin"),
    "habit": CommandRef.to(Form.HABIT_HELP),
}
EXAMPLES = {key: ref.typed for key, ref in EXAMPLE_COMMANDS.items()}  # as typed

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip

_DAY_WORDS: dict[str, tuple[int, ...]] = {
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
_DURATION_RE = re.compile(r"^(\d{1,3})\s*(w|wk|wks|week|weeks|d|day|days)$")
_PER_WEEK_RE = re.compile(r"(\b(a|per|each|every)\s+week\b|\bweekly\b|/\s*(week|wk)\b)", re.I)


def _clean(text: str) -> str:
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


# A date in an example is relative to the member's today: a literal one would soon be past.
PAUSE_EXAMPLE_DAYS = 14


def pause_until_example(today: date) -> CommandRef:
    """``/nudges pause until`` a date two weeks after ``today`` (the member's local date)."""
    until = When(today + timedelta(days=PAUSE_EXAMPLE_DAYS), DateStyle.ISO)
    return CommandRef.to(Form.NUDGES_PAUSE_UNTIL, until=until)


def _error(message: Say, example_key: str) -> c.ParseError:
    return c.ParseError(message, EXAMPLE_COMMANDS[example_key])


def _short(text: str, limit: int = 40) -> MemberText:
    """What the member typed, quoted back (the first ``limit`` characters)."""
    return MemberText(text if len(text) <= limit else text[: limit - 1] + "…")


def parse(text: str, today: Callable[[], date] | None = None) -> c.Command | c.ParseError:
    """``today`` gives the member's local date, asked only for an error whose example names a
    date; without it such an example names none."""
    cleaned = _clean(text)
    if not cleaned:
        return _error(say(M.TYPE_A_COMMAND), "habit")
    head, _, rest = cleaned.partition(" ")
    name = head.lstrip("/").lower()
    if name in ("help", "?"):
        return c.Help()
    handlers = {
        "goal": _parse_goal,
        "published": _parse_published,
        "publish": _parse_published,
        "streak": _parse_streak,
        "nudges": lambda args: _parse_nudges(args, today),
        "nudge": lambda args: _parse_nudges(args, today),
        "timezone": _parse_timezone,
        "tz": _parse_timezone,
        "habit": _parse_habit,
    }
    handler = handlers.get(name)
    if handler is None:
        known = ", ".join(f"/{n}" for n in COMMAND_NAMES)
        return _error(say(M.UNKNOWN_COMMAND, typed=_short(head), known=known), "habit")
    return handler(rest.strip())


# --- /goal -------------------------------------------------------------------------------------


def _parse_target(word: str) -> int | None:
    if word.isascii() and word.isdigit():
        digits = word.lstrip("0") or "0"
        # Huge numbers are simply out of range; int() refuses strings over 4,300 digits.
        return int(digits) if len(digits) <= 6 else 10**6
    return _WORD_NUMBERS.get(word.lower())


def _parse_goal(args: str) -> c.Command | c.ParseError:
    if not args:
        return c.ShowGoal()
    first, _, rest = args.partition(" ")
    keyword = first.lower()
    if keyword in ("off", "stop", "none"):
        if rest:
            off = CommandRef.to(Form.GOAL_OFF)
            return _error(say(M.TAKES_NOTHING_AFTER, command=off), "goal")
        return c.GoalOff()
    if keyword == "rest":
        if rest.strip().lower() in ("off", "cancel", "end", "stop"):
            return c.EndRest()
        return _parse_rest(rest.strip())
    if keyword == "week":
        return _parse_week_start(rest.strip())
    target = _parse_target(first)
    if target is None:
        return _error(
            say(M.GOAL_NOT_A_NUMBER, low=MIN_TARGET, high=MAX_TARGET, typed=_short(first)), "goal"
        )
    if not MIN_TARGET <= target <= MAX_TARGET:
        return _error(
            say(M.GOAL_OUT_OF_RANGE, low=MIN_TARGET, high=MAX_TARGET, typed=_short(first)), "goal"
        )
    label = " ".join(_PER_WEEK_RE.sub(" ", rest).split())
    if not label:
        return c.SetGoal(target, None)
    if len(label) > MAX_LABEL:
        return _error(say(M.LABEL_TOO_LONG, limit=MAX_LABEL), "goal")
    if "://" in label:
        return _error(say(M.LABEL_NOT_A_LINK), "goal")
    return c.SetGoal(target, singular_label(label))


def _parse_rest(args: str) -> c.Command | c.ParseError:
    if not args:
        return c.Rest(1)
    word = args.lower().removesuffix("weeks").removesuffix("week").removesuffix("w").strip()
    weeks = _parse_target(word)
    if weeks is None or not 1 <= weeks <= MAX_REST_WEEKS:
        return _error(say(M.REST_WEEKS_RANGE, high=MAX_REST_WEEKS, typed=_short(args)), "rest")
    return c.Rest(weeks)


def _parse_week_start(args: str) -> c.Command | c.ParseError:
    day = args.lower().removeprefix("starts").strip().removeprefix("on").strip()
    if day in ("monday", "mon"):
        return c.SetWeekStart(tk.MONDAY)
    if day in ("sunday", "sun"):
        return c.SetWeekStart(tk.SUNDAY)
    return _error(say(M.WEEK_START_DAYS), "week")


# --- /published --------------------------------------------------------------------------------


_URL_TOO_LONG = "too long"
_URL_CREDENTIALS = "credentials"
_URL_INVALID = "invalid"


def _normalize_url(candidate: str) -> tuple[str | None, str | None]:
    """(canonical URL, None), or (None, why it was refused: one of the _URL_* reasons)."""
    if not candidate or any(ch.isspace() for ch in candidate):
        return None, _URL_INVALID
    if candidate.lower().startswith("www."):
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        port = parts.port  # raises ValueError for ':99999' or ':abc'
    except ValueError:
        return None, _URL_INVALID
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None, _URL_INVALID
    if "@" in parts.netloc:
        return None, _URL_CREDENTIALS
    labels = host.split(".")
    if host != "localhost" and (len(labels) < 2 or not all(labels) or len(labels[-1]) < 2):
        return None, _URL_INVALID
    if any(not (ch.isalnum() or ch in "-.") for ch in host):
        return None, _URL_INVALID
    netloc = host if port is None else f"{host}:{port}"
    query = "&".join(
        field
        for field in parts.query.split("&")
        if field and not field.partition("=")[0].lower().startswith("utm_")
    )
    typed = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    try:
        # One spelling per link: an IDNA host, no default port, percent-escapes in one case
        # and none for unreserved characters, no dot segments.
        normalized = url_normalize(typed)
    except (ValueError, UnicodeError):
        normalized = None
    if normalized is None:
        return None, _URL_TOO_LONG if len(typed.encode()) > MAX_URL else _URL_INVALID
    uri = urlsplit(normalized)
    path = uri.path or "/"
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    # Shown and stored readable: the host in Unicode, non-ASCII characters unescaped.
    host_shown, query_shown = _unicode_host(uri.netloc), _readable(uri.query)
    url = urlunsplit((uri.scheme, host_shown, _readable(path), query_shown, ""))
    if len(url.encode()) > MAX_URL:
        return None, _URL_TOO_LONG
    return url, None


_ESCAPES_RE = re.compile(r"(?:%[0-9A-F]{2})+")


def _unicode_host(netloc: str) -> str:
    """'xn--r8jz45g.jp' → '例え.jp' (IDNA 2008); a label that is not valid IDNA stays as it is."""
    host, colon, port = netloc.partition(":")
    labels = []
    for label in host.split("."):
        try:
            labels.append(idna.decode(label) if label.startswith("xn--") else label)
        except idna.IDNAError:
            labels.append(label)
    return ".".join(labels) + colon + port


def _readable(text: str) -> str:
    """Percent-escapes of non-ASCII characters as the characters ('caf%C3%A9' → 'café'); escapes
    of ASCII (%20, %2F), spaces and invisible characters stay escaped."""

    def decode(match: re.Match[str]) -> str:
        raw = unquote_to_bytes(match.group())
        out: list[str] = []
        index = 0
        while index < len(raw):
            size = 2 if 0xC0 <= raw[index] < 0xE0 else 3 if 0xE0 <= raw[index] < 0xF0 else 4
            try:
                char = raw[index : index + size].decode("utf-8") if raw[index] >= 0x80 else ""
            except UnicodeDecodeError:
                char = ""
            if char and unicodedata.category(char)[0] not in "CZ":
                out.append(char)
                index += size
            else:
                out.append(f"%{raw[index]:02X}")
                index += 1
        return "".join(out)

    return _ESCAPES_RE.sub(decode, text)


def normalize_url(candidate: str) -> str | None:
    """A canonical http(s) URL, or None if the text is not one we accept.

    Lowercases scheme and host, drops the fragment, utm_* parameters and a default port
    (:443, :80), writes the host in Unicode (not punycode) and non-ASCII characters unescaped,
    other percent-escapes in upper case and unreserved ones as characters, removes a trailing
    slash (keeping a bare "/"), and refuses credentials, bad ports and more than MAX_URL bytes.
    """
    return _normalize_url(candidate)[0]


def url_variants(url: str) -> list[str]:
    """Spellings of a normalized URL that count as the same publication, the given one first.

    http and https are swapped and a leading "www." is added or removed: up to four URLs, each
    normalized, without duplicates. Then the spellings links were stored in before they were
    normalized this far, so an old row still matches: each of those with its default port
    (:443, :80) and in ASCII (a punycode host, non-ASCII characters percent-escaped).
    """
    if normalize_url(url) is None:
        return [url]
    parts = urlsplit(url)  # not re-normalized: that could drop a kept slash ("/a//" → "/a/")
    host = parts.hostname or ""
    port = "" if parts.port is None else f":{parts.port}"
    if host.startswith("www."):
        other_host: str | None = host.removeprefix("www.")
    elif host == "localhost" or host.replace(".", "").isdigit():
        other_host = None
    else:
        other_host = "www." + host
    other_scheme = "http" if parts.scheme == "https" else "https"
    variants = [url]
    for scheme in (parts.scheme, other_scheme):
        for name in (host, other_host):
            if name is None:
                continue
            spelled = urlunsplit((scheme, name + port, parts.path, parts.query, ""))
            # Accepting the spelling is enough (only the slash rule could change it again);
            # it must also still fit the byte limit.
            fits = len(spelled.encode()) <= MAX_URL
            if fits and normalize_url(spelled) is not None and spelled not in variants:
                variants.append(spelled)
    older = [old for variant in variants for old in _older_spellings(variant)]
    variants += [old for old in dict.fromkeys(older) if old not in variants]
    return variants


def _older_spellings(url: str) -> list[str]:
    """A normalized URL as earlier versions may have stored it: in ASCII, with the default
    port, or both."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ascii_host = idna.encode(host, uts46=True).decode()
    except (idna.IDNAError, UnicodeError):
        ascii_host = host
    port = "" if parts.port is None else f":{parts.port}"
    ascii_url = urlunsplit(
        (parts.scheme, ascii_host + port, _escaped(parts.path), _escaped(parts.query), "")
    )
    spellings = [ascii_url]
    if parts.port is None:
        default = ":443" if parts.scheme == "https" else ":80"
        for spelled in (url, ascii_url):
            old = urlsplit(spelled)
            old_netloc = old.netloc + default
            spellings.append(urlunsplit((old.scheme, old_netloc, old.path, old.query, "")))
    return [old for old in dict.fromkeys(spellings) if old != url and len(old.encode()) <= MAX_URL]


def _escaped(text: str) -> str:
    """Non-ASCII characters percent-escaped as UTF-8 ('café' → 'caf%C3%A9')."""
    return re.sub(r"[^\x00-\x7f]+", lambda match: quote(match.group(), safe=""), text)


_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]{0,15}:/", re.IGNORECASE)


# A host with a dot and a top-level domain, then a path: "example.com/post" is a link.
_BARE_LINK_RE = re.compile(r"^(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?::\d{1,5})?/", re.I)


def _is_clear_link(token: str) -> bool:
    """A word that can only be a link: it has a scheme or starts with "www."."""
    return bool(_SCHEME_RE.match(token)) or token.lower().startswith("www.")


def _looks_like_url(token: str) -> bool:
    """Whether the writer meant this word as a link (so a broken one is an error, not a title)."""
    return _is_clear_link(token) or bool(_BARE_LINK_RE.match(token))


def _link_url(token: str) -> tuple[str | None, str | None]:
    """``_normalize_url`` for a word typed as a link; a bare domain with a path gets https."""
    if _BARE_LINK_RE.match(token) and not _SCHEME_RE.match(token):
        token = "https://" + token
    return _normalize_url(token)


_PAST_DAY_WORDS: dict[str, c.PastDay] = {
    "today": c.PastDay(days_back=0),
    "yesterday": c.PastDay(days_back=1),
    **{
        word: c.PastDay(weekday=days[0])
        for word, days in _DAY_WORDS.items()
        if len(days) == 1 and not word.endswith("days")
    },
}
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


def parse_past_day(word: str) -> c.PastDay | c.ParseError | None:
    """The day a publication is logged for: today, yesterday, a weekday name (its most recent
    occurrence) or YYYY-MM-DD; None when ``word`` names no day."""
    found = _PAST_DAY_WORDS.get(word.lower())
    if found is not None:
        return found
    if not _ISO_DATE_RE.match(word):
        return None
    year, month, day = (int(part) for part in word.split("-"))
    try:
        return c.PastDay(on=date(year, month, day))
    except ValueError:
        return _error(
            say(M.NOT_A_CALENDAR_DATE, typed=_short(word), max_days=c.MAX_DAYS_BACK), "backdate"
        )


def _parse_published(args: str) -> c.Command | c.ParseError:
    if not args:
        return c.LogPublication()
    first, _, rest = args.partition(" ")
    rest = rest.strip()
    keyword = first.lower()
    if keyword in ("undo", "list"):
        if rest:
            command = CommandRef.to(
                Form.PUBLISHED_LIST if keyword == "list" else Form.PUBLISHED_UNDO
            )
            return _error(
                say(M.TITLE_NEEDS_QUOTES, command=command, typed=_short(first)),
                keyword if keyword == "list" else "published",
            )
        return c.UndoPublication() if keyword == "undo" else c.ListPublications()
    if keyword in ("remove", "again"):
        number = _parse_target(rest) if rest.isascii() and rest.isdigit() else None
        if number is not None and 1 <= number < 10**6:
            return (
                c.RemovePublication(number) if keyword == "remove" else c.RepeatPublication(number)
            )
        if keyword == "remove":
            return _error(say(M.REMOVE_WHICH, list=EXAMPLE_COMMANDS["list"]), "remove")
    day = parse_past_day(first)
    if isinstance(day, c.ParseError):
        return day
    day_word = ""
    if day is not None:
        if not rest:
            return c.LogPublication(day=day)
        day_word = first
        args = rest
        first, _, rest = args.partition(" ")
        rest = rest.strip()
    url: str | None = None
    title = args
    if _looks_like_url(first):
        url, problem = _link_url(first)
        if url is None:
            return _url_error(first, problem)
        title = rest
    else:
        links = [word for word in args.split(" ") if _is_clear_link(word)]
        if links:
            # "/published My post https://…": words before a link are not a title.
            link, problem = _normalize_url(links[0])
            if link is None:
                return _url_error(links[0], problem)
            words = " ".join(word for word in args.split(" ") if word != links[0])
            example = (
                CommandRef.to(Form.PUBLISHED_ON, day=day_word, url=link, title=MemberText(words))
                if day_word
                else CommandRef.to(Form.PUBLISHED_LINK, url=link, title=MemberText(words))
            )
            typed = example.typed
            if len(typed) > 120 or not isinstance(parse(typed), c.LogPublication):
                example = EXAMPLE_COMMANDS["published"]
            return c.ParseError(say(M.LINK_FIRST), example)
    return _publication(url, _unquote(title), day)


_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}


def _unquote(title: str) -> str:
    """A title typed in quotes ("My post", “My post”) is the words inside them; quotes within
    a title ("a" and "b") are kept as they are."""
    if len(title) < 3:
        return title
    opening, closing, inside = title[0], title[-1], title[1:-1]
    if _QUOTE_PAIRS.get(opening) != closing or opening in inside or closing in inside:
        return title
    return inside.strip() or title


FORM_LINK_EXAMPLE = CommandRef.to(Form.LINK, url=_LINK)  # a field that takes a link


def _url_error(
    text: str, problem: str | None, example: CommandRef = EXAMPLE_COMMANDS["published"]
) -> c.ParseError:
    if problem == _URL_TOO_LONG:
        message = say(M.LINK_TOO_LONG, limit=MAX_URL)
    elif problem == _URL_CREDENTIALS:
        message = say(M.LINK_CREDENTIALS)
    else:
        message = say(M.NOT_A_LINK, typed=_short(text))
    return c.ParseError(message, example)


def parse_publication_fields(
    url: str | None, title: str | None, when: str | None = None
) -> c.LogPublication | c.ParseError:
    """A publication from a form's separate link, title and day fields (the chat modals, and
    Discord's options).

    The link field must hold a link (or nothing); the title field is taken as it is, so a
    title that starts with "http" is still a title.
    """
    day: c.PastDay | None = None
    typed_day = _clean(when or "")
    if typed_day:
        found = parse_past_day(typed_day)
        if found is None:
            return _error(
                say(M.NOT_A_DAY_FIELD, typed=_short(typed_day), max_days=c.MAX_DAYS_BACK),
                "backdate",
            )
        if isinstance(found, c.ParseError):
            return found
        day = found
    link = _clean(url or "")
    normalized: str | None = None
    if link:
        normalized, problem = _link_url(link)
        if normalized is None:
            return _url_error(link, problem, FORM_LINK_EXAMPLE)  # a field wants a link
    return _publication(normalized, _clean(title or ""), day)


def _publication(url: str | None, title: str, day: c.PastDay | None = None) -> c.LogPublication:
    shortened = len(title) > MAX_TITLE
    if shortened:
        title = title[: MAX_TITLE - 1].rstrip() + "…"
    return c.LogPublication(url=url, title=title or None, title_shortened=shortened, day=day)


# --- /streak -----------------------------------------------------------------------------------


def _parse_streak(args: str) -> c.Command | c.ParseError:
    return c.ShowStreak()


# --- /nudges -----------------------------------------------------------------------------------


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
            first, last = _DAY_WORDS.get(start), _DAY_WORDS.get(end)
            if first is None or last is None or len(first) != 1 or len(last) != 1:
                return None, word
            day = first[0]
            days.add(day)
            while day != last[0]:
                day = (day + 1) % 7
                days.add(day)
            continue
        found = _DAY_WORDS.get(word)
        if found is None:
            return None, word
        days.update(found)
    return (tk.days_mask(days) if days else None), None


def _parse_nudges(args: str, today: Callable[[], date] | None = None) -> c.Command | c.ParseError:
    if not args:
        return c.ShowNudges()
    first, _, rest = args.partition(" ")
    keyword = first.lower()
    rest = rest.strip()
    if keyword == "pause":
        return _parse_pause(rest, today)
    if keyword in ("resume", "on"):
        return c.ResumeNudges()
    if keyword == "off":
        return c.NudgesOff()
    if keyword == "snooze":
        choice = rest.lower() or "later"
        if choice in ("later", "later today", "today"):
            return c.Snooze(c.SnoozeFor.LATER)
        if choice == "tomorrow":
            return c.Snooze(c.SnoozeFor.TOMORROW)
        return _error(say(M.SNOOZE_UNTIL), "snooze")
    if keyword in ("smaller", "smaller step"):
        return c.SmallerStep()
    return _parse_schedule(args)


def _parse_schedule(args: str) -> c.Command | c.ParseError:
    text = re.sub(r"\bevery day\b", "daily", args.lower().replace(",", " "))
    day_part, sep, time_part = text.rpartition(" at ")
    if not sep:
        if text.startswith("at "):
            day_part, time_part = "", text[3:]
        else:
            # No "at": a trailing time is still welcome ("mon thu 9am").
            words = text.split()
            day_part, time_part = text, ""
            for cut in (2, 1):
                if len(words) > cut and parse_time(" ".join(words[-cut:])) is not None:
                    day_part, time_part = " ".join(words[:-cut]), " ".join(words[-cut:])
                    break
            if not time_part and len(words) == 1 and parse_time(words[0]) is not None:
                day_part, time_part = "", words[0]
    problems = []
    mask, bad_word = parse_days(day_part.split())
    if bad_word is not None:
        problems.append(say(M.NOT_A_DAY, typed=_short(bad_word)))
    minute = None
    if time_part.strip():
        minute = parse_time(time_part.strip())
        if minute is None:
            problems.append(say(M.NOT_A_TIME, typed=_short(time_part.strip())))
    if len(problems) == 2:
        return _error(say(M.PROBLEMS, first=problems[0], second=problems[1]), "nudges")
    if problems:
        return _error(problems[0], "nudges")
    if mask is None and minute is None:
        return _error(say(M.WHICH_DAYS_AND_TIME), "nudges")
    return c.SetNudges(days=mask, minute_of_day=minute)


def _parse_pause(args: str, today: Callable[[], date] | None) -> c.Command | c.ParseError:
    text = re.sub(r"^for\s+", "", args.lower()).strip()  # "for 2 weeks", not "forever"
    if not text:
        return _error(say(M.HOW_LONG_PAUSE), "pause")
    if text.startswith("until"):
        raw = text.removeprefix("until").strip()
        try:
            until = date.fromisoformat(raw)
        except ValueError:
            problem = say(M.PAUSE_DATE_UNREADABLE, typed=_short(raw))
            if today is None:
                return _error(problem, "pause")
            return c.ParseError(problem, pause_until_example(today()))
        return c.PauseNudges(until=until)
    match = _DURATION_RE.match(text)
    if not match:
        return _error(say(M.NOT_A_DURATION, typed=_short(text)), "pause")
    amount, unit = int(match.group(1)), match.group(2)
    if unit.startswith("w"):
        if not 1 <= amount <= 52:
            return _error(say(M.PAUSE_WEEKS_RANGE), "pause")
        return c.PauseNudges(weeks=amount)
    if not 1 <= amount <= 365:
        return _error(say(M.PAUSE_DAYS_RANGE), "pause")
    return c.PauseNudges(days=amount)


# --- /timezone ---------------------------------------------------------------------------------

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
# recent year shows them, and the grammar stays free of the clock.
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


def _or_list(names: list[str]) -> Say | str:
    if len(names) == 1:
        return names[0]
    return say(M.OR_LIST, first=", ".join(names[:-1]), last=names[-1])


def _parse_timezone(args: str) -> c.Command | c.ParseError:
    if not args:
        return c.ShowTimezone()
    name = resolve_zone(args)
    if name is not None:
        return c.SetTimezone(name)
    places = list(abbreviation_places(args))
    if places:
        if len(places) == 1:
            message = say(M.ZONE_ABBREVIATION, typed=_short(args), place=places[0])
        else:
            message = say(M.ZONE_AMBIGUOUS, typed=_short(args), places=_or_list(places))
        return c.ParseError(message, CommandRef.to(Form.TIMEZONE, zone=places[0]))
    offset = typed_offset(args)
    if offset is not None:
        places = places_at_offset(offset)
        if places:
            message = say(M.ZONE_OFFSET_PLACES, typed=_short(args), places=_or_list(places))
        else:
            message = say(M.ZONE_OFFSET, typed=_short(args))
        zone = places[0] if places else "Europe/Berlin"
        return c.ParseError(message, CommandRef.to(Form.TIMEZONE, zone=zone))
    hints = suggest_zones(args)
    hint: Say | str = say(M.ZONE_HINTS, hints=" or ".join(hints)) if hints else ""
    return _error(say(M.ZONE_UNKNOWN, typed=_short(args), hints=hint), "timezone")


# --- /habit ------------------------------------------------------------------------------------


def _parse_habit(args: str) -> c.Command | c.ParseError:
    words = args.lower().split()
    if not words or words == ["help"]:
        return c.Help()
    if words == ["export"]:
        return c.Export()
    if words[0] == "forget" and words[1:] in ([], ["confirm"], ["cancel"]):
        return c.Forget(confirmed=words[1:] == ["confirm"], cancelled=words[1:] == ["cancel"])
    return _error(say(M.UNKNOWN_HABIT, typed=_short(args)), "habit")
