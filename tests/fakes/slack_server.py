"""A protocol-faithful fake Slack on 127.0.0.1: the Web API methods the adapter uses, the
``response_url`` sink, file uploads, OAuth code exchange and a Socket Mode websocket.

The real slack_sdk / slack-bolt code talks to it over loopback HTTP and websockets. It records
what it received so tests can assert on it, and has knobs for the failures Slack produces.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

SIGNING_SECRET = "test-signing-secret-not-real"
RESPONSE_URL_USES = 5  # a response_url takes 5 posts (within 30 minutes), then says used_url
HISTORY_MAX_LIMIT = 999  # conversations.history's largest page


@dataclass
class Workspace:
    team_id: str
    name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    enterprise_id: str | None = None  # an Enterprise Grid org's workspace
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> users.info user


@dataclass(frozen=True)
class PostFault:
    """What happens to the next chat.postMessage: Slack keeps the message or not, and then its
    answer is lost — the connection drops, a 503 comes back, or nothing until the fake closes."""

    stored: bool
    answer: str = "disconnect"  # "disconnect", "503" or "hang"


@dataclass(frozen=True)
class ApiCall:
    method: str
    args: dict[str, Any]
    token: str | None
    team_id: str | None


class FakeSlack:
    """Start with ``await fake.start()``; ``base_url`` is what SLACK_API_BASE_URL points at."""

    def __init__(self) -> None:
        self.workspaces: dict[str, Workspace] = {}  # by bot token
        self.app_tokens: set[str] = set()
        self.calls: list[ApiCall] = []
        self.messages: list[dict[str, Any]] = []  # chat.postMessage that succeeded
        self.responses: dict[str, list[dict[str, Any]]] = {}  # response_url id -> bodies
        self.opened_views: list[dict[str, Any]] = []
        self.home_views: list[dict[str, Any]] = []  # views.publish: {"team","user_id","view"}
        self.uploads: dict[str, bytes] = {}
        self.shared_files: list[dict[str, Any]] = []  # files.completeUploadExternal
        self.oauth_codes: dict[str, Workspace] = {}
        self.next_installer = "UINSTALLER"  # the authed_user of the next OAuth install
        # Knobs: users whose DMs fail with an error, and 429s to answer chat.postMessage with.
        self.undeliverable: dict[str, str] = {}
        self.rate_limits: list[int] = []  # Retry-After seconds, one 429 per entry
        # Opt-in limits on chat.postMessage (enforce_limits): a message per channel per
        # interval, at most cap[0] per workspace in any cap[1] seconds; the 429s they sent.
        self.channel_interval: float | None = None
        self.workspace_cap: tuple[int, float] | None = None
        self.limited: list[tuple[float, str, str, str]] = []  # (when, team, channel, scope)
        self._last_post: dict[tuple[str, str], float] = {}
        self._workspace_posts: dict[str, deque[float]] = {}
        self.users_info_gate: asyncio.Event | None = None  # users.info waits until it is set
        self.post_message_gate: asyncio.Event | None = None  # chat.postMessage waits likewise
        # The next chat.postMessage calls fail as listed, one entry each; history refused with
        # this error (e.g. missing_scope: an install without im:history) while it is set.
        self.post_faults: list[PostFault] = []
        self.history_error: str | None = None
        self._closing = asyncio.Event()  # releases the answers held by a "hang" fault
        self.revoked_tokens: set[str] = set()  # bot tokens Slack answers token_revoked for
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self.socket_connections = 0
        self._socket: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- set-up ----------------------------------------------------------------------------------

    def add_workspace(self, team_id: str, name: str = "") -> Workspace:
        workspace = Workspace(
            team_id=team_id,
            name=name or f"Workspace {team_id}",
            bot_token=f"xoxb-test-{team_id}-not-a-real-token",
            bot_user_id=f"UBOT{team_id}",
            bot_id=f"BBOT{team_id}",
        )
        self.workspaces[workspace.bot_token] = workspace
        return workspace

    def add_user(self, team_id: str, user_id: str, tz: str, name: str = "") -> None:
        workspace = self.workspace(team_id)
        workspace.users[user_id] = {
            "id": user_id,
            "team_id": team_id,
            "name": name or user_id.lower(),
            "tz": tz,
            "profile": {"display_name": name or user_id.lower(), "real_name": name},
        }

    def add_app_token(self) -> str:
        token = f"xapp-test-{next(self._ids)}-not-a-real-token"
        self.app_tokens.add(token)
        return token

    def enforce_limits(
        self, channel_interval: float | None = 1.0, workspace_cap: tuple[int, float] | None = None
    ) -> None:
        """Refuse chat.postMessage with a 429 and Retry-After, as Slack does, beyond one message
        per channel per ``channel_interval`` s or ``workspace_cap`` (messages, seconds)."""
        self.channel_interval = channel_interval
        self.workspace_cap = workspace_cap

    def _over_limit(self, team_id: str, channel: str) -> web.Response | None:
        if self.channel_interval is None and self.workspace_cap is None:
            return None
        now = time.monotonic()
        wait, scope = 0.0, ""
        last = self._last_post.get((team_id, channel))
        if self.channel_interval is not None and last is not None:
            wait, scope = last + self.channel_interval - now, "channel"
        posts = self._workspace_posts.setdefault(team_id, deque())
        if self.workspace_cap is not None:
            most, per = self.workspace_cap
            while posts and posts[0] <= now - per:
                posts.popleft()
            if len(posts) >= most and posts[0] + per - now > wait:
                wait, scope = posts[0] + per - now, "workspace"
        if wait > 0:
            self.limited.append((now, team_id, channel, scope))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        self._last_post[(team_id, channel)] = now
        posts.append(now)
        return None

    def workspace(self, team_id: str) -> Workspace:
        return next(w for w in self.workspaces.values() if w.team_id == team_id)

    def pending_install(
        self, team_id: str, name: str = "", enterprise_id: str | None = None
    ) -> str:
        """A workspace that is not installed yet: the code Slack hands the OAuth redirect."""
        workspace = Workspace(
            team_id=team_id,
            name=name or f"Workspace {team_id}",
            bot_token=f"xoxb-test-{team_id}-installed-not-a-real-token",
            bot_user_id=f"UBOT{team_id}",
            bot_id=f"BBOT{team_id}",
            enterprise_id=enterprise_id,
        )
        code = f"code-{team_id}-{next(self._ids)}"
        self.oauth_codes[code] = workspace
        return code

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._closing.set()
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what the tests read ---------------------------------------------------------------------

    def new_response_url(self) -> str:
        key = str(next(self._ids))
        self.responses[key] = []
        return f"{self.url}/respond/{key}"

    def responses_to(self, response_url: str) -> list[dict[str, Any]]:
        return self.responses[response_url.rsplit("/", 1)[1]]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def homes_of(self, team_id: str, user_id: str) -> list[dict[str, Any]]:
        return [
            h["view"] for h in self.home_views if h["team"] == team_id and h["user_id"] == user_id
        ]

    def messages_to(self, team_id: str, user_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["team"] == team_id and m["user"] == user_id]

    def fail_posts(self, count: int, *, stored: bool, answer: str = "disconnect") -> None:
        """The next ``count`` chat.postMessage calls lose their answer (see :class:`PostFault`)."""
        self.post_faults.extend(PostFault(stored, answer) for _ in range(count))

    # --- Web API ---------------------------------------------------------------------------------

    async def _arguments(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        token = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ")
        token = args.pop("token", None) or token
        return args, token

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, token = await self._arguments(request)
        workspace = self.workspaces.get(token or "")
        self.calls.append(ApiCall(method, args, token, workspace.team_id if workspace else None))
        if method == "apps.connections.open":
            if token not in self.app_tokens:
                return _error("invalid_auth")
            return _ok(url=f"ws://127.0.0.1:{self.port}/socket?ticket={uuid.uuid4()}")
        if method == "oauth.v2.access":
            return self._oauth_access(args)
        if token in self.revoked_tokens:
            return _error("token_revoked")
        if workspace is None:
            return _error("invalid_auth" if token else "not_authed")
        if method == "users.info" and self.users_info_gate is not None:
            await self.users_info_gate.wait()
        if method == "chat.postMessage" and self.post_message_gate is not None:
            await self.post_message_gate.wait()
        methods = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "chat.postMessage": self._chat_post_message,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        if method == "chat.postMessage" and self.post_faults:
            return await self._faulty_post(request, workspace, args, self.post_faults.pop(0))
        handler = methods.get(method)
        return _error("unknown_method") if handler is None else handler(workspace, args)

    async def _faulty_post(
        self, request: web.Request, workspace: Workspace, args: dict[str, Any], fault: PostFault
    ) -> web.Response:
        """chat.postMessage whose answer never arrives; the message is kept when ``stored``."""
        if fault.stored:
            answer = self._chat_post_message(workspace, args)
            assert answer.status == 200, "a stored fault needs a message Slack would post"
        if fault.answer == "503":
            return web.Response(status=503, text="<html>Service Unavailable</html>")
        if fault.answer == "hang":
            await self._closing.wait()
        if request.transport is not None:  # (a client that gave up has closed it already)
            request.transport.close()  # the client sees the server disconnect: no answer at all
        return web.Response()

    def _auth_test(self, workspace: Workspace, args: dict[str, Any]) -> web.Response:
        return _ok(
            url=f"https://{workspace.team_id.lower()}.slack.test/",
            team=workspace.name,
            user="habit-coach",
            team_id=workspace.team_id,
            user_id=workspace.bot_user_id,
            bot_id=workspace.bot_id,
            enterprise_id=workspace.enterprise_id,
            is_enterprise_install=False,
        )

    def _users_info(self, workspace: Workspace, args: dict[str, Any]) -> web.Response:
        user = workspace.users.get(str(args.get("user")))
        return _ok(user=user) if user is not None else _error("user_not_found")

    def _chat_post_message(self, workspace: Workspace, args: dict[str, Any]) -> web.Response:
        if self.rate_limits:
            wait = self.rate_limits.pop(0)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        channel = str(args.get("channel", ""))
        user = channel[1:] if channel.startswith("D") else channel
        over = self._over_limit(workspace.team_id, user)
        if over is not None:
            return over
        if user in self.undeliverable:
            return _error(self.undeliverable[user])
        if user not in workspace.users:
            return _error("channel_not_found")
        blocks = _json(args.get("blocks"))
        refused = _refused_message(args.get("text"), blocks)
        if refused:
            return _error(refused)
        metadata = _json(args.get("metadata"))
        if metadata is not None and not _valid_metadata(metadata):
            return _error("invalid_metadata_format")
        ts = f"{time.time():.6f}"
        self.messages.append(
            {
                "team": workspace.team_id,
                "user": user,
                "channel": channel,
                "text": args.get("text"),
                "blocks": blocks or [],
                "metadata": metadata,
                "ts": ts,
            }
        )
        return _ok(channel=f"D{user}", ts=ts, message={"text": args.get("text")})

    def _conversations_open(self, workspace: Workspace, args: dict[str, Any]) -> web.Response:
        user = str(args.get("users", ""))
        if user not in workspace.users:
            return _error("user_not_found")
        return _ok(channel={"id": f"D{user}"})

    def _conversations_history(self, workspace: Workspace, args: dict[str, Any]) -> web.Response:
        """The app's DM with a member (``D<user>``), newest first; metadata only when asked."""
        if self.history_error == "ratelimited":
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "60"}
            )
        if self.history_error is not None:
            return _error(self.history_error)
        channel = str(args.get("channel", ""))
        user = channel[1:] if channel.startswith("D") else ""
        if user not in workspace.users:
            return _error("channel_not_found")
        try:
            limit = int(args.get("limit", 100))
        except ValueError:
            return _error("invalid_limit")
        limit = max(1, min(limit, HISTORY_MAX_LIMIT))
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        posted = self.messages_to(workspace.team_id, user)[::-1]
        page = [
            {
                "type": "message",
                "ts": m["ts"],
                "text": m["text"],
                "bot_id": workspace.bot_id,
                "app_id": "ATEST",
                "blocks": m["blocks"],
                **({"metadata": m["metadata"]} if with_metadata and m["metadata"] else {}),
            }
            for m in posted[:limit]
        ]
        return _ok(messages=page, has_more=len(posted) > limit, pin_count=0)

    def _views_open(self, workspace: Workspace, args: dict[str, Any]) -> web.Response:
        if not args.get("trigger_id"):
            return _error("invalid_trigger_id")
        view = _json(args["view"])
        self.opened_views.append({"team": workspace.team_id, **args, "view": view})
        return _ok(view={"id": f"V{next(self._ids)}", **view})

    def _views_publish(self, workspace: Workspace, args: dict[str, Any]) -> web.Response:
        view = _json(args["view"])
        self.home_views.append(
            {"team": workspace.team_id, "user_id": args["user_id"], "view": view}
        )
        return _ok(view={"id": f"VH{next(self._ids)}", **view})

    def _files_get_upload_url_external(
        self, workspace: Workspace, args: dict[str, Any]
    ) -> web.Response:
        file_id = f"F{next(self._ids)}"
        return _ok(upload_url=f"{self.url}/upload/{file_id}", file_id=file_id)

    def _files_complete_upload_external(
        self, workspace: Workspace, args: dict[str, Any]
    ) -> web.Response:
        files = _json(args["files"])
        for item in files:
            if item["id"] not in self.uploads:
                return _error("file_not_found")
        self.shared_files.append(
            {
                "team": workspace.team_id,
                "channel": args.get("channel_id"),
                "files": files,
                "initial_comment": args.get("initial_comment"),
            }
        )
        return _ok(files=[{"id": f["id"], "title": f.get("title")} for f in files])

    def _oauth_access(self, args: dict[str, Any]) -> web.Response:
        workspace = self.oauth_codes.pop(str(args.get("code")), None)
        if workspace is None:
            return _error("invalid_code")
        self.workspaces[workspace.bot_token] = workspace
        return _ok(
            access_token=workspace.bot_token,
            token_type="bot",
            scope="chat:write,commands,im:write,im:history,users:read,files:write",
            bot_user_id=workspace.bot_user_id,
            app_id="ATEST",
            team={"id": workspace.team_id, "name": workspace.name},
            enterprise=(
                {"id": workspace.enterprise_id, "name": f"Org {workspace.enterprise_id}"}
                if workspace.enterprise_id
                else None
            ),
            authed_user={"id": self.next_installer},
            is_enterprise_install=False,
        )

    # --- response_url and uploads ----------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        key = request.match_info["id"]
        if key not in self.responses:
            return web.Response(status=404, text="no_response_url")
        if len(self.responses[key]) >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        body = await request.json()
        refused = _refused_message(body.get("text"), body.get("blocks"))
        if refused:
            return web.Response(status=400, text=refused)
        self.responses[key].append(body)
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        self.uploads[request.match_info["file_id"]] = data
        return web.Response(text=f"OK - {len(data)}")

    # --- Socket Mode -----------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._socket = socket
        self.socket_connections += 1
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "ATEST"},
            }
        )
        self._socket_ready.set()
        async for message in socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(message.data)
                if "envelope_id" in data:
                    self.socket_acks[data["envelope_id"]] = data
        self._socket_ready.clear()
        return socket

    async def drop_socket(self) -> None:
        """Close the app's websocket from Slack's side (the SDK then asks for a new URL)."""
        assert self._socket is not None
        await self._socket.close()

    async def wait_for_socket(self, limit: float = 5) -> None:
        async with asyncio.timeout(limit):
            await self._socket_ready.wait()

    async def push(
        self,
        kind: str,
        payload: dict[str, Any],
        retry_attempt: int = 0,
        envelope_id: str | None = None,
        limit: float = 5,
    ) -> dict[str, Any]:
        """Send an envelope down the websocket and return the app's ack."""
        await self.wait_for_socket(limit)
        assert self._socket is not None
        envelope_id = envelope_id or str(uuid.uuid4())
        self.socket_acks.pop(envelope_id, None)
        await self._socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        await wait_until(lambda: envelope_id in self.socket_acks, limit)
        return self.socket_acks[envelope_id]


def _refused_message(text: Any, blocks: Any) -> str:
    """What Slack says to a message it will not post ("" when it would post it)."""
    if blocks is not None and not isinstance(blocks, list):
        return "invalid_blocks"
    if not text and not blocks:
        return "no_text"
    return ""


def _valid_metadata(metadata: Any) -> bool:
    """Slack's message metadata: an event type and a JSON object as its payload."""
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    )


def _ok(**data: Any) -> web.Response:
    return web.json_response({"ok": True, **data})


def _error(code: str) -> web.Response:
    return web.json_response({"ok": False, "error": code})


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def wait_until(condition: Callable[[], object], limit: float = 5) -> None:
    """Poll ``condition`` until it holds; fail after ``limit`` seconds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - the state belongs to the code under test
            await asyncio.sleep(0.01)


# --- what Slack sends the app --------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


# What Slack links in a command's text with should_escape: true (as the manifest sets it): web
# links, bare domains of a few common top-level domains, and e-mail addresses. Mentions need
# Slack's user directory, so the fake leaves them as typed; test_text covers their wire form.
_WEB_LINK = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_BARE_DOMAIN = re.compile(
    r"(?<![\w@./:&-])(?:[a-z0-9-]+\.)+(?:com|org|net|io|dev|blog)(?:/[^\s<>]*)?(?![\w@])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w./:])[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)
_TRAILING = ".,;:!?)"


def _link(match: re.Match[str], wrap: Callable[[str], str]) -> str:
    found = match.group(0)
    kept = found.rstrip(_TRAILING)
    return wrap(kept) + found[len(kept) :]


def slack_escape(typed: str, links: bool = True) -> str:
    """What Slack does to a slash command's text: ``&``, ``<`` and ``>`` always become entities;
    with ``links`` (should_escape: true) the links it recognises become ``<…>`` entities too."""
    text = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not links:
        return text
    placed: list[str] = []

    def hold(entity: str) -> str:  # so a wrapped link is not matched again by the next pattern
        placed.append(entity)
        return f"\x00{len(placed) - 1}\x00"

    text = _WEB_LINK.sub(lambda m: _link(m, lambda url: hold(f"<{url}>")), text)
    text = _EMAIL.sub(lambda m: _link(m, lambda a: hold(f"<mailto:{a}|{a}>")), text)
    text = _BARE_DOMAIN.sub(lambda m: _link(m, lambda d: hold(f"<http://{d}|{d}>")), text)
    return re.sub(r"\x00(\d+)\x00", lambda m: placed[int(m.group(1))], text)


def rendered(mrkdwn: str) -> str:
    """What a member sees of mrkdwn text: Slack decodes its three entities once."""
    return mrkdwn.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slash_command(
    command: str,
    text: str,
    *,
    team: str,
    user: str,
    response_url: str,
    trigger_id: str = "",
    wire_text: str | None = None,
    enterprise: str | None = None,
) -> dict[str, str]:
    """The form Slack posts for a command the member typed as ``text`` (escaped the way
    Slack escapes it with should_escape: true, links included); ``wire_text`` is sent verbatim
    instead, for entities the fake does not make itself (``<@U1|ana>``)."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": team,
        "team_domain": team.lower(),
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": slack_escape(text) if wire_text is None else wire_text,
        "api_app_id": "ATEST",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"trigger.{uuid.uuid4().hex}",
    }
    if enterprise is not None:
        fields["enterprise_id"] = enterprise
        fields["enterprise_name"] = f"Org {enterprise}"
    return fields


def block_actions(
    action_id: str,
    value: str,
    *,
    team: str,
    user: str,
    response_url: str | None,
    trigger_id: str = "",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team, "domain": team.lower()},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "ATEST",
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id or f"trigger.{uuid.uuid4().hex}",
        "container": {"type": "message", "channel_id": f"D{user}", "is_ephemeral": False},
        "channel": {"id": f"D{user}", "name": "directmessage"},
        "actions": [
            {
                "type": "button",
                "block_id": "habit_actions",
                "action_id": action_id,
                "value": value,
                "text": {"type": "plain_text", "text": "button"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def view_submission(
    view_id: str, link: str | None, title: str | None, *, team: str, user: str
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": team.lower()},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "ATEST",
        "token": "deprecated-verification-token",
        "trigger_id": f"trigger.{uuid.uuid4().hex}",
        "view": {
            "id": view_id,
            "team_id": team,
            "type": "modal",
            "callback_id": "habit_publish",
            "private_metadata": "",
            "hash": f"hash-{uuid.uuid4().hex[:8]}",
            "state": {
                "values": {
                    "link": {"link": {"type": "plain_text_input", "value": link}},
                    "title": {"title": {"type": "plain_text_input", "value": title}},
                }
            },
        },
        "response_urls": [],
    }


def app_uninstalled(*, team: str, enterprise: str | None = None) -> dict[str, Any]:
    return {
        "token": "deprecated-verification-token",
        "team_id": team,
        "enterprise_id": enterprise,
        "api_app_id": "ATEST",
        "event": {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"},
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "authorizations": [
            {"enterprise_id": enterprise, "team_id": team, "user_id": f"UBOT{team}", "is_bot": True}
        ],
    }


def app_home_opened(*, team: str, user: str, tab: str = "home") -> dict[str, Any]:
    return {
        "token": "deprecated-verification-token",
        "team_id": team,
        "api_app_id": "ATEST",
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        },
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": f"UBOT{team}", "is_bot": True}],
    }


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


async def post_signed(
    url: str,
    body: bytes,
    content_type: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """POST ``body`` to the app the way Slack does: signed over the exact bytes sent."""
    ts = int(time.time()) if timestamp is None else timestamp
    all_headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, ts, body),
        **(headers or {}),
    }
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.post(url, data=body, headers=all_headers) as response,
    ):
        return HttpAnswer(response.status, await response.text())


def form_body(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def interactive_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def event_body(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode()
