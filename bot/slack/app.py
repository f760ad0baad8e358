"""The Bolt listeners: slash commands, buttons, the *I published* modal and the App Home tab.

Every listener acknowledges first (Slack allows 3 s), then asks the engine and renders its
reply: ephemerally through ``respond()``, as a DM, or on the member's App Home.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot import picture
from bot.runtime import Runtime
from bot.slack.blocks import (
    ACTION_PREFIX,
    LINK_BLOCK,
    PUBLISH_CALLBACK,
    TITLE_BLOCK,
    action_of,
    dm_message,
    fallback_text,
    home_view,
    publish_modal,
    reply_blocks,
)
from bot.slack.text import unescape_command_text
from habits import grammar
from habits.catalogue import Form, M
from habits.commands import ParseError
from habits.messages import (
    NUDGE_ACTIONS,
    OOPS_REPLY,
    PLAIN,
    ActionId,
    Attachment,
    CommandRef,
    Reply,
    Say,
    render,
    render_body,
    say,
)
from habits.model import MemberRef, Source

log = logging.getLogger(__name__)

COMMANDS = ("/goal", "/published", "/streak", "/nudges", "/timezone", "/habit")
COMMAND_PATTERN = re.compile("^(" + "|".join(re.escape(c) for c in COMMANDS) + ")$")
BUTTON_PATTERN = re.compile("^" + re.escape(ACTION_PREFIX))
NUDGE_COMMANDS = {action.id: action.command.typed for action in NUDGE_ACTIONS}
MAX_CACHED_PROFILES = 10_000
MAX_ALT_TEXT = 1000  # what Slack keeps of an image's alt text
SLACK_FAILURES = (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True)
class Profile:
    """What the Slack profile tells us on first contact: a display name and an IANA zone."""

    name: str
    zone: str | None


def team_of(body: dict[str, Any], context: AsyncBoltContext) -> str:
    """The workspace a request comes from: members are keyed by it."""
    team = body.get("team")
    user = body.get("user")
    candidates = (
        body.get("team_id"),
        team.get("id") if isinstance(team, dict) else None,
        user.get("team_id") if isinstance(user, dict) else None,
        context.team_id,
    )
    return next((str(c) for c in candidates if c), "")


def user_of(body: dict[str, Any]) -> tuple[str, str]:
    """(user id, user name) of an interactive payload."""
    user = body.get("user") or {}
    return str(user.get("id", "")), str(user.get("username") or user.get("name") or "")


def _field(values: dict[str, Any], block: str) -> str | None:
    element = values.get(block, {}).get(block, {})
    value = element.get("value")
    return str(value) if value else None


async def apologise(respond: AsyncRespond) -> None:
    """The friendly OOPS, ephemerally; if even that fails, the log has it."""
    try:
        await respond(
            text=fallback_text(OOPS_REPLY.body), response_type="ephemeral", replace_original=False
        )
    except Exception:
        log.exception("could not tell the member something went wrong")


class SlackListeners:
    """Thin Bolt listeners over the shared engine."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.coach = runtime.coach
        self._profiles: OrderedDict[tuple[str, str], Profile] = OrderedDict()

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND_PATTERN)(self.on_command)
        app.action(BUTTON_PATTERN)(self.on_button)
        app.view(PUBLISH_CALLBACK)(self.on_publish_submitted)
        app.event("app_home_opened")(self.on_home_opened)

    # --- who is asking ---------------------------------------------------------------------------

    async def member(
        self, client: AsyncWebClient, team: str, user: str, name: str = ""
    ) -> tuple[MemberRef, str | None]:
        """The member and their profile's time zone (the engine uses it on first contact only)."""
        key = (team, user)
        profile = self._profiles.get(key)
        if profile is None:
            profile = await self._fetch_profile(client, user)
            if profile is not None:
                self._profiles[key] = profile
                if len(self._profiles) > MAX_CACHED_PROFILES:
                    self._profiles.popitem(last=False)
        else:
            self._profiles.move_to_end(key)
        display = profile.name if profile is not None and profile.name else name
        return MemberRef.slack(team, user, display), profile.zone if profile else None

    async def _fetch_profile(self, client: AsyncWebClient, user: str) -> Profile | None:
        try:
            found = await client.users_info(user=user)
        except SLACK_FAILURES as exc:
            log.info("users.info for %s failed: %s", user, exc)
            return None
        info = found.get("user") or {}
        details = info.get("profile") or {}
        name = details.get("display_name") or details.get("real_name") or info.get("name") or ""
        zone = info.get("tz")
        return Profile(str(name), str(zone) if zone else None)

    # --- slash commands --------------------------------------------------------------------------

    async def on_command(
        self,
        ack: AsyncAck,
        command: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        try:
            ref, zone = await self.member(
                client,
                team_of(command, context),
                str(command["user_id"]),
                str(command.get("user_name", "")),
            )
            # Slack escapes &, < and > and may wrap links; the engine wants what was typed.
            typed = unescape_command_text(str(command.get("text") or ""))
            text = f"{command['command']} {typed}".strip()
            reply = await self.runtime.call(
                self.coach.handle,
                ref,
                text,
                zone_hint=zone,
                request_key=command.get("trigger_id"),
            )
            await self.answer(reply, ref, zone, client, respond)
        except Exception:  # the member hears about it; the details go to the log
            log.exception("slash command %s failed", command.get("command"))
            await apologise(respond)

    async def answer(
        self,
        reply: Reply,
        ref: MemberRef,
        zone: str | None,
        client: AsyncWebClient,
        respond: AsyncRespond,
        replace_original: bool = False,
    ) -> None:
        """An ephemeral reply, the export file in a DM, then the refreshed App Home."""
        if reply.attachment is not None:
            reply = await self._send_export(client, ref, reply, reply.attachment)
        await respond(
            text=fallback_text(reply.body),
            blocks=reply_blocks(reply),
            response_type="ephemeral",
            replace_original=replace_original,
        )
        if reply.ok:
            await self.publish_home(client, ref, zone)

    async def _send_export(
        self, client: AsyncWebClient, ref: MemberRef, reply: Reply, attachment: Attachment
    ) -> Reply:
        try:
            await self._upload_to_dm(
                client,
                ref,
                attachment,
                title=render(say(M.EXPORT_FILE_TITLE), PLAIN),
                initial_comment=render(say(M.EXPORT_FILE_COMMENT), PLAIN),
            )
        except SLACK_FAILURES as exc:
            log.warning("export upload for %s failed: %s", ref.user_id, exc)
            again = CommandRef.to(Form.HABIT_EXPORT)
            return Reply.of(say(M.EXPORT_NOT_SENT, command=again), ok=False)
        first, rest = reply.body[0], reply.body[1:]
        if isinstance(first, Say):  # the export's sentence, then where the file went
            return replace(reply, body=(say(M.EXPORT_SENT_AS_FILE, exported=first), *rest))
        return reply

    @staticmethod
    async def _upload_to_dm(
        client: AsyncWebClient,
        ref: MemberRef,
        attachment: Attachment,
        *,
        title: str,
        initial_comment: str | None = None,
        alt_txt: str | None = None,
    ) -> None:
        """A file in the member's DM with the bot (files_upload_v2: get an upload URL, upload,
        complete and share)."""
        opened = await client.conversations_open(users=ref.user_id)
        await client.files_upload_v2(
            channel=opened["channel"]["id"],
            filename=attachment.filename,
            content=attachment.content,
            title=title,
            initial_comment=initial_comment,
            alt_txt=alt_txt,
        )

    async def _show_year(
        self,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        context: AsyncBoltContext,
    ) -> None:
        """*Show my year*: the picture of the year as a PNG in the member's DM, since an
        ephemeral reply cannot carry a file; its alt text goes with it."""
        try:
            user, name = user_of(body)
            ref, zone = await self.member(client, team_of(body, context), user, name)
            streak = CommandRef.to(Form.STREAK)
            reply = await self.runtime.call(
                self.coach.handle, ref, streak.typed, zone_hint=zone, source=Source.BUTTON
            )
            year = reply.year
            if year is None:  # the engine could not read the streak: it said why
                answer = reply
            else:
                drawn = await picture.with_picture(reply)
                if drawn.attachment is None:
                    raise RuntimeError("the year could not be drawn")
                try:
                    await self._upload_to_dm(
                        client,
                        ref,
                        drawn.attachment,
                        title=render(say(M.YEAR_FILE_TITLE), PLAIN),
                        alt_txt=render(year.alt, PLAIN)[:MAX_ALT_TEXT],
                    )
                    answer = Reply.of(say(M.YEAR_SENT))
                except SLACK_FAILURES as exc:
                    log.warning("the year's upload for %s failed: %s", ref.user_id, exc)
                    answer = Reply.of(say(M.YEAR_NOT_SENT, command=streak), ok=False)
            if body.get("response_url"):
                await respond(
                    text=fallback_text(answer.body),
                    response_type="ephemeral",
                    replace_original=False,
                )
            elif not answer.ok:
                await self.direct_message(client, ref, answer)
        except Exception:
            log.exception("showing the year failed")
            if body.get("response_url"):
                await apologise(respond)
            else:
                await self._apologise_in_a_dm(client, body, context)

    # --- buttons ---------------------------------------------------------------------------------

    async def on_button(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        chosen = action_of(str(action.get("action_id", "")))
        if chosen is None:
            return
        if chosen.opens_form:
            await self._open_publish_form(client, body)
            return
        if chosen is ActionId.SHOW_YEAR:
            await self._show_year(body, client, respond, context)
            return
        command = NUDGE_COMMANDS.get(chosen) or str(action.get("value") or "")
        if not command.startswith("/"):
            log.warning("button %s carried no command", chosen)
            return
        try:
            user, name = user_of(body)
            ref, zone = await self.member(client, team_of(body, context), user, name)
            reply = await self.runtime.call(
                self.coach.handle,
                ref,
                command,
                zone_hint=zone,
                source=Source.BUTTON,
                request_key=body.get("trigger_id"),
            )
            if body.get("response_url"):
                replace_original = chosen.answers_in_place
                await self.answer(reply, ref, zone, client, respond, replace_original)
            else:  # a button outside a message (App Home): the answer comes as a DM
                await self.direct_message(client, ref, reply)
                if reply.ok:
                    await self.publish_home(client, ref, zone)
        except Exception:
            log.exception("button %s failed", chosen)
            if body.get("response_url"):
                await apologise(respond)
            else:
                await self._apologise_in_a_dm(client, body, context)

    async def _open_publish_form(self, client: AsyncWebClient, body: dict[str, Any]) -> None:
        # The trigger id is valid for 3 s: open the modal before anything slow.
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=publish_modal())
        except SLACK_FAILURES as exc:
            log.warning("views.open failed: %s", exc)

    # --- the *I published* modal -----------------------------------------------------------------

    async def on_publish_submitted(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        values = (view.get("state") or {}).get("values") or {}
        url, title = _field(values, LINK_BLOCK), _field(values, TITLE_BLOCK)
        # The grammar is pure and instant, so a bad link is shown on the field, in the ack.
        parsed = grammar.parse_publication_fields(url, title)
        if isinstance(parsed, ParseError):
            problem = render_body(parsed.reply().body, PLAIN)  # a field's error is plain text
            await ack(response_action="errors", errors={LINK_BLOCK: problem})
            return
        await ack()
        user, name = user_of(body)
        try:
            ref, zone = await self.member(client, team_of(body, context), user, name)
            reply = await self.runtime.call(
                self.coach.publish_form,
                ref,
                url,
                title,
                zone_hint=zone,
                request_key=view.get("id"),  # the same view submitted again logs nothing new
            )
            await self.direct_message(client, ref, reply)
            if reply.ok:
                await self.publish_home(client, ref, zone)
        except Exception:  # the modal is closed already: the member hears about it in a DM
            log.exception("the I published form failed")
            await self._apologise_in_a_dm(client, body, context)

    async def _apologise_in_a_dm(
        self, client: AsyncWebClient, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        try:
            user, name = user_of(body)
            ref = MemberRef.slack(team_of(body, context), user, name)
            await self.direct_message(client, ref, OOPS_REPLY)
        except Exception:
            log.exception("could not tell the member something went wrong")

    async def direct_message(self, client: AsyncWebClient, ref: MemberRef, reply: Reply) -> None:
        try:
            await client.chat_postMessage(
                **dm_message(ref.user_id, reply.body, reply_blocks(reply))
            )
        except SLACK_FAILURES as exc:
            log.warning("DM to %s failed: %s", ref.user_id, exc)

    # --- App Home --------------------------------------------------------------------------------

    async def on_home_opened(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        if event.get("tab", "home") != "home":
            return
        try:
            ref, zone = await self.member(client, team_of(body, context), str(event["user"]))
            await self.publish_home(client, ref, zone)
        except Exception:  # nothing to answer an event with; the tab keeps its last view
            log.exception("publishing the App Home tab failed")

    async def publish_home(self, client: AsyncWebClient, ref: MemberRef, zone: str | None) -> None:
        # Read-only: looking at the Home tab neither creates a member nor counts as activity.
        overview = await self.runtime.call(self.coach.overview, ref, zone_hint=zone)
        view = home_view(overview)
        try:
            await client.views_publish(user_id=ref.user_id, view=view)
        except SLACK_FAILURES as exc:
            log.warning("views.publish for %s failed: %s", ref.user_id, exc)
