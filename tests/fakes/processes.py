"""The environment for a real `habit-coach run` process started by a test.

The async Slack client ignores NO_PROXY, so proxy variables are dropped; so are the coach's own
settings from the outside, so only what the test passes configures the process.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROXY_VARIABLES = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy"}
)
COACH_SETTINGS = (
    "DISCORD_", "SLACK_", "DATABASE_URL", "DEFAULT_TIMEZONE", "HABIT_COACH_", "HTTP_", "LOG_",
)  # fmt: skip


def run_env(**settings: str) -> dict[str, str]:
    """This environment without proxies or coach settings, plus ``settings``; the HTTP server
    binds a free port on loopback unless the test says otherwise."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in PROXY_VARIABLES and not key.startswith(COACH_SETTINGS)
    }
    loopback = {"HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0"}
    return {**env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **loopback, **settings}
