"""SIGTERM mid-delivery, on real `habit-coach run` processes: nothing lost, nothing sent twice.

A first process starts sending 40 due nudges through the fake Discord, whose DM posts stall, and
is stopped while eight are in flight. It must exit 0 quickly, having recorded the eight it sent
and handed back the rest; a second process then sends exactly those, at once.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from storage.database import make_engine
from storage.tables import deliveries, members
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.processes import run_env
from tests.storage.rows import due_member_row

DUE = 40
IN_FLIGHT = 8  # DELIVERY_CONCURRENCY's default
STALL_SECONDS = 3.0  # each DM post of the first process hangs this long in the fake
# SIGTERM to exit: the sends in flight (one stall) plus closing the gateway. The process's own
# hard bound is 25 s (bot.runtime.DRAIN_GRACE_SECONDS); measured in practice: 3-4 s.
EXIT_BOUND_SECONDS = 15.0
MEMBERS = [str(400_000_000_000_100_000 + index) for index in range(DUE)]


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    return fake_discord


def add_due_members(database_url: str) -> None:
    """Members with a nudge due a minute ago by the wall clock the processes read."""
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(insert(members), [due_member_row(u, due) for u in MEMBERS])
    finally:
        engine.dispose()


def delivery_rows(database_url: str) -> list[Any]:
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    select(deliveries, members.c.user_id).join(
                        members, members.c.id == deliveries.c.member_id
                    )
                )
            )
    finally:
        engine.dispose()


async def start_run(fake: FakeDiscord, database_url: str, cwd: Path) -> asyncio.subprocess.Process:
    env = run_env(
        DATABASE_URL=database_url,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE_URL=fake.api_base_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        SWEEP_INTERVAL_SECONDS="0.5",
        LOG_LEVEL="WARNING",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=cwd,  # no .env from the repository
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def poll(condition: Callable[[], bool], within: float) -> None:
    """The fake notifies after answering, and a stalled post has not been answered yet."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - counting requests as they arrive
            await asyncio.sleep(0.02)


async def terminate(process: asyncio.subprocess.Process) -> tuple[float, str]:
    """SIGTERM; wait for the exit (killing the process if it outlives the bound)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(EXIT_BOUND_SECONDS):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return time.monotonic() - started, stderr.decode()


def dm_posts(fake: FakeDiscord) -> Counter[str]:
    """DM posts the bot made, per member: every attempt counts, even a repeated nonce."""
    channel_owner = {channel: user for user, channel in fake.dm_channels.items()}
    return Counter(
        channel_owner.get(r.path.split("/")[2], "?") for r in fake.requests_to("POST", "/channels/")
    )


async def test_sigterm_mid_delivery_exits_0_and_a_restart_sends_the_rest_once(
    fake: FakeDiscord, db_url: str, tmp_path: Path
) -> None:
    add_due_members(db_url)
    fake.stall("/channels/", STALL_SECONDS)
    first = await start_run(fake, db_url, tmp_path)
    try:
        await fake.wait_until(lambda: fake.connected, within=30)
        await poll(lambda: len(fake.requests_to("POST", "/channels/")) >= IN_FLIGHT, within=30)
    except BaseException:
        first.kill()
        await first.wait()
        raise

    took, stderr = await terminate(first)

    assert first.returncode == 0, stderr
    assert took < EXIT_BOUND_SECONDS
    rows = delivery_rows(db_url)
    owner = f"{socket.gethostname()[:40]}:{first.pid}"
    assert [r.user_id for r in rows if r.lease_owner == owner or r.status == "sending"] == []
    sent = sorted(r.user_id for r in rows if r.status == "sent")
    handed_back = [r for r in rows if r.status == "pending"]
    assert len(sent) == IN_FLIGHT  # the sends in flight finished and were recorded
    assert len(rows) == len(sent) + len(handed_back) == DUE
    assert sorted(u for u, n in dm_posts(fake).items() if n) == sent
    assert all(len(fake.dms_to(user)) == 1 for user in sent)
    now = datetime.now(UTC)
    for row in handed_back:  # claimable at once by anyone, no attempt used up
        assert (row.lease_until, row.attempts) == (None, 0)
        assert row.not_before <= now

    fake.stalls.clear()
    second = await start_run(fake, db_url, tmp_path)
    try:
        await fake.wait_until(lambda: all(fake.dms_to(user) for user in MEMBERS), within=30)
    finally:
        _, stderr = await terminate(second)

    assert second.returncode == 0, stderr
    assert dm_posts(fake) == Counter(dict.fromkeys(MEMBERS, 1))  # 0 lost, 0 sent twice
    assert {user: len(fake.dms_to(user)) for user in MEMBERS} == dict.fromkeys(MEMBERS, 1)
    assert {(r.status, r.attempts) for r in delivery_rows(db_url)} == {("sent", 1)}


async def test_ctrl_c_stops_run_cleanly_with_status_130(
    fake: FakeDiscord, db_url: str, tmp_path: Path
) -> None:
    process = await start_run(fake, db_url, tmp_path)
    try:
        await fake.wait_until(lambda: fake.connected, within=30)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(EXIT_BOUND_SECONDS):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 130, stderr.decode()  # an interrupt, as shells report it
    assert "Traceback" not in stderr.decode()
