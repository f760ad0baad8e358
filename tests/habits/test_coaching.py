"""Coaching copy: tiny next steps sized to the time left, never the same twice, kind words."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from habits import coaching
from habits.coaching import Phase

ALL_STEP_IDS = sorted({step.id for steps in coaching.STEPS.values() for step in steps})
PREVIOUS = [None, *ALL_STEP_IDS]
MONDAY = date(2026, 11, 23)


@pytest.mark.parametrize("previous", PREVIOUS)
@pytest.mark.parametrize("phase", list(Phase))
def test_choose_step_never_repeats_the_previous_step(phase: Phase, previous: str | None) -> None:
    for salt in range(25):
        assert coaching.choose_step(phase, previous, salt).id != previous


@pytest.mark.parametrize("phase", list(Phase))
def test_choose_step_picks_a_step_of_the_phase(phase: Phase) -> None:
    for salt in range(25):
        assert coaching.choose_step(phase, None, salt) in coaching.STEPS[phase]


@pytest.mark.parametrize("phase", list(Phase))
def test_different_salts_reach_every_other_step(phase: Phase) -> None:
    previous = coaching.STEPS[phase][0].id
    reached = {coaching.choose_step(phase, previous, salt).id for salt in range(50)}
    assert reached == {s.id for s in coaching.STEPS[phase]} - {previous}


def test_choose_step_accepts_a_negative_salt() -> None:
    step = coaching.choose_step(Phase.EARLY, None, -7)
    assert step in coaching.STEPS[Phase.EARLY]


def ladder(phase: Phase, start: str | None) -> list[str]:
    """Every smaller step asked for in a row from ``start``, down to the bottom."""
    rungs: list[str] = []
    step = coaching.smaller_step(phase, start)
    while step is not None:
        assert len(rungs) < 10, "the ladder must end"
        rungs.append(step.id)
        step = coaching.smaller_step(phase, step.id)
    return rungs


@pytest.mark.parametrize("previous", PREVIOUS)
@pytest.mark.parametrize("phase", list(Phase))
def test_each_smaller_step_is_strictly_shorter_than_the_last_one_given(
    phase: Phase, previous: str | None
) -> None:
    rungs = ladder(phase, previous)
    minutes = [coaching.step_minutes(previous), *(coaching.step_minutes(r) for r in rungs)]
    shown = [m for m in minutes if m is not None]
    assert shown == sorted(set(shown), reverse=True)  # strictly decreasing, no step twice
    assert all(rung in {s.id for s in coaching.STEPS[phase]} for rung in rungs)


@pytest.mark.parametrize("phase", list(Phase))
def test_the_ladder_from_the_longest_step_reaches_the_smallest_and_stops(phase: Phase) -> None:
    longest = max(coaching.STEPS[phase], key=lambda s: s.minutes)
    rungs = ladder(phase, longest.id)
    assert len(rungs) >= 2  # a ladder, not a jump to the bottom
    assert rungs[-1] == coaching.smallest_step(phase).id
    assert coaching.smaller_step(phase, rungs[-1]) is None


def test_the_early_week_ladder_goes_down_one_size_at_a_time() -> None:
    assert ladder(Phase.EARLY, "headline") == ["bullets", "question", "first-line"]
    assert ladder(Phase.EARLY, None) == ["bullets", "question", "first-line"]
    assert ladder(Phase.MIDDLE, "fifteen") == ["cut", "voice", "first-line"]
    assert ladder(Phase.LAST_DAY, "ship-short") == ["repost", "one-thing", "hit-publish"]


def test_a_step_of_an_earlier_phase_is_compared_by_its_minutes() -> None:
    # Mid-week's 15-minute step, asked smaller on the last day: shorter than 15 minutes.
    assert ladder(Phase.LAST_DAY, "fifteen") == ["one-thing", "hit-publish"]
    # Nothing on the last day is shorter than "the first sentence": the bottom already.
    assert coaching.smaller_step(Phase.LAST_DAY, "first-line") is None


def test_the_bottom_of_each_phase_is_its_shortest_step() -> None:
    assert {p: coaching.smallest_step(p).id for p in Phase} == {
        Phase.EARLY: "first-line",
        Phase.MIDDLE: "first-line",
        Phase.LAST_DAY: "hit-publish",
    }


def test_every_phase_offers_at_least_two_steps() -> None:
    assert all(len(steps) >= 2 for steps in coaching.STEPS.values())


def test_the_last_day_suggests_shipping_the_short_version() -> None:
    texts = [s.text for s in coaching.STEPS[Phase.LAST_DAY]]
    assert any("done beats perfect" in t for t in texts)


@pytest.mark.parametrize(
    ("days_left", "phase"),
    [
        (7, Phase.EARLY),
        (4, Phase.EARLY),
        (3, Phase.MIDDLE),
        (2, Phase.MIDDLE),
        (1, Phase.LAST_DAY),
        (0, Phase.LAST_DAY),
        (-1, Phase.LAST_DAY),
    ],
)
def test_phase_for_days_left(days_left: int, phase: Phase) -> None:
    assert coaching.phase_for(days_left) is phase


@pytest.mark.parametrize(("offset", "left"), [(0, 7), (1, 6), (3, 4), (4, 3), (5, 2), (6, 1)])
def test_days_left_in_week_counts_today(offset: int, left: int) -> None:
    assert coaching.days_left_in_week(MONDAY + timedelta(days=offset), MONDAY) == left


def test_days_left_in_a_sunday_week_on_its_saturday_is_one() -> None:
    sunday = date(2026, 11, 22)
    assert coaching.days_left_in_week(date(2026, 11, 28), sunday) == 1


def test_days_left_across_the_year_end() -> None:
    assert coaching.days_left_in_week(date(2027, 1, 1), date(2026, 12, 28)) == 3


@pytest.mark.parametrize(
    ("offset", "phase"),
    [
        (0, Phase.EARLY),
        (3, Phase.EARLY),
        (4, Phase.MIDDLE),
        (5, Phase.MIDDLE),
        (6, Phase.LAST_DAY),
    ],
)
def test_phase_by_day_of_the_week(offset: int, phase: Phase) -> None:
    days_left = coaching.days_left_in_week(MONDAY + timedelta(days=offset), MONDAY)
    assert coaching.phase_for(days_left) is phase


@pytest.mark.parametrize(
    ("count", "label", "text"),
    [
        (1, "post", "1 post"),
        (0, "post", "0 posts"),
        (3, "post", "3 posts"),
        (2, "blog post", "2 blog posts"),
        (2, "newsletter", "2 newsletters"),
        (2, "video", "2 videos"),
        (2, "class", "2 classes"),
        (2, "sketch", "2 sketches"),
        (2, "box", "2 boxes"),
        (2, "wish", "2 wishes"),
        (2, "story", "2 stories"),
        (2, "diary entry", "2 diary entries"),
        (2, "essay", "2 essays"),
        (2, "news", "2 news"),
        (2, "post 🎉", "2 posts 🎉"),
        (2, "📝", "2 📝"),
        (1, "story", "1 story"),
        (21, "short video", "21 short videos"),
    ],
)
def test_plural(count: int, label: str, text: str) -> None:
    assert coaching.plural(count, label) == text


@pytest.mark.parametrize(
    ("typed", "singular", "three"),
    [
        ("essays on gardening", "essay on gardening", "3 essays on gardening"),
        ("niches", "niche", "3 niches"),
        ("movies", "movie", "3 movies"),
        ("quizzes", "quiz", "3 quizzes"),
        ("videos about cooking", "video about cooking", "3 videos about cooking"),
        ("pieces of writing", "piece of writing", "3 pieces of writing"),
        ("blog posts", "blog post", "3 blog posts"),
        ("how-to guides", "how-to guide", "3 how-to guides"),
        ("analysis", "analysis", "3 analyses"),
        ("lenses", "lens", "3 lenses"),
        ("bus", "bus", "3 buses"),
        ("series", "series", "3 series"),
        ("📝", "📝", "3 📝"),
    ],
)
def test_a_label_is_inflected_at_its_head_noun(typed: str, singular: str, three: str) -> None:
    assert coaching.singular_label(typed) == singular
    assert coaching.plural(1, singular) == f"1 {singular}"
    assert coaching.plural(3, singular) == three


@pytest.mark.parametrize("made_up", ["nich", "movy", "quizze", "gardenings", "analysi", "bu"])
def test_no_label_ever_becomes_a_made_up_word(made_up: str) -> None:
    typed_labels = ["niches", "movies", "quizzes", "essays on gardening", "analysis", "bus"]
    words = {
        word
        for label in typed_labels
        for text in (coaching.singular_label(label), coaching.plural(3, label))
        for word in text.split()
    }
    words |= {
        w
        for label in typed_labels
        for w in coaching.plural(2, coaching.singular_label(label)).split()
    }

    assert made_up not in words


def test_encouragement_for_a_met_week_comes_from_the_met_lines() -> None:
    assert coaching.encouragement(True, 5) in coaching.ENCOURAGEMENT_MET


def test_encouragement_for_a_missed_week_comes_from_the_missed_lines() -> None:
    assert coaching.encouragement(False, 5) in coaching.ENCOURAGEMENT_MISSED


def test_encouragement_varies_with_the_salt() -> None:
    lines = {coaching.encouragement(True, salt) for salt in range(10)}
    assert lines == set(coaching.ENCOURAGEMENT_MET)


def test_missed_week_lines_never_shame() -> None:
    for line in coaching.ENCOURAGEMENT_MISSED:
        assert not any(word in line.lower() for word in ("fail", "lazy", "should have"))


def test_step_minutes_knows_every_step_and_nothing_else() -> None:
    for steps in coaching.STEPS.values():
        for step in steps:
            assert coaching.step_minutes(step.id) == step.minutes
    assert coaching.step_minutes(None) is None
    assert coaching.step_minutes("no-such-step") is None
