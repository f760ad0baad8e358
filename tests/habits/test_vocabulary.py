"""The words commands are made of: times of day."""

from __future__ import annotations

import pytest

from habits.vocabulary import parse_time


@pytest.mark.parametrize(
    ("text", "minute"),
    [
        ("9", 540),
        ("9am", 540),
        ("9 AM", 540),
        ("9a.m.", 540),
        ("9:30", 570),
        ("09:05", 545),
        ("18:30", 1110),
        ("6.30pm", 1110),
        ("12am", 0),
        ("12pm", 720),
        ("noon", 720),
        ("midnight", 0),
        ("0", 0),
        ("23:59", 1439),
    ],
)
def test_parse_time_accepts_12_and_24_hour_clocks(text: str, minute: int) -> None:
    assert parse_time(text) == minute


@pytest.mark.parametrize("text", ["24", "24:00", "9:60", "13pm", "0am", "9:5", "nine", "", "9 o"])
def test_parse_time_refuses_what_is_not_a_time(text: str) -> None:
    assert parse_time(text) is None
