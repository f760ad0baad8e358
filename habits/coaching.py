"""Coaching copy in the spirit of "start small, start now": tiny next steps and kind words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

import inflect

from habits.catalogue import M, template


class Phase(StrEnum):
    EARLY = "early"  # four days or more left in the week
    MIDDLE = "middle"  # two or three days left
    LAST_DAY = "last_day"  # the week ends today


@dataclass(frozen=True)
class Step:
    id: str
    message: M  # its words, in the catalogue; ``{label}`` is the member's goal label
    minutes: int  # how long the step takes, roughly; "smaller step" picks the shortest

    @property
    def text(self) -> str:
        """The step's English template."""
        return template(self.message, {})


STEPS: dict[Phase, tuple[Step, ...]] = {
    Phase.EARLY: (
        Step("bullets", M.STEP_BULLETS, 5),
        Step("question", M.STEP_QUESTION, 3),
        Step("headline", M.STEP_HEADLINE, 10),
        Step("notes", M.STEP_NOTES, 5),
        Step("outline", M.STEP_OUTLINE, 10),
        Step("first-line", M.STEP_FIRST_LINE, 2),
    ),
    Phase.MIDDLE: (
        Step("fifteen", M.STEP_FIFTEEN, 15),
        Step("one-para", M.STEP_ONE_PARA, 10),
        Step("voice", M.STEP_VOICE, 5),
        Step("cut", M.STEP_CUT, 10),
        Step("first-line", M.STEP_FIRST_LINE, 2),
    ),
    Phase.LAST_DAY: (
        Step("ship-short", M.STEP_SHIP_SHORT, 20),
        Step("one-thing", M.STEP_ONE_THING, 10),
        Step("repost", M.STEP_REPOST, 15),
        Step("hit-publish", M.STEP_HIT_PUBLISH, 5),
    ),
}

ENCOURAGEMENT_MET = (M.CHEER_CONSISTENCY, M.CHEER_READ, M.CHEER_BODY_OF_WORK)
ENCOURAGEMENT_MISSED = (M.CHEER_FRESH_START, M.CHEER_NO_GUILT, M.CHEER_DATA)


def step_minutes(step_id: str | None) -> int | None:
    """How long the step with this id takes, if it is one of ours."""
    for steps in STEPS.values():
        for step in steps:
            if step.id == step_id:
                return step.minutes
    return None


def phase_for(days_left: int) -> Phase:
    if days_left <= 1:
        return Phase.LAST_DAY
    if days_left <= 3:
        return Phase.MIDDLE
    return Phase.EARLY


def days_left_in_week(today: date, week_start: date) -> int:
    """Days left including today: 7 on the first day of the week, 1 on the last."""
    return (week_start + timedelta(days=7) - today).days


def choose_step(phase: Phase, last_step: str | None, salt: int) -> Step:
    """A step for this phase that is never the one the member was given last time."""
    candidates = [s for s in STEPS[phase] if s.id != last_step]
    return candidates[salt % len(candidates)]


def smaller_step(phase: Phase, last_step: str | None) -> Step | None:
    """The next rung down the ladder from the last step given: the longest step of this phase
    that is strictly shorter than it; None at the bottom (nothing shorter is left).

    With no step to compare (none given yet, or one no longer in the catalogue) the ladder
    starts from the phase's longest step. A step of another phase (the week moved on since) is
    compared by its minutes, so the ladder never climbs back up.
    """
    ladder = sorted(STEPS[phase], key=lambda s: (-s.minutes, s.id))  # longest first
    ceiling = step_minutes(last_step)
    if ceiling is None:
        ceiling = ladder[0].minutes
    return next((step for step in ladder if step.minutes < ceiling), None)


def smallest_step(phase: Phase) -> Step:
    """The bottom of the phase's ladder."""
    return min(STEPS[phase], key=lambda s: (s.minutes, s.id))


# The heads-up's step: the smallest one that still ends in a publication this week.
HEADS_UP_STEP = "ship-short"


def heads_up_step(last_step: str | None) -> Step:
    """The last-day heads-up's step: publish the short version, unless that was the step given
    last time (never the same twice in a row), then the last day's next-smallest one."""
    steps = STEPS[Phase.LAST_DAY]
    chosen = next(step for step in steps if step.id == HEADS_UP_STEP)
    if last_step != chosen.id:
        return chosen
    others = [step for step in steps if step.id != chosen.id]
    return max((s for s in others if s.minutes < chosen.minutes), key=lambda s: s.minutes)


# --- a goal label's singular and plural -------------------------------------------------------

_INFLECT = inflect.engine()
# Words that end a label's head noun phrase: "essays on gardening" is about essays.
_PREPOSITIONS = frozenset(
    {
        "about", "across", "after", "against", "around", "as", "at", "before", "by", "for",
        "from", "in", "into", "like", "of", "on", "over", "per", "re", "than", "through", "to",
        "under", "with", "without",
    }
)  # fmt: skip


def _head_index(words: list[str]) -> int | None:
    """Which word of a label is its head noun: the last word made of letters before the first
    preposition ("essays on gardening" → "essays"), else the last one ("blog posts" → "posts")."""
    head = None
    for index, word in enumerate(words):
        if index > 0 and head is not None and word.lower() in _PREPOSITIONS:
            break
        if word.isalpha():
            head = index
    return head


@lru_cache(maxsize=1024)
def _singular_noun(word: str) -> str:
    """The singular of a plural noun, or the word as it is: never a made-up word. inflect's
    answer is taken only when it turns back into the word, and a word with a plural of its own
    ("analysis" → "analyses", "bus" → "buses") is singular already."""
    found = _INFLECT.singular_noun(word)
    if not found or found == word:
        return word
    if _INFLECT.plural_noun(word) not in (word, word + "s"):
        return word
    return found if _INFLECT.plural_noun(found) == word else word


@lru_cache(maxsize=1024)
def _plural_noun(word: str) -> str:
    """The plural of a singular noun, or the word as it is when inflect's answer does not turn
    back into it."""
    found = _INFLECT.plural_noun(word)
    return found if found and _singular_noun(found) == word else word


def _inflect_head(label: str, inflect_word: Callable[[str], str]) -> str:
    words = label.split(" ")
    head = _head_index(words)
    if head is not None:
        words[head] = inflect_word(words[head])
    return " ".join(words)


def singular_label(label: str) -> str:
    """'newsletters' → 'newsletter', 'essays on gardening' → 'essay on gardening', so copy can
    say 'your next newsletter' and '3 newsletters'; a label inflect cannot read stays as typed."""
    return _inflect_head(label, _singular_noun)


def plural(count: int, label: str) -> str:
    """'1 post', '3 posts', '2 blog posts', '3 essays on gardening', '2 posts 🎉': the label's
    head noun grows (by inflect), or the label stays as it is."""
    return f"{count} {plural_label(count, label)}"


def plural_label(count: int, label: str) -> str:
    """The label as ``count`` of it reads: 'post' for one, 'posts' for two."""
    return label if count == 1 else _inflect_head(label, _plural_noun)


def encouragement(met: bool, salt: int) -> M:
    lines = ENCOURAGEMENT_MET if met else ENCOURAGEMENT_MISSED
    return lines[salt % len(lines)]
