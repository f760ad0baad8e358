"""Surfaces render the engine's messages from their parts; none takes the engine's text apart.

The modules that turn replies and notices into chat messages import no regular expressions,
and no module of ``bot/`` reads a reply's or notice's plain ``text`` (that rendering is the
console's). The few regular expressions left in ``bot/`` read what arrives (Slack's command
text, listener ids, settings) or redact logs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
RENDERING = [
    BOT / "console.py",
    BOT / "discord" / "render.py",
    BOT / "discord" / "interactions.py",
    BOT / "discord" / "commands.py",
    BOT / "discord" / "sender.py",
    BOT / "slack" / "blocks.py",
    BOT / "slack" / "sender.py",
]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", RENDERING, ids=lambda p: str(p.relative_to(BOT)))
def test_rendering_modules_use_no_regular_expressions(path: Path) -> None:
    assert not imported_modules(path) & {"re", "regex"}


def engine_text_reads(path: Path) -> list[str]:
    """``<name>.text`` where the name is a reply, notice or overview part."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "text":
            base = ast.unparse(node.value)
            if any(word in base for word in ("reply", "notice", "overview", "parsed")):
                reads.append(f"{path.name}:{node.lineno}: {base}.text")
    return reads


def test_no_surface_reads_the_engines_plain_text() -> None:
    reads = [read for path in sorted(BOT.rglob("*.py")) for read in engine_text_reads(path)]
    assert reads == []


def test_the_guard_sees_a_read_of_reply_text(tmp_path: Path) -> None:
    source = tmp_path / "surface.py"
    source.write_text("import re\ndef show(reply):\n    return re.sub('a', 'b', reply.text)\n")
    assert imported_modules(source) == {"re"}
    assert engine_text_reads(source) == ["surface.py:3: reply.text"]
