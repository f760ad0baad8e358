"""The export's JSON shape, which the engine owns: storage hands over data, not JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from habits.export import delivery_log
from habits.model import LoggedDelivery

SCHEDULED = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night Europe moves its clocks


def entry(**changes: object) -> LoggedDelivery:
    fields: dict[str, object] = {
        "platform": "slack",
        "kind": "nudge",
        "scheduled_for": SCHEDULED,
        "status": "failed",
        "attempts": 2,
        "not_before": SCHEDULED + timedelta(minutes=5),
        "created_at": SCHEDULED,
        "finished_at": SCHEDULED + timedelta(minutes=6),
        "detail": "cannot_dm UADA4242",
    }
    return LoggedDelivery(**{**fields, **changes})


def test_delivery_log_entries_become_json_objects_with_iso_instants() -> None:
    (shown,) = delivery_log([entry()])

    assert shown == {
        "platform": "slack",
        "kind": "nudge",
        "scheduled_for": "2026-03-29T00:30:00+00:00",
        "status": "failed",
        "attempts": 2,
        "not_before": "2026-03-29T00:35:00+00:00",
        "created_at": "2026-03-29T00:30:00+00:00",
        "finished_at": "2026-03-29T00:36:00+00:00",
        "detail": "cannot_dm UADA4242",
    }
    assert json.loads(json.dumps(shown)) == shown, "plain JSON values only"


def test_an_unfinished_delivery_has_no_finish_time_and_the_log_keeps_its_order() -> None:
    pending = entry(status="pending", finished_at=None, detail="")
    checkin = entry(kind="checkin", scheduled_for=SCHEDULED + timedelta(days=1))

    shown = delivery_log([pending, checkin])

    assert [(d["kind"], d["scheduled_for"]) for d in shown] == [
        ("nudge", "2026-03-29T00:30:00+00:00"),
        ("checkin", "2026-03-30T00:30:00+00:00"),
    ]
    assert shown[0]["finished_at"] is None
    assert delivery_log([]) == []
