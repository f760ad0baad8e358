"""A protocol-faithful fake Discord on 127.0.0.1: REST under /api/v10 and a gateway websocket.

The real discord.py client of the adapter talks to it as it would to discord.com. The fake records
every request, answers the way Discord does (exact ``application/json`` content type, interaction
callback bodies, 403/50007 for closed DMs, 429 with ``Via`` and ``retry_after``), and lets a test
inject gateway events and wait for what the bot sent back. Each trap it reproduces is one the
real discord.py client falls into against a fake that is less strict.

It also refuses what Discord refuses and a bot could plausibly send: a second initial answer to
one interaction (400, code 40060), a message that is empty (50006) or longer than 2,000
characters (50035), and commands that break Discord's cheap checks (50035). Tests can inject
failures (any status and code), 429s and stalls per path, and replay an already delivered
interaction after a RESUME, as Discord's gateway may.

The gateway is shard-aware: several sessions (one per replica) may be connected at once, each
holding the shard its IDENTIFY named, and events reach only the session Discord would send them
to (a guild's shard, shard 0 for DMs). GET /gateway/bot recommends a shard count.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

DEFAULT_TOKEN = "fake-bot-token"
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
EPHEMERAL = 64
MAX_CONTENT = 2000
INITIAL_CALLBACKS = {4, 5, 6, 7, 8, 9}  # every callback type that is an interaction's first answer
NAME_RE = re.compile(r"[-_\w]{1,32}")


@dataclass
class Recorded:
    """One REST request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field → (name, bytes)
    authorized: bool = False


@dataclass
class Callback:
    """The bot's answer to an interaction (POST /interactions/{id}/{token}/callback)."""

    interaction_id: str
    token: str
    type: int
    data: dict[str, Any]
    files: dict[str, tuple[str, bytes]]

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)

    @property
    def custom_ids(self) -> list[str]:
        return custom_ids(self.data.get("components") or [])


def custom_ids(components: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for component in components:
        if "custom_id" in component:
            found.append(component["custom_id"])
        found += custom_ids(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            found += custom_ids([component["component"]])
    return found


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json": with "; charset=utf-8" discord.py treats the body as text.
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


SESSION_START_TOTAL = 1000  # IDENTIFYs a bot may send per day
SESSION_START_RESET_MS = 86_400_000
MAX_GUILDS_PER_SHARD = 2500


def shard_of(guild_id: int | None, count: int) -> int:
    """Discord's routing rule: a guild's shard; DMs (no guild) belong to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % count


def guild_on_shard(shard: int, count: int, nth: int = 0) -> int:
    """A snowflake-sized guild id that Discord routes to ``shard`` of ``count``."""
    timestamp = (1_150_000_000_000_000_000 >> 22) + nth * count
    return (timestamp + (shard - timestamp) % count) << 22


def _valid_shard(value: object) -> tuple[int, int] | None:
    """IDENTIFY's ``shard`` as ``(id, count)``, or None where Discord closes with 4010."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    shard, count = value
    if not (isinstance(shard, int) and isinstance(count, int)) or not 0 <= shard < count:
        return None
    return shard, count


@dataclass
class GatewaySession:
    """One IDENTIFYed gateway session: the shard it holds and what it was sent."""

    session_id: str
    shard: tuple[int, int]  # (id, count)
    ws: web.WebSocketResponse | None
    events: list[dict[str, Any]] = field(default_factory=list)  # every dispatch, for RESUME
    replay: list[dict[str, Any]] = field(default_factory=list)  # sent again on RESUME
    seq: int = 0

    def holds(self, guild_id: int | None) -> bool:
        return shard_of(guild_id, self.shard[1]) == self.shard[0]

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed


class FakeDiscord:
    def __init__(self, token: str = DEFAULT_TOKEN):
        self.token = token
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self.application_id = str(self.snowflake())
        self.bot_user = {
            "id": self.application_id,
            "username": "Habit Coach",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
        }
        self.requests: list[Recorded] = []
        self.commands: dict[str | None, list[dict[str, Any]]] = {}  # guild id (None: global)
        self.callbacks: dict[str, list[Callback]] = {}  # interaction id → answers
        self.followups: dict[str, list[Recorded]] = {}  # interaction token → follow-ups
        self.edits: dict[str, list[Recorded]] = {}  # interaction token → edits of @original
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel id → messages sent
        self.dm_channels: dict[str, str] = {}  # user id → DM channel id
        self.closed_dms: set[str] = set()
        self.rate_limits: list[tuple[str, float, int]] = []  # (path prefix, retry_after, times)
        self.failures: list[tuple[str, str, int, dict[str, Any], int]] = []  # see fail()
        self.stalls: dict[str, float] = {}  # path prefix → seconds before answering
        self.limits: RestLimits | None = None  # Discord's REST limits, when a test enforces them
        self.refused_callbacks: dict[str, list[dict[str, Any]]] = {}  # interaction id → errors
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.sessions: dict[str, GatewaySession] = {}  # resumable sessions, by id
        self.routes: list[tuple[str, dict[str, Any], list[tuple[int, int]]]] = []  # see dispatch
        self.guilds: list[int] = []  # the bot's servers: READY and GUILD_CREATE, by shard
        self.recommended_shards = 1  # GET /gateway/bot's "shards"
        self.session_starts_remaining = SESSION_START_TOTAL
        self.max_guilds_per_shard = MAX_GUILDS_PER_SHARD  # more: IDENTIFY closes with 4011
        self._latest: GatewaySession | None = None
        self._stopping = asyncio.Event()
        self._sockets: set[web.WebSocketResponse] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/api/v10/gateway/bot", self._gateway_bot)  # before the catch-all
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._stopping.set()  # ends every stall
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def snowflake(self) -> int:
        return next(self._ids)

    # --- waiting ---------------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], object], within: float = 5.0) -> None:
        """Wait (at most ``within`` seconds) until ``predicate`` holds after something happened."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    # --- knobs -----------------------------------------------------------------------------------

    def close_dms(self, user_id: int | str) -> None:
        """The user's privacy settings refuse DMs from the bot: 403, code 50007."""
        self.closed_dms.add(str(user_id))

    def rate_limit(self, path_prefix: str, retry_after: float, times: int = 1) -> None:
        """The next ``times`` requests whose path starts with ``path_prefix`` get a 429."""
        self.rate_limits.append((path_prefix, retry_after, times))

    def open_dms(self, user_id: int | str) -> None:
        self.closed_dms.discard(str(user_id))

    def fail(
        self,
        method: str,
        path_prefix: str,
        status: int,
        code: int = 0,
        message: str = "",
        times: int = 1,
    ) -> None:
        """The next ``times`` matching requests get ``status`` with Discord's error body."""
        body = {"message": message or f"{status}: injected", "code": code}
        self.failures.append((method, path_prefix, status, body, times))

    def stall(self, path_prefix: str, seconds: float) -> None:
        """Requests whose path starts with ``path_prefix`` are answered ``seconds`` late."""
        self.stalls[path_prefix] = seconds

    def enforce_limits(self, per_second: int = 50, route_limit: int = 50) -> RestLimits:
        """From now on, enforce Discord's global limit per bot (``per_second`` requests in any
        second, across all REST requests) and a per-route bucket, and count what Discord counts."""
        self.limits = RestLimits(per_second, route_limit)
        return self.limits

    def requests_to(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def dms_to(self, user_id: int | str) -> list[dict[str, Any]]:
        channel = self.dm_channels.get(str(user_id))
        return list(self.messages.get(channel, [])) if channel else []

    # --- REST ------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body, files = await self._read_body(request)
        recorded = Recorded(
            request.method,
            path,
            dict(request.query),
            body,
            files,
            request.headers.get("Authorization") == f"Bot {self.token}",
        )
        self.requests.append(recorded)
        try:
            return await self._limited_answer(request.method, path, recorded)
        finally:
            await self._notify()

    async def _limited_answer(self, method: str, path: str, rec: Recorded) -> web.Response:
        limits = self.limits
        if limits is None:
            return await self._answer(method, path, rec)
        response = limits.refuse(method, path) or await self._answer(method, path, rec)
        limits.answered(method, path, response)
        return response

    async def _read_body(self, request: web.Request) -> tuple[Any, dict[str, tuple[str, bytes]]]:
        if not request.can_read_body:
            return None, {}
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: dict[str, tuple[str, bytes]] = {}
            reader = await request.multipart()
            async for part in reader:
                name = part.name or ""  # type: ignore[union-attr]
                content = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    body = json.loads(content)
                else:
                    files[name] = (part.filename or "", bytes(content))  # type: ignore[union-attr]
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), {}

    def _take_failure(self, method: str, path: str) -> web.Response | None:
        for index, (wanted, prefix, status, body, times) in enumerate(self.failures):
            if method == wanted and path.startswith(prefix):
                if times <= 1:
                    del self.failures[index]
                else:
                    self.failures[index] = (wanted, prefix, status, body, times - 1)
                return _json(body, status)
        return None

    async def _stall(self, path: str) -> None:
        seconds = max((s for p, s in self.stalls.items() if path.startswith(p)), default=0.0)
        if seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    def _take_rate_limit(self, path: str) -> float | None:
        for index, (prefix, retry_after, times) in enumerate(self.rate_limits):
            if path.startswith(prefix):
                if times <= 1:
                    del self.rate_limits[index]
                else:
                    self.rate_limits[index] = (prefix, retry_after, times - 1)
                return retry_after
        return None

    async def _answer(self, method: str, path: str, rec: Recorded) -> web.Response:
        parts = path.strip("/").split("/")
        await self._stall(path)
        failure = self._take_failure(method, path)
        if failure is not None:
            return failure
        # Interaction callbacks and webhooks carry the token in the path, not a header.
        if parts[0] == "interactions" and method == "POST" and len(parts) == 4:
            return self._interaction_callback(parts[1], parts[2], rec)
        if parts[0] == "webhooks" and len(parts) >= 3:
            return self._webhook(method, parts, rec)
        if not rec.authorized:
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        retry_after = self._take_rate_limit(path)
        if retry_after is not None:
            return _json(
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": False,
                },
                429,
                {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after)))},
            )
        if method == "GET" and path == "/users/@me":
            return _json(self.bot_user)
        if method == "GET" and path == "/oauth2/applications/@me":
            return _json(self._application())
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            guild = parts[3] if len(parts) == 5 and parts[2] == "guilds" else None
            return self._sync_commands(guild, rec.body or [])
        if method == "POST" and path == "/users/@me/channels":
            return self._open_dm(str(rec.body["recipient_id"]))
        if method == "POST" and parts[0] == "channels" and parts[-1] == "messages":
            return self._channel_message(parts[1], rec)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.application_id,
            "name": "Habit Coach",
            "icon": None,
            "description": "Start small, start now.",
            "rpc_origins": [],
            "bot_public": False,
            "bot_require_code_grant": False,
            "bot": self.bot_user,
            "owner": {
                "id": str(self.snowflake()),
                "username": "owner",
                "discriminator": "0",
                "avatar": None,
            },
            "team": None,
            "verify_key": "00" * 32,
            "flags": 0,
            "summary": "",
        }

    def _sync_commands(self, guild: str | None, payload: list[dict[str, Any]]) -> web.Response:
        problems = command_problems(payload)
        if problems:
            return _invalid_form(problems)
        self.commands[guild] = payload
        echoed = []
        for command in payload:
            item = {
                "id": str(self.snowflake()),
                "application_id": self.application_id,
                "version": str(self.snowflake()),
                "type": 1,
                "default_member_permissions": None,
                **command,
            }
            if guild is not None:
                item["guild_id"] = guild
            echoed.append(item)
        return _json(echoed)

    def _open_dm(self, user_id: str) -> web.Response:
        channel = self.dm_channels.setdefault(user_id, str(self.snowflake()))
        return _json(
            {
                "id": channel,
                "type": 1,
                "last_message_id": None,
                "recipients": [self.user(user_id)],
            }
        )

    def _channel_message(self, channel_id: str, rec: Recorded) -> web.Response:
        owner = next((u for u, c in self.dm_channels.items() if c == channel_id), None)
        if owner is not None and owner in self.closed_dms:
            return _json({"message": "Cannot send messages to this user", "code": 50007}, 403)
        refused = _message_refused(rec.body or {}, rec.files)
        if refused is not None:
            return refused
        body = rec.body or {}
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            # Discord answers a repeated nonce (within minutes) with the message it already made.
            for earlier in self.messages.get(channel_id, []):
                if earlier.get("nonce") == body["nonce"]:
                    return _json(earlier)
        message = self.message(channel_id, body, rec.files)
        self.messages.setdefault(channel_id, []).append(message)
        return _json(message)

    def message(
        self,
        channel_id: str,
        data: dict[str, Any],
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> dict[str, Any]:
        """A full message object, as Discord returns it and as interactions carry it."""
        attachments = [
            {
                "id": str(self.snowflake()),
                "filename": name,
                "size": len(content),
                "url": f"https://cdn.example/{name}",
                "proxy_url": f"https://cdn.example/{name}",
            }
            for name, content in (files or {}).values()
        ]
        return {
            "id": str(self.snowflake()),
            "channel_id": channel_id,
            "type": 0,
            "content": data.get("content") or "",
            "author": self.bot_user,
            "embeds": data.get("embeds") or [],
            "components": data.get("components") or [],
            "attachments": attachments,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "flags": int(data.get("flags") or 0),
            **({"nonce": data["nonce"]} if data.get("nonce") is not None else {}),
        }

    def _interaction_callback(self, interaction_id: str, token: str, rec: Recorded) -> web.Response:
        body = rec.body or {}
        answer = Callback(
            interaction_id, token, int(body["type"]), body.get("data") or {}, rec.files
        )
        if any(c.type in INITIAL_CALLBACKS for c in self.callbacks.get(interaction_id, [])):
            error = {"message": "Interaction has already been acknowledged.", "code": 40060}
            self.refused_callbacks.setdefault(interaction_id, []).append(error)
            return _json(error, 400)
        if answer.type in (4, 7):
            refused = _message_refused(answer.data, rec.files, may_be_empty=answer.type == 7)
            if refused is not None:
                return refused
        self.callbacks.setdefault(interaction_id, []).append(answer)
        resource: dict[str, Any] = {"type": answer.type}
        interaction: dict[str, Any] = {"id": interaction_id, "type": 2}
        if answer.type in (4, 7):
            message = self.message("0", answer.data, rec.files)
            resource["message"] = message
            interaction.update(
                response_message_id=message["id"],
                response_message_loading=False,
                response_message_ephemeral=answer.ephemeral,
            )
        elif answer.type == 5:
            interaction.update(
                response_message_loading=True,
                response_message_ephemeral=answer.ephemeral,
            )
        return _json({"interaction": interaction, "resource": resource})

    def _webhook(self, method: str, parts: list[str], rec: Recorded) -> web.Response:
        token = parts[2]
        refused = _message_refused(rec.body or {}, rec.files, may_be_empty=method == "PATCH")
        if refused is not None:
            return refused
        if method == "POST" and len(parts) == 3:
            self.followups.setdefault(token, []).append(rec)
            return _json(self.message("0", rec.body or {}, rec.files))
        if method == "PATCH" and len(parts) == 5 and parts[3] == "messages":
            self.edits.setdefault(token, []).append(rec)
            return _json(self.message("0", rec.body or {}, rec.files))
        return _json({"message": "Unknown Webhook", "code": 10015}, 404)

    # --- gateway ---------------------------------------------------------------------------------
    #
    # Each IDENTIFY opens a session holding one shard ``[id, count]`` (``[0, 1]`` when it names
    # none), and several sessions may be connected at once: one per replica. Events follow
    # Discord's routing: a guild's events go to the session whose shard is
    # ``(guild_id >> 22) % count``, and everything outside a guild (DMs and their
    # interactions) to shard 0 only. An event no session holds is dropped, as Discord drops it.

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot: where to connect, the recommended shard count, the start limits."""
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        self.requests.append(
            Recorded("GET", "/gateway/bot", dict(request.query), None, {}, authorized)
        )
        if not authorized:
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        return _json(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": SESSION_START_TOTAL,
                    "remaining": self.session_starts_remaining,
                    "reset_after": SESSION_START_RESET_MS,
                    "max_concurrency": 1,
                },
            }
        )

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.gateway_queries.append(dict(request.query))
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                await self._on_gateway_frame(ws, json.loads(frame.data))
        finally:
            self._sockets.discard(ws)
            for session in self.sessions.values():
                if session.ws is ws:
                    session.ws = None  # resumable until kicked, as on Discord
            await self._notify()
        return ws

    async def _on_gateway_frame(self, ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            await ws.send_str(json.dumps({"op": 11}))
        elif op == 2:
            await self._identify(ws, data)
        elif op == 6:
            self.resumes.append(data)
            session = self.sessions.get(str(data.get("session_id")))
            if session is None or data.get("token") != self.token:
                await ws.send_str(json.dumps({"op": 9, "d": False}))
                return
            session.ws = ws
            for event in session.replay:  # delivered before, and delivered again
                await ws.send_str(json.dumps(event))
            session.replay.clear()
            for event in session.events:  # what the bot missed while it was away
                if event["s"] > int(data.get("seq") or 0):
                    await ws.send_str(json.dumps(event))
            await self._send(session, "RESUMED", {})
        await self._notify()

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = _valid_shard(data.get("shard", [0, 1]))
        if shard is None:
            await ws.close(code=4010, message=b"Invalid shard.")
            return
        guilds = [g for g in self.guilds if shard_of(g, shard[1]) == shard[0]]
        if len(guilds) > self.max_guilds_per_shard:
            await ws.close(code=4011, message=b"Sharding required.")
            return
        self.session_starts_remaining -= 1
        session = GatewaySession(f"session-{self.snowflake()}", shard, ws)
        self.sessions[session.session_id] = session
        self._latest = session
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
            "private_channels": [],
            "relationships": [],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
        }
        if "shard" in data:
            ready["shard"] = list(shard)
        await self._send(session, "READY", ready)
        for guild in guilds:
            await self._send(session, "GUILD_CREATE", self.guild(guild))

    async def _send(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        """Send an event (op 0) on one session now, or keep it for its RESUME."""
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        if session.ws is not None and not session.ws.closed:
            await session.ws.send_str(json.dumps(frame))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every session holding its shard (kept for a RESUME if away)."""
        guild = data.get("id") if event.startswith("GUILD_") else data.get("guild_id")
        guild_id = int(guild) if guild is not None else None
        targets = [s for s in self.sessions.values() if s.holds(guild_id)]
        self.routes.append((event, data, [s.shard for s in targets]))
        for session in targets:
            await self._send(session, event, data)

    def shards_that_got(self, interaction_id: str) -> list[tuple[int, int]]:
        """The ``(shard, count)`` of every session an interaction was routed to."""
        return [
            shard
            for event, data, shards in self.routes
            if event == "INTERACTION_CREATE" and data.get("id") == interaction_id
            for shard in shards
        ]

    def _session(self, shard: int | None) -> GatewaySession:
        """The connected session holding ``shard``, or the latest one when no shard is named."""
        if shard is None:
            assert self._latest is not None, "no session"
            return self._latest
        [session] = [s for s in self.sessions.values() if s.shard[0] == shard and s.connected]
        return session

    async def request_reconnect(self, replay: Iterable[str] = (), shard: int | None = None) -> None:
        """op 7: the bot must reconnect to resume_gateway_url and RESUME.

        ``replay`` names interactions the bot already received; their INTERACTION_CREATE
        events are sent again after the RESUME, as Discord's at-least-once gateway may.
        ``shard`` picks the session (default: the latest to identify).
        """
        session = self._session(shard)
        assert session.ws is not None
        wanted = set(replay)
        session.replay = [
            e for e in session.events if e["t"] == "INTERACTION_CREATE" and e["d"]["id"] in wanted
        ]
        ws, session.ws = session.ws, None  # events from now on wait for the RESUME
        await ws.send_str(json.dumps({"op": 7, "d": None}))

    async def kick(self, code: int, shard: int | None = None) -> None:
        """Close a session's connection with a close code, e.g. 4004 (authentication failed)."""
        session = self._session(shard)
        assert session.ws is not None
        ws, session.ws = session.ws, None
        del self.sessions[session.session_id]  # not resumable
        await ws.close(code=code, message=b"kicked")

    @property
    def session_id(self) -> str:
        """The latest session's id, "" once it was kicked (or before any IDENTIFY)."""
        latest = self._latest
        return latest.session_id if latest and latest.session_id in self.sessions else ""

    @property
    def connected(self) -> bool:
        return any(session.connected for session in self.sessions.values())

    def held_shards(self, count: int) -> set[int]:
        """The shards of ``count`` that a connected session holds right now."""
        return {s.shard[0] for s in self.sessions.values() if s.connected and s.shard[1] == count}

    def guild(self, guild_id: int) -> dict[str, Any]:
        """A GUILD_CREATE payload complete enough that discord.py needs no member chunking."""
        return {
            "id": str(guild_id),
            "name": f"Writers {guild_id % 1000}",
            "owner_id": str(self.snowflake()),
            "member_count": 0,
            "members": [],
            "channels": [],
            "threads": [],
            "roles": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "large": False,
            "unavailable": False,
            "joined_at": _now_iso(),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # --- interactions ----------------------------------------------------------------------------

    def user(self, user_id: int | str, name: str = "") -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": name or f"user{user_id}",
            "discriminator": "0",
            "global_name": name or None,
            "avatar": None,
        }

    def interaction(
        self,
        type_: int,
        data: dict[str, Any],
        user_id: int,
        *,
        guild_id: int | None = None,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        interaction_id = str(self.snowflake())
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": type_,
            "token": f"token-{interaction_id}",
            "version": 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "locale": "en-US",
            "app_permissions": "0",
            "entitlements": [],
            "data": data,
        }
        user = self.user(user_id, f"writer{str(user_id)[-2:]}")
        if guild_id is not None:
            channel_id = str(guild_id + 1)
            payload.update(
                guild_id=str(guild_id),
                guild_locale="en-US",
                context=0,
                authorizing_integration_owners={"0": str(guild_id)},
                channel_id=channel_id,
                channel={
                    "id": channel_id,
                    "type": 0,
                    "guild_id": str(guild_id),
                    "name": "writing",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                },
                member={
                    "user": user,
                    "roles": [],
                    "joined_at": _now_iso(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "permissions": "0",
                },
            )
            if type_ in (2, 4) and str(guild_id) in self.commands:
                data["guild_id"] = str(guild_id)  # a guild-scoped command says where it lives
        else:
            channel_id = self.dm_channels.setdefault(str(user_id), str(self.snowflake()))
            payload.update(
                context=1,
                authorizing_integration_owners={"0": "0"},
                channel_id=channel_id,
                channel={"id": channel_id, "type": 1, "recipients": [user]},
                user=user,
            )
        if message is not None:
            payload["message"] = message
        return payload

    async def send_interaction(self, payload: dict[str, Any]) -> str:
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["id"])

    async def answer_to(self, interaction_id: str, within: float = 5.0) -> Callback:
        await self.wait_until(lambda: interaction_id in self.callbacks, within)
        return self.callbacks[interaction_id][0]

    async def followup_to(self, token: str, within: float = 5.0) -> Recorded:
        await self.wait_until(lambda: token in self.followups, within)
        return self.followups[token][0]

    async def slash(
        self,
        user_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        guild_id: int | None = None,
    ) -> Callback:
        """Run a slash command as ``user_id`` and return the bot's answer."""
        option_list = [
            {"name": key, "type": _option_type(value), "value": value}
            for key, value in (options or {}).items()
        ]
        if subcommand is not None:
            option_list = [{"name": subcommand, "type": 1, "options": option_list}]
        data = {
            "id": str(self.snowflake()),
            "name": name,
            "type": 1,
            "options": option_list,
        }
        payload = self.interaction(2, data, user_id, guild_id=guild_id)
        return await self.answer_to(await self.send_interaction(payload))

    async def autocomplete(
        self, user_id: int, name: str, option: str, typed: str
    ) -> list[dict[str, Any]]:
        data = {
            "id": str(self.snowflake()),
            "name": name,
            "type": 1,
            "options": [{"name": option, "type": 3, "value": typed, "focused": True}],
        }
        payload = self.interaction(4, data, user_id)
        answer = await self.answer_to(await self.send_interaction(payload))
        assert answer.type == 8
        return list(answer.data["choices"])

    async def click(self, user_id: int, message: dict[str, Any], custom_id: str) -> Callback:
        """Click the button ``custom_id`` of ``message`` as ``user_id``."""
        assert custom_id in custom_ids(message.get("components") or []), "no such button"
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self.interaction(3, data, user_id, message=message)
        return await self.answer_to(await self.send_interaction(payload))

    async def submit(self, user_id: int, custom_id: str, fields: dict[str, str]) -> Callback:
        """Submit a modal as Discord sends it now: each text input inside a label."""
        components = [
            {"type": 18, "id": index, "component": {"type": 4, "custom_id": key, "value": value}}
            for index, (key, value) in enumerate(fields.items(), start=1)
        ]
        data = {"custom_id": custom_id, "components": components}
        payload = self.interaction(5, data, user_id)
        return await self.answer_to(await self.send_interaction(payload))


def _option_type(value: object) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    return 3


# --- what Discord refuses ------------------------------------------------------------------------


def _message_refused(
    data: dict[str, Any], files: dict[str, tuple[str, bytes]], *, may_be_empty: bool = False
) -> web.Response | None:
    """Discord's answer to a message it will not post; None if it would post it."""
    content = data.get("content") or ""
    if len(content) > MAX_CONTENT:
        return _invalid_form([(("content",), f"Must be {MAX_CONTENT} or fewer in length.")])
    empty = not (content or data.get("embeds") or data.get("components") or files)
    if empty and not may_be_empty and not data.get("attachments"):
        return _json({"message": "Cannot send an empty message", "code": 50006}, 400)
    return None


def command_problems(commands: list[dict[str, Any]]) -> list[tuple[tuple[str, ...], str]]:
    """What Discord's cheap checks find wrong with a bulk command overwrite: (path, message)."""
    problems: list[tuple[tuple[str, ...], str]] = []
    if len(commands) > 100:
        problems.append(((), "Must be 100 or fewer in length."))
    for index, command in enumerate(commands):
        problems += _named_problems(
            command, (str(index),), check_description=command.get("type", 1) == 1
        )
    return problems


def _named_problems(
    item: dict[str, Any], path: tuple[str, ...], *, check_description: bool = True
) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    name = str(item.get("name") or "")
    if not NAME_RE.fullmatch(name) or name != name.lower():
        problems.append(((*path, "name"), "Command name is invalid"))
    description = str(item.get("description") or "")
    if check_description and not 1 <= len(description) <= 100:
        problems.append(((*path, "description"), "Must be between 1 and 100 in length."))
    options = item.get("options") or []
    if len(options) > 25:
        problems.append(((*path, "options"), "Must be 25 or fewer in length."))
    seen_optional = False
    for index, option in enumerate(options):
        where = (*path, "options", str(index))
        problems += _named_problems(option, where)
        if option.get("type") in (1, 2):  # subcommands and groups carry no "required"
            pass
        elif not option.get("required"):
            seen_optional = True
        elif seen_optional:
            problems.append(((*where, "required"), "Required options must come first"))
        choices = option.get("choices") or []
        if len(choices) > 25:
            problems.append(((*where, "choices"), "Must be 25 or fewer in length."))
        for number, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name") or "")) <= 100:
                problems.append(
                    (
                        (*where, "choices", str(number), "name"),
                        "Must be between 1 and 100 in length.",
                    )
                )
    return problems


def _invalid_form(problems: list[tuple[tuple[str, ...], str]]) -> web.Response:
    """400 Invalid Form Body (50035), with Discord's nested ``errors`` object."""
    errors: dict[str, Any] = {}
    for path, message in problems:
        node = errors
        for key in path:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": "BASE_TYPE_BAD_LENGTH", "message": message})
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, 400)


# --- Discord's REST limits (opt-in: FakeDiscord.enforce_limits) ----------------------------------


class RestLimits:
    """A global limit per second over every REST request (sliding, so stricter than Discord),
    a bucket per route and major parameter (1-s windows), and Discord's view of the traffic:
    requests served, 429s and invalid (401/403/429) answers, with monotonic timestamps.

    The 429s carry what discord.py reads: ``Via``, a JSON ``retry_after`` and ``global``, and the
    ``Retry-After``/``X-RateLimit-*`` headers; other answers carry the route bucket's headers.
    """

    def __init__(self, per_second: int = 50, route_limit: int = 50, route_window: float = 1.0):
        self.per_second = per_second
        self.route_limit = route_limit
        self.route_window = route_window
        self.served: list[float] = []
        self.global_429s: list[float] = []
        self.route_429s: list[float] = []
        self.invalid: list[tuple[float, int]] = []  # (when, status)
        self._last_second: deque[float] = deque()
        self._routes: dict[str, tuple[float, int]] = {}  # route key → (window start, count)

    @staticmethod
    def route_key(method: str, path: str) -> str:
        """The route and its major parameter: ``POST /channels/123``, ``POST /users/@me``."""
        return f"{method} " + "/".join(path.split("/")[:3])

    def refuse(self, method: str, path: str) -> web.Response | None:
        """A 429 if this request is over a limit; None (and it is counted) otherwise."""
        now = time.monotonic()
        while self._last_second and self._last_second[0] <= now - 1.0:
            self._last_second.popleft()
        if len(self._last_second) >= self.per_second:
            self.global_429s.append(now)
            return self._too_many(self._last_second[0] + 1.0 - now, is_global=True)
        key = self.route_key(method, path)
        start, count = self._routes.get(key, (now, 0))
        if now - start >= self.route_window:
            start, count = now, 0
        if count >= self.route_limit:
            self.route_429s.append(now)
            return self._too_many(start + self.route_window - now, is_global=False)
        self._routes[key] = (start, count + 1)
        self._last_second.append(now)
        self.served.append(now)
        return None

    def answered(self, method: str, path: str, response: web.Response) -> None:
        now = time.monotonic()
        if response.status in (401, 403, 429):
            self.invalid.append((now, response.status))
        if response.status == 429:
            return
        key = self.route_key(method, path)
        start, count = self._routes.get(key, (now, 0))
        reset_after = max(0.001, start + self.route_window - now)
        response.headers.update(
            {
                "X-RateLimit-Bucket": f"fake-{abs(hash(key.rsplit('/', 1)[0])):x}",
                "X-RateLimit-Limit": str(self.route_limit),
                "X-RateLimit-Remaining": str(max(0, self.route_limit - count)),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            }
        )

    def _too_many(self, retry_after: float, *, is_global: bool) -> web.Response:
        retry_after = max(0.001, retry_after)
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": str(self.route_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                }
            )
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
            "code": 0,
        }
        return _json(body, 429, headers)

    def count_since(self, events: list[float], since: float) -> int:
        return sum(1 for moment in events if moment >= since)

    def invalid_since(self, since: float) -> int:
        return sum(1 for moment, _ in self.invalid if moment >= since)
