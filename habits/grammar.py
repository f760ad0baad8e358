"""The one command grammar every adapter shares: any text becomes a command or a clear error.

The parser never raises. Each error names what was wrong and carries an example that works.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from habits import commands as c
from habits import timekeeping as tk
from habits.catalogue import DateStyle, Form, M
from habits.coaching import singular_label
from habits.links import LinkProblem, check_url, is_clear_link, looks_like_link, typed_link
from habits.messages import CommandRef, MemberText, Say, When, say
from habits.model import MAX_LABEL, MAX_REST_WEEKS, MAX_TARGET, MAX_TITLE, MAX_URL, MIN_TARGET
from habits.vocabulary import PAST_DAY_WORDS, clean, parse_days, parse_time, read_number
from habits.zones import (
    abbreviation_places,
    places_at_offset,
    resolve_zone,
    suggest_zones,
    typed_offset,
)

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
    "heads-up": CommandRef.to(Form.NUDGES_HEADS_UP, state="off"),
    "freezes": CommandRef.to(Form.GOAL_FREEZES, state="off"),
    "timezone": CommandRef.to(Form.TIMEZONE, zone="Europe/Berlin"),
    "habit": CommandRef.to(Form.HABIT_HELP),
}
EXAMPLES = {key: ref.typed for key, ref in EXAMPLE_COMMANDS.items()}  # as typed

_DURATION_RE = re.compile(r"^(\d{1,3})\s*(w|wk|wks|week|weeks|d|day|days)$")
_PER_WEEK_RE = re.compile(r"(\b(a|per|each|every)\s+week\b|\bweekly\b|/\s*(week|wk)\b)", re.I)


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
    cleaned = clean(text)
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
    if keyword in ("freezes", "freeze"):
        choice = rest.strip().lower()
        if choice in ("off", "on"):
            return c.SetFreezes(on=choice == "on")
        return _error(say(M.FREEZES_ON_OR_OFF), "freezes")
    target = read_number(first)
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
    weeks = read_number(word)
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


_ISO_DATE_RE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


def parse_past_day(word: str) -> c.PastDay | c.ParseError | None:
    """The day a publication is logged for: today, yesterday, a weekday name (its most recent
    occurrence) or YYYY-MM-DD; None when ``word`` names no day."""
    found = PAST_DAY_WORDS.get(word.lower())
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
        number = read_number(rest) if rest.isascii() and rest.isdigit() else None
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
    if looks_like_link(first):
        url, problem = typed_link(first)
        if url is None:
            return _url_error(first, problem)
        title = rest
    else:
        links = [word for word in args.split(" ") if is_clear_link(word)]
        if links:
            # "/published My post https://…": words before a link are not a title.
            link, problem = check_url(links[0])
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
    text: str, problem: LinkProblem | None, example: CommandRef = EXAMPLE_COMMANDS["published"]
) -> c.ParseError:
    if problem is LinkProblem.TOO_LONG:
        message = say(M.LINK_TOO_LONG, limit=MAX_URL)
    elif problem is LinkProblem.CREDENTIALS:
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
    typed_day = clean(when or "")
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
    link = clean(url or "")
    normalized: str | None = None
    if link:
        normalized, problem = typed_link(link)
        if normalized is None:
            return _url_error(link, problem, FORM_LINK_EXAMPLE)  # a field wants a link
    return _publication(normalized, clean(title or ""), day)


def _publication(url: str | None, title: str, day: c.PastDay | None = None) -> c.LogPublication:
    shortened = len(title) > MAX_TITLE
    if shortened:
        title = title[: MAX_TITLE - 1].rstrip() + "…"
    return c.LogPublication(url=url, title=title or None, title_shortened=shortened, day=day)


# --- /streak -----------------------------------------------------------------------------------


def _parse_streak(args: str) -> c.Command | c.ParseError:
    return c.ShowStreak()


# --- /nudges -----------------------------------------------------------------------------------


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
    heads_up = _HEADS_UP_RE.match(args)
    if heads_up:
        return _parse_heads_up(heads_up.group(1).strip().lower())
    return _parse_schedule(args)


_HEADS_UP_RE = re.compile(r"^heads[\s-]?up\b(.*)$", re.I)


def _parse_heads_up(choice: str) -> c.Command | c.ParseError:
    """``/nudges heads-up off`` (or ``on``); "headsup" and "heads up" are read alike."""
    if choice in ("off", "on"):
        return c.SetHeadsUp(on=choice == "on")
    return _error(say(M.HEADS_UP_ON_OR_OFF), "heads-up")


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
            if raw:
                problem = say(M.PAUSE_DATE_UNREADABLE, typed=_short(raw))
            else:
                problem = say(M.PAUSE_UNTIL_WHEN)
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
