"""Platform-neutral replies and notices; each adapter renders them in its own way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from habits.model import MemberRef, Streak


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
class Action:
    id: ActionId
    label: str
    command: str  # the command text the action stands for, so every adapter can run it


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
class Reply:
    """The answer to a command. ``private`` replies concern only the member who asked."""

    text: str
    ok: bool = True
    private: bool = True
    streak: Streak | None = None
    actions: tuple[Action, ...] = ()
    attachment: Attachment | None = None
    # Set on the help: ``text`` starts with the engine's help for this card.
    help: HelpCard | None = None


@dataclass(frozen=True)
class Overview:
    """Everything a status page shows (Slack's App Home): the answers of the four show commands."""

    streak: Reply
    goal: Reply
    nudges: Reply
    timezone: Reply


@dataclass(frozen=True)
class Notice:
    """A message the coach starts: a nudge or a weekly recap."""

    member: MemberRef
    kind: str
    text: str
    actions: tuple[Action, ...] = field(default=())
    # The same on every attempt to deliver this notice, so a platform that deduplicates by a
    # client-chosen id (Discord's message nonce) shows a retried send once.
    key: str = ""
    # Which attempt at its delivery this is. From the second on, an earlier one may have reached
    # the member with its answer lost; a platform without a nonce (Slack) looks before posting.
    attempt: int = 1


NUDGE_ACTIONS = (
    Action(ActionId.PUBLISHED, "I published", "/published"),
    Action(ActionId.SNOOZE_LATER, "Snooze: later today", "/nudges snooze later"),
    Action(ActionId.SNOOZE_TOMORROW, "Snooze: tomorrow", "/nudges snooze tomorrow"),
    Action(ActionId.SMALLER_STEP, "Smaller step", "/nudges smaller"),
)

# /nudges smaller: a rung down the ladder of steps, and its bottom, where small is enough.
SMALLER_STEP = "Even smaller: {step}"
SMALLEST_STEP = "That's the smallest step there is — and small is fine: {step}"
