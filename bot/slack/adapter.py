"""The Slack adapter: the real Bolt app in Socket Mode or HTTP mode, one workspace or many.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed); HTTP mode otherwise, serving
``/slack/events`` with every request's signature checked, on the process's one HTTP server
(:class:`bot.ops.OpsServer`). With SLACK_CLIENT_ID/SECRET the app installs into many workspaces
through Bolt's OAuth flow, installations kept in adapter records.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import AdapterError
from bot.edge import AddressRateLimit
from bot.logs import Throttled
from bot.ops import OpsServer
from bot.runtime import Runtime
from bot.slack.app import SlackListeners
from bot.slack.installations import (
    RecordInstallationStore,
    RecordOAuthStateStore,
    TooManyPendingInstallsError,
)
from bot.slack.sender import SlackPacing, SlackSender, make_client
from habits.delivery import Sender
from habits.model import Platform

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
BOT_SCOPES = ("chat:write", "commands", "im:write", "im:history", "users:read", "files:write")
CONNECT_TIMEOUT = 30.0
# Socket Mode: how often the websocket is checked, and how long it may stay disconnected (the
# SDK reconnecting in vain) before the adapter gives up, so `habit-coach run` exits 1 and its
# supervisor restarts it, rather than running on deaf.
SOCKET_CHECK_INTERVAL = 15.0
SOCKET_DEAD_AFTER = 300.0
PROBE_TIMEOUT = 10.0
# Loading the install page stores an OAuth state: each client address may do it INSTALL_BURST
# times at once, then once per INSTALL_EVERY seconds.
INSTALL_BURST = 10
INSTALL_EVERY = 6.0
TIMESTAMP = re.compile(r"[0-9]{1,15}")
SIGNATURE_MAX_AGE = 300  # seconds a signed request's timestamp may be off, either way (Slack's)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class SlackAdapter:
    """Slack for `habit-coach run`; see :class:`bot.adapters.ChatAdapter`."""

    platform: str = Platform.SLACK

    def __init__(
        self,
        runtime: Runtime,
        *,
        server: OpsServer | None = None,
        socket_check_interval: float = SOCKET_CHECK_INTERVAL,
        socket_dead_after: float = SOCKET_DEAD_AFTER,
    ):
        """``server``: the process's running HTTP server, for Slack's routes; without one
        (an adapter on its own, as in tests) HTTP mode starts a server of its own."""
        settings = runtime.settings
        self.runtime = runtime
        self.socket_mode = settings.slack_app_token is not None
        self.multi_workspace = (
            settings.slack_client_id is not None and settings.slack_client_secret is not None
        )
        self.name = "Slack (Socket Mode)" if self.socket_mode else "Slack (HTTP mode)"
        self._base_url = settings.slack_api_base_url
        bot_token = None if self.multi_workspace else _secret(settings.slack_bot_token)
        self.client = make_client(bot_token, self._base_url)
        self.installations = RecordInstallationStore(runtime) if self.multi_workspace else None
        self.listeners = SlackListeners(runtime)
        self._sender = SlackSender(
            self._client_for,
            settings.send_timeout_seconds,
            pacing=SlackPacing(settings.slack_workspace_messages_per_second),
            on_rate_limited=runtime.rate_limit_counter(Platform.SLACK),
        )
        self._workspace_clients: dict[str, AsyncWebClient] = {}
        self.app: AsyncApp | None = None
        self.team_id: str | None = None  # single-workspace mode: the bot token's workspace
        self._server = server
        self._own_server: OpsServer | None = None  # started here when none was given
        self._routes: list[tuple[str, str]] = []  # added to the server; removed on close
        self._socket: AsyncSocketModeHandler | None = None
        self.socket_check_interval = socket_check_interval
        self.socket_dead_after = socket_dead_after
        self._socket_watcher: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._closed = False
        secret = _secret(settings.slack_signing_secret)
        self._signing_key = secret.encode() if secret else None
        self.install_visits = AddressRateLimit(INSTALL_BURST, INSTALL_EVERY)
        self._unsigned = Throttled(log)  # one line a minute for requests not signed by Slack
        self._unreadable = Throttled(log)  # and for signed ones that cannot be read
        self._crowded = Throttled(log)  # and for install pages refused at the cap

    @property
    def sender(self) -> Sender:
        return self._sender

    @property
    def http_port(self) -> int | None:
        """The port Slack's requests are served on, once they are."""
        server = self._server or self._own_server
        return server.port if server is not None and self._routes else None

    def connected(self) -> bool:
        """Socket Mode: the websocket is up; HTTP mode: Slack's routes are being served."""
        if self._closed or self.app is None:
            return False
        if self.socket_mode and not self._socket_up():
            return False
        if self._serves_http:
            server = self._server or self._own_server
            return server is not None and server.serving and bool(self._routes)
        return True

    @property
    def _serves_http(self) -> bool:
        return not self.socket_mode or self.multi_workspace

    def _socket_up(self) -> bool:
        """What the SDK's async ``is_connected`` checks, read without awaiting."""
        if self._socket is None:
            return False
        client = self._socket.client
        session = getattr(client, "current_session", None)
        return (
            not client.closed
            and not getattr(client, "stale", False)
            and session is not None
            and not session.closed
        )

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.runtime.settings
        if not self.socket_mode and settings.slack_signing_secret is None:
            raise AdapterError(
                "HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → App Credentials) to "
                "verify that requests come from Slack. Set it, or set SLACK_APP_TOKEN to use "
                "Socket Mode instead."
            )
        if not self.multi_workspace:
            await self._check_bot_token()
        self.app = self._build_app()
        try:
            if self.socket_mode:
                await self._connect_socket()
            if self._serves_http:
                await self._serve_http()
        except BaseException:
            await self.close()
            raise

    async def wait_closed(self) -> None:
        await self._stopped.wait()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._socket_watcher is not None:
                self._socket_watcher.cancel()
            if self._socket is not None:
                await self._socket.close_async()  # type: ignore[no-untyped-call]
            server = self._server or self._own_server
            while self._routes and server is not None:
                server.remove_route(*self._routes.pop())
            if self._own_server is not None:
                await self._own_server.close()
        finally:
            self._stopped.set()

    # --- start-up steps --------------------------------------------------------------------------

    async def _check_bot_token(self) -> None:
        try:
            found = await self.client.auth_test()
        except SlackApiError as exc:
            raise AdapterError(
                f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}). Copy the Bot User "
                "OAuth Token (xoxb-…) from OAuth & Permissions, and reinstall the app if it was "
                "revoked."
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AdapterError(f"cannot reach Slack's Web API: {exc}") from None
        self.team_id = found.get("team_id")

    def _build_app(self) -> AsyncApp:
        settings = self.runtime.settings
        signing_secret = _secret(settings.slack_signing_secret) or ""
        if self.installations is None:
            app = AsyncApp(
                name="habit-coach",
                client=self.client,
                signing_secret=signing_secret,
                request_verification_enabled=not self.socket_mode,
            )
        else:
            assert settings.slack_client_id is not None
            client_secret = _secret(settings.slack_client_secret)
            # Bolt authorizes every request before the listener can ack it: with the cache, a
            # workspace's bot token is checked with auth.test once, not on every request
            # (and find_bot answers from the store's short in-memory cache).
            authorize = AsyncInstallationStoreAuthorize(
                logger=logging.getLogger("slack_bolt.AsyncApp"),
                installation_store=self.installations,
                client_id=settings.slack_client_id,
                client_secret=client_secret,
                bot_only=True,
                cache_enabled=True,
                client=self.client,
            )
            self.installations.on_bot_removed = self._forget_token(authorize)
            oauth = AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=client_secret,
                scopes=list(BOT_SCOPES),
                user_scopes=[],
                installation_store=self.installations,
                installation_store_bot_only=True,
                state_store=RecordOAuthStateStore(self.runtime),
                install_path=INSTALL_PATH,
                redirect_uri_path=OAUTH_REDIRECT_PATH,
            )
            app = AsyncApp(
                name="habit-coach",
                client=self.client,
                signing_secret=signing_secret,
                request_verification_enabled=not self.socket_mode,
                installation_store=self.installations,
                installation_store_bot_only=True,
                authorize=authorize,  # type: ignore[arg-type]  # Bolt takes AsyncAuthorize too
                oauth_settings=oauth,
            )
            app.enable_token_revocation_listeners()
        self.listeners.register(app)
        return app

    def _forget_token(self, authorize: AsyncInstallationStoreAuthorize) -> Callable[[str], None]:
        """When a bot token is revoked or replaced, nothing keeps using it from memory."""

        def forget(token: str) -> None:
            authorize.authorize_result_cache.pop(token, None)
            self._workspace_clients.pop(token, None)

        return forget

    async def _connect_socket(self) -> None:
        assert self.app is not None
        app_token = _secret(self.runtime.settings.slack_app_token)
        assert app_token is not None
        # Ask for the websocket URL ourselves: the SDK would retry a refused token forever.
        try:
            opened = await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            raise AdapterError(
                f"Slack refused SLACK_APP_TOKEN ({exc.response.get('error')}). It must be an "
                "app-level token (xapp-…) with the connections:write scope."
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AdapterError(f"cannot reach Slack's Web API: {exc}") from None
        self._socket = AsyncSocketModeHandler(self.app, app_token, web_client=self.client)
        self._socket.client.wss_uri = opened["url"]
        try:
            await asyncio.wait_for(
                self._socket.connect_async(),  # type: ignore[no-untyped-call]
                CONNECT_TIMEOUT,
            )
        except TimeoutError:
            raise AdapterError(
                f"Slack's Socket Mode websocket did not answer within {CONNECT_TIMEOUT:.0f} s"
            ) from None
        self._socket_watcher = asyncio.create_task(self._watch_socket(), name="slack-socket")

    async def _watch_socket(self) -> None:
        """Stop the adapter once the websocket has been down for ``socket_dead_after`` seconds.

        The SDK reconnects on its own, and keeps trying forever even when Slack refuses the app
        token; a connection that stays down that long will not come back by itself.
        """
        assert self._socket is not None
        client = self._socket.client
        loop = asyncio.get_running_loop()
        down_since: float | None = None
        while not self._closed:
            await asyncio.sleep(self.socket_check_interval)
            if await client.is_connected():
                if down_since is not None:
                    log.info("Slack's Socket Mode websocket is connected again")
                down_since = None
                continue
            now = loop.time()
            if down_since is None:
                down_since = now
                log.warning("Slack's Socket Mode websocket is disconnected; the SDK reconnects")
            elif now - down_since >= self.socket_dead_after:
                log.error(
                    "Slack's Socket Mode websocket has been disconnected for %.0f s: %s. "
                    "Stopping, so the process exits and can be restarted.",
                    now - down_since,
                    await self._why_disconnected(),
                )
                self._stopped.set()
                return

    async def _why_disconnected(self) -> str:
        """Ask Slack for a websocket URL ourselves, to name why the SDK cannot reconnect."""
        app_token = _secret(self.runtime.settings.slack_app_token)
        assert app_token is not None  # Socket Mode
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            return (
                f"Slack refuses SLACK_APP_TOKEN ({exc.response.get('error')}); it must be a "
                "valid app-level token (xapp-…) with the connections:write scope"
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"cannot reach Slack's Web API ({exc!r})"
        except Exception as exc:  # only naming the cause here; the adapter stops regardless
            return f"asking Slack for a websocket URL failed ({exc!r})"
        return "Slack hands out websocket URLs, but the connection does not come back"

    async def _serve_http(self) -> None:
        server = self._server or await self._start_own_server()
        routes = []
        if not self.socket_mode:
            routes.append(("POST", EVENTS_PATH, self._on_events))
        flow = self.app.oauth_flow if self.app is not None else None
        if flow is not None:
            routes.append(("GET", flow.install_path, self._on_oauth_page))
            routes.append(("GET", flow.redirect_uri_path, self._on_oauth_page))
        for method, path, handler in routes:
            server.add_route(method, path, handler)
            self._routes.append((method, path))
        log.info("Slack's requests are served on port %s", server.port)

    async def _start_own_server(self) -> OpsServer:
        settings = self.runtime.settings
        self._own_server = OpsServer(self.runtime, settings.http_host, settings.http_port)
        try:
            await self._own_server.start()
        except OSError as exc:
            raise AdapterError(
                f"cannot listen on {settings.http_host}:{settings.http_port} "
                f"for Slack's requests: {exc.strerror or exc}"
            ) from None
        return self._own_server

    # --- HTTP endpoints --------------------------------------------------------------------------

    async def _on_events(self, request: web.Request) -> web.Response:
        """Slack's signature is checked on the raw bytes before anything reads them: 401 for
        a request Slack did not sign, 400 for a signed one that is not UTF-8 form or JSON."""
        assert self.app is not None
        body = await request.read()
        if not self._signed_by_slack(body, request.headers):
            self._unsigned.log(
                logging.WARNING,
                "refused a request to %s from %s: not signed by Slack",
                request.path,
                request.remote,
            )
            raise web.HTTPUnauthorized()
        try:
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8"),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]  # Bolt reads it as a mapping
            )
        except Exception as exc:  # the body is Slack's, but not a form or JSON Bolt can read
            self._unreadable.log(
                logging.WARNING,
                "a signed request to %s could not be read: %s",
                request.path,
                type(exc).__name__,
            )
            raise web.HTTPBadRequest() from None
        response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    def _signed_by_slack(self, body: bytes, headers: Mapping[str, str]) -> bool:
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        """Slack's v0 signature: HMAC-SHA256 over "v0:{timestamp}:" and the raw body bytes."""
        if self._signing_key is None or not TIMESTAMP.fullmatch(timestamp) or not signature:
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE:
            return False
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._signing_key, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode(errors="surrogateescape"))

    async def _on_oauth_page(self, request: web.Request) -> web.Response:
        """The install page (rate-limited per address: each visit stores a state) and the
        page Slack redirects back to. Both are GETs: only the query string is read."""
        assert self.app is not None
        flow: AsyncOAuthFlow | None = self.app.oauth_flow
        assert flow is not None
        bolt_request = AsyncBoltRequest(
            body="",
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
        if request.path == flow.install_path:
            wait = self.install_visits.retry_after(request.remote or "")
            if wait:
                raise web.HTTPTooManyRequests(headers={"Retry-After": str(wait)})
            try:
                response = await flow.handle_installation(bolt_request)
            except TooManyPendingInstallsError:
                self._crowded.log(
                    logging.WARNING, "the install page is refused: too many unused OAuth states"
                )
                raise web.HTTPServiceUnavailable(headers={"Retry-After": "60"}) from None
        else:
            response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(response)

    # --- delivery --------------------------------------------------------------------------------

    async def _client_for(self, workspace: str) -> AsyncWebClient | None:
        """The client holding the bot token of ``workspace`` (None: not installed there)."""
        if self.installations is None:
            return self.client
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=workspace)
        if bot is None:
            return None
        client = self._workspace_clients.get(bot.bot_token)
        if client is None:
            client = make_client(bot.bot_token, self._base_url)
            self._workspace_clients[bot.bot_token] = client
        return client
