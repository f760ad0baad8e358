"""The idle tick: what a process pays every few seconds when nothing is due, and the query plans
that make it cheap.

The statements are the ones the code really issues: one tick runs with a cursor listener on the
engine, and each SELECT/UPDATE it sent is explained with the same parameters (SQLite's EXPLAIN
QUERY PLAN, PostgreSQL's EXPLAIN). Whatever the sweep's SQL becomes, this reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event

from bench.measure import Latency, time_calls
from habits.outbox import Outbox, SweepSettings

_EXPLAINABLE = re.compile(r"^\s*(SELECT|UPDATE|DELETE|WITH|INSERT)\b", re.IGNORECASE)
_TABLES = ("members", "deliveries")


@dataclass(frozen=True)
class Plan:
    statement: str
    lines: list[str]
    uses_index: bool
    full_scan: bool
    table: str

    @property
    def ok(self) -> bool:
        return self.uses_index and not self.full_scan


@dataclass(frozen=True)
class IdleTick:
    latency: Latency  # milliseconds per tick (the probe; a sweep and a claim if it finds work)
    found: int  # members swept plus deliveries claimed over every tick: must be 0
    plans: list[Plan]

    @property
    def indexed(self) -> bool:
        """Every statement of the idle tick searches the members table by an index, never by a
        full scan (the deliveries part is printed with the plan: on an empty log PostgreSQL
        rightly scans its no pages instead)."""
        return bool(self.plans) and all(plan.ok for plan in self.plans)


def _tick(outbox: Outbox, platforms: list[str], settings: SweepSettings) -> int:
    """What ``Dispatcher.tick`` asks of the database: the probe of the due indexes, and only
    when it says so a sweep and a claim (so with nothing due, the probe alone)."""
    if not outbox.anything_due(platforms):
        return 0
    swept = outbox.sweep(platforms, settings)
    claimed = outbox.claim(platforms, "bench-idle", timedelta(seconds=60), 100)
    return swept + len(claimed)


def idle_tick(
    engine: Engine, outbox: Outbox, platforms: list[str], settings: SweepSettings, count: int
) -> IdleTick:
    for _ in range(10):  # warm the statement cache and the page cache
        _tick(outbox, platforms, settings)
    found = 0

    def tick(_: int) -> None:
        nonlocal found
        found += _tick(outbox, platforms, settings)

    latency = Latency.of(time_calls(tick, count))
    return IdleTick(latency, found, explain_tick(engine, outbox, platforms, settings))


def explain_tick(
    engine: Engine, outbox: Outbox, platforms: list[str], settings: SweepSettings
) -> list[Plan]:
    """The query plan of every statement one idle tick sends, on members or deliveries."""
    sent: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if not many and _EXPLAINABLE.match(statement):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        _tick(outbox, platforms, settings)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    plans = []
    seen: set[str] = set()
    for statement, parameters in sent:
        table = _main_table(statement)
        if table is None or statement in seen:
            continue
        seen.add(statement)
        plans.append(_explain(engine, statement, parameters, table))
    return plans


def _main_table(statement: str) -> str | None:
    found = re.search(r"\b(?:FROM|UPDATE|INTO)\s+(\w+)", statement, re.IGNORECASE)
    if found is None or found.group(1) not in _TABLES:
        return None
    return found.group(1)


def _explain(engine: Engine, statement: str, parameters: Any, table: str) -> Plan:
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
        connection.rollback()
    if postgres:
        lines = [str(row[0]) for row in rows]
        text = "\n".join(lines)
        uses_index = "Index" in text
        full_scan = f"Seq Scan on {table}" in text
    else:
        lines = [str(row[-1]) for row in rows]
        uses_index = any("USING" in line and "INDEX" in line for line in lines)
        full_scan = any(re.match(rf"SCAN {table}\b(?!.*USING)", line.strip()) for line in lines)
    return Plan(" ".join(statement.split()), lines, uses_index, full_scan, table)
