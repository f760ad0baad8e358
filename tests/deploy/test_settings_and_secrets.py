"""Every setting production needs has a place in the templates, and no real secret is committed.

The list of settings is read from bot/settings.py itself, so a setting added there without a
line in the Kubernetes templates (or .env.example, which Compose and systemd use) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests.deploy.files import COMPOSE, DEPLOY, REPO, k8s_object, load_yaml_documents

# Settings a production deployment leaves alone, and why.
NOT_FOR_PRODUCTION = {
    "TZ": "the C library's zone: only a hint for the console",
    "DISCORD_API_BASE_URL": "points the client at the tests' fake Discord",
    "DISCORD_GATEWAY_URL": "points the client at the tests' fake Discord",
    "SLACK_API_BASE_URL": "points the client at the tests' fake Slack",
    "SLACK_HTTP_HOST": "older name of HTTP_HOST, kept for existing .env files",
    "SLACK_HTTP_PORT": "older name of HTTP_PORT, kept for existing .env files",
}
# Not a secret by type, but it carries the database password.
SECRET_BY_CONTENT = {"DATABASE_URL"}
PLACEHOLDER = "CHANGE-ME"

# Shapes of real credentials. Built from parts so this file never holds one itself.
TOKEN_SHAPES = {
    "Slack token": re.compile(r"\bx" + r"ox[abposr]-[0-9A-Za-z-]{10,}"),
    "Slack app token": re.compile(r"\bx" + r"app-\d-[0-9A-Za-z-]{10,}"),
    "Discord token": re.compile(r"\b[MNO][\w-]{23,27}\.[\w-]{6}\.[\w-]{27,}"),
    "private key": re.compile("-----BEGIN [A-Z ]*" + "PRIVATE KEY-----"),
}
URL_PASSWORD = re.compile(r"://[^:/\s@]+:([^@\s/]+)@")
PLACEHOLDER_PASSWORDS = {
    PLACEHOLDER,
    "password",
    "secret",
    "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in deploy/.env}",
}


def _is_secret(name: str) -> bool:
    annotation = Settings.model_fields[name.lower()].annotation
    return name in SECRET_BY_CONTENT or SecretStr in (annotation, *get_args(annotation))


def _all_settings() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def _production_settings() -> set[str]:
    return _all_settings() - NOT_FOR_PRODUCTION.keys()


def _config_map() -> dict[str, str]:
    data: dict[str, str] = k8s_object("ConfigMap", "habit-coach")["data"]
    return data


def _secret() -> dict[str, str]:
    data: dict[str, str] = k8s_object("Secret", "habit-coach")["stringData"]
    return data


def _pod_env() -> set[str]:
    pod = k8s_object("StatefulSet", "habit-coach")["spec"]["template"]["spec"]
    (coach,) = (c for c in pod["containers"] if c["name"] == "coach")
    return {entry["name"] for entry in coach.get("env", [])}


def test_the_exemptions_are_real_settings() -> None:
    """A renamed setting must not hide behind a stale exemption."""
    assert NOT_FOR_PRODUCTION.keys() <= _all_settings()


def test_every_production_setting_has_exactly_one_place_in_kubernetes() -> None:
    places = [set(_config_map()), set(_secret()), _pod_env()]
    for name in sorted(_production_settings()):
        holders = sum(name in place for place in places)
        assert holders == 1, f"{name} is in {holders} of ConfigMap, Secret and pod env"


def test_kubernetes_templates_name_only_real_settings() -> None:
    unknown = (set(_config_map()) | set(_secret()) | _pod_env()) - _all_settings()
    assert not unknown, f"not settings of bot/settings.py (typo?): {sorted(unknown)}"


def test_secrets_are_in_the_secret_and_nothing_else_is() -> None:
    for name in _production_settings():
        if _is_secret(name):
            assert name in _secret(), f"{name} is a secret: it belongs in secret.yaml"
        else:
            assert name not in _secret(), f"{name} is not secret: put it in configmap.yaml"


def test_the_secret_template_holds_only_placeholders() -> None:
    for name, value in _secret().items():
        assert value == "" or PLACEHOLDER in value, f"{name} looks filled in: {value[:4]}…"


def test_env_example_lists_every_production_setting() -> None:
    """Compose (deploy/.env) and systemd (EnvironmentFile) start from .env.example."""
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    missing = _production_settings() - listed
    assert not missing, f".env.example does not mention {sorted(missing)}"


def test_compose_sets_only_real_settings_on_the_coach() -> None:
    coach: dict[str, Any] = load_yaml_documents(COMPOSE)[0]["services"]["coach"]
    assert set(coach["environment"]) <= _all_settings()


def _committed_deploy_files() -> list[Path]:
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.name != ".env"]
    return [*files, REPO / "docs" / "deploy.md", REPO / "README.md", REPO / ".dockerignore"]


def credential_problems(text: str) -> list[str]:
    """What in ``text`` looks like a real credential."""
    found = [kind for kind, shape in TOKEN_SHAPES.items() if shape.search(text)]
    for password in URL_PASSWORD.findall(text):
        if password not in PLACEHOLDER_PASSWORDS and not password.startswith("${"):
            found.append(f"a password in a URL ({password[:2]}…)")
    return found


@pytest.mark.parametrize("path", _committed_deploy_files(), ids=lambda p: p.name)
def test_no_credential_is_committed(path: Path) -> None:
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing")
    assert credential_problems(path.read_text(encoding="utf-8")) == []


def test_the_credential_check_recognises_real_shapes() -> None:
    """The scan above can fail: each shape it knows is caught (values made up here)."""
    slack = "x" + "oxb-" + "1234567890-0987654321-" + "a" * 24
    app = "x" + "app-1-" + "A0B1C2D3E4-" + "1" * 13 + "-" + "f" * 64
    discord = "M" + "T" * 25 + "." + "G" * 6 + "." + "h" * 38
    url = "postgresql+psycopg://coach:" + "hunter2" + "@db:5432/x"
    for sample in (slack, app, discord, url):
        assert credential_problems(f"KEY={sample}\n"), sample
    assert credential_problems(f"postgresql+psycopg://coach:{PLACEHOLDER}@db/x") == []
