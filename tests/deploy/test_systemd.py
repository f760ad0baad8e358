"""deploy/systemd/habit-coach.service: `systemd-analyze verify` clean, hardened, and as designed.

`verify` refuses a unit whose ExecStart binary is missing, and this machine has no
/opt/habit-coach; the test verifies a copy in a temporary directory whose commands point at a
stand-in executable. Any warning counts as a failure: systemd only warns (exit 0) about an
unknown key or a value it cannot parse, and ignores that line.
"""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

import pytest

from tests.deploy.files import APP_STOP_BOUND_SECONDS, UNIT, find_tool, seconds

INSTALLED_COACH = "/opt/habit-coach/venv/bin/habit-coach"
# systemd-analyze security's overall exposure, times ten: 2.0 and below is "OK".
EXPOSURE_LIMIT = 20


def _copy_with_stand_in(tmp_path: Path, text: str) -> Path:
    stand_in = tmp_path / "bin" / "habit-coach"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    stand_in.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(INSTALLED_COACH, str(stand_in)), encoding="utf-8")
    return unit


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = find_tool("systemd-analyze", purpose="the systemd unit")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return _analyze("verify", "--man=no", "--generators=no", str(unit))


def test_the_unit_verifies_without_a_single_warning(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_COACH in text
    result = _verify(_copy_with_stand_in(tmp_path, text))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_verify_reports_a_misspelt_directive(tmp_path: Path) -> None:
    """The check above can fail: systemd warns about what it would ignore."""
    text = UNIT.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSytem=strict")
    result = _verify(_copy_with_stand_in(tmp_path, text))
    assert "ProtectSytem" in result.stderr


def test_the_sandbox_keeps_the_exposure_low(tmp_path: Path) -> None:
    unit = _copy_with_stand_in(tmp_path, UNIT.read_text(encoding="utf-8"))
    result = _analyze(
        "security", "--offline=yes", f"--threshold={EXPOSURE_LIMIT}", "--no-pager", str(unit)
    )
    overall = [line for line in result.stdout.splitlines() if "Overall exposure" in line]
    assert result.returncode == 0, overall or result.stderr


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def test_migrations_run_before_the_coach_starts() -> None:
    service = _service()
    assert service["ExecStartPre"] == f"{INSTALLED_COACH} db upgrade"
    assert service["ExecStart"] == f"{INSTALLED_COACH} run"


def test_the_coach_runs_as_its_own_user_with_secrets_from_a_file() -> None:
    service = _service()
    assert service["User"] not in ("", "root", "0")
    assert service["EnvironmentFile"].startswith("/etc/")
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize(
    ("key", "expected"),
    [("Restart", "on-failure"), ("KillSignal", "SIGTERM"), ("RestartPreventExitStatus", "2")],
)
def test_stop_and_restart_behaviour(key: str, expected: str) -> None:
    assert _service()[key] == expected


def test_the_stop_timeout_covers_the_apps_graceful_stop() -> None:
    assert seconds(_service()["TimeoutStopSec"]) > APP_STOP_BOUND_SECONDS
