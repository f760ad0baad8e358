"""``python -m bench.outage``: what a Slack member sees of one nudge when Slack's answers are lost.

The real Slack sender and slack_sdk client post to the project's fake Slack on loopback
(``tests/fakes/slack_server.py``), driven by the engine's own delivery loop on a SQLite file
and a manual clock. Two faults, each on a fresh database and fake:

- **outage**: for the first ``--outage-ticks`` delivery rounds every ``chat.postMessage`` fails
  after the request was sent. In turn: Slack keeps the message and the connection drops; keeps
  it and answers 503; keeps it and never answers (the send times out); drops it and the
  connection drops (a message that is genuinely lost). Then Slack recovers and the loop retries
  each delivery after its backoff until every one is settled.
- **killed replica**: a replica's tick is cancelled (as SIGKILL would) while its first posts are
  stored by Slack and unanswered, holding its whole claimed batch; once the lease expires a
  second replica takes the batch over.

Each runs with the sender as it is, and with the sender as it was before it looked in the DM's
history (no metadata lookup, the SDK's stock retry on a dropped connection): the baseline. The
figure is the number of messages each member's DM shows for their one notice.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select, update

from bench.measure import progress
from bench.report import Row, table, verdict
from bot.bootstrap import bootstrap
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.sender import SlackSender, make_client
from habits.delivery import DeliverySettings, Dispatcher
from habits.messages import Notice
from habits.model import ManualClock, MemberRef, Platform
from storage.database import make_engine
from storage.tables import deliveries, members
from tests.fakes.processes import PROXY_VARIABLES
from tests.fakes.slack_server import FakeSlack, PostFault

TEAM = "T1"
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SEND_TIMEOUT = 0.5  # seconds: a send whose answer never comes is cut off this soon
# Each post during the outage fails in turn like this; the last one never reached Slack.
OUTAGE = (
    PostFault(stored=True, answer="disconnect"),
    PostFault(stored=True, answer="503"),
    PostFault(stored=True, answer="hang"),
    PostFault(stored=False, answer="disconnect"),
)
MAX_ROUNDS = 20


class BlindSender(SlackSender):
    """The sender before it looked for an earlier attempt: every retry posts again."""

    async def _posted_earlier(self, client: AsyncWebClient, notice: Notice) -> bool:
        return False


def stock_client(token: str, base_url: str) -> AsyncWebClient:
    """The client as it was built before: the SDK's retry re-posts after a dropped connection."""
    handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler()]
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=list(handlers))


@dataclass(frozen=True)
class Tally:
    notices: int  # one per member
    copies: Counter[int]  # messages shown per member → members
    posts: int  # chat.postMessage requests Slack received
    lookups: int  # conversations.history requests
    statuses: Counter[str]

    @property
    def duplicates(self) -> int:
        return sum((n - 1) * members for n, members in self.copies.items() if n > 1)

    @property
    def lost(self) -> int:
        return self.copies.get(0, 0)

    def spread(self) -> str:
        return ", ".join(f"{n}×: {m}" for n, m in sorted(self.copies.items()))


class Probe:
    """A fake Slack with ``count`` members, a runtime on a SQLite file, and a sender."""

    def __init__(self, folder: Path, count: int, blind: bool, send_timeout: float):
        self.folder = folder
        self.count = count
        self.blind = blind
        self.send_timeout = send_timeout
        self.fake = FakeSlack()
        self.clock = ManualClock(START - timedelta(days=3))
        self.url = f"sqlite:///{folder / ('blind.db' if blind else 'ours.db')}"
        self.runtime: Runtime | None = None
        self.client: AsyncWebClient | None = None

    @property
    def users(self) -> list[str]:
        return [f"U{n}" for n in range(1, self.count + 1)]

    async def __aenter__(self) -> Probe:
        self.fake.add_workspace(TEAM)
        for user in self.users:
            self.fake.add_user(TEAM, user, "UTC")
        await self.fake.start()
        token = self.fake.workspace(TEAM).bot_token
        build = stock_client if self.blind else make_client
        self.client = build(token, self.fake.base_url)
        settings = Settings(_env_file=None, database_url=self.url)  # type: ignore[call-arg]
        self.runtime = bootstrap(settings, clock=self.clock)
        for user in self.users:
            ref = MemberRef.slack(TEAM, user, user)
            await self.runtime.call(self.runtime.coach.handle, ref, "/goal 1 post")
        engine = make_engine(self.url, pool_size=1)
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(members).values(next_nudge_at=START, next_checkin_at=None)
                )
        finally:
            engine.dispose()
        self.clock.set(START)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runtime is not None:
            self.runtime.close()
        await self.fake.close()

    async def _client_for(self, team: str) -> AsyncWebClient | None:
        return self.client

    def dispatcher(self, owner: str) -> Dispatcher:
        kind = BlindSender if self.blind else SlackSender
        sender = kind(self._client_for, self.send_timeout, paced=False)  # faults, not rate limits
        assert self.runtime is not None
        return Dispatcher(
            self.runtime.outbox,
            {Platform.SLACK: sender},
            self.runtime.call,
            delivery=DeliverySettings(owner=owner),
        )

    def open_rows(self) -> tuple[int, datetime | None]:
        """Deliveries not yet settled, and the earliest moment one may be claimed."""
        engine = make_engine(self.url, pool_size=1)
        try:
            with engine.connect() as connection:
                unsettled = deliveries.c.status.in_(("pending", "sending"))
                row = connection.execute(
                    select(func.count(), func.min(deliveries.c.not_before)).where(unsettled)
                ).one()
                return int(row[0]), row[1]
        finally:
            engine.dispose()

    def tally(self) -> Tally:
        engine = make_engine(self.url, pool_size=1)
        try:
            with engine.connect() as connection:
                statuses = Counter(
                    str(s) for s in connection.execute(select(deliveries.c.status)).scalars()
                )
        finally:
            engine.dispose()
        shown = Counter(m["user"] for m in self.fake.messages)
        return Tally(
            self.count,
            Counter(shown.get(user, 0) for user in self.users),
            len(self.fake.calls_to("chat.postMessage")),
            len(self.fake.calls_to("conversations.history")),
            statuses,
        )

    async def settle(self, dispatcher: Dispatcher, outage_rounds: int = 0) -> None:
        """Tick at each moment a retry falls due until nothing is left; the first
        ``outage_rounds`` rounds lose every answer."""
        for round_ in range(MAX_ROUNDS):
            self.fake.post_faults.clear()
            if round_ < outage_rounds:
                # Enough for every post of the round, the SDK's own re-posts included.
                self.fake.post_faults.extend(OUTAGE * self.count)
            await dispatcher.tick()
            left, next_at = self.open_rows()
            if not left:
                break
            assert next_at is not None
            self.clock.set(max(self.clock.now(), next_at) + timedelta(seconds=1))
        self.fake.post_faults.clear()


async def outage(
    folder: Path, count: int, rounds: int, blind: bool, send_timeout: float = SEND_TIMEOUT
) -> Tally:
    async with Probe(folder, count, blind, send_timeout) as probe:
        await probe.settle(probe.dispatcher("replica-a"), outage_rounds=rounds)
        return probe.tally()


async def killed_replica(
    folder: Path, count: int, blind: bool, send_timeout: float = SEND_TIMEOUT
) -> Tally:
    async with Probe(folder, count, blind, send_timeout) as probe:
        dying = probe.dispatcher("replica-a")
        in_flight = dying.delivery_settings.concurrency
        probe.fake.post_faults.extend([PostFault(stored=True, answer="hang")] * in_flight)
        tick = asyncio.ensure_future(dying.tick())
        while len(probe.fake.messages) < in_flight and not tick.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        tick.cancel()  # SIGKILL: nothing more is recorded, the claimed batch stays leased
        await asyncio.gather(tick, return_exceptions=True)
        probe.fake.post_faults.clear()
        probe.clock.set(probe.clock.now() + dying.delivery_settings.lease + timedelta(seconds=1))
        await probe.settle(probe.dispatcher("replica-b"))
        return probe.tally()


def _rows(name: str, ours: Tally, blind: Tally) -> list[Row]:
    return [
        Row(f"{name}: notices", f"{ours.notices:,}", f"{blind.notices:,}"),
        Row(
            f"{name}: messages shown per notice",
            ours.spread(),
            blind.spread(),
            target="1× each",
            met=verdict(set(ours.copies) == {1}),
        ),
        Row(
            f"{name}: duplicates / lost",
            f"{ours.duplicates} / {ours.lost}",
            f"{blind.duplicates} / {blind.lost}",
            target="0 / 0",
            met=verdict(ours.duplicates == 0 and ours.lost == 0),
        ),
        Row(
            f"{name}: posts / history lookups",
            f"{ours.posts:,} / {ours.lookups:,}",
            f"{blind.posts:,} / {blind.lookups:,}",
        ),
        Row(
            f"{name}: deliveries recorded",
            ", ".join(f"{s} {n}" for s, n in sorted(ours.statuses.items())),
            ", ".join(f"{s} {n}" for s, n in sorted(blind.statuses.items())),
        ),
    ]


async def _measure(args: argparse.Namespace, folder: Path) -> int:
    rows: list[Row] = []
    progress(f"outage: {args.members} Slack members, answers lost for {args.outage_ticks} rounds")
    ours = await outage(folder / "outage", args.members, args.outage_ticks, blind=False)
    blind = await outage(folder / "outage-blind", args.members, args.outage_ticks, blind=True)
    rows += _rows("outage", ours, blind)
    progress(f"killed replica: {args.members} Slack members, one replica cancelled mid-batch")
    ours = await killed_replica(folder / "kill", args.members, blind=False)
    blind = await killed_replica(folder / "kill-blind", args.members, blind=True)
    rows += _rows("killed replica", ours, blind)
    print(table(rows))
    print(
        "\nours = the Slack sender as it is; baseline = the same sender without the history "
        "lookup and with slack_sdk's stock retry on a dropped connection. Fake Slack on "
        f"loopback, SQLite file, manual clock; sends cut off after {SEND_TIMEOUT:g} s."
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.outage", description=__doc__)
    parser.add_argument("--members", type=int, default=200, help="Slack members, one nudge each")
    parser.add_argument(
        "--outage-ticks", type=int, default=3, help="delivery rounds during which answers are lost"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.members < 1 or not 0 <= args.outage_ticks < MAX_ROUNDS:
        print("bench.outage: needs --members >= 1 and 0 <= --outage-ticks < 20", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    for name in list(os.environ):  # the async Slack client ignores NO_PROXY: loopback direct
        if name.lower() in PROXY_VARIABLES:
            del os.environ[name]
    with tempfile.TemporaryDirectory(prefix="habit-coach-outage-") as tmp:
        folder = Path(tmp)
        for name in ("outage", "outage-blind", "kill", "kill-blind"):
            (folder / name).mkdir()
        return asyncio.run(_measure(args, folder))


if __name__ == "__main__":
    raise SystemExit(main())
