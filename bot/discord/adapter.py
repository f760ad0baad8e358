"""The Discord adapter: a discord.py client sharing the process's event loop with the others.

It logs in, registers the slash commands when they changed (in the development guild when one
is set, globally otherwise), connects the gateway as a background task and serves interactions;
its sender delivers nudges and recaps as DMs. No privileged intents are needed.

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
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.adapters import AdapterError
from bot.discord.commands import build_tree
from bot.discord.interactions import DEFER_AFTER, InteractionRouter
from bot.discord.sender import MAX_RATELIMIT_WAIT, SEND_TIMEOUT, DiscordSender
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


class CoachClient(discord.Client):
    """discord.py's client with the coach's commands and interaction router."""

    def __init__(self, router: InteractionRouter, **options: Any):
        # The coach never joins voice: discord.py's "voice will NOT be supported" warnings
        # about PyNaCl and davey would only alarm whoever reads the log.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=discord.Intents(guilds=True),  # interactions need no intent at all
            chunk_guilds_at_startup=False,
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
        self.connected = asyncio.Event()

    async def on_connect(self) -> None:
        # READY (or RESUMED) was processed: interactions are served from now on.
        self.connected.set()

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
        send_timeout: float = SEND_TIMEOUT,
    ):
        self.runtime = runtime
        self.connect_timeout = connect_timeout
        self._sender = DiscordSender(send_timeout)
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
        self.client = client = CoachClient(self.router)
        self._sender.client = client
        try:
            await self._login(client, settings.discord_token.get_secret_value())
            await self._sync_commands(client)
            self._gateway = asyncio.create_task(client.connect(), name="discord-gateway")
            await self._wait_connected(client, self._gateway)
        except BaseException:
            await self.close()
            raise

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
            return
        if gateway in done:
            error = gateway.exception()
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise AdapterError(
                    "Discord asked for privileged intents, which the coach never needs."
                )
            if isinstance(error, discord.ConnectionClosed) and error.code == 4004:
                raise AdapterError("Discord's gateway refused DISCORD_TOKEN (4004).")
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
