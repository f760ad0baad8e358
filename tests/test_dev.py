"""`dev.py`, the zero-setup entry point: it hands the terminal to the command it runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.name != "posix", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_in_the_console_exits_130_without_a_traceback(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "DEFAULT_TIMEZONE", "XDG_"))
    }
    env.update(
        HABIT_COACH_VENV=sys.prefix,  # the environment these tests run in: nothing to install
        HOME=str(tmp_path),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, str(REPO / "dev.py"), "console", "--name", "ana"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
        text=True,
        start_new_session=True,  # a process group of its own, like a terminal's foreground job
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # blocks until the console is up
        assert "Habit Coach console" in banner

        # What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, stderr
    assert "Bye — start small, start now." in stdout
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
