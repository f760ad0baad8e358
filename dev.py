#!/usr/bin/env python3
"""Zero-setup entry point: makes .venv with the locked dependencies, then runs what you asked.

    python3 dev.py console [--name NAME]   try the coach in this terminal (SQLite, no tokens)
    python3 dev.py test [pytest args]      run the test suite
    python3 dev.py lint                    ruff, mypy and the import-layer contracts
    python3 dev.py bench [args]            the benchmark (see docs/benchmarks.md)
    python3 dev.py run                     start every chat adapter whose tokens are set
    python3 dev.py doctor                  check the settings, database and tokens
    python3 dev.py db upgrade|current      apply or show the database migrations

Any other command is passed to `habit-coach` as it is (see `habit-coach --help`).

Only the standard library is used here, so it works on a fresh Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HABIT_COACH_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".habit-coach-installed"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCK):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Habit Coach needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} …", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("Installing Habit Coach and its locked dependencies …", file=sys.stderr)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-c", str(LOCK), "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    task, rest = argv[0], argv[1:]
    ensure_environment()
    if task == "console":
        command = [str(BIN / "habit-coach"), "console", *rest]
    elif task == "test":
        command = [str(PYTHON), "-m", "pytest", *rest]
    elif task == "lint":
        for step in (
            [str(BIN / "ruff"), "check", "."],
            [str(BIN / "ruff"), "format", "--check", "."],
            [str(PYTHON), "-m", "mypy"],
            [str(BIN / "lint-imports")],
        ):
            if subprocess.run(step, cwd=ROOT).returncode != 0:
                return 1
        return 0
    elif task == "bench":
        command = [str(PYTHON), "-m", "bench", *rest]
    else:
        command = [str(BIN / "habit-coach"), *argv]
    return run_in_our_place(command, cwd=ROOT if task != "console" else None)


def run_in_our_place(command: list[str], cwd: Path | None) -> int:
    """Run ``command`` as if it were this process, so signals reach it and only it answers them.

    On POSIX this process becomes the command (exec): Ctrl-C, SIGTERM and the exit status are
    the command's own, with no wrapper to print a traceback. Elsewhere the child gets the
    console's Ctrl-C itself while we ignore ours and hand back its status.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        if cwd is not None:
            os.chdir(cwd)
        os.execv(command[0], command)  # noqa: S606 - our own venv's executable, no shell
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run(command, cwd=cwd).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C while the environment was being made, or during lint
        sys.exit(128 + signal.SIGINT)
