"""``python -m bench`` runs end to end at tiny sizes and prints the scale table.

A smoke test of the command, not of performance: it checks that every row is there, that the
correctness checks (duplicates, missed, lost, index search) pass, and that the PostgreSQL rows
say why they are missing without a URL. No time is asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_url, reset_postgres
from tests.fakes.processes import run_env

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--small", "300", "--large", "1200", "--samples", "20", "--naive-sample", "40",
    "--jobs-sample", "100", "--restart-sample", "30", "--idle-ticks", "5",
    "--replica-members", "40",
]  # fmt: skip


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = run_env()
    env.pop("HABIT_COACH_BENCH_POSTGRES_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bench", *TINY, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _rows(stdout: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| name") and "---" not in line
    ]


def _row(rows: list[list[str]], name: str, database: str) -> list[str]:
    found = [row for row in rows if row[0] == name and row[2] == database]
    assert len(found) >= 1, f"no row {name!r} on {database}"
    return found[0]


@pytest.mark.timeout(300)
def test_sqlite_run_prints_every_row_and_passes_its_checks() -> None:
    done = _bench("--only", "latency,sweep,idle,memory,restart,replicas")

    assert done.returncode == 0, done.stderr[-3000:]
    assert "python -m bench --small 300" in done.stdout  # the exact command
    rows = _rows(done.stdout)
    assert _row(rows, "sweep: duplicates / missed", "SQLite")[3].startswith("0 / 0")
    assert _row(rows, "idle tick: query plan", "SQLite")[3].startswith("index search")
    assert _row(rows, "restart: lost / duplicates", "SQLite")[3] == "0 / 0"
    assert "extrapolated" in _row(rows, "sweep: time", "SQLite")[4]
    assert _row(rows, "command latency /streak p99", "SQLite")[3].endswith("ms)")
    for name in ("latency", "sweep", "idle", "memory", "restart", "replicas"):
        assert _row(rows, name, "PostgreSQL")[3] == "skipped: no PostgreSQL URL"
    assert "SEARCH members USING INDEX ix_members_due_nudge" in done.stdout
    assert "  … " in done.stderr  # progress goes to stderr …
    assert "  … " not in done.stdout  # … and the report alone to stdout


@pytest.mark.timeout(300)
def test_picture_rows_say_time_size_and_loop_lag_beside_their_baselines() -> None:
    done = _bench("--only", "picture", "--picture-samples", "5")

    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(done.stdout)
    render = _row(rows, "picture: render time median (p99)", "—")
    assert render[4].endswith("(blank PNG, same size)")
    size = _row(rows, "picture: PNG size", "—")
    assert size[3].endswith(" KB")
    assert size[-1] == "yes"  # the same picture every run: its size is no timing
    lag = _row(rows, "picture: event-loop lag max (p99)", "—")
    assert lag[3].endswith("worker thread")
    assert lag[4].endswith("drawn on the loop")


def test_unknown_row_name_is_refused() -> None:
    done = _bench("--only", "sweep,speed")

    assert done.returncode == 2
    assert "unknown --only name(s) speed" in done.stderr


def test_help_says_what_it_measures_without_tracker_references() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=REPO,
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0
    assert "Scale figures for Habit Coach" in done.stdout
    assert "issue" not in done.stdout.lower()


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_postgres_columns_and_replicas() -> None:
    url = postgres_url()
    if url is None:
        pytest.skip("needs HABIT_COACH_TEST_POSTGRES_URL")
    reset_postgres(url)

    done = _bench("--only", "sweep,idle,restart,replicas", "--postgres", url)

    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(done.stdout)
    assert _row(rows, "sweep: duplicates / missed", "PostgreSQL")[3].startswith("0 / 0")
    assert _row(rows, "idle tick: query plan", "PostgreSQL")[3].startswith("index search")
    assert _row(rows, "restart: lost / duplicates", "PostgreSQL")[3] == "0 / 0"
    replicas = _row(rows, "replicas: duplicates / lost", "PostgreSQL")
    assert replicas[-1] == "yes"  # nothing lost, no duplicate beyond the documented edge
    assert "Index Cond" in done.stdout  # PostgreSQL's EXPLAIN is printed
