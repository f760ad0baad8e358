"""The commands every adapter speaks, as values. The grammar turns text into these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


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
class SetWeekStart:
    starts_on: int  # 0 Monday, 6 Sunday


@dataclass(frozen=True)
class LogPublication:
    url: str | None = None
    title: str | None = None
    title_shortened: bool = False


@dataclass(frozen=True)
class UndoPublication:
    pass


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
    | SetWeekStart
    | LogPublication
    | UndoPublication
    | ShowStreak
    | ShowNudges
    | SetNudges
    | PauseNudges
    | ResumeNudges
    | NudgesOff
    | Snooze
    | SmallerStep
    | ShowTimezone
    | SetTimezone
    | Help
    | Export
    | Forget
)


@dataclass(frozen=True)
class ParseError:
    """What was wrong with the text, and a correct example to copy."""

    message: str
    example: str

    def __str__(self) -> str:
        return f"{self.message}\nExample: {self.example}"
