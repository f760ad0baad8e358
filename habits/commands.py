"""The commands every adapter speaks, as values. The grammar turns text into these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from habits.messages import PLAIN, CommandRef, Reply, Say, refusal, render


@dataclass(frozen=True)
class ShowGoal:
    pass


@dataclass(frozen=True)
class SetGoal:
    target: int
    label: str | None = None  # None keeps the current label


@dataclass(frozen=True)
class GoalOff:
    pass


@dataclass(frozen=True)
class Rest:
    weeks: int = 1


@dataclass(frozen=True)
class EndRest:
    pass


@dataclass(frozen=True)
class SetWeekStart:
    starts_on: int  # 0 Monday, 6 Sunday


@dataclass(frozen=True)
class SetFreezes:
    """``/goal freezes off|on``: earned streak freezes."""

    on: bool


MAX_DAYS_BACK = 14  # a publication may be logged (or removed) up to two weeks back


@dataclass(frozen=True)
class PastDay:
    """A day the member names for a publication: ``days_back`` (0 today, 1 yesterday), the
    most recent ``weekday`` (0 Monday; today's name means today), or a calendar date. Which
    date it is depends on the member's today, so the engine resolves it."""

    days_back: int | None = None
    weekday: int | None = None
    on: date | None = None

    def resolve(self, today: date) -> date:
        if self.on is not None:
            return self.on
        if self.weekday is not None:
            return today - timedelta(days=(today.weekday() - self.weekday) % 7)
        return today - timedelta(days=self.days_back or 0)


@dataclass(frozen=True)
class LogPublication:
    url: str | None = None
    title: str | None = None
    title_shortened: bool = False
    day: PastDay | None = None  # None: now


@dataclass(frozen=True)
class UndoPublication:
    pass


@dataclass(frozen=True)
class ListPublications:
    pass


@dataclass(frozen=True)
class RemovePublication:
    number: int  # as /published list numbers them, 1 the newest


@dataclass(frozen=True)
class RepeatPublication:
    """Log a title-only publication again on the same day, once the member confirmed it."""

    publication_id: int


@dataclass(frozen=True)
class ShowStreak:
    pass


@dataclass(frozen=True)
class ShowNudges:
    pass


@dataclass(frozen=True)
class SetNudges:
    days: int | None  # bit mask, Monday = bit 0; None keeps the current days
    minute_of_day: int | None  # None keeps the current time


@dataclass(frozen=True)
class PauseNudges:
    weeks: int | None = None
    days: int | None = None
    until: date | None = None


@dataclass(frozen=True)
class ResumeNudges:
    pass


@dataclass(frozen=True)
class NudgesOff:
    pass


class SnoozeFor(StrEnum):
    LATER = "later"
    TOMORROW = "tomorrow"


@dataclass(frozen=True)
class Snooze:
    until: SnoozeFor = SnoozeFor.LATER


@dataclass(frozen=True)
class SmallerStep:
    pass


@dataclass(frozen=True)
class SetHeadsUp:
    """``/nudges heads-up off|on``: the last day's heads-up alone."""

    on: bool


@dataclass(frozen=True)
class ShowTimezone:
    pass


@dataclass(frozen=True)
class SetTimezone:
    name: str


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Export:
    pass


@dataclass(frozen=True)
class Forget:
    confirmed: bool = False
    cancelled: bool = False


Command = (
    ShowGoal
    | SetGoal
    | GoalOff
    | Rest
    | EndRest
    | SetWeekStart
    | SetFreezes
    | LogPublication
    | UndoPublication
    | ListPublications
    | RemovePublication
    | RepeatPublication
    | ShowStreak
    | ShowNudges
    | SetNudges
    | PauseNudges
    | ResumeNudges
    | NudgesOff
    | Snooze
    | SmallerStep
    | SetHeadsUp
    | ShowTimezone
    | SetTimezone
    | Help
    | Export
    | Forget
)


@dataclass(frozen=True)
class ParseError:
    """What was wrong with the text, and a correct example to copy."""

    said: Say
    example_ref: CommandRef

    def reply(self) -> Reply:
        return refusal(self.said, self.example_ref)

    @property
    def message(self) -> str:
        """What was wrong, in plain words."""
        return render(self.said, PLAIN)

    @property
    def example(self) -> str:
        """The example as typed."""
        return self.example_ref.typed

    def __str__(self) -> str:
        return self.reply().text
