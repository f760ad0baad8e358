"""The member's data export: how what the engine stores about a member is written as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from habits.model import LoggedDelivery


def delivery_log(entries: Sequence[LoggedDelivery]) -> list[dict[str, object]]:
    """The export's ``deliveries``: each entry with every field, instants in ISO 8601."""
    return [
        {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(entry).items()
        }
        for entry in entries
    ]
