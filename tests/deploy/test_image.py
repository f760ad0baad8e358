"""deploy/Dockerfile, its entrypoint and .dockerignore.

No Docker daemon is available here, so the image is not built. Instead: the Dockerfile's
instructions are read and the properties that matter are asserted (two stages, a non-root
final user, the lock used, no secrets, nothing built in the final stage); the HEALTHCHECK
command and the entrypoint script are *run*, as the container would run them.
"""

from __future__ import annotations

import ast
import fnmatch
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.deploy.files import DOCKERFILE, DOCKERIGNORE, ENTRYPOINT, REPO
from tests.fakes.processes import run_env


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [Instruction(*[*text.split(None, 1), ""][:2]) for text in logical]


def stages() -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for instruction in instructions():
        if instruction.keyword.upper() == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final_stage() -> list[Instruction]:
    return stages()[-1]


def only(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.arguments for i in stage if i.keyword.upper() == keyword]


def test_the_image_is_built_in_two_stages_and_the_runtime_copies_only_the_venv() -> None:
    built = stages()
    assert len(built) >= 2
    assert re.search(r"\bAS builder\b", built[0][0].arguments)
    copies = only(final_stage(), "COPY")
    from_builder = [c for c in copies if "--from=builder" in c]
    assert from_builder == ["--from=builder /opt/venv /opt/venv"]


def test_the_final_stage_installs_and_compiles_nothing() -> None:
    for command in only(final_stage(), "RUN"):
        for tool in ("pip", "apt-get", "apt ", "gcc", "build-essential", "curl", "wget"):
            assert tool not in command, f"the runtime stage runs {tool}: {command}"


def test_the_locked_versions_are_installed() -> None:
    (install,) = [c for c in only(stages()[0], "RUN") if "pip" in c and " install" in c]
    assert "-c requirements.lock" in install
    assert "pip --python /opt/venv/bin/python check" in install


def test_the_builder_copies_every_package_the_project_ships() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = " ".join(only(stages()[0], "COPY"))
    for needed in [*packages, "pyproject.toml", "requirements.lock", project["project"]["readme"]]:
        assert re.search(rf"(^|\s){re.escape(needed)}(\s|$)", copied), needed


def test_the_process_runs_as_a_non_root_numeric_user() -> None:
    user = only(final_stage(), "USER")[-1]
    uid = user.split(":")[0]
    assert uid.isdigit(), "numeric, so Kubernetes' runAsNonRoot can verify it"
    assert int(uid) != 0


def test_the_image_serves_the_apps_port_and_stops_with_sigterm() -> None:
    http_port = Settings.model_fields["http_port"].default
    assert only(final_stage(), "EXPOSE") == [str(http_port)]
    assert only(final_stage(), "STOPSIGNAL") == ["SIGTERM"]
    env = " ".join(only(final_stage(), "ENV"))
    assert "PYTHONUNBUFFERED=1" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def test_no_secret_is_baked_into_the_image() -> None:
    for instruction in instructions():
        if instruction.keyword.upper() in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", instruction.arguments)
            for name in names or [instruction.arguments.split("=")[0]]:
                assert not re.search(r"TOKEN|SECRET|PASSWORD|DATABASE_URL", name.upper()), name


def test_the_entrypoint_is_exec_form_so_no_shell_sits_in_front_of_python() -> None:
    (entrypoint,) = only(final_stage(), "ENTRYPOINT")
    assert json.loads(entrypoint) == ["docker-entrypoint.sh"]
    assert json.loads(only(final_stage(), "CMD")[-1]) == ["run"]
    copied = " ".join(only(final_stage(), "COPY"))
    assert "deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh" in copied


def _dockerignore_admits(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` lets a path back in."""
    admitted = True
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        parents = [path, *(str(p) for p in Path(path).parents if str(p) != ".")]
        if any(fnmatch.fnmatchcase(p, c) for p in parents for c in candidates):
            admitted = negated
    return admitted


def test_dockerignore_admits_what_the_build_copies_and_keeps_secrets_out() -> None:
    for source in (
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "bot/cli.py",
        "habits/coach.py",
        "storage/database.py",
        "deploy/docker-entrypoint.sh",
    ):
        assert _dockerignore_admits(source), source
    for private in (
        ".env",
        "deploy/.env",
        ".venv/bin/python",
        "tests/conftest.py",
        "bot/__pycache__/cli.cpython-311.pyc",
        ".git/config",
    ):
        assert not _dockerignore_admits(private), private


# --- HEALTHCHECK ------------------------------------------------------------------------------


def _healthcheck_command() -> list[str]:
    (healthcheck,) = only(final_stage(), "HEALTHCHECK")
    command: list[str] = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "python", "the standard library, not curl"
    return [sys.executable, *command[1:]]


def _app_routes() -> set[str]:
    paths: set[str] = set()
    for source in (REPO / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and re.fullmatch(r"/[a-z]+", node.value):
                paths.add(node.value)
    return paths


def test_the_healthcheck_asks_a_path_the_app_serves() -> None:
    (healthcheck,) = only(final_stage(), "HEALTHCHECK")
    (path,) = re.findall(r"/healthz\b", healthcheck)
    assert path in _app_routes(), "the app's HTTP server (bot/) must serve it"


class _Status(http.server.BaseHTTPRequestHandler):
    status_by_path: dict[str, int] = {}  # noqa: RUF012 - set per server below

    def do_GET(self) -> None:
        self.send_response(self.status_by_path.get(self.path, 404))
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet: pytest shows the assertions."""


@pytest.fixture
def status_server() -> Iterator[tuple[int, dict[str, int]]]:
    statuses: dict[str, int] = {}
    handler = type("Handler", (_Status,), {"status_by_path": statuses})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], statuses
    server.shutdown()
    server.server_close()


def _probe(port: int, **env: str) -> int:
    base = {k: v for k, v in os.environ.items() if not k.endswith("HTTP_PORT")}
    return subprocess.run(
        _healthcheck_command(),
        env={**base, "HTTP_PORT": str(port), **env},
        capture_output=True,
        timeout=30,
        check=False,
    ).returncode


def test_the_healthcheck_passes_on_200_and_fails_otherwise(
    status_server: tuple[int, dict[str, int]],
) -> None:
    port, statuses = status_server
    statuses["/healthz"] = 200
    assert _probe(port) == 0
    statuses["/healthz"] = 503
    assert _probe(port) != 0
    statuses.clear()
    assert _probe(port) != 0


def test_the_healthcheck_follows_the_older_port_name(
    status_server: tuple[int, dict[str, int]],
) -> None:
    port, statuses = status_server
    statuses["/healthz"] = 200
    command = _healthcheck_command()
    env = {k: v for k, v in os.environ.items() if not k.endswith("HTTP_PORT")}
    result = subprocess.run(
        command, env={**env, "SLACK_HTTP_PORT": str(port)}, timeout=30, check=False
    )
    assert result.returncode == 0


# --- The entrypoint ---------------------------------------------------------------------------

FAKE_COACH = """#!/bin/sh
# Stands in for habit-coach: records each call with its pid, fails `db` when asked to.
echo "$$ $*" >> "$CALLS"
if [ "$1" = db ] && [ -n "${FAIL_DB:-}" ]; then exit 3; fi
exit 0
"""


def _run_entrypoint(tmp_path: Path, *args: str, **env: str) -> tuple[int, int, list[str]]:
    """Run the entrypoint with a fake habit-coach; its exit code, pid and the calls made."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "habit-coach"
    fake.write_text(FAKE_COACH, encoding="utf-8")
    fake.chmod(0o755)
    calls = tmp_path / "calls"
    process = subprocess.Popen(
        ["/bin/sh", str(ENTRYPOINT), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), **env},
    )
    code = process.wait(timeout=30)
    lines = calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []
    return code, process.pid, lines


def test_run_migrates_first_then_becomes_the_coach(tmp_path: Path) -> None:
    code, pid, calls = _run_entrypoint(tmp_path, "run")
    assert code == 0
    assert [call.split(" ", 1)[1] for call in calls] == ["db upgrade", "run"]
    migrate_pid, run_pid = (int(call.split(" ", 1)[0]) for call in calls)
    assert run_pid == pid, "exec: the coach replaces the shell (and gets SIGTERM itself)"
    assert migrate_pid != pid


def test_no_arguments_means_run(tmp_path: Path) -> None:
    _, _, calls = _run_entrypoint(tmp_path)
    assert [call.split(" ", 1)[1] for call in calls] == ["db upgrade", "run"]


def test_a_failed_migration_stops_the_start(tmp_path: Path) -> None:
    code, _, calls = _run_entrypoint(tmp_path, "run", FAIL_DB="1")
    assert code == 3
    assert [call.split(" ", 1)[1] for call in calls] == ["db upgrade"]


def test_other_commands_run_without_migrating(tmp_path: Path) -> None:
    _, pid, calls = _run_entrypoint(tmp_path, "doctor")
    assert calls == [f"{pid} doctor"]


def test_migrations_can_be_left_to_someone_else(tmp_path: Path) -> None:
    _, _, calls = _run_entrypoint(tmp_path, "run", HABIT_COACH_MIGRATE="0")
    assert [call.split(" ", 1)[1] for call in calls] == ["run"]


def test_the_entrypoint_with_the_real_coach_migrates_a_fresh_database(tmp_path: Path) -> None:
    """The real `habit-coach`: migrations run, then `run` says no adapter is configured."""
    database = tmp_path / "coach.db"
    env = run_env(DATABASE_URL=f"sqlite:///{database}")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    result = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert "Database is at migration" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 2, result.stderr
    assert "no chat adapter is configured" in result.stderr
    assert database.exists()
