"""Where the deployment files are, how to read them, and how to find the offline validators.

A validator that is not installed skips its test with the reason, except where
HABIT_COACH_REQUIRE_DEPLOY_TOOLS=1 (CI sets it): there a missing tool fails the test, so a
green CI run always means every file was really checked.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.runtime import DRAIN_GRACE_SECONDS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker-entrypoint.sh"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "systemd" / "habit-coach.service"
K8S = DEPLOY / "k8s"

REQUIRE_TOOLS_ENV = "HABIT_COACH_REQUIRE_DEPLOY_TOOLS"

# `habit-coach run` exits within this many seconds of SIGTERM — the drain of sends in flight,
# then closing the adapters and the HTTP server — and every stop timeout must allow it.
CLOSE_ALLOWANCE_SECONDS = 5
APP_STOP_BOUND_SECONDS = DRAIN_GRACE_SECONDS + CLOSE_ALLOWANCE_SECONDS


def tools_required() -> bool:
    return os.environ.get(REQUIRE_TOOLS_ENV) == "1"


def find_tool(name: str, *, env: str | None = None, purpose: str) -> str:
    """The path of ``name`` (or of the file the ``env`` variable names); skip or fail if absent."""
    path = os.environ.get(env) if env else None
    path = path or shutil.which(name)
    if path and Path(path).exists():
        return path
    where = f" (or set {env})" if env else ""
    reason = f"{name} is not installed{where}, so {purpose} cannot be checked here"
    if tools_required():
        pytest.fail(f"{reason}; {REQUIRE_TOOLS_ENV}=1 demands it (.ci/run installs it)")
    pytest.skip(f"{reason}; .ci/run installs it")


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s_manifests() -> list[Path]:
    """Every Kubernetes object file (the Kustomization is kustomize's, not the API server's)."""
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_objects() -> list[dict[str, Any]]:
    return [doc for path in k8s_manifests() for doc in load_yaml_documents(path)]


def k8s_object(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for doc in k8s_objects()
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''} in deploy/k8s, found {len(found)}"
    return found[0]


def seconds(duration: str | int | float) -> float:
    """A Compose/systemd-style duration ("35s", "1m30s", "2min", 35) in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    units = {"h": 3600, "m": 60, "min": 60, "s": 1, "sec": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|min|sec|h|m|s)?", duration.strip())
    assert parts, f"not a duration: {duration!r}"
    return sum(float(number) * units[unit or "s"] for number, unit in parts)
