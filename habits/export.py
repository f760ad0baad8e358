"""The member's data export: how what the engine stores about a member is written as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from habits import streaks
from habits import timekeeping as tk
from habits.model import LoggedDelivery, Member, WeekState, WeekSummary
from habits.ports import UnitOfWork

FILE_NAME = "habit-coach-export.json"


def document(data: dict[str, Any]) -> bytes:
    """The export file's bytes: indented JSON, the member's words as they wrote them."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()


def member_data(
    uow: UnitOfWork, member: Member, member_id: int, weeks: Sequence[WeekSummary] = ()
) -> dict[str, Any]:
    """Every row that names the member, each with every column but the internal ids, and what
    is read from them alone: the streak freezes of ``weeks`` (the member's, as summarized)."""
    return {
        "member": {
            "platform": member.platform,
            "workspace": member.workspace,
            "user_id": member.user_id,
            "display_name": member.display_name,
            "created_at": member.created_at.isoformat(),
            "timezone": member.timezone,
            "week_starts_on": tk.DAY_NAMES[member.week_starts_on],
            "goal": {"target": member.goal_target, "label": member.goal_label},
            "nudges": {
                "days": tk.describe_days(member.nudge_days),
                "time": tk.describe_minute(member.nudge_minute),
                "on": member.nudges_on,
                "paused_until": _iso(member.paused_until),
                "rest_until": _iso(member.rest_until),
                "next_nudge_at": _iso(member.next_nudge_at),
                "next_checkin_at": _iso(member.next_checkin_at),
                "heads_up": member.heads_up_enabled,
            },
            "last_step": member.last_step,
            "unreachable": member.unreachable,
            "freezes": freezes(member, weeks),
        },
        "goal_changes": [
            {
                "local_day": ch.local_day.isoformat(),
                "target": ch.target,
                "label": ch.label,
                "set_at": ch.set_at.isoformat(),
            }
            for ch in uow.history.goal_changes(member_id)
        ],
        "rest_weeks": [w.isoformat() for w in uow.history.rest_weeks(member_id)],
        "publications": [
            {
                "published_at": p.published_at.isoformat(),
                "local_day": p.local_day.isoformat(),
                "url": p.url,
                "title": p.title,
                "source": p.source,
                "request_key": p.request_key,
            }
            for p in uow.publications.list(member_id)
        ],
        "deliveries": delivery_log(uow.deliveries.history(member_id)),
    }


def freezes(member: Member, weeks: Sequence[WeekSummary]) -> dict[str, Any]:
    """The member's streak freezes: whether they earn them, how many are banked and the weeks
    (their first days) each one kept. Derived from the history, so nothing else stores them."""
    return {
        "on": member.freezes_enabled,
        "banked": streaks.banked_freezes(weeks) if member.freezes_enabled else 0,
        "frozen_weeks": [w.start.isoformat() for w in weeks if w.state is WeekState.FROZEN],
    }


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_log(entries: Sequence[LoggedDelivery]) -> list[dict[str, object]]:
    """The export's ``deliveries``: each entry with every field, instants in ISO 8601."""
    return [
        {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(entry).items()
        }
        for entry in entries
    ]
