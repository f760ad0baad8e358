"""Bolt's installation and OAuth state stores, kept in the runtime's adapter records.

So installations outlive restarts and every replica sees the same ones, without this adapter
knowing anything about the database behind :attr:`bot.runtime.Runtime.records`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.runtime import Runtime
from habits.model import MemberRef, Platform
from habits.ports import RecordRepository

log = logging.getLogger(__name__)

INSTALLATION_KIND = "slack-installation"
BOT_KIND = "slack-bot"
STATE_KIND = "slack-oauth-state"
STATE_SECONDS = 600  # an install page's state is good for 10 minutes
MAX_PENDING_STATES = 200  # unused states kept at once; past that the install page says 503
PURGE_BATCH = 100  # expired states deleted per state issued
BOT_CACHE_SECONDS = 60.0
MAX_CACHED_BOTS = 10_000


def workspace_key(enterprise_id: str | None, team_id: str | None) -> str:
    return f"{enterprise_id or '-'}:{team_id or '-'}"


def _document(model: Installation | Bot) -> dict[str, Any]:
    # The models' attributes are their constructor's keyword arguments (slack_sdk's own file
    # store relies on the same round trip), and every value is JSON-friendly.
    return dict(vars(model))


class RecordInstallationStore(AsyncInstallationStore):
    """Installations and bots per workspace, plus the latest installer's installation.

    Bolt looks the bot up before acknowledging every request, so ``find_bot`` answers come
    from memory for ``cache_seconds`` (installs and uninstalls in this process clear it at
    once; another replica's show up within that time).

    In an Enterprise Grid org a workspace's bot is kept under ``"E…:T…"`` and also under the
    team alone, because members — and so the nudges sent to them — know only their team.
    """

    def __init__(
        self,
        runtime: Runtime,
        cache_seconds: float = BOT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._runtime = runtime
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._bots: dict[tuple[str, bool], tuple[float, Bot | None]] = {}
        # Told the token of a bot that is gone, so callers can drop what they cached for it.
        self.on_bot_removed: Callable[[str], None] | None = None

    @property
    def logger(self) -> logging.Logger:
        return log

    async def _put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        await self._runtime.call(self._runtime.records.put, kind, key, data)

    async def _get(self, kind: str, key: str) -> dict[str, Any] | None:
        return await self._runtime.call(self._runtime.records.get, kind, key)

    async def _delete(self, kind: str, key: str) -> None:
        await self._runtime.call(self._runtime.records.delete, kind, key)

    def _forget_cached_bots(self) -> None:
        self._bots.clear()

    async def async_save(self, installation: Installation) -> None:
        key = workspace_key(installation.enterprise_id, installation.team_id)
        previous = await self._get(INSTALLATION_KIND, key)
        data = _document(installation)
        await self._put(INSTALLATION_KIND, key, data)
        # Only the latest installer's own record is kept, so an uninstall can find and
        # delete it (the record store cannot list keys).
        earlier_user = previous.get("user_id") if previous else None
        if earlier_user and earlier_user != installation.user_id:
            await self._delete(INSTALLATION_KIND, f"{key}:{earlier_user}")
        if installation.user_id:
            await self._put(INSTALLATION_KIND, f"{key}:{installation.user_id}", data)
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        if not bot.bot_token:
            return
        old = await self._get(BOT_KIND, workspace_key(bot.enterprise_id, bot.team_id))
        data = _document(bot)
        await self._put(BOT_KIND, workspace_key(bot.enterprise_id, bot.team_id), data)
        if bot.enterprise_id and bot.team_id and not bot.is_enterprise_install:
            await self._put(BOT_KIND, workspace_key(None, bot.team_id), data)
        self._forget_cached_bots()
        if old is not None and old.get("bot_token") != bot.bot_token:
            self._bot_removed(old)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        cache_key = (workspace_key(enterprise_id, team_id), bool(is_enterprise_install))
        now = self._clock()
        cached = self._bots.get(cache_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        bot = await self._find_bot(enterprise_id, team_id, bool(is_enterprise_install))
        if len(self._bots) >= MAX_CACHED_BOTS:
            self._bots = {k: v for k, v in self._bots.items() if v[0] > now}
        self._bots[cache_key] = (now + self._cache_seconds, bot)
        return bot

    async def _find_bot(
        self, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool
    ) -> Bot | None:
        data = await self._get(
            BOT_KIND, workspace_key(enterprise_id, None if is_enterprise_install else team_id)
        )
        if data is None and enterprise_id is not None and team_id is not None:
            # An org-wide install is stored without a team.
            data = await self._get(BOT_KIND, workspace_key(enterprise_id, None))
        return Bot(**data) if data is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        key = workspace_key(enterprise_id, None if is_enterprise_install else team_id)
        data = await self._get(INSTALLATION_KIND, f"{key}:{user_id}" if user_id else key)
        if data is None:
            return None
        installation = Installation(**data)
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if bot is not None and bot.bot_token != installation.bot_token:
            # A later install replaced the bot token: the user's record must not keep the old one.
            installation.bot_id = bot.bot_id
            installation.bot_user_id = bot.bot_user_id
            installation.bot_token = bot.bot_token
            installation.bot_scopes = bot.bot_scopes
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        key = workspace_key(enterprise_id, team_id)
        found = await self._get(BOT_KIND, key)
        await self._delete(BOT_KIND, key)
        if enterprise_id and team_id:
            alias = workspace_key(None, team_id)
            aliased = await self._get(BOT_KIND, alias)
            if aliased is not None and aliased.get("enterprise_id") == enterprise_id:
                await self._delete(BOT_KIND, alias)
        self._forget_cached_bots()
        if found is not None:
            self._bot_removed(found)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        key = workspace_key(enterprise_id, team_id)
        if user_id:
            await self._delete(INSTALLATION_KIND, f"{key}:{user_id}")
            return
        found = await self._get(INSTALLATION_KIND, key)
        installer = found.get("user_id") if found else None
        if installer:
            await self._delete(INSTALLATION_KIND, f"{key}:{installer}")
        await self._delete(INSTALLATION_KIND, key)

    def _bot_removed(self, data: dict[str, Any]) -> None:
        token = data.get("bot_token")
        if token and self.on_bot_removed is not None:
            self.on_bot_removed(str(token))


# What an installation holds that is the member's, not the workspace's: who installed the app and
# the user token they granted it.
INSTALLER_FIELDS = {
    "user_id": "",
    "user_token": None,
    "user_scopes": None,
    "user_refresh_token": None,
    "user_token_expires_at": None,
}
REDACTED = "[redacted]"


def _masked(data: dict[str, Any]) -> dict[str, Any]:
    """An installation as its installer may read it: every token and secret URL masked."""
    secret = ("token", "secret", "webhook_url")
    return {
        name: REDACTED if value and any(part in name for part in secret) else value
        for name, value in data.items()
    }


class InstallerRecords:
    """The Slack installations that name a member, for the engine's export and forget
    (:class:`habits.ports.MemberRecords`).

    Slack keeps the installer on two records: the workspace's installation (``E:T``) and the
    installer's own (``E:T:U``, with their user token). Forget deletes the installer's own record
    and strips the installer from the workspace's, which keeps its bot token and so keeps
    working for everyone else; the user token is dropped, not revoked at Slack.
    """

    def _naming(
        self, ref: MemberRef, records: RecordRepository
    ) -> list[tuple[str, dict[str, Any]]]:
        if ref.platform != Platform.SLACK:
            return []
        return [
            (key, data)
            for key, data in records.of_kind(INSTALLATION_KIND)
            if data.get("user_id") == ref.user_id
            # An org-wide install has no team; Enterprise Grid user ids are org-wide.
            and data.get("team_id") in (ref.workspace, None)
        ]

    def export(self, ref: MemberRef, records: RecordRepository) -> list[dict[str, object]]:
        return [
            {"kind": INSTALLATION_KIND, "key": key, "data": _masked(data)}
            for key, data in self._naming(ref, records)
        ]

    def forget(self, ref: MemberRef, records: RecordRepository, now: datetime) -> None:
        for key, data in self._naming(ref, records):
            if key.endswith(f":{ref.user_id}"):
                records.delete(INSTALLATION_KIND, key)
            else:
                records.put(INSTALLATION_KIND, key, {**data, **INSTALLER_FIELDS}, now)


class TooManyPendingInstallsError(Exception):
    """Every state the store may hold is issued and unexpired: try again in a while."""


class RecordOAuthStateStore(AsyncOAuthStateStore):
    """One-use OAuth ``state`` values, valid for ``expiration_seconds``.

    Anyone may load the install page, and each visit issues a state, so the store stays
    bounded: issuing first purges expired states (a batch at a time) and refuses past
    ``max_pending`` unexpired ones.
    """

    def __init__(
        self,
        runtime: Runtime,
        expiration_seconds: int = STATE_SECONDS,
        max_pending: int = MAX_PENDING_STATES,
    ):
        self._runtime = runtime
        self.expiration = timedelta(seconds=expiration_seconds)
        self.max_pending = max_pending

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        if not await self._runtime.call(self._issue, state):
            raise TooManyPendingInstallsError(f"{self.max_pending} install states are pending")
        return state

    def _issue(self, state: str) -> bool:
        """On a database thread: purge expired states, then store this one if there is room."""
        records = self._runtime.records
        records.purge(STATE_KIND, self.expiration, PURGE_BATCH)
        if records.count(STATE_KIND) >= self.max_pending:
            return False
        records.put(STATE_KIND, state, {"issued": True})
        return True

    async def async_consume(self, state: str) -> bool:
        found = await self._runtime.call(
            self._runtime.records.take, STATE_KIND, state, self.expiration
        )
        return found is not None
