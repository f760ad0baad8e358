"""The real `habit-coach console` process, driven through a session as a writer would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, update

from bot import picture
from bot.console import save_attachment
from storage.database import make_engine
from storage.tables import members, publications

EXECUTABLE = Path(sys.executable).with_name("habit-coach")


def console_env(**values: str) -> dict[str, str]:
    """This environment minus the coach's settings and data locations, plus ``values``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "DEFAULT_TIMEZONE", "XDG_"))
    }
    return {**env, "PYTHONUNBUFFERED": "1", **values}


def run_console_once(workdir: Path, typed: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXECUTABLE), "console", "--name", "ana"],
        input=typed,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=console_env(**env),
        timeout=60,
        check=False,
    )


class ConsoleProcess:
    """A running console with its output collected on a thread, so we can wait for lines."""

    def __init__(self, workdir: Path, database_url: str, name: str = "ana"):
        env = console_env(DATABASE_URL=database_url, HOME=str(workdir), TZ="UTC")
        self.process = subprocess.Popen(
            [str(EXECUTABLE), "console", "--name", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, needle: str, timeout: float = 15.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text[start:]:
                return self.text[start:]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        stderr = self.process.stderr.read() if self.process.poll() is not None else ""  # type: ignore[union-attr]
        raise AssertionError(f"{needle!r} never appeared.\nstdout:\n{self.text}\nstderr:\n{stderr}")

    def ask(self, line: str, needle: str) -> str:
        """Send a command and return the output it produced, once ``needle`` shows up."""
        start = len(self.text)
        self.send(line)
        return self.wait_for(needle, start=start)

    def quit(self) -> int:
        self.send("quit")
        return self.process.wait(timeout=15)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def database_url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'coach.db'}"


@pytest.fixture
def console(workdir: Path, database_url: str) -> Iterator[ConsoleProcess]:
    process = ConsoleProcess(workdir, database_url)
    yield process
    process.kill()


def test_a_new_writer_sets_a_goal_logs_a_post_and_sees_the_streak(
    console: ConsoleProcess,
) -> None:
    console.wait_for("Habit Coach console")
    assert "Europe/Berlin" in console.ask("/timezone Europe/Berlin", "Time zone set")
    goal = console.ask("/goal 1 post", "Nudges:")
    assert "Goal set: 1 post a week" in goal
    assert "Start small, start now:" in goal
    nudges = console.ask("/nudges mon thu at 9am", "Nudges:")
    assert "Mon Thu at 09:00 (Europe/Berlin)" in nudges
    logged = console.ask("/published https://example.com/first First post", "Logged")
    assert "“First post”" in logged
    assert "goal met" in logged
    streak = console.ask("/streak", "Total published")
    assert "Streak: 1 week" in streak
    assert console.quit() == 0
    assert "Bye" in console.text


def test_wrong_input_gets_an_example_and_changes_nothing(
    console: ConsoleProcess, database_url: str
) -> None:
    console.wait_for("Habit Coach console")
    console.ask("/goal 2 posts", "Goal set")
    engine = make_engine(database_url)
    with engine.connect() as connection:
        before = connection.execute(select(members)).all()
    for bad in ("/goal -3", "/goal 999", "/timezone Mars/Olympus", "/nudges someday at 25:99"):
        reply = console.ask(bad, "Example: /")
        assert "Traceback" not in reply
    with engine.connect() as connection:
        assert connection.execute(select(members)).all() == before
    engine.dispose()
    assert console.process.poll() is None, "the console must keep running after bad input"
    assert console.quit() == 0


def test_a_5000_character_title_is_visibly_shortened(
    console: ConsoleProcess, database_url: str
) -> None:
    console.wait_for("Habit Coach console")
    reply = console.ask("/published " + "ü" * 5000, "Logged")
    assert "first 200 characters" in reply
    engine = make_engine(database_url)
    with engine.connect() as connection:
        title = connection.execute(select(publications.c.title)).scalar_one()
    engine.dispose()
    assert len(title) == 200


def test_export_writes_a_new_timestamped_file_in_the_data_directory(
    console: ConsoleProcess, workdir: Path
) -> None:
    console.wait_for("Habit Coach console")
    console.ask("/goal 1 newsletter", "Goal set")
    console.ask("/published https://example.com/issue-1 Issue one", "Logged")
    first = console.ask("/habit export", "Saved to")
    assert "1 publications" in first or "1 publication" in first
    second = console.ask("/habit export", "Saved to")

    # HOME is the work folder and no XDG_* is set: the data directory is the platform default.
    data = workdir / ".local" / "share" / "habit-coach"
    files = sorted(data.glob("habit-coach-export-*.json"))
    assert len(files) == 2  # the second export did not overwrite the first
    assert all(re.fullmatch(r"habit-coach-export-\d{8}T\d{6}Z(-2)?\.json", f.name) for f in files)
    saved = {reply.split("Saved to ", 1)[1].split()[0] for reply in (first, second)}
    assert saved == {str(f) for f in files}  # each reply names its file by its full path
    exported = json.loads(files[0].read_text(encoding="utf-8"))
    assert exported["publications"][0]["url"] == "https://example.com/issue-1"
    assert exported["member"]["goal"] == {"target": 1, "label": "newsletter"}
    assert not list(workdir.glob("*.json"))  # nothing in the current directory


def test_streak_shows_the_year_as_blocks_and_saves_its_picture(
    console: ConsoleProcess, workdir: Path
) -> None:
    console.wait_for("Habit Coach console")
    console.ask("/goal 1 post", "Goal set")
    console.ask("/published First", "Logged")

    reply = console.ask("/streak", ".png")

    heatmap = next(line for line in reply.splitlines() if "(▅▆█ met" in line)
    assert heatmap.startswith("·" * 51 + "▅  ")
    saved = Path(reply.split("Saved to ", 1)[1].split()[0])
    data = workdir / ".local" / "share" / "habit-coach"
    assert saved.parent == data
    assert re.fullmatch(r"year-\d{8}T\d{6}Z\.png", saved.name)
    with Image.open(saved) as image:
        assert (image.format, image.size) == ("PNG", (picture.WIDTH, picture.HEIGHT))


def test_a_due_nudge_arrives_while_the_writer_is_at_the_prompt(
    workdir: Path, database_url: str
) -> None:
    first = ConsoleProcess(workdir, database_url)
    try:
        first.wait_for("Habit Coach console")
        first.ask("/goal 3 posts", "Goal set")
        # On the week's last day a due nudge is the heads-up instead: off, so the slot below is
        # a nudge whatever today's date.
        first.ask("/nudges heads-up off", "heads-up")
        assert first.quit() == 0
    finally:
        first.kill()
    # The coach was down when a nudge fell due a few minutes ago.
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            update(members).values(next_nudge_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    engine.dispose()

    second = ConsoleProcess(workdir, database_url)
    try:
        nudge = second.wait_for("🔔 Nudge")
        assert "0 of 3 this week" in second.wait_for("Tiny next step")
        assert "Snooze" in nudge or "Snooze" in second.text
        # Exactly one catch-up nudge, and the prompt still answers.
        assert "Snoozed" in second.ask("/nudges snooze later", "Snoozed")
        assert second.text.count("🔔 Nudge") == 1
        assert second.quit() == 0
    finally:
        second.kill()


def test_help_lists_every_subcommand() -> None:
    result = subprocess.run(
        [str(EXECUTABLE), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    for subcommand in ("console", "run", "db"):
        assert subcommand in result.stdout


def test_the_default_database_folder_is_created_on_a_fresh_machine(workdir: Path) -> None:
    home = workdir / "fresh-home"  # no ~/.local/share yet
    result = run_console_once(workdir, "/goal 1 post\nquit\n", HOME=str(home))
    assert result.returncode == 0, result.stderr
    assert "Goal set: 1 post a week" in result.stdout
    assert (home / ".local/share/habit-coach/habit-coach.db").exists()


def test_a_database_that_cannot_be_opened_gets_a_clear_message(workdir: Path) -> None:
    blocker = workdir / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    result = run_console_once(
        workdir, "quit\n", HOME=str(workdir), DATABASE_URL=f"sqlite:///{blocker}/coach.db"
    )
    assert result.returncode == 1
    assert "cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_quitting_while_the_first_sweep_runs_is_silent(workdir: Path) -> None:
    # The first sweep starts with the console; a quit typed at once lands during it.
    for typed in ("quit\n", "exit\n", ""):  # "" is Ctrl-D: stdin ends
        result = run_console_once(workdir, typed, HOME=str(workdir))
        assert result.returncode == 0, result.stderr
        assert "Bye — start small, start now." in result.stdout
        assert "Error" not in result.stderr
        assert "ERROR" not in result.stderr


def test_an_export_at_the_same_second_gets_a_new_name(tmp_path: Path) -> None:
    now = datetime(2026, 11, 23, 9, 30, 5, tzinfo=UTC)
    folder = tmp_path / "data" / "habit-coach"  # created on first use

    first = save_attachment(folder, "habit-coach-export.json", b"one", now)
    second = save_attachment(folder, "habit-coach-export.json", b"two", now)

    assert first == folder / "habit-coach-export-20261123T093005Z.json"
    assert second == folder / "habit-coach-export-20261123T093005Z-2.json"
    assert (first.read_bytes(), second.read_bytes()) == (b"one", b"two")
