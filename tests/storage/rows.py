"""Member rows written straight into the table, for tests that need many members due at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from habits.model import DEFAULT_NUDGE_DAYS, DEFAULT_NUDGE_MINUTE


def due_member_row(user_id: str, due_at: datetime, **values: Any) -> dict[str, Any]:
    """A member with a one-a-week goal, the default schedule and a nudge due at ``due_at``."""
    return {
        "platform": "discord",
        "workspace": "",
        "user_id": user_id,
        "display_name": "",
        "created_at": due_at - timedelta(days=3),
        "timezone": "UTC",
        "week_starts_on": 0,
        "goal_target": 1,
        "goal_label": "post",
        "nudge_days": DEFAULT_NUDGE_DAYS,
        "nudge_minute": DEFAULT_NUDGE_MINUTE,
        "nudges_on": True,
        "next_nudge_at": due_at,
        "next_checkin_at": due_at + timedelta(days=4),
        "unreachable": False,
        **values,
    }
