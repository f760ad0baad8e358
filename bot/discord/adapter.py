"""The Discord adapter: a discord.py client sharing the process's event loop with the others.

It logs in, registers the slash commands when they changed (in the development guild when one
is set, globally otherwise), connects the gateway as a background task and serves interactions;
its sender delivers nudges and check-ins as DMs. No privileged intents are needed.

Sharding: the client holds the shards DISCORD_SHARD_IDS of DISCORD_SHARD_COUNT (all of them when
only the count is set, as many as Discord recommends when neither is), so replicas split the
gateway. DMs are REST, so every replica delivers nudges; only the one holding shard 0 (which
also gets every DM interaction) registers the commands, which are global.

Only a refused token or a gateway that cannot connect stops the start: a failed command sync is
a warning, because the commands registered before keep working and the other adapters of the
process must not go down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.adapters import AdapterError
from bot.discord.commands import build_tree
from bot.discord.interactions import DEFER_AFTER, InteractionRouter
from bot.discord.sender import MAX_RATELIMIT_WAIT, DiscordPacing, DiscordSender
from bot.runtime import Runtime
from habits.delivery import Sender
from habits.model import Platform

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 60.0
SYNC_TIMEOUT = 30.0  # discord.py retries a 5xx for ~16 s; then start serving anyway
COMMANDS_RECORD = "discord-commands"  # runtime record, keyed by application id
DISCORD_API = "https://discord.com/api/v10"


def _first_line(exc: BaseException) -> str:
    """A database error's message without the SQL and the link SQLAlchemy append."""
    lines = str(exc).splitlines()
    return lines[0] if lines else ""


class CoachClient(discord.AutoShardedClient):
    """discord.py's sharded client with the coach's commands and interaction router.

    With no shard count discord.py asks Discord how many shards to run (GET /gateway/bot) and
    holds them all; with ``shard_ids`` it holds only those of ``shard_count``.
    """

    def __init__(
        self,
        router: InteractionRouter,
        *,
        shard_count: int | None = None,
        shard_ids: Sequence[int] | None = None,
        **options: Any,
    ):
        # The coach never joins voice: discord.py's "voice will NOT be supported" warnings
        # about PyNaCl and davey would only alarm whoever reads the log.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        if shard_ids is not None:  # discord.py wants it absent, not None, when not given
            options["shard_ids"] = list(shard_ids)
        super().__init__(
            intents=discord.Intents(guilds=True),  # interactions need no intent at all
            chunk_guilds_at_startup=False,
            shard_count=shard_count,
            **options,
        )
        # discord.py raises its max_ratelimit_timeout option to at least 30 s; the coach wants a
        # shorter in-place wait, so a DM never holds the shared delivery loop for long (longer
        # limits come back as RateLimited and go to the loop as a retry). Set before the first
        # request: each rate-limit bucket copies it when created.
        self.http.max_ratelimit_timeout = MAX_RATELIMIT_WAIT
        self.router = router
        self.tree = build_tree(self, router)
        self.tree.error(router.on_command_error)
        self.connected = asyncio.Event()  # set while every shard held is connected
        self._shards_up: set[int] = set()

    def held_shards(self) -> list[int]:
        """The shards this client holds (known once the gateway started: the count may come
        from Discord)."""
        if self.shard_ids is not None:
            return list(self.shard_ids)
        return list(range(self.shard_count or 0))

    async def on_shard_connect(self, shard_id: int) -> None:
        # The shard's READY was processed: its interactions are served from now on.
        self._shard_changed(shard_id, up=True)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shard_changed(shard_id, up=True)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shard_changed(shard_id, up=False)

    def _shard_changed(self, shard_id: int, *, up: bool) -> None:
        if up:
            self._shards_up.add(shard_id)
        else:
            self._shards_up.discard(shard_id)
        held = self.held_shards()
        if held and self._shards_up.issuperset(held):
            self.connected.set()
        else:
            self.connected.clear()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Slash commands and autocomplete go through the tree; clicks and forms come here.
        await self.router.route(interaction)


def commands_fingerprint(tree: discord.app_commands.CommandTree, guild_id: int | None) -> str:
    """A hash of exactly what ``tree.sync`` would PUT, and where to."""
    guild = None if guild_id is None else discord.Object(id=guild_id)
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    document = {"target": guild_id, "commands": payload}
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


class DiscordAdapter:
    """Discord for `habit-coach run` (see :class:`bot.adapters.ChatAdapter`)."""

    platform: str = Platform.DISCORD
    name: str = "Discord"

    def __init__(
        self,
        runtime: Runtime,
        *,
        defer_after: float = DEFER_AFTER,
        connect_timeout: float = CONNECT_TIMEOUT,
        send_timeout: float | None = None,
    ):
        self.runtime = runtime
        self.connect_timeout = connect_timeout
        settings = runtime.settings
        share = settings.discord_pacing_share
        self._sender = DiscordSender(
            settings.send_timeout_seconds if send_timeout is None else send_timeout,
            pacing=DiscordPacing(
                settings.discord_requests_per_second * share,
                max(1, round(settings.discord_invalid_request_budget * share)),
            ),
            on_rate_limited=runtime.rate_limit_counter(Platform.DISCORD),
        )
        self.router = InteractionRouter(runtime, defer_after)
        self.client: CoachClient | None = None
        self._gateway: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._restore: list[tuple[type, str, object, object]] = []

    @property
    def sender(self) -> Sender:
        return self._sender

    async def start(self) -> None:
        settings = self.runtime.settings
        if settings.discord_token is None:
            raise AdapterError("DISCORD_TOKEN is not set.")
        self._point_at_overrides()
        self.client = client = CoachClient(
            self.router,
            shard_count=settings.discord_shard_count,
            shard_ids=settings.discord_shard_ids,
        )
        self._sender.client = client
        try:
            await self._login(client, settings.discord_token.get_secret_value())
            if self.syncs_commands:
                await self._sync_commands(client)
            else:
                log.info(
                    "not registering the slash commands: the replica holding shard 0 does "
                    "(this one holds shards %s)",
                    ", ".join(str(shard) for shard in settings.discord_shard_ids or ()),
                )
            self._gateway = asyncio.create_task(client.connect(), name="discord-gateway")
            await self._wait_connected(client, self._gateway)
        except BaseException:
            await self.close()
            raise

    @property
    def syncs_commands(self) -> bool:
        """Whether this replica registers the slash commands: only the one holding shard 0.

        Commands are global, so one replica is enough, and replicas starting together must
        not race each other to the same PUT (Discord limits command creates per day).
        Shard 0 is held exactly once in a correct deployment, and it is where DMs arrive.
        """
        shard_ids = self.runtime.settings.discord_shard_ids
        return shard_ids is None or 0 in shard_ids

    async def _login(self, client: CoachClient, token: str) -> None:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise AdapterError(
                "Discord refused DISCORD_TOKEN (401 Unauthorized). Copy the bot token again "
                "from the Developer Portal (your application → Bot → Reset Token)."
            ) from None
        except discord.HTTPException as exc:
            raise AdapterError(
                f"Discord answered {exc.status} while logging in: {exc.text}"
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AdapterError(f"cannot reach Discord's API: {exc}") from None

    async def _sync_commands(self, client: CoachClient) -> None:
        """Register the commands if they differ from the last registration; never fatal.

        Discord keeps registered commands, so a start whose commands (and target) are the ones
        registered last time skips the PUT; the fingerprint lives in the runtime's records, so
        it holds across restarts and replicas.
        """
        guild_id = self.runtime.settings.discord_dev_guild_id
        guild = None if guild_id is None else discord.Object(id=guild_id)
        if guild is not None:
            client.tree.copy_global_to(guild=guild)
        where = "globally" if guild_id is None else f"in server {guild_id} (DISCORD_DEV_GUILD_ID)"
        key = str(client.application_id)
        fingerprint = commands_fingerprint(client.tree, guild_id)
        stored = await self._stored_commands(key, where)
        if stored is not None and stored.get("fingerprint") == fingerprint:
            log.info("slash commands unchanged since the last registration %s", where)
            return
        try:
            async with asyncio.timeout(SYNC_TIMEOUT):
                synced = await client.tree.sync(guild=guild)
        except discord.Forbidden as exc:
            log.warning(
                "could not register the slash commands %s: %s. Invite the bot with the "
                "applications.commands scope. Serving with the commands registered before.",
                where,
                exc.text,
            )
        except discord.RateLimited as exc:
            log.warning(
                "Discord rate-limited registering the slash commands %s (retry after %.0f s); "
                "serving with the commands registered before, the next start tries again.",
                where,
                exc.retry_after,
            )
        except discord.HTTPException as exc:
            log.warning(
                "Discord answered %s registering the slash commands %s: %s. Serving with the "
                "commands registered before; the next start tries again.",
                exc.status,
                where,
                exc.text,
            )
        except TimeoutError:
            log.warning(
                "Discord did not answer within %.0f s registering the slash commands %s; "
                "serving with the commands registered before, the next start tries again.",
                SYNC_TIMEOUT,
                where,
            )
        except (aiohttp.ClientError, OSError) as exc:
            log.warning(
                "could not reach Discord to register the slash commands %s (%r); serving with "
                "the commands registered before, the next start tries again.",
                where,
                exc,
            )
        else:
            log.info("registered %d slash commands %s", len(synced), where)
            record = {"fingerprint": fingerprint, "target": guild_id, "count": len(synced)}
            await self._remember_commands(key, record, where)

    # The records are only a shortcut past an unneeded PUT: a database error there (another
    # replica writing the same record, a lost connection) costs one more sync next start, and
    # must never stop this adapter, or the process around it.

    async def _stored_commands(self, key: str, where: str) -> dict[str, Any] | None:
        try:
            return await self.runtime.call(self.runtime.records.get, COMMANDS_RECORD, key)
        except Exception as exc:
            log.warning(
                "could not read which slash commands were registered %s (%s: %s); "
                "registering them again.",
                where,
                type(exc).__name__,
                _first_line(exc),
            )
            return None

    async def _remember_commands(self, key: str, record: dict[str, Any], where: str) -> None:
        try:
            await self.runtime.call(self.runtime.records.put, COMMANDS_RECORD, key, record)
        except Exception as exc:
            log.warning(
                "could not record the slash commands registered %s (%s: %s); serving anyway, "
                "the next start registers them again.",
                where,
                type(exc).__name__,
                _first_line(exc),
            )

    async def _wait_connected(self, client: CoachClient, gateway: asyncio.Task[None]) -> None:
        connected = asyncio.ensure_future(client.connected.wait())
        try:
            done, _ = await asyncio.wait(
                {connected, gateway},
                timeout=self.connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            connected.cancel()
        if connected in done:
            log.info(
                "holding Discord shards %s of %s",
                ", ".join(str(shard) for shard in client.held_shards()),
                client.shard_count,
            )
            return
        if gateway in done:
            error = gateway.exception()
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise AdapterError(
                    "Discord asked for privileged intents, which the coach never needs."
                )
            if isinstance(error, discord.ConnectionClosed) and error.code == 4004:
                raise AdapterError("Discord's gateway refused DISCORD_TOKEN (4004).")
            if isinstance(error, discord.ConnectionClosed) and error.code == 4010:
                raise AdapterError(
                    "Discord refused the shard (4010 Invalid shard): check DISCORD_SHARD_IDS "
                    "and DISCORD_SHARD_COUNT."
                )
            if isinstance(error, discord.ConnectionClosed) and error.code == 4011:
                raise AdapterError(
                    "Discord needs more shards for this many servers (4011 Sharding required): "
                    "raise DISCORD_SHARD_COUNT, or leave it unset to let Discord choose."
                )
            if isinstance(error, discord.GatewayNotFound):
                raise AdapterError(
                    "Discord did not say where its gateway is (GET /gateway/bot failed); "
                    "try again shortly."
                )
            raise AdapterError(f"the Discord gateway closed before it was ready: {error!r}")
        raise AdapterError(
            f"the Discord gateway did not get ready within {self.connect_timeout:.0f} s."
        )

    def _point_at_overrides(self) -> None:
        """Aim discord.py at the tests' fake Discord, only when the override settings ask.

        Set on every start (not at import) because ``discord.http._set_api_version`` rewrites
        ``Route.BASE``; production leaves both settings unset and talks to discord.com. The
        previous values come back on close, so nothing else in the process stays redirected.
        """
        settings = self.runtime.settings
        route, gateway = discord.http.Route, DiscordWebSocket
        if settings.discord_api_base_url:
            base = settings.discord_api_base_url.rstrip("/")
            self._restore.append((route, "BASE", route.BASE, base))
            route.BASE = base
        if settings.discord_gateway_url:
            url = yarl.URL(settings.discord_gateway_url)
            self._restore.append((gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY, url))
            gateway.DEFAULT_GATEWAY = url

    def _restore_defaults(self) -> None:
        while self._restore:
            owner, name, previous, ours = self._restore.pop()
            if getattr(owner, name) == ours:  # unless someone else redirected it since
                setattr(owner, name, previous)

    def connected(self) -> bool:
        """Every shard held is connected and the client is not closed (for /readyz).

        Not ``is_ready()``: discord.py keeps that true while a shard reconnects.
        """
        client = self.client
        return client is not None and not client.is_closed() and client.connected.is_set()

    async def wait_closed(self) -> None:
        closed = asyncio.ensure_future(self._closed.wait())
        waiting: set[asyncio.Future[Any]] = {closed}
        if self._gateway is not None:
            waiting.add(self._gateway)
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if self._gateway is not None and self._gateway.done() and not self._gateway.cancelled():
            error = self._gateway.exception()
            if error is not None:
                log.error("the Discord gateway stopped: %r", error)

    async def close(self) -> None:
        self._closed.set()
        client, gateway = self.client, self._gateway
        if client is not None and not client.is_closed():
            await client.close()
        if gateway is not None:
            if not gateway.done():
                gateway.cancel()
            with contextlib.suppress(BaseException):
                await gateway
        self._restore_defaults()
