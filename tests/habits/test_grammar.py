"""The command grammar: any text becomes a command or a clear error with a working example."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from habits import commands as c
from habits import grammar, zones
from habits import timekeeping as tk
from habits.coaching import singular_label
from habits.grammar import EXAMPLES, parse
from habits.links import normalize_url
from habits.model import MAX_LABEL, MAX_TARGET, MAX_TITLE, MAX_URL, MIN_TARGET

COMMAND_TYPES = (
    c.ShowGoal,
    c.SetGoal,
    c.GoalOff,
    c.Rest,
    c.EndRest,
    c.SetWeekStart,
    c.SetFreezes,
    c.LogPublication,
    c.UndoPublication,
    c.ListPublications,
    c.RemovePublication,
    c.RepeatPublication,
    c.ShowStreak,
    c.ShowNudges,
    c.SetNudges,
    c.PauseNudges,
    c.ResumeNudges,
    c.NudgesOff,
    c.Snooze,
    c.SmallerStep,
    c.SetHeadsUp,
    c.ShowTimezone,
    c.SetTimezone,
    c.Help,
    c.Export,
    c.Forget,
)


def mask(*days: int) -> int:
    return tk.days_mask(days)


def error_of(text: str) -> c.ParseError:
    result = parse(text)
    assert isinstance(result, c.ParseError), f"{text!r} parsed to {result!r}"
    return result


def assert_helpful(error: c.ParseError) -> None:
    """An error says something, shows an example, and the example itself works."""
    rendered = str(error)
    assert error.message.strip()
    assert "Example: /" in rendered
    example = rendered.split("Example: ", 1)[1]
    assert isinstance(parse(example), COMMAND_TYPES), f"example {example!r} does not parse"


# --- every command form ------------------------------------------------------------------------

VALID = [
    # /goal
    ("/goal", c.ShowGoal()),
    ("/goal 1 post", c.SetGoal(1, "post")),
    ("/goal 4", c.SetGoal(4, None)),
    ("/goal 21", c.SetGoal(MAX_TARGET, None)),
    ("/goal 3 newsletters", c.SetGoal(3, "newsletter")),
    ("/goal 2 videos a week", c.SetGoal(2, "video")),
    ("/goal 2 posts per week", c.SetGoal(2, "post")),
    ("/goal 2 posts/week", c.SetGoal(2, "post")),
    ("/goal 1 weekly newsletter", c.SetGoal(1, "newsletter")),
    ("/goal two essays", c.SetGoal(2, "essay")),
    ("/goal 2 stories", c.SetGoal(2, "story")),
    ("/goal 2 classes", c.SetGoal(2, "class")),
    ("/goal 2 series", c.SetGoal(2, "series")),
    ("/goal 1 news", c.SetGoal(1, "news")),
    ("/goal 2 blog posts", c.SetGoal(2, "blog post")),
    ("/goal 1 post 🎉", c.SetGoal(1, "post 🎉")),
    ("/goal 1 📝", c.SetGoal(1, "📝")),
    ("/goal 007", c.SetGoal(7, None)),
    ("/goal off", c.GoalOff()),
    ("/GOAL OFF", c.GoalOff()),
    ("/goal stop", c.GoalOff()),
    ("/goal rest", c.Rest(1)),
    ("/goal rest 2", c.Rest(2)),
    ("/goal rest 3 weeks", c.Rest(3)),
    ("/goal rest 2w", c.Rest(2)),
    ("/goal rest 2 WEEKS", c.Rest(2)),
    ("/goal rest 1 week", c.Rest(1)),
    ("/goal rest two", c.Rest(2)),
    ("/goal rest 8", c.Rest(8)),
    ("/goal week sunday", c.SetWeekStart(tk.SUNDAY)),
    ("/goal week sun", c.SetWeekStart(tk.SUNDAY)),
    ("/goal week monday", c.SetWeekStart(tk.MONDAY)),
    ("/goal week starts on monday", c.SetWeekStart(tk.MONDAY)),
    # /published
    ("/published", c.LogPublication()),
    ("/published undo", c.UndoPublication()),
    ("/published UNDO", c.UndoPublication()),
    (
        "/published https://example.com/a My title",
        c.LogPublication(url="https://example.com/a", title="My title"),
    ),
    ("/published https://Example.COM", c.LogPublication(url="https://example.com/")),
    ("/published HTTP://example.com/x", c.LogPublication(url="http://example.com/x")),
    ("/published www.example.com/x", c.LogPublication(url="https://www.example.com/x")),
    ("/published http://localhost:8000/x", c.LogPublication(url="http://localhost:8000/x")),
    ("/published My title only", c.LogPublication(title="My title only")),
    ("/published 🎉 Launch day 🚀", c.LogPublication(title="🎉 Launch day 🚀")),
    ("/published 👩‍💻 notes", c.LogPublication(title="👩‍💻 notes")),
    ("/published list", c.ListPublications()),
    ("/published remove 2", c.RemovePublication(2)),
    ("/published again 41", c.RepeatPublication(41)),
    (
        "/published example.com/post My post",
        c.LogPublication("https://example.com/post", "My post"),
    ),
    (
        "/published yesterday https://example.com/a My post",
        c.LogPublication("https://example.com/a", "My post", day=c.PastDay(days_back=1)),
    ),
    ("/published today", c.LogPublication(day=c.PastDay(days_back=0))),
    ("/published Mon", c.LogPublication(day=c.PastDay(weekday=0))),
    ("/published thursday Notes", c.LogPublication(title="Notes", day=c.PastDay(weekday=3))),
    (
        "/published 2026-11-30 example.com/p",
        c.LogPublication("https://example.com/p", day=c.PastDay(on=date(2026, 11, 30))),
    ),
    ("/published Again and again", c.LogPublication(title="Again and again")),
    ('/published "List of books"', c.LogPublication(title="List of books")),
    ("/published Node.js tips", c.LogPublication(title="Node.js tips")),
    ("/goal rest off", c.EndRest()),
    ("/goal rest cancel", c.EndRest()),
    ("/goal freezes off", c.SetFreezes(on=False)),
    ("/goal freezes on", c.SetFreezes(on=True)),
    ("/goal Freezes OFF", c.SetFreezes(on=False)),
    ("/goal freeze off", c.SetFreezes(on=False)),
    ("/publish https://example.com", c.LogPublication(url="https://example.com/")),
    # /streak
    ("/streak", c.ShowStreak()),
    ("/streak please", c.ShowStreak()),
    # /nudges
    ("/nudges", c.ShowNudges()),
    ("/nudges mon wed fri at 9am", c.SetNudges(mask(0, 2, 4), 9 * 60)),
    ("/nudges weekdays at 18:30", c.SetNudges(mask(0, 1, 2, 3, 4), 18 * 60 + 30)),
    ("/nudges weekends at 10", c.SetNudges(mask(5, 6), 10 * 60)),
    ("/nudges mon-fri at 7", c.SetNudges(mask(0, 1, 2, 3, 4), 7 * 60)),
    ("/nudges fri-mon at 7", c.SetNudges(mask(4, 5, 6, 0), 7 * 60)),
    ("/nudges every day at 6:30pm", c.SetNudges(mask(*range(7)), 18 * 60 + 30)),
    ("/nudges everyday at 6am", c.SetNudges(mask(*range(7)), 6 * 60)),
    ("/nudges daily at noon", c.SetNudges(mask(*range(7)), 12 * 60)),
    ("/nudges sun at midnight", c.SetNudges(mask(6), 0)),
    ("/nudges Monday, Thursday at 09:00", c.SetNudges(mask(0, 3), 9 * 60)),
    ("/nudges mon and thu at 9", c.SetNudges(mask(0, 3), 9 * 60)),
    ("/nudges at 9", c.SetNudges(None, 9 * 60)),
    ("/nudges 8am", c.SetNudges(None, 8 * 60)),
    ("/nudges mon thu", c.SetNudges(mask(0, 3), None)),
    ("/nudges every day", c.SetNudges(mask(*range(7)), None)),
    ("/nudges mon thu 9 am", c.SetNudges(mask(0, 3), 9 * 60)),
    ("/nudges tue at 12am", c.SetNudges(mask(1), 0)),
    ("/nudges tue at 12pm", c.SetNudges(mask(1), 12 * 60)),
    ("/nudges tue at 9h30", c.SetNudges(mask(1), 9 * 60 + 30)),
    ("/nudges tue at 6.30pm", c.SetNudges(mask(1), 18 * 60 + 30)),
    ("/nudges tue at 23:59", c.SetNudges(mask(1), 23 * 60 + 59)),
    ("/nudges pause 2w", c.PauseNudges(weeks=2)),
    ("/nudges pause for 2 weeks", c.PauseNudges(weeks=2)),
    ("/nudges pause for 10 days", c.PauseNudges(days=10)),
    ("/nudges pause until 2026-12-01", c.PauseNudges(until=date(2026, 12, 1))),
    ("/nudges resume", c.ResumeNudges()),
    ("/nudges on", c.ResumeNudges()),
    ("/nudges off", c.NudgesOff()),
    ("/nudges snooze", c.Snooze(c.SnoozeFor.LATER)),
    ("/nudges snooze later", c.Snooze(c.SnoozeFor.LATER)),
    ("/nudges snooze later today", c.Snooze(c.SnoozeFor.LATER)),
    ("/nudges snooze tomorrow", c.Snooze(c.SnoozeFor.TOMORROW)),
    ("/nudges smaller", c.SmallerStep()),
    ("/nudges heads-up off", c.SetHeadsUp(on=False)),
    ("/nudges heads-up on", c.SetHeadsUp(on=True)),
    ("/nudges Heads-Up OFF", c.SetHeadsUp(on=False)),
    ("/nudges headsup off", c.SetHeadsUp(on=False)),
    ("/nudges heads up on", c.SetHeadsUp(on=True)),
    ("/nudge off", c.NudgesOff()),
    # /timezone
    ("/timezone", c.ShowTimezone()),
    ("/timezone Europe/Berlin", c.SetTimezone("Europe/Berlin")),
    ("/timezone europe/berlin", c.SetTimezone("Europe/Berlin")),
    ("/timezone berlin", c.SetTimezone("Europe/Berlin")),
    ("/timezone new york", c.SetTimezone("America/New_York")),
    ("/timezone America/Los_Angeles", c.SetTimezone("America/Los_Angeles")),
    ("/timezone UTC", c.SetTimezone("UTC")),
    ("/tz Asia/Tokyo", c.SetTimezone("Asia/Tokyo")),
    # /habit and help
    ("/habit", c.Help()),
    ("/habit help", c.Help()),
    ("/habit export", c.Export()),
    ("/habit forget", c.Forget(confirmed=False)),
    ("/habit forget confirm", c.Forget(confirmed=True)),
    ("/help", c.Help()),
    ("?", c.Help()),
    # without the slash, with stray white space
    ("goal 1 post", c.SetGoal(1, "post")),
    ("  /goal   2   posts  ", c.SetGoal(2, "post")),
    ("/goal\t2\nposts", c.SetGoal(2, "post")),
    ("/goal\u00a02 posts", c.SetGoal(2, "post")),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t for t, _ in VALID])
def test_a_valid_command_parses(text: str, expected: c.Command) -> None:
    assert parse(text) == expected


# --- errors ------------------------------------------------------------------------------------

INVALID = [
    "",
    "   ",
    "/goal -3",
    "/goal 0",
    "/goal 22",
    "/goal 999",
    "/goal 1.5",
    "/goal abc",
    "/goal ٣",
    "/goal " + "9" * 5000,
    "/goal 1 " + "x" * (MAX_LABEL + 1),
    "/goal 1 https://example.com",
    "/goal off now",
    "/goal rest 0",
    "/goal rest 9",
    "/goal rest " + "1" * 5000,
    "/goal rest weeks",
    "/goal week friday",
    "/goal week",
    "/goal freezes",
    "/goal freezes maybe",
    "/goal freezes off please",
    "/published htp:/x",
    "/published https://",
    "/published http://exa_mple.com",
    "/published ftp://example.com/file",
    "/published https://" + "a" * 2100 + ".com",
    "/published undo now",
    "/published list everything",
    "/published remove",
    "/published remove the fluff",
    "/published remove 0",
    "/published 2026-02-30 My post",
    "/published My post https://example.com/a",
    "/published yesterday My post www.example.com/a",
    "/published exa_mple.com/post",
    "/published https://user:pass@example.com/a",
    "/published https://user@example.com/a",
    "/published https://example.com:99999/a",
    "/published https://example.com/" + "a" * 3000,
    "/nudges someday at 25:99",
    "/nudges mon at 25:00",
    "/nudges mon at 13pm",
    "/nudges mon at 0am",
    "/nudges mon at 9:60",
    "/nudges at",
    "/nudges blursday at 9",
    "/nudges mon-funday at 9",
    "/nudges pause",
    "/nudges pause for",
    "/nudges pause until 2026-13-45",
    "/nudges pause until someday",
    "/nudges pause 0w",
    "/nudges pause 53 weeks",
    "/nudges pause 400 days",
    "/nudges pause soon",
    "/nudges snooze forever",
    "/nudges heads-up",
    "/nudges heads-up maybe",
    "/nudges heads-up off please",
    "/timezone Mars/Olympus",
    "/timezone Berlim",
    "/timezone Europe/Berlin please",
    "/timezone localtime",
    "/timezone Factory",
    "/habit dance",
    "/habit forget now",
    "/habit export everything",
    "/frobnicate",
    "hello",
    "/goal\x003",
    "\x00\x01\x02",
    "🎉",
]


@pytest.mark.parametrize("text", INVALID, ids=[repr(t[:40]) for t in INVALID])
def test_bad_input_gets_a_helpful_error(text: str) -> None:
    assert_helpful(error_of(text))


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_every_example_parses_to_a_command(key: str) -> None:
    assert isinstance(parse(EXAMPLES[key]), COMMAND_TYPES)


def test_a_negative_goal_explains_the_range() -> None:
    message = error_of("/goal -3").message
    assert f"{MIN_TARGET} to {MAX_TARGET}" in message


def test_a_goal_out_of_range_explains_the_range() -> None:
    message = error_of("/goal 999").message
    assert "out of range" in message
    assert f"{MIN_TARGET} to {MAX_TARGET}" in message


def test_a_goal_with_thousands_of_digits_is_out_of_range_not_a_crash() -> None:
    assert "out of range" in error_of("/goal " + "1" * 5000).message


def test_an_unknown_zone_error_names_the_zone_and_the_iana_form() -> None:
    message = error_of("/timezone Mars/Olympus").message
    assert "Mars/Olympus" in message
    assert "Area/City" in message


def test_a_misspelt_zone_gets_a_suggestion() -> None:
    assert "Europe/Berlin" in error_of("/timezone Berlim").message


def test_a_bad_day_and_a_bad_time_are_both_reported() -> None:
    message = error_of("/nudges someday at 25:99").message
    assert "someday" in message
    assert "25:99" in message


def test_a_pause_without_a_length_asks_for_one() -> None:
    assert "How long" in error_of("/nudges pause").message


@pytest.mark.parametrize(
    ("today", "until"),
    [(date(2026, 11, 23), date(2026, 12, 7)), (date(2027, 12, 20), date(2028, 1, 3))],
)
def test_an_unreadable_pause_date_shows_the_date_form_two_weeks_from_today(
    today: date, until: date
) -> None:
    asked: list[date] = []

    def members_today() -> date:
        asked.append(today)
        return today

    error = parse("/nudges pause until 2026-13-45", today=members_today)

    assert isinstance(error, c.ParseError)
    assert "YYYY-MM-DD" in error.message
    assert error.example == f"/nudges pause until {until.isoformat()}"
    assert parse(error.example) == c.PauseNudges(until=until)
    assert asked == [today]  # asked once, for the example


def test_a_pause_until_without_a_date_asks_for_one() -> None:
    error = parse("/nudges pause until", today=lambda: date(2027, 3, 1))

    assert isinstance(error, c.ParseError)
    assert error.message.startswith("Until when?")
    assert "“”" not in error.message
    assert error.example == "/nudges pause until 2027-03-15"


def test_a_pause_date_example_without_a_today_names_no_date() -> None:
    error = error_of("/nudges pause until someday")
    assert "YYYY-MM-DD" in error.message
    assert error.example == EXAMPLES["pause"]


def test_only_an_error_that_shows_a_date_asks_for_today() -> None:
    def no_date_needed() -> date:
        raise AssertionError("today was asked for")

    for text in ("/nudges pause until 2026-12-01", "/nudges pause", "/goal x", "/nudges 25:00"):
        parse(text, today=no_date_needed)


def test_no_example_or_pause_error_names_a_literal_date() -> None:
    iso_date = re.compile(r"\d{4}-\d{2}-\d{2}")
    assert not [form for form in EXAMPLES.values() if iso_date.search(form)]
    assert not iso_date.search(str(error_of("/nudges pause")))


def test_a_broken_link_is_an_error_not_a_title() -> None:
    assert "web link" in error_of("/published htp:/x").message


def test_an_unknown_command_lists_the_commands() -> None:
    message = error_of("/frobnicate").message
    for name in ("/goal", "/published", "/streak", "/nudges", "/timezone", "/habit"):
        assert name in message


def test_an_unknown_command_quotes_a_long_word_shortened() -> None:
    message = error_of("/" + "z" * 500).message
    assert "…" in message
    assert len(message) < 200


def test_error_text_renders_message_then_example() -> None:
    rendered = str(error_of("/goal abc"))
    message, example = rendered.split("\nExample: ")
    assert "abc" in message
    assert example == EXAMPLES["goal"]


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules", "posix/Europe/Berlin"])
def test_a_zone_that_is_not_a_place_is_refused_clearly(name: str) -> None:
    error = error_of(f"/timezone {name}")
    assert name in error.message
    assert "Area/City" in error.message
    assert_helpful(error)


def test_a_www_link_over_the_limit_once_https_is_added_is_refused() -> None:
    raw = "www." + "e" * (1996 - len(".com/")) + ".com/"
    assert len(raw) == MAX_URL
    assert normalize_url(raw) is None
    assert "too long" in error_of("/published " + raw).message


def test_a_3000_character_link_is_too_long_not_malformed() -> None:
    error = error_of("/published https://example.com/" + "a" * 3000)
    assert "too long" in error.message
    assert "2,000" in error.message
    assert "web link" not in error.message
    assert_helpful(error)


@pytest.mark.parametrize(
    "link", ["https://user:pass@example.com/a", "https://user@example.com/a", "https://@x.com"]
)
def test_a_link_with_credentials_says_so(link: str) -> None:
    error = error_of(f"/published {link}")
    assert "username or password" in error.message
    assert "pass@" not in error.message
    assert_helpful(error)


def test_a_link_with_a_bad_port_does_not_look_like_a_web_link() -> None:
    error = error_of("/published https://example.com:99999/a")
    assert "web link" in error.message
    assert_helpful(error)


def test_published_strips_tracking_and_keeps_the_title() -> None:
    result = parse("/published https://Example.com/a/?utm_source=x&id=3#frag My post")
    assert result == c.LogPublication(url="https://example.com/a?id=3", title="My post")


# --- titles, labels and odd characters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ('/published https://example.com/a "My post"', "My post"),
        ("/published https://example.com/a “Smart quotes”", "Smart quotes"),
        ("/published ‘Single’", "Single"),
        ('/published "a" and "b"', '"a" and "b"'),
        ('/published "Half quoted', '"Half quoted'),
        ('/published ""', '""'),
        ("/published It's “fine”", "It's “fine”"),
    ],
)
def test_a_title_typed_in_quotes_is_the_words_inside_them(typed: str, title: str) -> None:
    result = parse(typed)
    assert isinstance(result, c.LogPublication)
    assert result.title == title


def test_a_5000_character_title_is_shortened_to_200_and_flagged() -> None:
    result = parse("/published " + "a" * 5000)
    assert isinstance(result, c.LogPublication)
    assert result.title is not None
    assert len(result.title) == MAX_TITLE
    assert result.title.endswith("…")
    assert result.title_shortened is True


def test_a_long_title_after_a_link_keeps_the_link() -> None:
    result = parse("/published https://example.com/p " + "word " * 1000)
    assert isinstance(result, c.LogPublication)
    assert result.url == "https://example.com/p"
    assert result.title is not None
    assert len(result.title) <= MAX_TITLE
    assert result.title_shortened is True


def test_a_title_of_exactly_the_limit_is_kept_whole() -> None:
    result = parse("/published " + "b" * MAX_TITLE)
    assert result == c.LogPublication(title="b" * MAX_TITLE, title_shortened=False)


def test_a_label_of_exactly_the_limit_is_accepted() -> None:
    label = "q" * MAX_LABEL
    assert parse(f"/goal 1 {label}") == c.SetGoal(1, label)


def test_control_characters_and_nuls_are_dropped_from_titles() -> None:
    result = parse("/published My\x00 fi\x07rst\x1b post\u202e")
    assert result == c.LogPublication(title="My first post")


def test_control_characters_between_words_do_not_break_a_command() -> None:
    assert parse("/goal\x00 2\x01 posts\x7f") == c.SetGoal(2, "post")


def test_only_control_characters_ask_for_a_command() -> None:
    assert error_of("\x00\x01\x02").example == EXAMPLES["habit"]


def test_emoji_joiners_survive_in_titles() -> None:
    family = "👨\u200d👩\u200d👧"
    assert parse(f"/published {family}") == c.LogPublication(title=family)


# --- helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "singular"),
    [
        ("posts", "post"),
        ("newsletters", "newsletter"),
        ("blog posts", "blog post"),
        ("classes", "class"),
        ("sketches", "sketch"),
        ("stories", "story"),
        ("diary entries", "diary entry"),
        ("series", "series"),
        ("news", "news"),
        ("class", "class"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("post", "post"),
        ("posts 🎉", "post 🎉"),
    ],
)
def test_singular_label(label: str, singular: str) -> None:
    assert singular_label(label) == singular


# --- properties --------------------------------------------------------------------------------

COMMAND_WORDS = [
    "/goal",
    "/goal rest",
    "/goal week",
    "/goal freezes",
    "/goal off",
    "/published",
    "/published undo",
    "/publish",
    "/streak",
    "/nudges",
    "/nudges pause",
    "/nudges pause until",
    "/nudges pause for",
    "/nudges snooze",
    "/nudges smaller",
    "/nudges heads-up",
    "/timezone",
    "/tz",
    "/habit",
    "/habit forget",
    "/help",
    "goal",
    "nudges",
]
ARG_WORDS = [
    "at",
    "mon",
    "fri-mon",
    "weekdays",
    "every",
    "day",
    "9am",
    "25:99",
    "12pm",
    "2w",
    "weeks",
    "until",
    "2026-12-01",
    "2026-13-45",
    "https://",
    "https://example.com/x",
    "htp:/x",
    "www.",
    "undo",
    "list",
    "remove",
    "again",
    "yesterday",
    "example.com/post",
    "confirm",
    "-3",
    "0",
    "21",
    "22",
    "one",
    "posts",
    "a week",
    "Europe/Berlin",
    "new york",
    "🎉",
    "\x00",
    "\u200d",
]
ARGUMENT = st.one_of(
    st.sampled_from(ARG_WORDS),
    st.text(max_size=15),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
)
COMMAND_TEXT = st.builds(
    lambda head, args: " ".join([head, *args]),
    st.sampled_from(COMMAND_WORDS),
    st.lists(ARGUMENT, max_size=6),
)
ODD_CHARACTERS = st.characters(categories=("Cc", "Cf", "Zs", "So", "Sk", "Nd", "Mn", "Ll"))
ANY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=ODD_CHARACTERS),
    st.builds(str.__add__, st.sampled_from(COMMAND_WORDS), st.text(alphabet=ODD_CHARACTERS)),
    COMMAND_TEXT,
)


def check_result(text: str) -> None:
    result = parse(text)
    assert isinstance(result, (*COMMAND_TYPES, c.ParseError))
    if isinstance(result, c.ParseError):
        assert_helpful(result)
    elif isinstance(result, c.SetGoal):
        assert MIN_TARGET <= result.target <= MAX_TARGET
        assert result.label is None or 0 < len(result.label) <= MAX_LABEL
    elif isinstance(result, c.LogPublication):
        assert result.title is None or len(result.title) <= MAX_TITLE
        assert result.url is None or result.url.startswith(("http://", "https://"))
    elif isinstance(result, c.Rest):
        assert 1 <= result.weeks <= 8
    elif isinstance(result, c.SetNudges):
        assert result.days is None or 0 < result.days < 128
        assert result.minute_of_day is None or 0 <= result.minute_of_day < 24 * 60


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_parse_never_raises_on_arbitrary_text(text: str) -> None:
    check_result(text)


@settings(max_examples=300, deadline=None)
@given(COMMAND_TEXT)
def test_parse_never_raises_on_command_words_with_random_arguments(text: str) -> None:
    check_result(text)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=400))
def test_published_titles_stay_within_the_limit(title: str) -> None:
    result = parse("/published " + title)
    assert isinstance(result, (c.LogPublication, c.UndoPublication, c.ParseError))
    if isinstance(result, c.LogPublication):
        assert result.title is None or len(result.title) <= MAX_TITLE
        assert result.url is None or result.url.startswith(("http://", "https://"))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(10**9), max_value=10**9), st.text(max_size=40))
def test_goal_targets_are_in_range_or_refused(target: int, label: str) -> None:
    result = parse(f"/goal {target} {label}")
    if isinstance(result, c.SetGoal):
        assert MIN_TARGET <= result.target <= MAX_TARGET
        assert result.target == target
        assert result.label is None or len(result.label) <= MAX_LABEL
    elif isinstance(result, c.ParseError):
        assert_helpful(result)


# --- the modal's separate link and title fields --------------------------------------------


def test_form_fields_give_a_normalized_link_and_the_title() -> None:
    parsed = grammar.parse_publication_fields(" https://Example.com/a/ ", "  My   post ")

    assert parsed == c.LogPublication(url="https://example.com/a", title="My post")


def test_form_fields_may_both_be_empty() -> None:
    assert grammar.parse_publication_fields("", None) == c.LogPublication()


def test_a_form_title_that_starts_with_http_stays_a_title() -> None:
    parsed = grammar.parse_publication_fields(None, "https is hard: notes")

    assert parsed == c.LogPublication(title="https is hard: notes")


@pytest.mark.parametrize("link", ["not a link", "ftp://example.com/x", "example", "🙂"])
def test_a_form_link_that_is_not_one_is_an_error_with_an_example(link: str) -> None:
    parsed = grammar.parse_publication_fields(link, "Title")

    assert isinstance(parsed, c.ParseError)
    assert "doesn't look like a web link" in parsed.message
    assert parsed.example == "https://example.com/my-post"


def test_a_form_link_with_credentials_is_refused() -> None:
    parsed = grammar.parse_publication_fields("https://me:pw@example.com/x", "")

    assert isinstance(parsed, c.ParseError)
    assert "username or password" in parsed.message


def test_a_5000_character_form_title_is_shortened_and_flagged() -> None:
    parsed = grammar.parse_publication_fields("", "x" * 5000)

    assert isinstance(parsed, c.LogPublication)
    assert parsed.title is not None
    assert len(parsed.title) == 200
    assert parsed.title_shortened


def test_form_fields_take_a_day_and_a_bare_domain_link() -> None:
    parsed = grammar.parse_publication_fields("example.com/post", "My post", "yesterday")

    assert parsed == c.LogPublication(
        url="https://example.com/post", title="My post", day=c.PastDay(days_back=1)
    )


def test_a_form_day_that_is_not_one_is_an_error_with_an_example() -> None:
    parsed = grammar.parse_publication_fields(None, "My post", "someday")

    assert isinstance(parsed, c.ParseError)
    assert "isn't a day I can read" in parsed.message
    assert_helpful(parsed)


# --- naming the day of a publication ----------------------------------------------------------

WEDNESDAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("today", WEDNESDAY),
        ("yesterday", date(2026, 11, 24)),
        ("wed", WEDNESDAY),  # today's own name is today, not a week ago
        ("Wednesday", WEDNESDAY),
        ("mon", date(2026, 11, 23)),
        ("thu", date(2026, 11, 19)),  # the most recent past Thursday
        ("sunday", date(2026, 11, 22)),
        ("2026-11-12", date(2026, 11, 12)),
    ],
)
def test_a_named_day_resolves_against_the_members_today(word: str, expected: date) -> None:
    found = grammar.parse_past_day(word)

    assert isinstance(found, c.PastDay)
    assert found.resolve(WEDNESDAY) == expected


@pytest.mark.parametrize("word", ["mondays", "weekdays", "daily", "soon", "2026-11", "11/12"])
def test_words_that_name_no_single_day_are_not_days(word: str) -> None:
    assert grammar.parse_past_day(word) is None


def test_words_before_a_link_are_not_a_title_and_the_example_puts_the_link_first() -> None:
    error = error_of("/published yesterday My post https://Example.com/a")

    assert "Put the link first" in error.message
    assert error.example == "/published yesterday https://example.com/a My post"
    assert parse(error.example) == c.LogPublication(
        "https://example.com/a", "My post", day=c.PastDay(days_back=1)
    )


def test_a_bare_domain_with_a_path_is_a_link_but_without_a_path_it_is_a_title() -> None:
    assert parse("/published example.com/post") == c.LogPublication("https://example.com/post")
    assert parse("/published example.com rocks") == c.LogPublication(title="example.com rocks")


def test_pause_forever_quotes_what_was_typed() -> None:
    parsed = grammar.parse("/nudges pause forever")

    assert isinstance(parsed, c.ParseError)
    assert "“forever”" in parsed.message


def test_pause_for_two_weeks_still_reads_for() -> None:
    assert grammar.parse("/nudges pause for 2 weeks") == c.PauseNudges(weeks=2)


# --- /timezone: abbreviations and fixed offsets ---------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("EST", "America/New_York"),
        ("edt", "America/New_York"),
        ("CST", "America/Chicago"),
        ("MST", "America/Denver"),
        ("PST", "America/Los_Angeles"),
        ("PDT", "America/Los_Angeles"),
        ("AKST", "America/Anchorage"),
        ("HST", "Pacific/Honolulu"),
        ("GMT", "Europe/London"),
        ("BST", "Europe/London"),
        ("CET", "Europe/Berlin"),
        ("CEST", "Europe/Berlin"),
        ("EET", "Europe/Athens"),
        ("IST", "Asia/Kolkata"),
        ("JST", "Asia/Tokyo"),
        ("KST", "Asia/Seoul"),
        ("AEST", "Australia/Sydney"),
        ("AEDT", "Australia/Sydney"),
        ("NZST", "Pacific/Auckland"),
        ("EST5EDT", "America/New_York"),
        ("Eastern", "America/New_York"),
    ],
)
def test_an_abbreviation_asks_which_place_it_means(typed: str, first: str) -> None:
    error = error_of(f"/timezone {typed}")

    assert zones.resolve_zone(typed) is None
    assert f"“{typed}”" in error.message
    assert f"did you mean {first}" in error.message
    assert error.example == f"/timezone {first}"
    assert_helpful(error)


def test_est_never_means_panama_and_pst_never_suggests_other_abbreviations() -> None:
    est = error_of("/timezone EST").message
    pst = error_of("/timezone PST").message

    assert "America/Panama" not in est
    assert "several time zones" in est
    assert "America/Toronto" in est
    assert "America/Los_Angeles" in pst
    assert not any(name in pst for name in ("MST", "HST", "EST"))


@pytest.mark.parametrize("typed", ["UTC", "utc", "Etc/UTC", "UTC+0", "+00:00"])
def test_utc_is_a_zone(typed: str) -> None:
    assert parse(f"/timezone {typed}") == c.SetTimezone("UTC")


@pytest.mark.parametrize(
    ("typed", "place"),
    [
        ("UTC+5", "Asia/Karachi"),
        ("utc+05:30", "Asia/Kolkata"),
        ("GMT-3", "America/Sao_Paulo"),
        ("+0900", "Asia/Tokyo"),
        ("UTC−5", "America/New_York"),  # a typographic minus
        ("Etc/GMT+5", "America/New_York"),  # tzdata's sign is the other way round: UTC−5
        ("Etc/GMT-1", "Europe/Berlin"),
    ],
)
def test_a_fixed_offset_asks_for_the_place(typed: str, place: str) -> None:
    error = error_of(f"/timezone {typed}")

    assert zones.resolve_zone(typed) is None
    assert "fixed offset" in error.message
    assert place in error.message
    assert place in zones.search_zones(typed)
    assert_helpful(error)


def test_an_offset_beyond_any_place_is_not_a_zone() -> None:
    assert "I don't know the time zone" in error_of("/timezone UTC+15").message
