"""The command side of the engine: what a member typed or clicked, run in one unit of work.

Adapters call :meth:`Coach.handle` with the member's identity and the text they typed (or
:meth:`Coach.execute` with a command built from typed options) and render the :class:`Reply`.
The use cases live by concern in :mod:`habits.goals`, :mod:`habits.publications`,
:mod:`habits.nudges` and :mod:`habits.data_rights`; delivery is :mod:`habits.outbox`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Protocol

from habits import commands as c
from habits import data_rights, goals, grammar, nudges, publications
from habits import timekeeping as tk
from habits.catalogue import M
from habits.context import CommandContext, UseCase
from habits.messages import OOPS_REPLY, HelpCard, Overview, Reply, say
from habits.model import MAX_REQUEST_KEY, Clock, MemberRef, Source, storable_text
from habits.ports import MemberRecords, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


class CommandObserver(Protocol):
    """Told about every command handled (the process's metrics), from a database thread."""

    def command(self, platform: str, kind: str, outcome: str) -> None:
        """``kind``: the command's name (goal, published, …; "unknown" for text that does not
        parse), never what was typed; ``outcome``: "ok", "refused" (bad input) or "error"."""


# A command's name as members type it: a few label values, whatever the text was.
COMMAND_KINDS: dict[type, str] = {
    **dict.fromkeys((c.ShowGoal, c.SetGoal, c.GoalOff, c.Rest, c.EndRest, c.SetWeekStart), "goal"),
    c.SetFreezes: "goal",
    **dict.fromkeys(
        (
            c.LogPublication,
            c.UndoPublication,
            c.ListPublications,
            c.RemovePublication,
            c.RepeatPublication,
        ),
        "published",
    ),
    c.ShowStreak: "streak",
    **dict.fromkeys(
        (c.ShowNudges, c.SetNudges, c.PauseNudges, c.ResumeNudges, c.NudgesOff, c.Snooze),
        "nudges",
    ),
    c.SmallerStep: "nudges",
    c.SetHeadsUp: "nudges",
    **dict.fromkeys((c.ShowTimezone, c.SetTimezone), "timezone"),
    **dict.fromkeys((c.Help, c.Export, c.Forget), "habit"),
}


def show_help(ctx: CommandContext, command: c.Help) -> Reply:
    today = ctx.today(ctx.preview())
    return Reply.of(HelpCard(pause_until=today + timedelta(days=grammar.PAUSE_EXAMPLE_DAYS)))


# Every command's use case, by the command's type.
USE_CASES: dict[type, UseCase] = {
    **goals.USE_CASES,
    **publications.USE_CASES,
    **nudges.USE_CASES,
    **data_rights.USE_CASES,
    c.Help: show_help,
}


def run(ctx: CommandContext, command: c.Command) -> Reply:
    """Run ``command``; a member the platform could not reach is reachable again once they
    use a command (a look at the overview does not count, see :meth:`Coach.overview`)."""
    member = ctx.existing()
    reply = USE_CASES[type(command)](ctx, command)
    if reply.ok and member is not None and member.unreachable and not isinstance(command, c.Forget):
        member.unreachable = False
        ctx.replan(member)
        reply = reply.then(say(M.DMS_REOPENED))
    return reply


class Coach:
    """The habit engine behind every adapter, as members use it."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        default_zone: str = "UTC",
        *,
        command_observer: CommandObserver | None = None,
        member_records: Sequence[MemberRecords] = (),
    ):
        self._uow_factory = uow_factory
        self._clock = clock
        self.default_zone = default_zone
        self.command_observer = command_observer
        # What adapters keep about members outside the engine's tables: exported and forgotten
        # with the rest of the member's data.
        self.member_records = tuple(member_records)

    def now(self) -> datetime:
        return self._clock.now()

    def _context(
        self,
        uow: UnitOfWork,
        ref: MemberRef,
        zone_hint: str | None,
        source: Source = Source.COMMAND,
        request_key: str | None = None,
    ) -> CommandContext:
        return CommandContext(
            uow,
            ref,
            self._clock.now(),
            default_zone=self.default_zone,
            zone_hint=zone_hint,
            source=source,
            request_key=request_key,
            member_records=self.member_records,
        )

    def handle(
        self,
        ref: MemberRef,
        text: str,
        *,
        zone_hint: str | None = None,
        source: Source = Source.COMMAND,
        request_key: str | None = None,
    ) -> Reply:
        """Parse ``text`` and run it; never raises, never leaves half-stored state."""
        parsed = grammar.parse(text, today=lambda: self.today(ref, zone_hint))
        if isinstance(parsed, c.ParseError):
            self._observe(ref, "unknown", "refused")
            return parsed.reply()
        return self.execute(
            ref, parsed, zone_hint=zone_hint, source=source, request_key=request_key
        )

    def today(self, ref: MemberRef, zone_hint: str | None = None) -> date:
        """The member's local date (a newcomer's in the zone they would get), for an example
        that names a date; the default zone's if the store cannot say."""
        try:
            with self._uow_factory() as uow:
                ctx = self._context(uow, ref, zone_hint)
                return ctx.today(ctx.preview())
        except Exception:
            log.exception("today's date failed for %s", ref.platform)
            return tk.local_date(self._clock.now(), tk.zone(self.default_zone))

    def overview(self, ref: MemberRef, *, zone_hint: str | None = None) -> Overview:
        """The streak card and settings, read-only: creates no member and, unlike a command
        the member types, does not take a look at a status page as a sign their DMs reopened."""
        queries = (c.ShowStreak(), c.ShowGoal(), c.ShowNudges(), c.ShowTimezone())
        try:
            with self._uow_factory() as uow:
                ctx = self._context(uow, ref, zone_hint)
                return Overview(*(USE_CASES[type(query)](ctx, query) for query in queries))
        except Exception:
            log.exception("overview failed for %s", ref.platform)
            return Overview(*(OOPS_REPLY for _ in queries))

    def publish_form(
        self,
        ref: MemberRef,
        url: str | None,
        title: str | None,
        *,
        when: str | None = None,
        zone_hint: str | None = None,
        source: Source = Source.BUTTON,
        request_key: str | None = None,
    ) -> Reply:
        """Log a publication from separate link, title and day fields: the *I published*
        modal, or Discord's typed options. A link field must hold a link; a title may be
        anything; ``when`` names the day (today, yesterday, mon, YYYY-MM-DD)."""
        parsed = grammar.parse_publication_fields(url, title, when)
        if isinstance(parsed, c.ParseError):
            self._observe(ref, "published", "refused")
            return parsed.reply()
        return self.execute(
            ref, parsed, zone_hint=zone_hint, source=source, request_key=request_key
        )

    def execute(
        self,
        ref: MemberRef,
        command: c.Command,
        *,
        zone_hint: str | None = None,
        source: Source = Source.COMMAND,
        request_key: str | None = None,
    ) -> Reply:
        """Run one command in one unit of work.

        ``request_key`` is the platform's id for the request (an interaction id, a Slack view
        id); a request delivered twice logs its publication once.
        """
        kind = COMMAND_KINDS.get(type(command), "unknown")
        key = storable_text(request_key)[:MAX_REQUEST_KEY] if request_key else None
        try:
            with self._uow_factory() as uow:
                reply = run(self._context(uow, ref, zone_hint, source, key or None), command)
                if reply.ok:
                    uow.commit()  # a refused command stores nothing, not even a new member
        except Exception:
            log.exception("command %s failed for %s", type(command).__name__, ref.platform)
            self._observe(ref, kind, "error")
            return OOPS_REPLY
        self._observe(ref, kind, "ok" if reply.ok else "refused")
        return reply

    def _observe(self, ref: MemberRef, kind: str, outcome: str) -> None:
        if self.command_observer is not None:
            self.command_observer.command(ref.platform, kind, outcome)
