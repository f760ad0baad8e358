"""Adapter records (Slack installations, OAuth states) on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine

from habits.model import ManualClock
from storage.records import SqlRecordStore


def test_a_record_round_trips_as_json(engine: Engine, clock: ManualClock) -> None:
    store = SqlRecordStore(engine, clock.now)

    store.put("slack-installation", "E1:T1", {"bot_token": "xoxb-1", "scopes": ["chat:write"]})

    assert store.get("slack-installation", "E1:T1") == {
        "bot_token": "xoxb-1",
        "scopes": ["chat:write"],
    }
    assert store.get("slack-installation", "E1:T2") is None
    assert store.get("slack-bot", "E1:T1") is None


def test_put_replaces_and_delete_removes(engine: Engine, clock: ManualClock) -> None:
    store = SqlRecordStore(engine, clock.now)
    store.put("k", "a", {"v": 1})

    store.put("k", "a", {"v": 2})

    assert store.get("k", "a") == {"v": 2}
    assert store.delete("k", "a") is True
    assert store.delete("k", "a") is False
    assert store.get("k", "a") is None


def test_take_returns_a_fresh_record_once(engine: Engine, clock: ManualClock) -> None:
    store = SqlRecordStore(engine, clock.now)
    store.put("state", "s1", {"ok": True})

    assert store.take("state", "s1", timedelta(minutes=10)) == {"ok": True}
    assert store.take("state", "s1", timedelta(minutes=10)) is None


def test_take_refuses_and_removes_a_stale_record(engine: Engine, clock: ManualClock) -> None:
    store = SqlRecordStore(engine, clock.now)
    store.put("state", "old", {"ok": True})
    clock.advance(timedelta(minutes=11))

    assert store.take("state", "old", timedelta(minutes=10)) is None
    assert store.get("state", "old") is None


def test_replicas_writing_the_same_new_record_at_once_all_succeed(
    engine: Engine, clock: ManualClock
) -> None:
    store = SqlRecordStore(engine, clock.now)
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        start.wait()
        try:
            store.put("discord-commands", "app-1", {"writer": n})
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert store.get("discord-commands", "app-1") in [{"writer": n} for n in range(6)]


def test_purge_deletes_only_stale_records_of_the_kind_and_at_most_the_limit(
    engine: Engine, clock: ManualClock
) -> None:
    store = SqlRecordStore(engine, clock.now)
    for n in range(5):
        store.put("state", f"old-{n}", {})
    store.put("installation", "old", {})
    clock.advance(timedelta(minutes=11))
    store.put("state", "fresh", {})

    assert store.purge("state", timedelta(minutes=10), limit=3) == 3
    assert store.count("state") == 3
    assert store.purge("state", timedelta(minutes=10), limit=3) == 2
    assert store.purge("state", timedelta(minutes=10), limit=3) == 0

    assert store.get("state", "fresh") == {}
    assert store.count("state") == 1
    assert store.get("installation", "old") == {}  # another kind is left alone
