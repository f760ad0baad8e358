"""Three real `habit-coach run` replicas on one PostgreSQL, against one fake Discord.

Each replica holds one shard of three. Members fall due at once while the fake stalls every DM
post, so batches are in flight under short leases. All alive, every member gets one DM, from
more than one replica; with one replica SIGKILLed while it holds leases, the others take over its
deliveries when the leases expire, and nobody is lost or shown a DM twice.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, insert, select

from habits.delivery import DeliverySettings
from storage.database import make_engine
from storage.tables import deliveries, members
from tests.bot.discord.conftest import ANA
from tests.fakes.discord_server import FakeDiscord, guild_on_shard
from tests.fakes.processes import run_env
from tests.storage.rows import due_member_row

pytestmark = pytest.mark.postgres

SHARDS = 3
# More than two claims' worth: a replica claims up to ``claim_limit`` at once and keeps the lease
# on what it queued, so with fewer due the first to claim could rightly take them all. With
# more, the others' claims (every 0.2 s) find work while the first batch is in flight.
MEMBERS = 2 * DeliverySettings().claim_limit + 40
# Short leases, so a killed replica's are soon taken over: the coach refuses a lease a send could
# outlast, so sends are cut short too (the fake answers each within POST_STALL).
SEND_TIMEOUT_SECONDS = 3
LEASE_SECONDS = 12
POST_STALL = 0.5  # seconds the fake holds every DM post: sends are in flight, leases matter
FIRST_USER = 400_000_000_000_100_000  # Discord-sized user ids, one per member


@dataclass
class Replica:
    shard: int
    process: asyncio.subprocess.Process
    output: Path

    def holds(self, lease_owner: str | None) -> bool:
        """Whether a lease is this process's: owners end with ":<pid>"."""
        return lease_owner is not None and lease_owner.endswith(f":{self.process.pid}")

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""


class Replicas:
    """The replica processes of one test; every one still running is stopped at the end."""

    def __init__(self, fake: FakeDiscord, database_url: str, directory: Path):
        self.fake = fake
        self.database_url = database_url
        self.directory = directory
        self.all: list[Replica] = []

    async def start(self) -> None:
        for shard in range(SHARDS):
            output = self.directory / f"replica-{shard}.log"
            with output.open("wb") as sink:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "run",
                    cwd=self.directory,  # no .env from the repository
                    env=self._env(shard),
                    stdout=sink,
                    stderr=asyncio.subprocess.STDOUT,
                )
            self.all.append(Replica(shard, process, output))
        try:
            await self.fake.wait_until(
                lambda: self.fake.held_shards(SHARDS) == set(range(SHARDS)), within=30
            )
        except TimeoutError:
            pytest.fail(f"the replicas did not connect every shard:\n{self.logs()}")

    def _env(self, shard: int) -> dict[str, str]:
        return run_env(
            DATABASE_URL=self.database_url,
            DISCORD_TOKEN=self.fake.token,
            DISCORD_API_BASE_URL=self.fake.api_base_url,
            DISCORD_GATEWAY_URL=self.fake.gateway_url,
            DISCORD_SHARD_COUNT=str(SHARDS),
            DISCORD_SHARD_IDS=str(shard),
            SEND_TIMEOUT_SECONDS=str(SEND_TIMEOUT_SECONDS),
            DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
            SWEEP_INTERVAL_SECONDS="0.2",
            SWEEP_BATCH_SIZE="10",  # replicas sweep side by side, a batch each
            HTTP_PORT="0",  # each replica's ops server on a free port
            LOG_LEVEL="WARNING",
        )

    def logs(self) -> str:
        return "\n".join(f"--- replica {r.shard} ---\n{r.log()}" for r in self.all)

    async def stop(self) -> None:
        running = [r.process for r in self.all if r.process.returncode is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


class DeliveryLog:
    """Reads the deliveries table as the replicas write it, remembering who held each lease.

    The owner is cleared when a delivery is recorded, so a background poll notes the last
    owner seen while each one was being sent: the replica that sent it.
    """

    def __init__(self, database_url: str):
        self.engine = make_engine(database_url, pool_size=1)
        self.rows: list[Row[Any]] = []
        self.holders: dict[int, str] = {}  # delivery id → last lease owner seen

    def read(self) -> list[Row[Any]]:
        query = select(
            deliveries.c.id,
            members.c.user_id,
            deliveries.c.kind,
            deliveries.c.status,
            deliveries.c.lease_owner,
        ).join(members, members.c.id == deliveries.c.member_id)
        with self.engine.connect() as connection:
            rows = list(connection.execute(query))
        for row in rows:
            if row.status == "sending" and row.lease_owner:
                self.holders[row.id] = row.lease_owner
        self.rows = rows
        return rows

    async def watch(self) -> None:
        while True:
            await asyncio.to_thread(self.read)
            await asyncio.sleep(0.05)

    def leased_by(self, replica: Replica) -> list[Row[Any]]:
        return [r for r in self.rows if r.status == "sending" and replica.holds(r.lease_owner)]


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    return fake_discord


@pytest.fixture
async def replicas(fake: FakeDiscord, pg_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    group = Replicas(fake, pg_url, tmp_path)
    try:
        yield group
    finally:
        await group.stop()


@pytest.fixture
async def delivery_log(pg_url: str) -> AsyncIterator[DeliveryLog]:
    log = DeliveryLog(pg_url)
    watching = asyncio.ensure_future(log.watch())
    try:
        yield log
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        log.engine.dispose()


def user_ids() -> Iterator[str]:
    return (str(FIRST_USER + index) for index in range(MEMBERS))


def make_members_due(database_url: str) -> None:
    """Members whose nudge fell due a minute ago, written straight into the table."""
    due = datetime.now(UTC) - timedelta(minutes=1)
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(members),
                [
                    # heads-up off: on the week's last day the slot would be one, not a nudge
                    due_member_row(u, due, heads_up_enabled=False)
                    for u in user_ids()
                ],
            )
    finally:
        engine.dispose()


def dm_posts_per_member(fake: FakeDiscord) -> Counter[str]:
    """Raw message POSTs per member, retries included (the fake shows a nonce once)."""
    owners = {channel: user for user, channel in fake.dm_channels.items()}
    posts: Counter[str] = Counter()
    for request in fake.requests_to("POST", "/channels/"):
        channel = request.path.split("/")[2]
        if request.path.endswith("/messages") and channel in owners:
            posts[owners[channel]] += 1
    return posts


def visible_dms_per_member(fake: FakeDiscord) -> Counter[str]:
    return Counter({user: len(fake.dms_to(user)) for user in user_ids()})


async def until(predicate: Callable[[], bool], within: float, what: str, logs: str = "") -> None:
    try:
        async with asyncio.timeout(within):
            while not predicate():  # noqa: ASYNC110 - the database is polled, nothing signals
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"not within {within:g} s: {what}\n{logs}")


def all_sent(log: DeliveryLog) -> bool:
    return len(log.rows) == MEMBERS and all(r.status == "sent" for r in log.rows)


async def test_three_replicas_deliver_each_due_member_exactly_one_dm(
    fake: FakeDiscord, replicas: Replicas, delivery_log: DeliveryLog, pg_url: str
) -> None:
    await replicas.start()
    for shard in range(SHARDS):  # each shard's slash command, answered where it is held
        answer = await fake.slash(ANA, "streak", guild_id=guild_on_shard(shard, SHARDS))
        assert answer.ephemeral
        assert fake.shards_that_got(answer.interaction_id) == [(shard, SHARDS)]
    in_dm = await fake.slash(ANA, "streak")
    assert fake.shards_that_got(in_dm.interaction_id) == [(0, SHARDS)]
    puts = fake.requests_to("PUT", f"/applications/{fake.application_id}/")
    assert len(puts) == 1  # only shard 0's replica registers the commands

    fake.stall("/channels/", POST_STALL)
    make_members_due(pg_url)
    await until(lambda: all_sent(delivery_log), 30, "every delivery recorded sent", replicas.logs())

    posts, visible = dm_posts_per_member(fake), visible_dms_per_member(fake)
    assert set(posts.values()) == {1}, f"raw posts: {sorted(posts.values())}"
    assert len(posts) == MEMBERS
    assert set(visible.values()) == {1}
    senders = {delivery_log.holders[r.id] for r in delivery_log.rows}
    assert len(senders) > 1, f"every delivery went through {senders}"
    assert {r.kind for r in delivery_log.rows} == {"nudge"}


async def test_a_replica_killed_holding_leases_loses_nothing_and_shows_no_dm_twice(
    fake: FakeDiscord, replicas: Replicas, delivery_log: DeliveryLog, pg_url: str
) -> None:
    await replicas.start()
    fake.stall("/channels/", POST_STALL)
    make_members_due(pg_url)

    def posting() -> list[Replica]:
        """Replicas with a DM post in flight (made, not yet answered) for a delivery they hold."""
        posted = dm_posts_per_member(fake)
        shown = {user for user, count in visible_dms_per_member(fake).items() if count}
        return [
            replica
            for replica in replicas.all
            if any(
                row.user_id in posted and row.user_id not in shown
                for row in delivery_log.leased_by(replica)
            )
        ]

    await until(lambda: bool(posting()), 20, "a replica posting DMs", replicas.logs())
    victim = posting()[0]
    victim.process.send_signal(signal.SIGKILL)
    await victim.process.wait()
    await asyncio.to_thread(delivery_log.read)  # the victim's rows as it left them
    orphaned = {r.user_id for r in delivery_log.leased_by(victim)}
    assert orphaned, "the killed replica held no deliveries"
    await fake.wait_until(lambda: victim.shard not in fake.held_shards(SHARDS), within=5)

    await until(
        lambda: all_sent(delivery_log),
        LEASE_SECONDS + 32,
        "the survivors finish everything",
        replicas.logs(),
    )

    visible = visible_dms_per_member(fake)
    assert set(visible.values()) == {1}, "a member saw no DM, or two"
    posts = dm_posts_per_member(fake)
    repeated = {user for user, count in posts.items() if count > 1}
    # Only a post the killed replica made and never recorded can be made again; the fake
    # shows it once, by its nonce.
    assert repeated <= orphaned
    assert max(posts.values()) <= 2
    assert len(delivery_log.rows) == MEMBERS  # one logged nudge each, all of them sent
    # Each orphaned delivery was last leased, and so sent, by a survivor.
    taken_over = [delivery_log.holders[r.id] for r in delivery_log.rows if r.user_id in orphaned]
    assert not any(victim.holds(owner) for owner in taken_over)
