"""The use cases: one method per command, each in one unit of work, plus the delivery side.

Adapters call :meth:`Coach.handle` with the member's identity and the text they typed (or a
command built from typed options) and render the :class:`Reply`. The scheduler's dispatcher
calls :meth:`Coach.anything_due`, :meth:`Coach.start_sweep`, :meth:`Coach.claim`,
:meth:`Coach.prepare` and :meth:`Coach.finish` (or :meth:`Coach.retry_later`,
:meth:`Coach.mark_unreachable`, :meth:`Coach.release`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import singledispatchmethod
from typing import Any, Protocol

from habits import coaching, export, grammar, scheduling, streaks
from habits import commands as c
from habits import timekeeping as tk
from habits.messages import (
    NUDGE_ACTIONS,
    SMALLER_STEP,
    SMALLEST_STEP,
    Action,
    ActionId,
    Attachment,
    HelpCard,
    Notice,
    Overview,
    Reply,
)
from habits.model import (
    MAX_DISPLAY_NAME,
    MAX_REQUEST_KEY,
    Clock,
    DeliveryKind,
    DeliveryStatus,
    DueDelivery,
    GoalChange,
    Member,
    MemberRef,
    Platform,
    Publication,
    Source,
    Streak,
    WeekState,
    WeekSummary,
    storable_text,
)
from habits.ports import (
    DuplicatePublicationError,
    MemberRecords,
    UnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

SNOOZE_LATER = timedelta(hours=3)
# A snooze answers a nudge (or check-in) sent this recently; with none, it moves nothing.
SNOOZE_ANSWERS = timedelta(hours=12)
LISTED_WEEKS = 4  # /published list: this week and the three before it
MAX_LISTED = 20
ZONE_SHIFT_MARGIN = timedelta(hours=26)  # the widest gap between two zones' clocks
LAST_NUDGE_HOUR = 21  # a snooze "for later" that would land after this local hour waits a day
OOPS = "Sorry — something went wrong on my side and nothing was changed. Please try again."


@dataclass(frozen=True)
class SweepSettings:
    batch_size: int = 1000
    nudge_grace: timedelta = timedelta(hours=6)
    recap_grace: timedelta = timedelta(days=2)


DEFAULT_SWEEP = SweepSettings()


class CommandObserver(Protocol):
    """Told about every command handled (the process's metrics), from a database thread."""

    def command(self, platform: str, kind: str, outcome: str) -> None:
        """``kind``: the command's name (goal, published, …; "unknown" for text that does not
        parse), never what was typed; ``outcome``: "ok", "refused" (bad input) or "error"."""


# A command's name as members type it: a few label values, whatever the text was.
COMMAND_KINDS: dict[type, str] = {
    **dict.fromkeys((c.ShowGoal, c.SetGoal, c.GoalOff, c.Rest, c.EndRest, c.SetWeekStart), "goal"),
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
    **dict.fromkeys((c.ShowTimezone, c.SetTimezone), "timezone"),
    **dict.fromkeys((c.Help, c.Export, c.Forget), "habit"),
}


class Coach:
    """The habit engine behind every adapter."""

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

    # --- commands ------------------------------------------------------------------------------

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
            return Reply(str(parsed), ok=False)
        return self.execute(
            ref, parsed, zone_hint=zone_hint, source=source, request_key=request_key
        )

    def today(self, ref: MemberRef, zone_hint: str | None = None) -> date:
        """The member's local date (a newcomer's in the zone they would get), for an example
        that names a date; the default zone's if the store cannot say."""
        try:
            with self._uow_factory() as uow:
                ctx = _Context(self, uow, ref, zone_hint, Source.COMMAND, self._clock.now())
                return tk.local_date(ctx.now, ctx.preview().tz)
        except Exception:
            log.exception("today's date failed for %s", ref.platform)
            return tk.local_date(self._clock.now(), tk.zone(self.default_zone))

    def overview(self, ref: MemberRef, *, zone_hint: str | None = None) -> Overview:
        """The streak card and settings, read-only: creates no member and, unlike a command
        the member types, does not take a look at a status page as a sign their DMs reopened."""
        queries = (c.ShowStreak(), c.ShowGoal(), c.ShowNudges(), c.ShowTimezone())
        try:
            with self._uow_factory() as uow:
                ctx = _Context(self, uow, ref, zone_hint, Source.COMMAND, self._clock.now())
                return Overview(*(ctx.show(query) for query in queries))
        except Exception:
            log.exception("overview failed for %s", ref.platform)
            return Overview(*(Reply(OOPS, ok=False) for _ in queries))

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
            return Reply(str(parsed), ok=False)
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
        try:
            with self._uow_factory() as uow:
                ctx = _Context(self, uow, ref, zone_hint, source, self._clock.now())
                key = storable_text(request_key)[:MAX_REQUEST_KEY] if request_key else None
                ctx.request_key = key or None
                reply = ctx.run(command)
                if reply.ok:
                    uow.commit()  # a refused command stores nothing, not even a new member
        except Exception:
            log.exception("command %s failed for %s", type(command).__name__, ref.platform)
            self._observe(ref, kind, "error")
            return Reply(OOPS, ok=False)
        self._observe(ref, kind, "ok" if reply.ok else "refused")
        return reply

    def _observe(self, ref: MemberRef, kind: str, outcome: str) -> None:
        if self.command_observer is not None:
            self.command_observer.command(ref.platform, kind, outcome)

    # --- scheduling and delivery ---------------------------------------------------------------

    def sweep(self, platforms: list[str], settings: SweepSettings = DEFAULT_SWEEP) -> int:
        """Advance every due member on ``platforms`` and log their nudges; returns the count."""
        run = self.start_sweep(platforms, settings)
        while run.batch():
            pass
        return run.swept

    def start_sweep(
        self, platforms: list[str], settings: SweepSettings = DEFAULT_SWEEP
    ) -> SweepRun:
        """A sweep to be run one short transaction at a time (see :class:`SweepRun`)."""
        return SweepRun(self._uow_factory, self._clock.now(), platforms, settings)

    def anything_due(self, platforms: Sequence[str]) -> bool:
        """Whether a sweep or a claim on ``platforms`` would find anything now."""
        with self._uow_factory() as uow:
            return uow.deliveries.anything_due(self._clock.now(), platforms)

    def claim(
        self, platforms: list[str], owner: str, lease: timedelta, limit: int = 100
    ) -> list[DueDelivery]:
        with self._uow_factory() as uow:
            claimed = uow.deliveries.claim(self._clock.now(), platforms, owner, lease, limit)
            uow.commit()
            return claimed

    def renew_claims(self, claimed: Sequence[DueDelivery], lease: timedelta) -> int:
        """Extend this process's lease on claimed deliveries it has not started yet, so a big
        batch behind slow sends is not taken over by another process; returns how many."""
        by_owner = self._ids_by_owner(claimed)
        with self._uow_factory() as uow:
            until = self._clock.now() + lease
            renewed = sum(uow.deliveries.renew_many(ids, o, until) for o, ids in by_owner.items())
            uow.commit()
            return renewed

    def release(self, claimed: Sequence[DueDelivery]) -> int:
        """Hand back claimed deliveries that were never started (a stopping process): any
        process may claim them at once, and their attempt does not count. Returns how many
        were still held."""
        by_owner = self._ids_by_owner(claimed)
        with self._uow_factory() as uow:
            released = sum(uow.deliveries.release(ids, o) for o, ids in by_owner.items())
            uow.commit()
            return released

    @staticmethod
    def _ids_by_owner(claimed: Sequence[DueDelivery]) -> dict[str, list[int]]:
        by_owner: dict[str, list[int]] = {}
        for delivery in claimed:
            by_owner.setdefault(delivery.owner, []).append(delivery.id)
        return by_owner

    def backlog(self, platforms: Sequence[str]) -> int:
        """Pending deliveries of ``platforms`` claimable now: what the senders are behind by."""
        with self._uow_factory() as uow:
            return uow.deliveries.backlog(self._clock.now(), platforms)

    def compose(self, delivery: DueDelivery, lease: timedelta | None = None) -> Notice | None:
        """The message for a claimed delivery, built from the member's state right now.

        Returns None (and marks the delivery skipped) when there is nothing worth saying, e.g.
        the goal was met or turned off since the sweep recorded it. With a ``lease``, first
        extends this process's lease for the send; if another process has taken the delivery
        over meanwhile (a slow batch outlived the lease), returns None and leaves it to them.
        """
        prepared = self.prepare(delivery, lease)
        return prepared if isinstance(prepared, Notice) else None

    def prepare(
        self, delivery: DueDelivery, lease: timedelta | None = None
    ) -> Notice | DeliveryStatus | None:
        """:meth:`compose`, telling the two reasons for no message apart: the notice to send;
        ``DeliveryStatus.SKIPPED`` when there is nothing to say (recorded as skipped); None
        when another process holds the delivery now (nothing recorded, nothing to count)."""
        with self._uow_factory() as uow:
            now = self._clock.now()
            if lease is not None and delivery.owner:
                if not uow.deliveries.renew(delivery.id, delivery.owner, now + lease):
                    return None
                uow.commit()
            member = uow.members.get_by_id(delivery.member_id)
            notice = None
            if member is not None:
                ctx = _Context(self, uow, _ref_of(member), None, Source.COMMAND, self._clock.now())
                if delivery.kind == DeliveryKind.NUDGE:
                    notice = ctx.nudge_notice()
                else:
                    notice = ctx.checkin_notice(delivery.scheduled_for)
            if notice is None:
                uow.deliveries.finish(
                    delivery.id, DeliveryStatus.SKIPPED, now, "nothing to say", delivery.owner
                )
            uow.commit()
            if notice is None:
                return DeliveryStatus.SKIPPED
            return replace(
                notice, key=f"{delivery.kind}-{delivery.id}", attempt=max(delivery.attempts, 1)
            )

    def finish(self, delivery: DueDelivery, status: DeliveryStatus, detail: str = "") -> None:
        with self._uow_factory() as uow:
            uow.deliveries.finish(delivery.id, status, self._clock.now(), detail, delivery.owner)
            uow.commit()

    def retry_later(
        self, delivery: DueDelivery, delay: timedelta, detail: str, count_attempt: bool = True
    ) -> None:
        with self._uow_factory() as uow:
            uow.deliveries.retry_later(
                delivery.id, self._clock.now() + delay, detail, delivery.owner, count_attempt
            )
            uow.commit()

    def mark_unreachable(self, delivery: DueDelivery, detail: str) -> None:
        """The platform refuses messages to this member (e.g. DMs closed): stop nudging them."""
        with self._uow_factory() as uow:
            member = uow.members.get_by_id(delivery.member_id)
            if member is not None:
                member.unreachable = True
                member.next_nudge_at = member.next_recap_at = None
            uow.deliveries.finish(
                delivery.id, DeliveryStatus.FAILED, self._clock.now(), detail, delivery.owner
            )
            uow.commit()


class SweepRun:
    """One sweep over everything due at one moment, a batch per transaction.

    "Now" is read once, so every batch plans against the same moment and plans are memoised for
    the whole sweep: 10,000 members due at Monday 09:00 in one zone share one computation.
    Callers that share a worker thread with commands run one :meth:`batch` per job.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        now: datetime,
        platforms: list[str],
        settings: SweepSettings,
    ):
        self._uow_factory = uow_factory
        self.now = now
        self.platforms = platforms
        self.settings = settings
        self.swept = 0
        self._plans: dict[
            tuple[scheduling.Snapshot, datetime], tuple[datetime | None, datetime | None]
        ] = {}

    def batch(self) -> bool:
        """Sweep one batch; True while a full batch was found (there may be more)."""
        settings = self.settings
        with self._uow_factory() as uow:
            swept = uow.deliveries.sweep(
                self.now,
                self.platforms,
                self.plan,
                settings.batch_size,
                settings.nudge_grace,
                settings.recap_grace,
            )
            uow.commit()
        self.swept += swept
        return swept >= settings.batch_size

    def plan(
        self, snapshot: scheduling.Snapshot, after: datetime
    ) -> tuple[datetime | None, datetime | None]:
        key = (snapshot, after)
        found = self._plans.get(key)
        if found is None:
            # Schedules that differ only in what planning ignores (the goal's size, say)
            # share one computation: planning is the costly part of a mixed sweep.
            shared = (scheduling.planning_key(snapshot), after)
            found = self._plans.get(shared)
            if found is None:
                found = self._plans[shared] = _plan_for_sweep(snapshot, after)
            self._plans[key] = found
        return found


def _plan_for_sweep(
    snapshot: scheduling.Snapshot, after: datetime
) -> tuple[datetime | None, datetime | None]:
    # A due nudge means the week was not met when it was planned: meeting the goal replans.
    try:
        return scheduling.plan(snapshot, after, week_met=False)
    except Exception:
        # One member's unplannable row (say, a zone tzdata no longer knows) must not stop the
        # sweep for everyone; their next command replans them.
        log.exception("cannot plan nudges in zone %r; unscheduling", snapshot.timezone)
        return None, None


def _ref_of(member: Member) -> MemberRef:
    return MemberRef(
        Platform(member.platform), member.user_id, member.workspace, member.display_name
    )


class _Context:
    """One command's run: the member, the unit of work and 'now', shared by the helpers."""

    def __init__(
        self,
        coach: Coach,
        uow: UnitOfWork,
        ref: MemberRef,
        zone_hint: str | None,
        source: Source,
        now: datetime,
    ):
        self.coach = coach
        self.uow = uow
        self.ref = ref
        self.zone_hint = zone_hint
        self.source = source
        self.now = now
        self.request_key: str | None = None
        self._member: Member | None = None
        # Publications counted per (member, week, week start) in this command; cleared on change.
        self._counts: dict[tuple[int, date, int], int] = {}

    # --- member --------------------------------------------------------------------------------

    def hinted_zone(self) -> str | None:
        """The adapter's guess at a new member's zone (Slack's profile), by its current name."""
        if self.zone_hint is None or self.zone_hint not in tk.known_zone_names():
            return None
        return tk.preferred_zone_name(self.zone_hint)

    def existing(self) -> Member | None:
        if self._member is None:
            self._member = self.uow.members.get(self.ref)
        return self._member

    def member(self) -> Member:
        """The member, created on first contact with the adapter's best guess at their zone."""
        found = self.existing()
        name = self.ref.display_name[:MAX_DISPLAY_NAME]
        if found is not None:
            if name and found.display_name != name:
                found.display_name = name
            return found
        zone = self.hinted_zone()
        member = Member(
            platform=self.ref.platform,
            workspace=self.ref.workspace,
            user_id=self.ref.user_id,
            display_name=name,
            created_at=self.now,
            timezone=zone or self.coach.default_zone,
        )
        self.uow.members.add(member)
        self._member = member
        return member

    def preview(self) -> Member:
        """The member if known, else an unsaved default one (for read-only commands)."""
        found = self.existing()
        if found is not None:
            return found
        zone = self.hinted_zone()
        return Member(
            platform=self.ref.platform,
            workspace=self.ref.workspace,
            user_id=self.ref.user_id,
            created_at=self.now,
            timezone=zone or self.coach.default_zone,
        )

    def day(self, day: date) -> str:
        """'Mon 07 Dec', with the year when it isn't this year's."""
        shown = day.strftime("%a %d %b")
        return shown if day.year == self.now.year else f"{shown} {day.year}"

    def when(self, instant: datetime | None, member: Member) -> str:
        if instant is None:
            return "not scheduled"
        local = instant.astimezone(member.tz)
        return f"{self.day(local.date())} {local.strftime('%H:%M')}"

    def member_id(self, member: Member) -> int:
        assert member.id is not None, "repositories assign ids on add"
        return member.id

    # --- week state ----------------------------------------------------------------------------

    def weeks(self, member: Member) -> list[WeekSummary]:
        if member.id is None:
            return streaks.summarize(
                current_week=member.week_of(self.now),
                starts_on=member.week_starts_on,
                publication_days=[],
                changes=[],
                rest_weeks=[],
            )
        return streaks.summarize(
            current_week=member.week_of(self.now),
            starts_on=member.week_starts_on,
            publication_days=self.uow.publications.local_days(member.id),
            changes=self.uow.history.goal_changes(member.id),
            rest_weeks=self.uow.history.rest_weeks(member.id),
        )

    def this_week(self, member: Member) -> WeekSummary:
        week = member.week_of(self.now)
        count = 0
        if member.id is not None:
            key = (member.id, week, member.week_starts_on)
            if key not in self._counts:
                self._counts[key] = sum(
                    1
                    for day in self.uow.publications.local_days(member.id, since=week)
                    if tk.week_start(day, member.week_starts_on) == week
                )
            count = self._counts[key]
        target = member.goal_target
        state = streaks.week_state(count, target, self.resting(member, week), closed=False)
        return WeekSummary(week, count, target, state)

    def resting(self, member: Member, week: date) -> bool:
        """Whether ``week`` is a declared rest week: before the rest's end, and one of its
        weeks (a rest declared after a met week starts the week after)."""
        if not member.is_resting(week) or member.id is None:
            return False
        starts_on = member.week_starts_on
        stored = self.uow.history.rest_weeks(member.id)
        return week in {tk.week_start(day, starts_on) for day in stored}

    def week_end(self, member: Member) -> datetime:
        return tk.week_bounds(member.week_of(self.now), member.tz)[1]

    def streak(self, member: Member) -> Streak:
        weeks = self.weeks(member)
        total = len(self.uow.publications.local_days(member.id)) if member.id else 0
        return streaks.build_streak(weeks, total, self.now, self.week_end(member), member.tz)

    def replan(self, member: Member) -> None:
        met = self.this_week(member).state is WeekState.MET
        nudge, checkin = scheduling.plan(member, self.now, met)
        if checkin is not None and member.id is not None:
            week_start, week_end = tk.week_bounds(member.week_of(self.now), member.tz)
            # This week's check-in already went out (a new nudge time or zone would otherwise
            # schedule it again): the next one opens next week. The margin covers a zone change
            # that moved the week's start by up to a day.
            if checkin < week_end and self.uow.deliveries.logged_since(
                member.id, DeliveryKind.RECAP, week_start - ZONE_SHIFT_MARGIN
            ):
                checkin = scheduling.next_checkin(member, week_end)
        member.next_nudge_at, member.next_recap_at = nudge, checkin

    def progress_line(self, member: Member) -> str:
        week = self.this_week(member)
        label = member.goal_label
        left = tk.humanize_left(self.now, self.week_end(member), member.tz)
        if week.state is WeekState.REST:
            if week.count == 0:
                return "This is a rest week — nothing to chase, enjoy the break."
            published = coaching.plural(week.count, label)
            return f"This is a rest week, and you still published {published} — a bonus."
        if week.target is None:
            return f"{coaching.plural(week.count, label)} logged this week."
        if week.state is WeekState.MET:
            return f"{week.count} of {week.target} this week — goal met! 🎉"
        return f"{week.count} of {week.target} this week, {left}."

    def phase(self, member: Member) -> coaching.Phase:
        today = tk.local_date(self.now, member.tz)
        return coaching.phase_for(coaching.days_left_in_week(today, member.week_of(self.now)))

    def step(self, member: Member) -> coaching.Step:
        """A regular-sized step (a nudge's, a check-in's): it restarts the smaller-step ladder."""
        salt = tk.local_date(self.now, member.tz).toordinal() + (member.id or 0)
        chosen = coaching.choose_step(self.phase(member), member.last_step, salt)
        member.last_step = chosen.id
        return chosen

    def step_text(self, member: Member) -> str:
        return self.step(member).text.format(label=member.goal_label)

    def schedule_line(self, member: Member) -> str:
        days = tk.describe_days(member.nudge_days)
        at = tk.describe_minute(member.nudge_minute)
        base = f"{days} at {at} ({member.timezone})"
        if member.goal_target is None:
            return f"Nudges: {base}, once you set a goal — try /goal 1 post."
        if not member.nudges_on:
            return f"Nudges are off (they'd be {base}). Turn them on with /nudges resume."
        if member.unreachable:
            return f"Nudges: {base}, but I couldn't reach you last time."
        today = tk.local_date(self.now, member.tz)
        paused = ""
        if member.rest_until is not None and member.rest_until > today:
            if member.paused_until is not None and member.paused_until > member.rest_until:
                paused = f" Paused until {self.day(member.paused_until)}."
            else:
                paused = f" Resting until {self.day(member.rest_until)}."
        elif member.paused_until is not None and member.paused_until > today:
            paused = f" Paused until {self.day(member.paused_until)}."
        checkin = ""
        if member.next_recap_at is not None:
            checkin = f" Weekly check-in: {self.when(member.next_recap_at, member)}."
            if tk.mask_days(member.nudge_days) == [member.week_starts_on]:
                # The check-in is that day's one message and carries the week's first step.
                first_day = "Sunday" if member.week_starts_on == tk.SUNDAY else "Monday"
                return (
                    f"Nudges: {base}.{paused} {first_day}'s message is the weekly check-in, "
                    f"with your first tiny step: {self.when(member.next_recap_at, member)}."
                )
        return f"Nudges: {base}.{paused} Next: {self.when(member.next_nudge_at, member)}.{checkin}"

    # --- dispatch ------------------------------------------------------------------------------

    def show(self, query: c.ShowStreak | c.ShowGoal | c.ShowNudges | c.ShowTimezone) -> Reply:
        """A read-only command's answer, with none of a typed command's side effects."""
        return self._run(query)

    def run(self, command: c.Command) -> Reply:
        member = self.existing()
        reply = self._run(command)
        if (
            reply.ok
            and member is not None
            and member.unreachable
            and not isinstance(command, c.Forget)
        ):
            member.unreachable = False
            self.replan(member)
            note = (
                "\n(I couldn't send you direct messages lately, so nudges stopped. "
                "If you've opened your DMs, they start again now.)"
            )
            reply = replace(reply, text=reply.text + note)
        return reply

    @singledispatchmethod
    def _run(self, command: object) -> Reply:  # pragma: no cover - every command is registered
        raise TypeError(f"no use case for {command!r}")

    @_run.register
    def _show_goal(self, command: c.ShowGoal) -> Reply:
        member = self.preview()
        if member.goal_target is None:
            return Reply(
                "You have no weekly goal yet. Start small: /goal 1 post — one post a week."
            )
        goal = coaching.plural(member.goal_target, member.goal_label)
        first_day = tk.DAY_NAMES[member.week_starts_on]
        return Reply(
            f"Your goal: {goal} a week (weeks start on {first_day}, {member.timezone}).\n"
            f"{self.progress_line(member)}"
        )

    @_run.register
    def _set_goal(self, command: c.SetGoal) -> Reply:
        member = self.member()
        first_goal = member.goal_target is None
        member.goal_target = command.target
        if command.label is not None:
            member.goal_label = command.label
        today = tk.local_date(self.now, member.tz)
        self.uow.history.add_goal_change(
            GoalChange(self.member_id(member), today, command.target, member.goal_label, self.now)
        )
        self.replan(member)
        goal = coaching.plural(command.target, member.goal_label)
        lines = [f"Goal set: {goal} a week. {self.progress_line(member)}"]
        if first_goal and self.this_week(member).state is not WeekState.MET:
            lines.append(f"Start small, start now: {self.step_text(member)}")
        lines.append(self.schedule_line(member))
        if member.timezone == "UTC" and self.zone_hint is None:
            lines.append("Weeks and nudges follow UTC — not your zone? /timezone Europe/Berlin")
        return Reply("\n".join(lines))

    @_run.register
    def _goal_off(self, command: c.GoalOff) -> Reply:
        member = self.existing()
        if member is None or member.goal_target is None:
            return Reply("You have no goal to turn off. Set one with /goal 1 post.")
        member.goal_target = None
        today = tk.local_date(self.now, member.tz)
        self.uow.history.add_goal_change(
            GoalChange(self.member_id(member), today, None, member.goal_label, self.now)
        )
        self.replan(member)
        return Reply(
            "Goal tracking is off and nudges have stopped. Your history is kept — "
            "come back any time with /goal 1 post."
        )

    @_run.register
    def _rest(self, command: c.Rest) -> Reply:
        member = self.member()
        week = member.week_of(self.now)
        # A met week stays met: the rest covers the weeks it can help, from next week.
        met = self.this_week(member).state is WeekState.MET
        first = week + timedelta(days=7) if met else week
        weeks = [first + timedelta(days=7 * i) for i in range(command.weeks)]
        until = weeks[-1] + timedelta(days=7)
        ongoing = member.rest_until if member.is_resting(week) else None
        if ongoing is not None and ongoing >= until:
            return Reply(
                f"You're already resting until {self.day(ongoing)} — nothing changed. "
                "/goal rest off ends the rest early."
            )
        self.uow.history.add_rest_weeks(self.member_id(member), weeks)
        member.rest_until = until
        self.replan(member)
        safe = "your streak is safe: rest weeks neither break nor grow it."
        if ongoing is not None:
            return Reply(
                f"Your rest now runs until {self.day(until)} (it was until "
                f"{self.day(ongoing)}). No nudges until then, and {safe}"
            )
        span = "1 week" if command.weeks == 1 else f"{command.weeks} weeks"
        if met:
            return Reply(
                f"This week is already met, so it stays met — your rest ({span}) starts "
                f"next week. No nudges until {self.day(until)}, and {safe}"
            )
        span = "this week" if command.weeks == 1 else span
        return Reply(f"Rest {span} — enjoy it. No nudges until {self.day(until)}, and {safe}")

    @_run.register
    def _end_rest(self, command: c.EndRest) -> Reply:
        member = self.existing()
        if member is None or member.id is None or not member.is_resting(member.week_of(self.now)):
            return Reply("You're not resting right now, so there's no rest to end.")
        week = member.week_of(self.now)
        planned = [
            day
            for day in self.uow.history.rest_weeks(member.id)
            if tk.week_start(day, member.week_starts_on) >= week
        ]
        self.uow.history.remove_rest_weeks(member.id, planned)
        member.rest_until = None
        self._counts.clear()
        self.replan(member)
        return Reply(
            "Rest ended — your weeks count as usual again; your streak is as it was. "
            f"{self.progress_line(member)}\n{self.schedule_line(member)}"
        )

    @_run.register
    def _set_week_start(self, command: c.SetWeekStart) -> Reply:
        member = self.member()
        member.week_starts_on = command.starts_on
        if member.rest_until is not None:
            # Re-map the last rest week the way the streak maps stored rest weeks, so the coach
            # never rests (and stays quiet) through a week the streak then counts as missed.
            last_rest_week = member.rest_until - timedelta(days=7)
            member.rest_until = tk.week_start(last_rest_week, command.starts_on) + timedelta(7)
        self.replan(member)
        return Reply(
            f"Your weeks now start on {tk.DAY_NAMES[command.starts_on]}. "
            f"{self.progress_line(member)}"
        )

    @_run.register
    def _log_publication(self, command: c.LogPublication) -> Reply:
        member = self.member()
        member_id = self.member_id(member)
        if self.request_key is not None and self.uow.publications.has_request_key(
            member_id, self.request_key
        ):
            return Reply(
                f"Already logged — that was the same request again. {self.progress_line(member)}"
            )
        today = tk.local_date(self.now, member.tz)
        day = command.day.resolve(today) if command.day is not None else today
        refused = self.refuse_day(day, today)
        if refused is not None:
            return refused
        if command.url is not None and self.uow.publications.has_any_url(
            member_id, grammar.url_variants(command.url)
        ):
            return Reply(
                f"You already logged {command.url} — each link counts once. "
                f"{self.progress_line(member)}"
            )
        if command.url is None and command.title is not None:
            title = command.title.casefold()
            for earlier in self.uow.publications.recent(member_id, since=day):
                same_title = earlier.title is not None and earlier.title.casefold() == title
                if earlier.local_day == day and earlier.url is None and same_title:
                    on = "today" if day == today else f"on {self.day(day)}"
                    return Reply(
                        f"You logged “{command.title}” {on} already — log it again?",
                        actions=(
                            Action(
                                ActionId.PUBLISH_AGAIN,
                                "Yes, log it again",
                                f"/published again {earlier.id}",
                            ),
                        ),
                    )
        return self.store_publication(
            member, day, command.url, command.title, command.title_shortened
        )

    def refuse_day(self, day: date, today: date) -> Reply | None:
        """Why a publication cannot be logged (or removed) for ``day``, if it cannot."""
        back = (today - timedelta(days=2)).isoformat()
        example = f"\nExample: /published {back} https://example.com/my-post My first post"
        if day > today:
            return Reply(
                f"{self.day(day)} hasn't happened yet — log a publication once it's out." + example,
                ok=False,
            )
        if day < today - timedelta(days=c.MAX_DAYS_BACK):
            return Reply(
                f"{self.day(day)} is more than {c.MAX_DAYS_BACK} days back: I log publications "
                f"from {self.day(today - timedelta(days=c.MAX_DAYS_BACK))} on." + example,
                ok=False,
            )
        return None

    def store_publication(
        self,
        member: Member,
        day: date,
        url: str | None,
        title: str | None,
        title_shortened: bool = False,
    ) -> Reply:
        """Log a checked publication for the local ``day``: now if it is today, else that day's
        local noon (which every day has, on either side of a clock change)."""
        member_id = self.member_id(member)
        today = tk.local_date(self.now, member.tz)
        week = tk.week_start(day, member.week_starts_on)
        closed = week < member.week_of(self.now)
        weeks_before = self.weeks(member) if closed else []
        before = self.this_week(member).state
        self._counts.clear()
        at = self.now if day == today else tk.to_instant(datetime.combine(day, time(12)), member.tz)
        try:
            self.uow.publications.add(
                Publication(
                    member_id=member_id,
                    published_at=at,
                    local_day=day,
                    source=self.source,
                    url=url,
                    title=title,
                    request_key=self.request_key,
                )
            )
        except DuplicatePublicationError:
            # Another replica logged the same request (or link) since the checks above.
            what = (
                "that was the same request again" if self.request_key else "each link counts once"
            )
            return Reply(f"Already logged — {what}. {self.progress_line(member)}")
        self.replan(member)
        what = f"“{title}”" if title else (url or "your publication")
        for_day = "" if day == today else f" for {self.day(day)}"
        lines = [f"Logged {what}{for_day}. {self.progress_line(member)}"]
        if closed:
            lines.append(self.closed_week_news(member, week, weeks_before))
        after = self.this_week(member).state
        if after is WeekState.MET and before is not WeekState.MET:
            current = self.streak(member).current
            weeks = "week" if current == 1 else "weeks"
            lines.append(f"Streak: {current} {weeks}. No more nudges this week — enjoy it.")
        if member.goal_target is None:
            lines.append("Set a weekly goal to start a streak: /goal 1 post")
        if title_shortened:
            lines.append("(The title was long, so I kept its first 200 characters.)")
        return Reply("\n".join([line for line in lines if line]))

    def closed_week_news(self, member: Member, week: date, before: list[WeekSummary]) -> str:
        """What a publication logged in (or removed from) the closed ``week`` changed: the
        week's result and the streak, both by the streak's own rules."""
        after = self.weeks(member)
        old = next((w for w in before if w.start == week), None)
        new = next((w for w in after if w.start == week), None)
        last_week = member.week_of(self.now) - timedelta(days=7)
        name = "Last week" if week == last_week else f"The week of {self.day(week)}"
        if new is None or new.target is None or new.state is WeekState.REST:
            return ""
        if old is None or old.state is new.state:
            return f"{name}: {new.count} of {new.target}."
        streak_before, streak_now = streaks.current_streak(before), streaks.current_streak(after)
        weeks = "week" if streak_now == 1 else "weeks"
        if new.state is WeekState.MET:
            if streak_now > streak_before:
                return f"{name} is met now — your streak is back to {streak_now} {weeks}."
            return f"{name} is met now ({new.count} of {new.target})."
        if streak_now < streak_before:
            return (
                f"{name} is no longer met ({new.count} of {new.target}) — your streak is "
                f"{streak_now} {weeks} now."
            )
        return f"{name} is no longer met ({new.count} of {new.target})."

    def recent_publications(self, member: Member) -> Sequence[Publication]:
        """This week's publications and those of the weeks just before, newest first: the
        numbers /published list shows and /published remove takes."""
        if member.id is None:
            return []
        since = member.week_of(self.now) - timedelta(days=7 * (LISTED_WEEKS - 1))
        return self.uow.publications.recent(member.id, since)[:MAX_LISTED]

    @staticmethod
    def described(publication: Publication) -> str:
        if publication.title:
            return f"“{publication.title}”"
        return publication.url or "a publication without a title"

    @_run.register
    def _list_publications(self, command: c.ListPublications) -> Reply:
        member = self.existing()
        listed = self.recent_publications(member) if member is not None else []
        if member is None or not listed:
            return Reply(
                "Nothing logged in the last few weeks. Log one with /published "
                "https://example.com/my-post My first post"
            )
        lines = [f"Your publications this week and the {LISTED_WEEKS - 1} weeks before:"]
        for number, publication in enumerate(listed, start=1):
            parts = [f"{number}. {self.day(publication.local_day)}"]
            if publication.title:
                parts.append(f"“{publication.title}”")
            if publication.url:
                parts.append(publication.url)
            if len(parts) == 1:
                parts.append("(no title)")
            lines.append(" — ".join(parts))
        lines.append(
            f"Remove one with /published remove N (up to {c.MAX_DAYS_BACK} days back); "
            "log a past one with /published yesterday (or mon, or YYYY-MM-DD) and its link."
        )
        return Reply("\n".join(lines))

    @_run.register
    def _remove_publication(self, command: c.RemovePublication) -> Reply:
        member = self.existing()
        listed = self.recent_publications(member) if member is not None else []
        if member is None or not listed:
            return Reply("There's nothing to remove — nothing logged in the last few weeks.")
        if command.number > len(listed):
            only = "1" if len(listed) == 1 else f"1 to {len(listed)}"
            return Reply(
                f"There's no number {command.number}: /published list shows {only}.\n"
                f"Example: /published remove {len(listed)}",
                ok=False,
            )
        chosen = listed[command.number - 1]
        today = tk.local_date(self.now, member.tz)
        what = self.described(chosen)
        if chosen.local_day < today - timedelta(days=c.MAX_DAYS_BACK):
            return Reply(
                f"{what} is from {self.day(chosen.local_day)}, more than {c.MAX_DAYS_BACK} days "
                "back, so it stays.",
                ok=False,
            )
        return self.remove(member, chosen)

    def remove(self, member: Member, publication: Publication) -> Reply:
        week = tk.week_start(publication.local_day, member.week_starts_on)
        closed = week < member.week_of(self.now)
        weeks_before = self.weeks(member) if closed else []
        self._counts.clear()
        self.uow.publications.remove(publication)
        self.replan(member)
        lines = [
            f"Removed {self.described(publication)} (logged {self.day(publication.local_day)}). "
            f"{self.progress_line(member)}"
        ]
        if closed:
            lines.append(self.closed_week_news(member, week, weeks_before))
        return Reply("\n".join([line for line in lines if line]))

    @_run.register
    def _repeat_publication(self, command: c.RepeatPublication) -> Reply:
        member = self.existing()
        found = None
        if member is not None and member.id is not None:
            found = self.uow.publications.find(member.id, command.publication_id)
        if member is None or found is None or found.url is not None or found.title is None:
            return Reply(
                "That publication isn't there any more, so I logged nothing. Log it anew with "
                "/published and its title.",
                ok=False,
            )
        refused = self.refuse_day(found.local_day, tk.local_date(self.now, member.tz))
        if refused is not None:
            return refused
        return self.store_publication(member, found.local_day, None, found.title)

    @_run.register
    def _undo(self, command: c.UndoPublication) -> Reply:
        member = self.existing()
        latest = self.uow.publications.latest(member.id) if member and member.id else None
        if member is None or latest is None:
            return Reply("There's nothing to undo — no publications logged yet.")
        what = self.described(latest)
        if tk.week_start(latest.local_day, member.week_starts_on) != member.week_of(self.now):
            # A closed week's result was already recapped; a stray tap must not rewrite it.
            return Reply(
                f"Your last publication, {what} (logged {self.day(latest.local_day)}), belongs "
                "to a week that has closed, so it stays. Undo works for this week's publications; "
                "/published list and /published remove N take out an older one on purpose.",
                ok=False,
            )
        return self.remove(member, latest)

    @_run.register
    def _show_streak(self, command: c.ShowStreak) -> Reply:
        member = self.preview()
        streak = self.streak(member)
        return Reply(render_streak(streak, member.goal_label), streak=streak)

    @_run.register
    def _show_nudges(self, command: c.ShowNudges) -> Reply:
        return Reply(self.schedule_line(self.preview()))

    @_run.register
    def _set_nudges(self, command: c.SetNudges) -> Reply:
        member = self.member()
        if command.days is not None:
            member.nudge_days = command.days
        if command.minute_of_day is not None:
            member.nudge_minute = command.minute_of_day
        member.nudges_on = True
        self.replan(member)
        return Reply(self.schedule_line(member))

    @_run.register
    def _pause(self, command: c.PauseNudges) -> Reply:
        member = self.member()
        today = tk.local_date(self.now, member.tz)
        if command.until is not None:
            until = command.until
            if until <= today:
                return Reply(
                    f"Pick a date after today ({today.isoformat()}).\n"
                    f"Example: {grammar.pause_until_example(today)}",
                    ok=False,
                )
            if until > today + timedelta(days=366):
                return Reply(
                    "A pause can last up to a year.\n"
                    f"Example: {grammar.pause_until_example(today)}",
                    ok=False,
                )
        else:
            until = today + timedelta(weeks=command.weeks or 0, days=command.days or 0)
        member.paused_until = until
        self.replan(member)
        return Reply(
            f"Nudges paused until {self.day(until)}. /nudges resume brings them back sooner."
        )

    @_run.register
    def _resume(self, command: c.ResumeNudges) -> Reply:
        member = self.member()
        member.paused_until = None
        member.nudges_on = True
        self.replan(member)
        return Reply(f"Resumed. {self.schedule_line(member)}")

    @_run.register
    def _nudges_off(self, command: c.NudgesOff) -> Reply:
        member = self.member()
        member.nudges_on = False
        self.replan(member)
        return Reply(
            "Nudges are off. Your goal and streak still count, and the weekly recap still "
            "comes. /nudges resume turns them back on."
        )

    @_run.register
    def _snooze(self, command: c.Snooze) -> Reply:
        member = self.existing()
        if member is None or member.goal_target is None or not member.nudges_on:
            return Reply("There's no nudge to snooze right now.")
        if self.this_week(member).state is not WeekState.IN_PROGRESS:
            return Reply("Nothing to snooze — no more nudges this week.")
        tz = member.tz
        today = tk.local_date(self.now, tz)
        tomorrow = tk.to_instant(
            datetime.combine(today + timedelta(days=1), datetime.min.time())
            + timedelta(minutes=member.nudge_minute),
            tz,
        )
        at = tomorrow
        if command.until is c.SnoozeFor.LATER:
            later = (self.now + SNOOZE_LATER).astimezone(tz)
            # "Later today" never means the middle of the night: past 21:00 it's tomorrow.
            if later.date() == today and later.hour < LAST_NUDGE_HOUR:
                at = later.astimezone(self.now.tzinfo)
        scheduled = member.next_nudge_at
        # A snooze answers a nudge just sent (again at ``at``) or postpones the next one; it
        # never brings the next nudge forward.
        answers_a_nudge = member.id is not None and any(
            self.uow.deliveries.logged_since(member.id, kind, self.now - SNOOZE_ANSWERS)
            for kind in (DeliveryKind.NUDGE, DeliveryKind.RECAP)
        )
        if not answers_a_nudge and (scheduled is None or scheduled >= at):
            nothing = "Nothing to snooze: no nudge came lately"
            if scheduled is None:
                return Reply(f"{nothing}, and none is planned this week.")
            return Reply(
                f"{nothing}, and the next one is {self.when(scheduled, member)}, no sooner than "
                f"{self.when(at, member)}. Snooze pushes back a nudge you've just had."
            )
        member.next_nudge_at = at
        return Reply(f"Snoozed — I'll nudge you again {self.when(at, member)}.")

    @_run.register
    def _smaller(self, command: c.SmallerStep) -> Reply:
        member = self.existing()  # an old button after /habit forget brings nobody back
        if member is None or member.goal_target is None:
            return Reply("There's no goal yet, so no step to shrink. Start small: /goal 1 post")
        state = self.this_week(member).state
        if state is WeekState.MET:
            return Reply("Goal met this week — nothing to do but enjoy it. 🎉")
        if state is WeekState.REST:
            return Reply("It's a rest week — no steps needed. Enjoy the break.")
        # Each answer is a rung below the last step given, down to the phase's smallest, which
        # then stays (on the last day that is publishing, even after a shorter mid-week step);
        # the next nudge or check-in brings a regular-sized step again.
        phase = self.phase(member)
        step = coaching.smaller_step(phase, member.last_step)
        template = SMALLER_STEP
        if step is None:
            step, template = coaching.smallest_step(phase), SMALLEST_STEP
        member.last_step = step.id
        return Reply(template.format(step=step.text.format(label=member.goal_label)))

    @_run.register
    def _show_timezone(self, command: c.ShowTimezone) -> Reply:
        member = self.preview()
        local = self.now.astimezone(member.tz).strftime("%a %H:%M")
        return Reply(
            f"Your time zone is {member.timezone} (it's {local} there). "
            "Change it with /timezone Area/City, e.g. /timezone Europe/Berlin."
        )

    @_run.register
    def _set_timezone(self, command: c.SetTimezone) -> Reply:
        member = self.member()
        member.timezone = command.name
        self.replan(member)
        local = self.now.astimezone(member.tz).strftime("%a %H:%M")
        return Reply(f"Time zone set to {command.name} — it's {local} there now.")

    @_run.register
    def _help(self, command: c.Help) -> Reply:
        today = tk.local_date(self.now, self.preview().tz)
        card = HelpCard(pause_until=today + timedelta(days=grammar.PAUSE_EXAMPLE_DAYS))
        return Reply(help_text(card), help=card)

    @_run.register
    def _export(self, command: c.Export) -> Reply:
        member = self.existing()
        records = self.adapter_records()
        if (member is None or member.id is None) and not records:
            return Reply("I have no data about you yet — nothing to export.")
        data: dict[str, Any] = {"member": None, "publications": []}
        if member is not None:
            data = self.export_data(member)
        data["adapter_records"] = records
        content = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()
        count = len(data["publications"])
        return Reply(
            f"Here is everything I store about you ({count} publications).",
            attachment=Attachment("habit-coach-export.json", content),
        )

    def adapter_records(self) -> list[dict[str, object]]:
        """What the adapters keep that names the member (say, the Slack app they installed)."""
        hooks = self.coach.member_records
        return [record for hook in hooks for record in hook.export(self.ref, self.uow.records)]

    def export_data(self, member: Member) -> dict[str, Any]:
        """Every row that names the member, each with every column but the internal ids."""
        member_id = self.member_id(member)
        return {
            "member": {
                "platform": member.platform,
                "workspace": member.workspace,
                "user_id": member.user_id,
                "display_name": member.display_name,
                "created_at": member.created_at.isoformat(),
                "timezone": member.timezone,
                "week_starts_on": tk.DAY_NAMES[member.week_starts_on],
                "goal": {"target": member.goal_target, "label": member.goal_label},
                "nudges": {
                    "days": tk.describe_days(member.nudge_days),
                    "time": tk.describe_minute(member.nudge_minute),
                    "on": member.nudges_on,
                    "paused_until": _iso(member.paused_until),
                    "rest_until": _iso(member.rest_until),
                    "next_nudge_at": _iso(member.next_nudge_at),
                    "next_checkin_at": _iso(member.next_recap_at),
                },
                "last_step": member.last_step,
                "unreachable": member.unreachable,
            },
            "goal_changes": [
                {
                    "local_day": ch.local_day.isoformat(),
                    "target": ch.target,
                    "label": ch.label,
                    "set_at": ch.set_at.isoformat(),
                }
                for ch in self.uow.history.goal_changes(member_id)
            ],
            "rest_weeks": [w.isoformat() for w in self.uow.history.rest_weeks(member_id)],
            "publications": [
                {
                    "published_at": p.published_at.isoformat(),
                    "local_day": p.local_day.isoformat(),
                    "url": p.url,
                    "title": p.title,
                    "source": p.source,
                    "request_key": p.request_key,
                }
                for p in self.uow.publications.list(member_id)
            ],
            "deliveries": export.delivery_log(self.uow.deliveries.history(member_id)),
        }

    @_run.register
    def _forget(self, command: c.Forget) -> Reply:
        member = self.existing()
        # Also for a "keep" clicked after a "delete" went through.
        if member is None and not self.adapter_records():
            return Reply("I have no data about you — there's nothing to delete.")
        if command.cancelled:
            return Reply("Kept — nothing was deleted.")
        if not command.confirmed:
            return Reply(
                "This deletes your goal, streak, publications and settings, for good. "
                "Are you sure? (/habit forget confirm)",
                actions=(
                    Action(
                        ActionId.FORGET_CONFIRM, "Yes, delete everything", "/habit forget confirm"
                    ),
                    Action(ActionId.FORGET_CANCEL, "No, keep my data", "/habit forget cancel"),
                ),
            )
        # In this unit of work: the member's rows and the records naming them go together.
        for hook in self.coach.member_records:
            hook.forget(self.ref, self.uow.records, self.now)
        if member is not None:
            self.uow.members.delete(member)
        self._member = None
        return Reply(
            "Done — everything I stored about you is deleted. You can start fresh any time."
        )

    # --- notices -------------------------------------------------------------------------------

    def nudge_notice(self) -> Notice | None:
        member = self.existing()
        if member is None or member.goal_target is None or not member.nudges_on:
            return None
        if member.unreachable or member.is_paused(tk.local_date(self.now, member.tz)):
            return None
        if self.this_week(member).state is not WeekState.IN_PROGRESS:
            return None
        text = f"{self.progress_line(member)}\nTiny next step: {self.step_text(member)}"
        return Notice(self.ref, DeliveryKind.NUDGE, text, NUDGE_ACTIONS)

    def checkin_notice(self, scheduled_for: datetime) -> Notice | None:
        """The week-opening message: last week's recap (if it had a goal) and a first step."""
        member = self.existing()
        if member is None or member.unreachable or member.goal_target is None:
            return None  # "/goal off" since the sweep logged it: stay quiet
        closed = scheduling.closed_week_of_checkin(member, scheduled_for)
        weeks = self.weeks(member)
        by_start = {w.start: w for w in weeks}
        parts: list[str] = []
        actions: tuple[Action, ...] = ()
        summary = by_start.get(closed)
        if summary is not None and summary.state is WeekState.REST:
            if not member.is_resting(closed + timedelta(days=7)):  # not while the rest goes on
                parts.append("Welcome back from your rest week.")
        elif summary is not None and summary.state in (WeekState.MET, WeekState.MISSED):
            salt = closed.toordinal()
            streak = streaks.streak_through(weeks, closed)
            label = member.goal_label
            if summary.state is WeekState.MET:
                parts.append(
                    f"Last week: {summary.count} of {summary.target} — goal met! "
                    f"Streak: {streak} {'week' if streak == 1 else 'weeks'}. "
                    f"{coaching.encouragement(True, salt)}"
                )
            else:
                parts.append(
                    f"Last week: {summary.count} of {summary.target}. "
                    f"{coaching.encouragement(False, salt)}"
                )
                closed_weeks = [w for w in weeks if w.start <= closed]
                if streaks.missed_in_a_row(closed_weeks) >= 2 and member.goal_target:
                    if member.goal_target > 1:
                        smaller = member.goal_target - 1
                        goal = coaching.plural(smaller, label)
                        parts.append(f"Would a smaller goal help? Try {goal} a week.")
                        actions = (
                            Action(
                                ActionId.SMALLER_GOAL, f"Make it {goal} a week", f"/goal {smaller}"
                            ),
                        )
                    else:
                        parts.append(
                            f"Make it smaller still: a 100-word {label} counts. "
                            "Or take a breather with /goal rest."
                        )
        if member.goal_target is not None and member.nudges_on:
            today = tk.local_date(self.now, member.tz)
            week = self.this_week(member)
            if not member.is_paused(today) and week.state is WeekState.IN_PROGRESS:
                parts.append(
                    f"{self.progress_line(member)}\nFirst tiny step: {self.step_text(member)}"
                )
                actions = actions + NUDGE_ACTIONS
        if not parts:
            return None
        return Notice(self.ref, DeliveryKind.RECAP, "\n".join(parts), actions)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


STATE_MARKS = {
    WeekState.MET: "✅",
    WeekState.MISSED: "▫️",
    WeekState.REST: "💤",
    WeekState.IN_PROGRESS: "⏳",
    WeekState.OFF: "·",
}
STATE_LEGEND = {
    WeekState.MET: "met",
    WeekState.MISSED: "missed",
    WeekState.REST: "rest",
    WeekState.IN_PROGRESS: "this week",
    WeekState.OFF: "no goal",
}


def render_streak(streak: Streak, label: str) -> str:
    """The streak card as plain text; adapters may render richer cards from ``Reply.streak``."""
    week = streak.this_week
    weeks = "week" if streak.current == 1 else "weeks"
    lines = [f"🔥 Streak: {streak.current} {weeks} (longest: {streak.longest})"]
    if week.state is WeekState.REST:
        lines.append("This week: rest 💤")
    elif week.target is None:
        lines.append(
            f"This week: {coaching.plural(week.count, label)} (no goal set — /goal 1 post)"
        )
    else:
        done = " — goal met! 🎉" if week.state is WeekState.MET else f", {streak.time_left}"
        lines.append(f"This week: {week.count} of {week.target}{done}")
    lines.append(f"Total published: {streak.total_publications}")
    if len(streak.recent) > 1:
        marks = " ".join(STATE_MARKS[w.state] for w in streak.recent)
        shown = {w.state for w in streak.recent}  # every mark shown is explained, no other
        legend = " ".join(
            f"{mark} {STATE_LEGEND[state]}" for state, mark in STATE_MARKS.items() if state in shown
        )
        lines.append(f"Recent weeks: {marks}  ({legend})")
    return "\n".join(lines)


# The help as a template: its examples that name a date are filled from the member's today.
HELP = """\
Habit Coach — start small, start now. Set a modest weekly goal, log what you publish, and I'll
nudge you with one tiny next step at your own local time.

/goal — show your goal · /goal 1 post — set N a week (1–21) · /goal off
/goal rest [N weeks] — a break that leaves your streak alone · /goal rest off — end it early
/goal week sunday — weeks start on Sunday (or monday)
/published [link] [title] — log a publication now · /published undo — undo the last one
/published yesterday [link] [title] — or mon, or YYYY-MM-DD: up to 14 days back
/published list — your recent publications, numbered · /published remove 2 — remove one
/streak — your streak card
/nudges — show the schedule · /nudges mon thu at 9:00 · /nudges weekdays at 18:30
/nudges pause 2w · /nudges pause until {until} · /nudges resume · /nudges off
/nudges snooze later|tomorrow · /nudges smaller — an even smaller next step
/timezone — show · /timezone Europe/Berlin — set your IANA time zone
/habit help · /habit export — all your data as JSON · /habit forget — delete it all"""


def help_text(card: HelpCard) -> str:
    """The help as text, with the card's dates."""
    return HELP.format(until=card.pause_until.isoformat())
