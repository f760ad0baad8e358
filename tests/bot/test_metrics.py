"""The process's metrics: what the engine and the delivery loop report, as Prometheus reads it."""

from __future__ import annotations

import typing
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from habits import commands as c
from habits.coach import COMMAND_KINDS, Coach
from habits.model import ManualClock, MemberRef
from habits.ports import UnitOfWork
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import MONDAY


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own text parser."""
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


def test_commands_are_counted_by_platform_kind_and_outcome(
    uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    metrics = Metrics(clock.now)
    coach = Coach(uow_factory, clock, command_observer=metrics)
    ana = MemberRef.slack("T1", "U1")

    assert coach.handle(ana, "/goal 1 post").ok
    assert coach.handle(ana, "/goal 2 posts").ok
    assert not coach.handle(ana, "/goal zero posts").ok  # parses? no: refused by the grammar
    assert not coach.handle(ana, "/hunter2 my-password").ok
    assert not coach.publish_form(ana, "not a link", "Title").ok
    assert coach.handle(ana, "/nudges snooze tomorrow").ok

    total = "habit_coach_commands_total"
    assert value(metrics, total, platform="slack", kind="goal", outcome="ok") == 2
    assert value(metrics, total, platform="slack", kind="unknown", outcome="refused") == 2
    assert value(metrics, total, platform="slack", kind="published", outcome="refused") == 1
    assert value(metrics, total, platform="slack", kind="nudges", outcome="ok") == 1
    labels = {dict(key[1]).get("kind") for key in samples(metrics) if key[0] == total}
    assert labels <= {"goal", "published", "unknown", "nudges"}  # never the text typed


def test_a_use_case_refusing_valid_input_counts_as_refused(
    uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    metrics = Metrics(clock.now)
    coach = Coach(uow_factory, clock, command_observer=metrics)

    # It parses, but the use case refuses a pause that ended in the past.
    reply = coach.handle(MemberRef.slack("T1", "U1"), "/nudges pause until 2020-01-01")

    assert not reply.ok
    total = "habit_coach_commands_total"
    assert value(metrics, total, platform="slack", kind="nudges", outcome="refused") == 1


class _BrokenUnitOfWork:
    """Our own port, failing the way a lost database connection does."""

    def __call__(self) -> UnitOfWork:
        raise ConnectionError("the database went away")


def test_a_failing_command_counts_as_an_error(clock: ManualClock) -> None:
    metrics = Metrics(clock.now)
    coach = Coach(_BrokenUnitOfWork(), clock, command_observer=metrics)

    assert not coach.handle(MemberRef.slack("T1", "U1"), "/streak").ok

    total = "habit_coach_commands_total"
    assert value(metrics, total, platform="slack", kind="streak", outcome="error") == 1


def test_every_command_has_a_kind() -> None:
    assert set(typing.get_args(c.Command)) == set(COMMAND_KINDS)


def test_deliveries_ticks_and_rate_limits_are_exposed() -> None:
    clock = ManualClock(MONDAY)
    metrics = Metrics(clock.now)

    metrics.delivery_settled("discord", "nudge", "sent")
    metrics.delivery_settled("discord", "nudge", "sent")
    metrics.delivery_settled("slack", "checkin", "unreachable")
    metrics.delivery_settled("slack", "nudge", "exploded")  # not an outcome: kept bounded
    metrics.tick_finished(swept=7, backlog=3, sweep_moment=MONDAY)
    metrics.tick_finished(swept=5, backlog=2, sweep_moment=MONDAY)
    metrics.rate_limited("slack", "workspace")
    metrics.rate_limited("discord", "anything else")

    deliveries = "habit_coach_deliveries_total"
    assert value(metrics, deliveries, platform="discord", kind="nudge", outcome="sent") == 2
    assert value(metrics, deliveries, platform="slack", kind="checkin", outcome="unreachable") == 1
    assert value(metrics, deliveries, platform="slack", kind="nudge", outcome="other") == 1
    assert value(metrics, "habit_coach_swept_members_total") == 12
    assert value(metrics, "habit_coach_ticks_total") == 2
    assert value(metrics, "habit_coach_delivery_backlog") == 2
    assert value(metrics, "habit_coach_rate_limited_total", platform="slack", scope="workspace")
    assert value(metrics, "habit_coach_rate_limited_total", platform="discord", scope="other")


def test_sweep_lag_is_computed_when_scraped() -> None:
    clock = ManualClock(MONDAY)
    metrics = Metrics(clock.now)
    clock.set(MONDAY + timedelta(seconds=30))
    assert value(metrics, "habit_coach_sweep_lag_seconds") == 30  # no sweep yet: since start

    metrics.tick_finished(swept=0, backlog=0, sweep_moment=MONDAY + timedelta(seconds=25))
    assert value(metrics, "habit_coach_sweep_lag_seconds") == 5
    clock.set(MONDAY + timedelta(minutes=2))
    assert value(metrics, "habit_coach_sweep_lag_seconds") == 95


def test_process_info_and_uptime_are_exposed_and_registries_are_separate() -> None:
    first, second = Metrics(ManualClock(MONDAY).now), Metrics(ManualClock(MONDAY).now)
    first.rate_limited("slack", "channel")

    found = samples(first)
    (info,) = [labels for name, labels in found if name == "habit_coach_build_info"]
    assert {"version", "python"} == {key for key, _ in info}
    assert found[("habit_coach_uptime_seconds", ())] >= 0
    assert (
        value(second, "habit_coach_rate_limited_total", platform="slack", scope="channel") is None
    )


def test_bootstrap_makes_metrics_the_observer_of_commands_and_deliveries(sqlite_url: str) -> None:
    from bot.bootstrap import bootstrap
    from bot.settings import Settings

    settings = Settings(_env_file=None, database_url=sqlite_url)  # type: ignore[call-arg]
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    try:
        assert runtime.metrics is not None
        assert runtime.observer is runtime.metrics
        assert runtime.coach.command_observer is runtime.metrics
    finally:
        runtime.close()
