"""No text the coach shows names a literal date: an example date is relative to the member's
today, and a literal one is soon in the past."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ISO_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
SOURCES = sorted(path for package in ("habits", "bot") for path in (ROOT / package).rglob("*.py"))


def dated_strings(path: Path) -> list[str]:
    """Every string literal (f-string parts too) in ``path`` that holds an ISO date."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and ISO_DATE.search(node.value)
    ]


def test_the_scan_sees_the_engine_and_the_adapters() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in SOURCES}
    assert {"habits/grammar.py", "habits/coach.py", "bot/discord/render.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_string_in_the_engine_or_an_adapter_names_a_literal_date(path: Path) -> None:
    assert dated_strings(path) == []


def test_the_scan_finds_a_literal_date(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text('HELP = f"/nudges pause until 2026-12-01 · {1}"\n', encoding="utf-8")
    assert len(dated_strings(source)) == 1
