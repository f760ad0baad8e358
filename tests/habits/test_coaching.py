"""Coaching copy: tiny next steps sized to the time left, never the same twice, kind words."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from habits import coaching
from habits.coaching import Phase

ALL_STEP_IDS = sorted({step.id for steps in coaching.STEPS.values() for step in steps})
PREVIOUS = [None, *ALL_STEP_IDS]
MONDAY = date(2026, 11, 23)


@pytest.mark.parametrize("smaller", [False, True])
@pytest.mark.parametrize("previous", PREVIOUS)
@pytest.mark.parametrize("phase", list(Phase))
def test_choose_step_never_repeats_the_previous_step(
    phase: Phase, previous: str | None, smaller: bool
) -> None:
    for salt in range(25):
        assert coaching.choose_step(phase, previous, salt, smaller).id != previous


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


@pytest.mark.parametrize("phase", list(Phase))
def test_a_smaller_step_is_the_shortest_of_the_phase(phase: Phase) -> None:
    shortest = min(s.minutes for s in coaching.STEPS[phase])
    assert coaching.choose_step(phase, None, 3, smaller=True).minutes == shortest


@pytest.mark.parametrize("phase", list(Phase))
def test_a_smaller_step_after_the_shortest_is_the_next_shortest(phase: Phase) -> None:
    ordered = sorted(coaching.STEPS[phase], key=lambda s: (s.minutes, s.id))
    step = coaching.choose_step(phase, ordered[0].id, 3, smaller=True)
    assert step == ordered[1]


@pytest.mark.parametrize("phase", list(Phase))
def test_a_smaller_step_does_not_depend_on_the_salt(phase: Phase) -> None:
    chosen = {coaching.choose_step(phase, None, salt, smaller=True) for salt in range(10)}
    assert len(chosen) == 1


@pytest.mark.parametrize("phase", list(Phase))
def test_a_smaller_step_is_never_longer_than_a_regular_one(phase: Phase) -> None:
    smaller = coaching.choose_step(phase, None, 0, smaller=True)
    for salt in range(10):
        assert smaller.minutes <= coaching.choose_step(phase, None, salt).minutes


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
