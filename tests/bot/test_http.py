"""The ops HTTP server, over real HTTP on 127.0.0.1: /healthz, /readyz, /metrics, Slack's routes.

The runtime, its database (a SQLite file, or PostgreSQL behind a loopback proxy we can cut) and
the Discord and Slack adapters against the project's fakes are real; the one double is a chat
adapter of our own protocol whose connection a test switches off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from bot.bootstrap import bootstrap
from bot.discord import DiscordAdapter
from bot.ops import HEARTBEAT_KIND, OpsServer
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import SlackAdapter
from habits.model import ManualClock, MemberRef
from storage.records import SqlRecordStore
from tests.bot.discord.conftest import discord_settings
from tests.conftest import MONDAY
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.processes import PROXY_VARIABLES, run_env
from tests.fakes.slack_server import (
    SIGNING_SECRET,
    FakeSlack,
    form_body,
    post_signed,
    slash_command,
    wait_until,
)

DB_TIMEOUT = 0.5


class SwitchableAdapter:
    """Our double of a chat adapter, for readiness only: connected until told otherwise."""

    def __init__(self, name: str):
        self.name = name
        self.up = True

    def connected(self) -> bool:
        return self.up


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The async Slack client ignores NO_PROXY; loopback requests must not go to a proxy."""
    for name in list(os.environ):
        if name.lower() in PROXY_VARIABLES or name.startswith(("SLACK_", "DISCORD_", "HTTP_")):
            monkeypatch.delenv(name)


def settings_for(database_url: str, **values: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=database_url, http_host="127.0.0.1", http_port=0, **values
    )


@pytest.fixture
def runtime(sqlite_url: str) -> Iterator[Runtime]:
    runtime = bootstrap(settings_for(sqlite_url), clock=ManualClock(MONDAY))
    yield runtime
    runtime.close()


@pytest.fixture
async def server(runtime: Runtime) -> AsyncIterator[OpsServer]:
    server = OpsServer(runtime, "127.0.0.1", 0, database_timeout=DB_TIMEOUT, probe_cache_seconds=0)
    await server.start()
    yield server
    await server.close()


async def get(server: OpsServer, path: str, method: str = "GET") -> tuple[int, str, str]:
    """Status, content type and body of one real request."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://127.0.0.1:{server.port}{path}") as answer,
    ):
        return answer.status, answer.content_type, await answer.text()


async def readiness(server: OpsServer) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.port}/readyz") as answer,
    ):
        return answer.status, await answer.json()


# --- the endpoints ---------------------------------------------------------------------------


async def test_port_zero_binds_a_free_port_and_healthz_answers(server: OpsServer) -> None:
    assert server.port not in (None, 0)
    assert (await get(server, "/healthz"))[:2] == (200, "application/json")
    assert (await get(server, "/nowhere"))[0] == 404
    assert (await get(server, "/healthz", "POST"))[0] == 405


async def test_readyz_names_the_adapter_that_disconnected(server: OpsServer) -> None:
    chat = SwitchableAdapter("Chat")
    server.watch([chat])
    assert await readiness(server) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "Chat": "ok"}},
    )

    chat.up = False
    status, body = await readiness(server)

    assert status == 503
    assert body["not_ready"] == ["Chat"]
    assert body["checks"]["Chat"] == "not connected"


async def test_readyz_is_503_until_adapters_are_watched_and_while_stopping(
    server: OpsServer,
) -> None:
    status, body = await readiness(server)
    assert (status, body["not_ready"]) == (503, ["adapters"])

    server.watch([SwitchableAdapter("Chat")])
    assert (await readiness(server))[0] == 200
    server.stopping = True
    assert (await readiness(server))[1]["not_ready"] == ["process"]


async def test_readyz_is_503_while_the_database_does_not_answer(
    server: OpsServer, sqlite_url: str
) -> None:
    """Another connection holding SQLite's write lock: the probe waits, /readyz does not."""
    server.watch([SwitchableAdapter("Chat")])
    blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        started = asyncio.get_running_loop().time()
        status, body = await readiness(server)
        waited = asyncio.get_running_loop().time() - started
        again, _ = await readiness(server)  # the stuck probe is reused, not queued behind
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert status == again == 503
    assert body["not_ready"] == ["database"]
    # SQLite either waits for the lock (past the probe's timeout) or says it is locked.
    assert body["checks"]["database"] in (
        f"no answer within {DB_TIMEOUT:g} s",
        "OperationalError: (sqlite3.OperationalError) database is locked",
    )
    assert waited < 5
    assert (await readiness(server))[0] == 200


async def test_readyz_does_not_wait_for_database_threads_that_are_stuck(
    server: OpsServer, runtime: Runtime
) -> None:
    """SQLite's one database thread busy (a stuck query): each probe gives up after its
    timeout, and later probes reuse the one waiting instead of queueing more behind it."""
    server.watch([SwitchableAdapter("Chat")])
    release = threading.Event()
    stuck = asyncio.ensure_future(runtime.call(release.wait, 30))
    try:
        first = await readiness(server)
        second = await readiness(server)
        waiting = runtime.executor._work_queue.qsize()  # the probe queued behind the stuck job
    finally:
        release.set()
        await stuck

    assert first[0] == second[0] == 503
    assert first[1]["checks"]["database"] == f"no answer within {DB_TIMEOUT:g} s"
    assert waiting == 1
    # Ready again once the thread is free: the waiting probe finishes first, which on a busy
    # machine can take longer than one probe's timeout.
    async with asyncio.timeout(10):
        while (await readiness(server))[0] != 200:  # noqa: ASYNC110 - polling the HTTP probe
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def sqlite_refusing_writes(runtime: Runtime) -> Iterator[None]:
    """Every new connection of the runtime's engine opens read-only (SQLite's query_only),
    as when the file can no longer be written; the pool is emptied on entry and on exit."""
    records = runtime.records
    assert isinstance(records, SqlRecordStore)
    engine = records.engine

    def read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    event.listen(engine, "connect", read_only)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", read_only)
        engine.dispose()


async def until_status(server: OpsServer, status: int, within: float = 10.0) -> float:
    """Poll /readyz as Kubernetes does until it answers ``status``; the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(within):
        while (await readiness(server))[0] != status:  # noqa: ASYNC110 - polled as a kubelet does
            await asyncio.sleep(0.05)
    return loop.time() - started


async def test_readyz_is_503_while_sqlite_refuses_writes_and_200_once_it_takes_them(
    runtime: Runtime,
) -> None:
    """SQLite's read-only refusal is named, and readiness returns once writes work again
    (with the probe's default cache)."""
    server = OpsServer(runtime, "127.0.0.1", 0, database_timeout=DB_TIMEOUT)
    await server.start()
    try:
        server.watch([SwitchableAdapter("Chat")])
        assert (await readiness(server))[0] == 200

        with sqlite_refusing_writes(runtime):
            refused_after = await until_status(server, 503)
            _, body = await readiness(server)
        recovered_after = await until_status(server, 200)
    finally:
        await server.close()

    assert refused_after < 10
    assert recovered_after < 10
    assert body["not_ready"] == ["database"]
    assert body["checks"]["database"].startswith("read-only (OperationalError: ")
    assert "readonly database" in body["checks"]["database"]


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB filesystem to fill up (tmpfs); skipped where this process may not mount."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("needs permission to mount a small tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_readyz_is_503_while_the_disk_is_full_and_200_once_space_is_freed(
    full_disk: Path,
) -> None:
    """Reads still work on a full disk; only a write shows that every command would fail."""
    runtime = bootstrap(
        settings_for(f"sqlite:///{full_disk / 'coach.db'}"), clock=ManualClock(MONDAY)
    )
    server = OpsServer(runtime, "127.0.0.1", 0, database_timeout=DB_TIMEOUT)
    await server.start()
    filler = full_disk / "filler"
    try:
        server.watch([SwitchableAdapter("Chat")])
        assert (await readiness(server))[0] == 200

        with filler.open("wb", buffering=0) as fill:
            for chunk in (65536, 4096, 1):  # to the last byte
                with contextlib.suppress(OSError):
                    while fill.write(b"\0" * chunk):
                        pass
        assert await runtime.call(runtime.records.get, "any", "key") is None  # reads work
        refused_after = await until_status(server, 503)
        _, body = await readiness(server)
        filler.unlink()
        recovered_after = await until_status(server, 200)
    finally:
        await server.close()
        runtime.close()

    assert refused_after < 10
    assert recovered_after < 10
    assert body["checks"]["database"].startswith("disk full (OperationalError: ")


async def test_readiness_writes_one_heartbeat_per_replica_and_purges_stale_ones(
    sqlite_url: str,
) -> None:
    clock = ManualClock(MONDAY)
    runtime = bootstrap(settings_for(sqlite_url), clock=clock)
    records = runtime.records
    server = OpsServer(runtime, "127.0.0.1", 0, probe_cache_seconds=60)
    await server.start()
    try:
        await runtime.call(records.put, HEARTBEAT_KIND, "gone-replica:1", {})
        clock.advance(timedelta(hours=2))

        first = await readiness(server)
        await runtime.call(records.delete, HEARTBEAT_KIND, server.replica)
        second = await readiness(server)  # within the cache: no second write

        assert first[1]["checks"]["database"] == second[1]["checks"]["database"] == "ok"
        assert await runtime.call(records.get, HEARTBEAT_KIND, server.replica) is None
        assert await runtime.call(records.get, HEARTBEAT_KIND, "gone-replica:1") is None
        assert await runtime.call(records.count, HEARTBEAT_KIND) == 0
    finally:
        await server.close()
        runtime.close()


async def test_metrics_are_prometheus_text(server: OpsServer, runtime: Runtime) -> None:
    ref = MemberRef.slack("T1", "U1")
    assert (await runtime.call(runtime.coach.handle, ref, "/goal 1 post")).ok

    status, content_type, text = await get(server, "/metrics")

    assert (status, content_type) == (200, "text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (command,) = families["habit_coach_commands"].samples
    assert command.name == "habit_coach_commands_total"
    assert command.labels == {"platform": "slack", "kind": "goal", "outcome": "ok"}
    assert command.value == 1
    assert "habit_coach_sweep_lag_seconds" in families
    assert "habit_coach_uptime_seconds" in families


# --- PostgreSQL out of reach -----------------------------------------------------------------


class CuttableProxy:
    """A TCP proxy on loopback in front of PostgreSQL; ``cut()`` drops every connection and
    refuses new ones, as a database that went away does."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.cut_off = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.cut_off.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_off.set()
        with contextlib.suppress(OSError):  # wakes the accepting thread (close alone does not)
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.mark.postgres
async def test_readyz_is_503_when_postgresql_is_unreachable(pg_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    runtime = await asyncio.to_thread(
        bootstrap, settings_for(proxied, db_threads=2), clock=ManualClock(MONDAY)
    )
    server = OpsServer(runtime, "127.0.0.1", 0, database_timeout=3, probe_cache_seconds=0)
    await server.start()
    try:
        server.watch([SwitchableAdapter("Chat")])
        assert (await readiness(server))[0] == 200

        proxy.cut()
        status, body = await readiness(server)

        assert status == 503
        assert body["not_ready"] == ["database"]
        assert body["checks"]["database"].startswith("OperationalError")
        assert "password" not in body["checks"]["database"].lower()
    finally:
        await server.close()
        runtime.close()


@pytest.mark.postgres
async def test_readyz_is_503_while_postgresql_is_read_only_and_200_once_it_is_not(
    pg_url: str,
) -> None:
    """The database switched to read-only (as a promoted-too-late replica or an operator
    does); its sessions are cut, as a failover does, so the pool reconnects to it."""
    from sqlalchemy import create_engine, text

    runtime = await asyncio.to_thread(bootstrap, settings_for(pg_url), clock=ManualClock(MONDAY))
    server = OpsServer(runtime, "127.0.0.1", 0, database_timeout=3)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")

    def switch(read_only: bool) -> None:
        with admin.connect() as connection:
            connection.execute(text("SET default_transaction_read_only = off"))
            setting = "SET default_transaction_read_only = on" if read_only else "RESET ALL"
            connection.execute(text(f'ALTER DATABASE "{admin.url.database}" {setting}'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )

    await server.start()
    try:
        server.watch([SwitchableAdapter("Chat")])
        assert (await readiness(server))[0] == 200

        await asyncio.to_thread(switch, True)
        refused_after = await until_status(server, 503)
        _, body = await readiness(server)
        await asyncio.to_thread(switch, False)
        recovered_after = await until_status(server, 200)
    finally:
        await asyncio.to_thread(switch, False)
        admin.dispose()
        await server.close()
        runtime.close()

    assert refused_after < 10
    assert recovered_after < 10
    assert body["checks"]["database"].startswith("read-only (")
    assert "read-only transaction" in body["checks"]["database"]


# --- the real adapters -----------------------------------------------------------------------


async def test_readyz_follows_the_real_discord_gateway(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    runtime = bootstrap(
        discord_settings(fake, f"sqlite:///{tmp_path / 'coach.db'}"), clock=ManualClock(MONDAY)
    )
    server = OpsServer(runtime, "127.0.0.1", 0, database_timeout=DB_TIMEOUT, probe_cache_seconds=0)
    adapter = DiscordAdapter(runtime)
    try:
        await server.start()
        server.watch([adapter])
        assert (await readiness(server))[1]["checks"]["Discord"] == "not connected"
        await adapter.start()
        assert (await readiness(server))[0] == 200

        await fake.kick(4004)  # authentication failed: discord.py gives up
        await wait_until(lambda: not adapter.connected())

        status, body = await readiness(server)
        assert (status, body["not_ready"]) == (503, ["Discord"])
    finally:
        await adapter.close()
        await server.close()
        runtime.close()
        await fake.stop()


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.add_workspace("T1", "Writers Guild")
    fake.add_user("T1", "U1", "Europe/Berlin", "Ana")
    await fake.start()
    yield fake
    await fake.close()


async def test_slack_http_mode_is_served_on_the_shared_server(
    tmp_path: Path, slack_fake: FakeSlack
) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'coach.db'}",
        slack_bot_token=slack_fake.workspace("T1").bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=slack_fake.base_url,
    )
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    server = OpsServer(runtime, "127.0.0.1", 0, database_timeout=DB_TIMEOUT, probe_cache_seconds=0)
    adapter = SlackAdapter(runtime, server=server)
    try:
        await server.start()
        server.watch([adapter])
        await adapter.start()
        assert adapter.http_port == server.port
        assert await readiness(server) == (
            200,
            {"status": "ready", "checks": {"database": "ok", "Slack (HTTP mode)": "ok"}},
        )
        response_url = slack_fake.new_response_url()
        body = form_body(
            slash_command("/goal", "1 post", team="T1", user="U1", response_url=response_url)
        )
        answer = await post_signed(
            f"http://127.0.0.1:{server.port}/slack/events",
            body,
            "application/x-www-form-urlencoded",
        )
        assert answer.status == 200
        responses = slack_fake.responses_to(response_url)
        await wait_until(lambda: responses)
        assert responses[0]["text"].startswith("Goal set: 1 post a week.")

        await adapter.close()

        assert (await get(server, "/slack/events", "POST"))[0] == 404
        status, body_json = await readiness(server)
        assert (status, body_json["not_ready"]) == (503, ["Slack (HTTP mode)"])
    finally:
        await adapter.close()
        await server.close()
        runtime.close()


async def test_the_socket_mode_adapter_is_not_ready_while_its_websocket_is_down(
    tmp_path: Path, slack_fake: FakeSlack
) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'coach.db'}",
        slack_bot_token=slack_fake.workspace("T1").bot_token,
        slack_app_token=slack_fake.add_app_token(),
        slack_api_base_url=slack_fake.base_url,
    )
    runtime = bootstrap(settings, clock=ManualClock(MONDAY))
    adapter = SlackAdapter(runtime)
    try:
        await adapter.start()
        await slack_fake.wait_for_socket()
        assert adapter.connected()
        assert adapter.http_port is None  # Socket Mode with one workspace serves no routes

        await slack_fake.drop_socket()
        await wait_until(lambda: not adapter.connected())
    finally:
        await adapter.close()
        runtime.close()
    assert not adapter.connected()


# --- the real process --------------------------------------------------------------------------


async def test_habit_coach_run_serves_the_probes_on_the_port_it_bound(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    env = run_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE_URL=fake.api_base_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        HTTP_PORT="0",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = None
        async with asyncio.timeout(30):
            while port is None:
                line = (await process.stdout.readline()).decode()
                assert line, "the process ended before serving HTTP"
                if line.startswith("habit-coach: HTTP is served on port "):
                    port = int(line.rsplit(" ", 1)[1].rstrip(".\n"))
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as answer:
                assert answer.status == 200
            async with session.get(f"{base}/readyz") as answer:
                assert (answer.status, await answer.json()) == (
                    200,
                    {"status": "ready", "checks": {"database": "ok", "Discord": "ok"}},
                )
            async with session.get(f"{base}/metrics") as answer:
                names = {f.name for f in text_string_to_metric_families(await answer.text())}
                assert "habit_coach_build_info" in names

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake.stop()
