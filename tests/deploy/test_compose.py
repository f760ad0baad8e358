"""deploy/docker-compose.yml: valid against the Compose Specification, and shaped as designed.

There is no Docker daemon or `docker compose` plugin here, so the file is checked against the
Compose Specification's JSON schema as vendored by check-jsonschema (installed by .ci/run), and
its design is asserted explicitly: what the schema allows is not always what we meant.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from bot.settings import Settings
from tests.deploy.files import (
    APP_STOP_BOUND_SECONDS,
    COMPOSE,
    DEPLOY,
    find_tool,
    load_yaml_documents,
    seconds,
)

CHECK_JSONSCHEMA_ENV = "HABIT_COACH_CHECK_JSONSCHEMA"


def _compose() -> dict[str, Any]:
    return load_yaml_documents(COMPOSE)[0]


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    tool = find_tool(
        "check-jsonschema", env=CHECK_JSONSCHEMA_ENV, purpose="the Compose Specification"
    )
    return subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_file_follows_the_compose_specification() -> None:
    result = _validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_specification_check_refuses_a_misspelt_key(tmp_path: Path) -> None:
    """The check above can fail: an unknown service key or condition is an error."""
    broken = _compose()
    broken["services"]["coach"]["restrat"] = "always"
    broken["services"]["coach"]["depends_on"]["postgres"]["condition"] = "healthy"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = _validate(path)
    assert result.returncode != 0
    assert "restrat" in result.stdout


def test_postgres_is_the_official_image_pinned_to_a_major_version() -> None:
    image = _compose()["services"]["postgres"]["image"]
    assert re.fullmatch(r"postgres:\d+(\.\d+)?(-[a-z0-9]+)?", image), image


def test_postgres_is_health_checked_and_keeps_its_data_in_a_named_volume() -> None:
    compose = _compose()
    postgres = compose["services"]["postgres"]
    test = postgres["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))
    volume, target = postgres["volumes"][0].split(":")[:2]
    assert volume in compose["volumes"], "a named volume, not a host path"
    assert target == "/var/lib/postgresql/data"
    assert "ports" not in postgres, "only the coach needs to reach the database"


def test_the_coach_starts_after_postgres_is_healthy_and_uses_it() -> None:
    compose = _compose()
    coach, postgres = compose["services"]["coach"], compose["services"]["postgres"]
    assert coach["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    url = coach["environment"]["DATABASE_URL"]
    match = re.fullmatch(r"postgresql\+psycopg://([^:]+):(.+)@([^:/]+):5432/(\w+)", url)
    assert match, url
    user, password, host, database = match.groups()
    assert host == "postgres"
    assert user == postgres["environment"]["POSTGRES_USER"]
    assert database == postgres["environment"]["POSTGRES_DB"]
    assert password == postgres["environment"]["POSTGRES_PASSWORD"]


def test_the_password_must_be_set_rather_than_defaulted() -> None:
    """`${VAR:?message}` makes Compose stop with the message when deploy/.env lacks it."""
    # The parsed values: the comments mention ${POSTGRES_PASSWORD} too, in prose.
    text = yaml.safe_dump(_compose(), width=10**6)
    variables = re.findall(r"\$\{([A-Z_]+)(:\?|:-|\?|-)?[^}]*\}", text)
    passwords = [(name, op) for name, op in variables if "PASSWORD" in name]
    assert passwords
    for name, operator in passwords:
        assert operator == ":?", f"${{{name}}} needs a value: use ${{{name}:?…}}"


def test_the_coach_logs_json_unless_deploy_env_asks_for_text() -> None:
    """.env.example's empty LOG_FORMAT= would blank the image's json default; Compose's
    `${LOG_FORMAT:-json}` treats empty as unset."""
    environment = _compose()["services"]["coach"]["environment"]
    assert environment["LOG_FORMAT"] == "${LOG_FORMAT:-json}"


def test_the_coach_reads_env_publishes_its_port_and_restarts() -> None:
    coach = _compose()["services"]["coach"]
    assert coach["env_file"] in (".env", [".env"])
    http_port = Settings.model_fields["http_port"].default
    assert f"{http_port}:{http_port}" in coach["ports"]
    assert coach["restart"] in ("unless-stopped", "always", "on-failure")


def test_the_coach_is_stopped_with_sigterm_and_given_time_to_finish() -> None:
    coach = _compose()["services"]["coach"]
    assert coach.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert seconds(coach["stop_grace_period"]) > APP_STOP_BOUND_SECONDS


def test_the_coach_is_built_from_the_repository_with_the_deploy_dockerfile() -> None:
    build = _compose()["services"]["coach"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert (context / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    assert (context / "pyproject.toml").exists()


def test_the_coach_container_is_locked_down() -> None:
    coach = _compose()["services"]["coach"]
    assert coach["read_only"] is True
    assert coach["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in coach["security_opt"]
