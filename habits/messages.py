"""Platform-neutral replies and notices as data; each surface renders them in its own way.

A reply's body is a sequence of parts, one line each: :class:`Say` (a catalogue message id
and its values), the streak card and the help card. A value is a number, a date
(:class:`When`), the engine's own words, the member's words (:class:`MemberText`, never
interpreted: each surface shows it as typed) or a command (:class:`CommandRef`, spelled by each
surface). :func:`render` fills a part in for a surface's :class:`Spelling`; :data:`PLAIN` is
the console's spelling and gives ``Reply.text``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from habits import coaching
from habits.catalogue import TYPED, DateStyle, Form, M, format_date, template
from habits.model import DeliveryKind, MemberRef, Streak, WeekState, WeekSummary
from habits.streaks import MAX_FREEZES


class ActionId(StrEnum):
    """Quick actions a message offers; adapters turn them into buttons."""

    PUBLISHED = "published"
    SNOOZE_LATER = "snooze_later"
    SNOOZE_TOMORROW = "snooze_tomorrow"
    SMALLER_STEP = "smaller_step"
    FORGET_CONFIRM = "forget_confirm"
    FORGET_CANCEL = "forget_cancel"
    SMALLER_GOAL = "smaller_goal"
    PUBLISH_AGAIN = "publish_again"
    SHOW_YEAR = "show_year"  # the picture of the year, where a reply cannot carry it

    @property
    def opens_form(self) -> bool:
        """The action asks for details first (the link and title of *I published*)."""
        return self is ActionId.PUBLISHED

    @property
    def answers_in_place(self) -> bool:
        """The outcome replaces the message whose button was clicked, so a question (delete
        everything? log it again?) cannot be answered twice."""
        return self in (ActionId.FORGET_CONFIRM, ActionId.FORGET_CANCEL, ActionId.PUBLISH_AGAIN)


@dataclass(frozen=True)
class MemberText:
    """The member's own words (a title, a label, what they typed): shown as typed, never read
    as markup, a mention or a command."""

    text: str


@dataclass(frozen=True)
class When:
    """A day, or a moment already in the member's zone, written by ``format_date``."""

    at: date | datetime
    style: DateStyle = DateStyle.DAY
    this_year: int | None = None  # the year a date leaves out


@dataclass(frozen=True)
class CommandRef:
    """A command a message mentions or a button stands for: its form and named values."""

    form: Form
    args: tuple[tuple[str, Value], ...] = ()

    @staticmethod
    def to(form: Form, **args: Value) -> CommandRef:
        return CommandRef(form, tuple(args.items()))

    @property
    def typed(self) -> str:
        """The command as a member types it (what the grammar reads)."""
        return PLAIN.command(self)


@dataclass(frozen=True)
class Say:
    """One message of the catalogue and its values.

    ``typed_only``: a hint for members who type commands, which a surface that offers the same
    thing as a button leaves out."""

    id: M
    values: tuple[tuple[str, Value], ...] = ()
    typed_only: bool = False


Value = int | str | When | MemberText | CommandRef | Say


def say(message: M, **values: Value) -> Say:
    return Say(message, tuple(values.items()))


@dataclass(frozen=True)
class Action:
    id: ActionId
    label: Say
    command: CommandRef  # the command the action stands for, so every adapter can run it


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/json"


@dataclass(frozen=True)
class HelpCard:
    """/habit help as data, so each surface shows its own help: the values its examples need."""

    pause_until: date  # the example pause's end, two weeks after the member's today


@dataclass(frozen=True)
class StreakCard:
    """The streak card: each surface lays it out from the :class:`Streak` itself."""

    streak: Streak
    label: str  # the member's goal label


YEAR_WEEKS = 52


@dataclass(frozen=True)
class YearCard:
    """The member's last 52 weeks as data for a picture, one cell a week, oldest first and the
    current week last: each surface draws it (a PNG, a row of blocks) and :attr:`alt` says it
    in words. Weeks before the member's first goal are there as weeks with no goal."""

    weeks: tuple[WeekSummary, ...]
    current: int
    longest: int
    total_publications: int

    @staticmethod
    def of(weeks: Sequence[WeekSummary], streak: Streak) -> YearCard:
        shown = list(weeks[-YEAR_WEEKS:])
        first = shown[0].start if shown else streak.this_week.start
        padding = [
            WeekSummary(first - timedelta(weeks=n), 0, None, WeekState.OFF)
            for n in range(YEAR_WEEKS - len(shown), 0, -1)
        ]
        return YearCard(
            tuple(padding + shown), streak.current, streak.longest, streak.total_publications
        )

    @property
    def alt(self) -> Say:
        """The picture in words, for screen readers and wherever an image is not shown."""
        closed = [week.state for week in self.weeks[:-1]]
        return say(
            M.YEAR_ALT,
            weeks=len(self.weeks),
            met=closed.count(WeekState.MET),
            missed=closed.count(WeekState.MISSED),
            frozen=closed.count(WeekState.FROZEN),
            rest=closed.count(WeekState.REST),
            off=closed.count(WeekState.OFF),
            this_week=say(THIS_WEEK_WORDS[self.weeks[-1].state]),
            streak=say(M.YEAR_ALT_STREAK, count=self.current, longest=self.longest),
            total=say(M.YEAR_ALT_TOTAL, count=self.total_publications),
        )

    @property
    def title(self) -> Say:
        return say(M.YEAR_TITLE, weeks=len(self.weeks))

    @property
    def stats(self) -> Say:
        return say(
            M.YEAR_STATS,
            current=self.current,
            longest=self.longest,
            total=self.total_publications,
        )


Part = Say | StreakCard | HelpCard | YearCard


class _Body:
    body: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The plain (console) rendering; surfaces render ``body`` with their own spelling."""
        return render_body(self.body, PLAIN)


@dataclass(frozen=True)
class Reply(_Body):
    """The answer to a command, for the member who asked alone."""

    body: tuple[Part, ...]
    ok: bool = True
    actions: tuple[Action, ...] = ()
    attachment: Attachment | None = None

    @staticmethod
    def of(*parts: Part | None, ok: bool = True, actions: tuple[Action, ...] = ()) -> Reply:
        """A reply of ``parts``, one line each (None: no line)."""
        return Reply(tuple(p for p in parts if p is not None), ok=ok, actions=actions)

    @property
    def streak(self) -> Streak | None:
        return next((p.streak for p in self.body if isinstance(p, StreakCard)), None)

    @property
    def year(self) -> YearCard | None:
        return next((p for p in self.body if isinstance(p, YearCard)), None)

    @property
    def help(self) -> HelpCard | None:
        return next((p for p in self.body if isinstance(p, HelpCard)), None)

    def example(self) -> CommandRef | None:
        """The command a refusal gives as its example, if it gives one."""
        for part in reversed(self.body):
            if isinstance(part, Say) and part.id is M.EXAMPLE:
                ref = dict(part.values)["example"]
                return ref if isinstance(ref, CommandRef) else None
        return None

    def with_example(self, example: CommandRef) -> Reply:
        """The reply with another example: a surface asks in a form of its own."""
        body = tuple(
            say(M.EXAMPLE, example=example) if isinstance(p, Say) and p.id is M.EXAMPLE else p
            for p in self.body
        )
        return replace(self, body=body)

    def then(self, *parts: Part) -> Reply:
        return replace(self, body=self.body + parts)


def refusal(message: Say, example: CommandRef | None = None) -> Reply:
    """Bad input: what was wrong, and a correct example to copy."""
    return Reply.of(message, say(M.EXAMPLE, example=example) if example else None, ok=False)


# Whatever failed, nothing was changed: the answer to a command that could not run.
OOPS_REPLY = Reply.of(say(M.OOPS), ok=False)


@dataclass(frozen=True)
class Overview:
    """Everything a status page shows (Slack's App Home): the answers of the four show commands."""

    streak: Reply
    goal: Reply
    nudges: Reply
    timezone: Reply


@dataclass(frozen=True)
class Notice(_Body):
    """A message the coach starts: a nudge or a weekly check-in."""

    member: MemberRef
    kind: DeliveryKind
    body: tuple[Part, ...]
    actions: tuple[Action, ...] = field(default=())
    # The same on every attempt to deliver this notice, so a platform that deduplicates by a
    # client-chosen id (Discord's message nonce) shows a retried send once.
    key: str = ""
    # Which attempt at its delivery this is. From the second on, an earlier one may have reached
    # the member with its answer lost; a platform without a nonce (Slack) looks before posting.
    attempt: int = 1

    @property
    def title(self) -> Say:
        return say(NOTICE_TITLES[self.kind])


NOTICE_TITLES = {
    DeliveryKind.NUDGE: M.NUDGE_TITLE,
    DeliveryKind.CHECKIN: M.CHECKIN_TITLE,
    DeliveryKind.HEADSUP: M.HEADS_UP_TITLE,
}


NUDGE_ACTIONS = (
    Action(ActionId.PUBLISHED, say(M.BUTTON_PUBLISHED), CommandRef.to(Form.PUBLISHED)),
    Action(
        ActionId.SNOOZE_LATER,
        say(M.BUTTON_SNOOZE_LATER),
        CommandRef.to(Form.NUDGES_SNOOZE, until="later"),
    ),
    Action(
        ActionId.SNOOZE_TOMORROW,
        say(M.BUTTON_SNOOZE_TOMORROW),
        CommandRef.to(Form.NUDGES_SNOOZE, until="tomorrow"),
    ),
    Action(ActionId.SMALLER_STEP, say(M.BUTTON_SMALLER_STEP), CommandRef.to(Form.NUDGES_SMALLER)),
)
# The last day's: snoozing "until tomorrow" would land in the next week.
HEADS_UP_ACTIONS = tuple(a for a in NUDGE_ACTIONS if a.id is not ActionId.SNOOZE_TOMORROW)


# --- rendering ---------------------------------------------------------------------------------


class Spelling(Protocol):
    """How a surface writes the parts of a message."""

    @property
    def typed_hints(self) -> bool:
        """Whether hints for typing a command are shown (not where a button does it)."""

    def words(self, text: str) -> str:
        """The engine's own words (a catalogue text, a zone name), escaped for the surface."""

    def member(self, text: str) -> str:
        """The member's words, escaped so the surface shows them exactly as typed."""

    def command(self, ref: CommandRef) -> str:
        """A command as the surface's members enter it."""


def fill(form_template: str, ref: CommandRef, spelling: Spelling) -> str:
    """A command's template (``/goal {count} {label}``) filled with its values for a surface."""
    return form_template.format_map({k: value(v, spelling) for k, v in ref.args})


def value(item: Value, spelling: Spelling, locale: str = "en") -> str:
    if isinstance(item, bool):  # pragma: no cover - a flag is no value
        raise TypeError("a message value is never a bool")
    if isinstance(item, int):
        return f"{item:,}"
    if isinstance(item, str):
        return spelling.words(item)
    if isinstance(item, MemberText):
        return spelling.member(item.text)
    if isinstance(item, CommandRef):
        return spelling.command(item)
    if isinstance(item, When):
        return spelling.words(format_date(item.at, item.style, item.this_year, locale))
    return render(item, spelling, locale)


def render(part: Say, spelling: Spelling, locale: str = "en") -> str:
    """One message filled in for a surface."""
    if part.typed_only and not spelling.typed_hints:
        return ""
    values = dict(part.values)
    text = spelling.words(template(part.id, values, locale))
    return text.format_map({k: value(v, spelling, locale) for k, v in values.items()})


def streak_lines(card: StreakCard) -> tuple[Say, list[tuple[Say, Value]], Say | None]:
    """The streak card's heading, its labelled fields and its line of recent weeks."""
    streak, label = card.streak, card.label
    week = streak.this_week
    heading = say(M.STREAK_HEADING, count=streak.current, longest=streak.longest)
    if week.state is WeekState.REST:
        this_week = say(M.WEEK_RESTING)
    elif week.target is None:
        published = counted(week.count, label)
        goal = CommandRef.to(Form.GOAL, count=1, label="post")
        this_week = say(M.WEEK_NO_GOAL, published=published, goal=goal)
    elif week.state is WeekState.MET:
        this_week = say(M.WEEK_GOAL_MET, count=week.count, target=week.target)
    else:
        this_week = say(
            M.WEEK_PROGRESS, count=week.count, target=week.target, left=streak.time_left
        )
    fields: list[tuple[Say, Value]] = [
        (say(M.THIS_WEEK), this_week),
        (say(M.TOTAL_PUBLISHED), streak.total_publications),
    ]
    if streak.freezes is not None:
        banked = say(M.FREEZES_BANKED, count=streak.freezes, most=MAX_FREEZES)
        fields.append((say(M.FREEZES), banked))
    recent = None
    if len(streak.recent) > 1:
        marks = " ".join(STATE_MARKS[w.state] for w in streak.recent)
        shown = {w.state for w in streak.recent}  # every mark shown is explained, no other
        legend = " ".join(
            render(say(M.LEGEND_ENTRY, mark=mark, meaning=say(STATE_LEGEND[state])), PLAIN)
            for state, mark in STATE_MARKS.items()
            if state in shown
        )
        recent = say(M.RECENT_MARKS, marks=marks, legend=legend)
    return heading, fields, recent


STATE_MARKS = {
    WeekState.MET: "✅",
    WeekState.MISSED: "▫️",
    WeekState.REST: "💤",
    WeekState.FROZEN: "❄️",
    WeekState.IN_PROGRESS: "⏳",
    WeekState.OFF: "·",
}
STATE_LEGEND = {
    WeekState.MET: M.LEGEND_MET,
    WeekState.MISSED: M.LEGEND_MISSED,
    WeekState.REST: M.LEGEND_REST,
    WeekState.FROZEN: M.LEGEND_FROZEN,
    WeekState.IN_PROGRESS: M.LEGEND_IN_PROGRESS,
    WeekState.OFF: M.LEGEND_OFF,
}
# What the current week is, in the year's words (it is never frozen: a freeze needs it closed).
THIS_WEEK_WORDS = {
    WeekState.MET: M.LEGEND_MET,
    WeekState.MISSED: M.LEGEND_MISSED,
    WeekState.REST: M.LEGEND_REST,
    WeekState.FROZEN: M.LEGEND_FROZEN,
    WeekState.IN_PROGRESS: M.YEAR_IN_PROGRESS,
    WeekState.OFF: M.LEGEND_OFF,
}


def counted(count: int, label: str) -> Say:
    """'1 post', '3 posts': a count of the member's goal label, its head noun inflected."""
    return say(M.COUNTED, count=count, label=MemberText(coaching.plural_label(count, label)))


def render_lines(part: Part, spelling: Spelling) -> Iterator[str]:
    if isinstance(part, Say):
        yield render(part, spelling)
    elif isinstance(part, HelpCard):
        yield render(say(M.HELP, until=When(part.pause_until, DateStyle.ISO)), spelling)
    elif isinstance(part, YearCard):
        return  # a picture: each surface draws it its own way (its words are ``alt``)
    else:
        heading, fields, recent = streak_lines(part)
        yield render(heading, spelling)
        for name, shown in fields:
            yield render(say(M.STREAK_FIELD, label=name, value=shown), spelling)
        if recent is not None:
            yield render(say(M.STREAK_FIELD, label=say(M.RECENT_WEEKS), value=recent), spelling)


def render_body(body: tuple[Part, ...], spelling: Spelling) -> str:
    """A body's parts, a line each, for a surface."""
    return "\n".join(line for part in body for line in render_lines(part, spelling))


class PlainSpelling:
    """Plain text, as typed: the console, and ``Reply.text``."""

    typed_hints = True

    def words(self, text: str) -> str:
        return text

    def member(self, text: str) -> str:
        return text

    def command(self, ref: CommandRef) -> str:
        return fill(TYPED[ref.form], ref, self)


PLAIN: Spelling = PlainSpelling()
