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
from zoneinfo import ZoneInfo

from habits import coaching, export, grammar, links, scheduling, streaks
from habits import commands as c
from habits import timekeeping as tk
from habits.catalogue import DateStyle, Form, M
from habits.messages import (
    NUDGE_ACTIONS,
    OOPS_REPLY,
    PLAIN,
    Action,
    ActionId,
    Attachment,
    CommandRef,
    HelpCard,
    MemberText,
    Notice,
    Overview,
    Part,
    Reply,
    Say,
    StreakCard,
    Value,
    When,
    counted,
    refusal,
    render_body,
    say,
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
OOPS = OOPS_REPLY.text  # its words as plain text
# The example a first goal starts from.
FIRST_GOAL = CommandRef.to(Form.GOAL, count=1, label="post")
PUBLISH_EXAMPLE = CommandRef.to(
    Form.PUBLISHED_LINK, url="https://example.com/my-post", title="My first post"
)


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
            return parsed.reply()
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
            return OOPS_REPLY
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

    def day(self, day: date) -> When:
        """'Mon 07 Dec', with the year when it isn't this year's."""
        return When(day, DateStyle.DAY, self.now.year)

    def when(self, instant: datetime | None, member: Member) -> Value:
        if instant is None:
            return say(M.NOT_SCHEDULED)
        return When(instant.astimezone(member.tz), DateStyle.DAY_TIME, self.now.year)

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

    def progress_line(self, member: Member) -> Say:
        week = self.this_week(member)
        label = member.goal_label
        if week.state is WeekState.REST:
            if week.count == 0:
                return say(M.PROGRESS_REST)
            return say(M.PROGRESS_REST_BONUS, published=counted(week.count, label))
        if week.target is None:
            return say(M.PROGRESS_NO_GOAL, published=counted(week.count, label))
        if week.state is WeekState.MET:
            return say(M.PROGRESS_MET, count=week.count, target=week.target)
        left = time_left(self.now, self.week_end(member), member.tz)
        return say(M.PROGRESS, count=week.count, target=week.target, left=left)

    def phase(self, member: Member) -> coaching.Phase:
        today = tk.local_date(self.now, member.tz)
        return coaching.phase_for(coaching.days_left_in_week(today, member.week_of(self.now)))

    def step(self, member: Member) -> coaching.Step:
        """A regular-sized step (a nudge's, a check-in's): it restarts the smaller-step ladder."""
        salt = tk.local_date(self.now, member.tz).toordinal() + (member.id or 0)
        chosen = coaching.choose_step(self.phase(member), member.last_step, salt)
        member.last_step = chosen.id
        return chosen

    def step_text(self, member: Member) -> Say:
        return step_words(self.step(member), member.goal_label)

    def schedule_line(self, member: Member) -> Say:
        days = describe_days(member.nudge_days)
        at = tk.describe_minute(member.nudge_minute)
        base = say(M.SCHEDULE, days=days, time=at, zone=member.timezone)
        if member.goal_target is None:
            return say(M.NUDGES_NEED_GOAL, schedule=base, goal=FIRST_GOAL)
        if not member.nudges_on:
            resume = CommandRef.to(Form.NUDGES_RESUME)
            return say(M.NUDGES_OFF_WOULD_BE, schedule=base, resume=resume)
        if member.unreachable:
            return say(M.NUDGES_UNREACHABLE, schedule=base)
        today = tk.local_date(self.now, member.tz)
        paused: Value = ""
        if member.rest_until is not None and member.rest_until > today:
            if member.paused_until is not None and member.paused_until > member.rest_until:
                paused = say(M.PAUSED_UNTIL, day=self.day(member.paused_until))
            else:
                paused = say(M.RESTING_UNTIL, day=self.day(member.rest_until))
        elif member.paused_until is not None and member.paused_until > today:
            paused = say(M.PAUSED_UNTIL, day=self.day(member.paused_until))
        checkin: Value = ""
        if member.next_recap_at is not None:
            checkin = say(M.WEEKLY_CHECKIN, when=self.when(member.next_recap_at, member))
            if tk.mask_days(member.nudge_days) == [member.week_starts_on]:
                # The check-in is that day's one message and carries the week's first step.
                first_day = "Sunday" if member.week_starts_on == tk.SUNDAY else "Monday"
                return say(
                    M.NUDGES_FIRST_DAY_ONLY,
                    schedule=base,
                    paused=paused,
                    first_day=first_day,
                    when=self.when(member.next_recap_at, member),
                )
        return say(
            M.NUDGES_NEXT,
            schedule=base,
            paused=paused,
            when=self.when(member.next_nudge_at, member),
            checkin=checkin,
        )

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
            reply = reply.then(say(M.DMS_REOPENED))
        return reply

    @singledispatchmethod
    def _run(self, command: object) -> Reply:  # pragma: no cover - every command is registered
        raise TypeError(f"no use case for {command!r}")

    @_run.register
    def _show_goal(self, command: c.ShowGoal) -> Reply:
        member = self.preview()
        if member.goal_target is None:
            return Reply.of(say(M.NO_GOAL_YET, goal=FIRST_GOAL))
        goal = counted(member.goal_target, member.goal_label)
        first_day = tk.DAY_NAMES[member.week_starts_on]
        return Reply.of(
            say(M.YOUR_GOAL, goal=goal, first_day=first_day, zone=member.timezone),
            self.progress_line(member),
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
        goal = counted(command.target, member.goal_label)
        lines: list[Part] = [say(M.GOAL_SET, goal=goal, progress=self.progress_line(member))]
        if first_goal and self.this_week(member).state is not WeekState.MET:
            lines.append(say(M.START_NOW, step=self.step_text(member)))
        lines.append(self.schedule_line(member))
        if member.timezone == "UTC" and self.zone_hint is None:
            lines.append(say(M.UTC_HINT, timezone=ZONE_EXAMPLE))
        return Reply(tuple(lines))

    @_run.register
    def _goal_off(self, command: c.GoalOff) -> Reply:
        member = self.existing()
        if member is None or member.goal_target is None:
            return Reply.of(say(M.NO_GOAL_TO_TURN_OFF, goal=FIRST_GOAL))
        member.goal_target = None
        today = tk.local_date(self.now, member.tz)
        self.uow.history.add_goal_change(
            GoalChange(self.member_id(member), today, None, member.goal_label, self.now)
        )
        self.replan(member)
        return Reply.of(say(M.GOAL_OFF, goal=FIRST_GOAL))

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
            end = CommandRef.to(Form.GOAL_REST_OFF)
            return Reply.of(say(M.ALREADY_RESTING, day=self.day(ongoing), end=end))
        self.uow.history.add_rest_weeks(self.member_id(member), weeks)
        member.rest_until = until
        self.replan(member)
        safe = say(M.REST_SAFE)
        if ongoing is not None:
            return Reply.of(
                say(M.REST_EXTENDED, until=self.day(until), was=self.day(ongoing), safe=safe)
            )
        span = say(M.REST_SPAN, count=command.weeks)
        if met:
            return Reply.of(say(M.REST_AFTER_MET, span=span, until=self.day(until), safe=safe))
        span = say(M.REST_THIS_WEEK) if command.weeks == 1 else span
        return Reply.of(say(M.REST_STARTED, span=span, until=self.day(until), safe=safe))

    @_run.register
    def _end_rest(self, command: c.EndRest) -> Reply:
        member = self.existing()
        if member is None or member.id is None or not member.is_resting(member.week_of(self.now)):
            return Reply.of(say(M.NOT_RESTING))
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
        return Reply.of(
            say(M.REST_ENDED, progress=self.progress_line(member)), self.schedule_line(member)
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
        first_day = tk.DAY_NAMES[command.starts_on]
        return Reply.of(
            say(M.WEEK_START_SET, first_day=first_day, progress=self.progress_line(member))
        )

    @_run.register
    def _log_publication(self, command: c.LogPublication) -> Reply:
        member = self.member()
        member_id = self.member_id(member)
        if self.request_key is not None and self.uow.publications.has_request_key(
            member_id, self.request_key
        ):
            return Reply.of(say(M.ALREADY_LOGGED_REQUEST, progress=self.progress_line(member)))
        today = tk.local_date(self.now, member.tz)
        day = command.day.resolve(today) if command.day is not None else today
        refused = self.refuse_day(day, today)
        if refused is not None:
            return refused
        if command.url is not None and self.uow.publications.has_any_url(
            member_id, links.url_variants(command.url)
        ):
            url = MemberText(command.url)
            return Reply.of(
                say(M.ALREADY_LOGGED_LINK, url=url, progress=self.progress_line(member))
            )
        if command.url is None and command.title is not None:
            title = command.title.casefold()
            for earlier in self.uow.publications.recent(member_id, since=day):
                same_title = earlier.title is not None and earlier.title.casefold() == title
                if earlier.local_day == day and earlier.url is None and same_title:
                    on = say(M.TODAY) if day == today else say(M.ON_DAY, day=self.day(day))
                    again = CommandRef.to(Form.PUBLISHED_AGAIN, number=earlier.id or 0)
                    return Reply.of(
                        say(M.LOG_AGAIN_QUESTION, title=MemberText(command.title), on=on),
                        actions=(Action(ActionId.PUBLISH_AGAIN, say(M.LOG_AGAIN_BUTTON), again),),
                    )
        return self.store_publication(
            member, day, command.url, command.title, command.title_shortened
        )

    def refuse_day(self, day: date, today: date) -> Reply | None:
        """Why a publication cannot be logged (or removed) for ``day``, if it cannot."""
        back = When(today - timedelta(days=2), DateStyle.ISO)
        example = CommandRef.to(
            Form.PUBLISHED_ON, day=back, url="https://example.com/my-post", title="My first post"
        )
        if day > today:
            return refusal(say(M.DAY_IN_FUTURE, day=self.day(day)), example)
        if day < today - timedelta(days=c.MAX_DAYS_BACK):
            earliest = self.day(today - timedelta(days=c.MAX_DAYS_BACK))
            return refusal(
                say(
                    M.DAY_TOO_FAR_BACK,
                    day=self.day(day),
                    max_days=c.MAX_DAYS_BACK,
                    earliest=earliest,
                ),
                example,
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
            what = say(M.SAME_REQUEST if self.request_key else M.EACH_LINK_ONCE)
            return Reply.of(
                say(M.ALREADY_LOGGED_RACE, what=what, progress=self.progress_line(member))
            )
        self.replan(member)
        logged = described(title, url, say(M.YOUR_PUBLICATION))
        progress = self.progress_line(member)
        lines: list[Part | None] = [
            say(M.LOGGED, what=logged, progress=progress)
            if day == today
            else say(M.LOGGED_FOR, what=logged, day=self.day(day), progress=progress)
        ]
        if closed:
            lines.append(self.closed_week_news(member, week, weeks_before))
        after = self.this_week(member).state
        if after is WeekState.MET and before is not WeekState.MET:
            lines.append(say(M.STREAK_NOW, count=self.streak(member).current))
        if member.goal_target is None:
            lines.append(say(M.SET_GOAL_FOR_STREAK, goal=FIRST_GOAL))
        if title_shortened:
            lines.append(say(M.TITLE_SHORTENED))
        return Reply.of(*lines)

    def closed_week_news(self, member: Member, week: date, before: list[WeekSummary]) -> Say | None:
        """What a publication logged in (or removed from) the closed ``week`` changed: the
        week's result and the streak, both by the streak's own rules."""
        after = self.weeks(member)
        old = next((w for w in before if w.start == week), None)
        new = next((w for w in after if w.start == week), None)
        last_week = member.week_of(self.now) - timedelta(days=7)
        name = say(M.LAST_WEEK) if week == last_week else say(M.WEEK_OF, day=self.day(week))
        if new is None or new.target is None or new.state is WeekState.REST:
            return None
        result: dict[str, Value] = {"week": name, "count": new.count, "target": new.target}
        if old is None or old.state is new.state:
            return say(M.WEEK_RESULT, **result)
        streak_before, streak_now = streaks.current_streak(before), streaks.current_streak(after)
        if new.state is WeekState.MET:
            if streak_now > streak_before:
                return say(M.WEEK_MET_STREAK_BACK, week=name, count=streak_now)
            return say(M.WEEK_MET, **result)
        if streak_now < streak_before:
            return say(
                M.WEEK_UNMET_STREAK, week=name, done=new.count, target=new.target, count=streak_now
            )
        return say(M.WEEK_UNMET, **result)

    def recent_publications(self, member: Member) -> Sequence[Publication]:
        """This week's publications and those of the weeks just before, newest first: the
        numbers /published list shows and /published remove takes."""
        if member.id is None:
            return []
        since = member.week_of(self.now) - timedelta(days=7 * (LISTED_WEEKS - 1))
        return self.uow.publications.recent(member.id, since)[:MAX_LISTED]

    @staticmethod
    def described(publication: Publication) -> Value:
        return described(publication.title, publication.url, say(M.NO_TITLE_PUBLICATION))

    @_run.register
    def _list_publications(self, command: c.ListPublications) -> Reply:
        member = self.existing()
        listed = self.recent_publications(member) if member is not None else []
        if member is None or not listed:
            return Reply.of(say(M.NOTHING_LISTED, example=PUBLISH_EXAMPLE))
        lines: list[Part] = [say(M.LIST_HEADING, weeks=LISTED_WEEKS - 1)]
        for number, publication in enumerate(listed, start=1):
            parts: list[Value] = []
            if publication.title:
                parts.append(say(M.QUOTED, text=MemberText(publication.title)))
            if publication.url:
                parts.append(MemberText(publication.url))
            if not parts:
                parts.append(say(M.LIST_NO_TITLE))
            lines.append(
                say(
                    M.LIST_ITEM if len(parts) == 1 else M.LIST_ITEM_TWO,
                    number=number,
                    day=self.day(publication.local_day),
                    **dict(zip(("first", "second"), parts, strict=False)),
                )
            )
        remove = CommandRef.to(Form.PUBLISHED_REMOVE, number="N")
        backdate = CommandRef.to(Form.PUBLISHED_DAY, day="yesterday")
        lines.append(say(M.LIST_FOOTER, remove=remove, max_days=c.MAX_DAYS_BACK, backdate=backdate))
        return Reply(tuple(lines))

    @_run.register
    def _remove_publication(self, command: c.RemovePublication) -> Reply:
        member = self.existing()
        listed = self.recent_publications(member) if member is not None else []
        if member is None or not listed:
            return Reply.of(say(M.NOTHING_TO_REMOVE))
        if command.number > len(listed):
            only = (
                say(M.NUMBERS_ONE) if len(listed) == 1 else say(M.NUMBERS_RANGE, last=len(listed))
            )
            return refusal(
                say(
                    M.NO_SUCH_NUMBER,
                    number=command.number,
                    list=CommandRef.to(Form.PUBLISHED_LIST),
                    numbers=only,
                ),
                CommandRef.to(Form.PUBLISHED_REMOVE, number=len(listed)),
            )
        chosen = listed[command.number - 1]
        today = tk.local_date(self.now, member.tz)
        what = self.described(chosen)
        if chosen.local_day < today - timedelta(days=c.MAX_DAYS_BACK):
            day = self.day(chosen.local_day)
            return Reply.of(
                say(M.TOO_OLD_TO_REMOVE, what=what, day=day, max_days=c.MAX_DAYS_BACK), ok=False
            )
        return self.remove(member, chosen)

    def remove(self, member: Member, publication: Publication) -> Reply:
        week = tk.week_start(publication.local_day, member.week_starts_on)
        closed = week < member.week_of(self.now)
        weeks_before = self.weeks(member) if closed else []
        self._counts.clear()
        self.uow.publications.remove(publication)
        self.replan(member)
        removed = say(
            M.REMOVED,
            what=self.described(publication),
            day=self.day(publication.local_day),
            progress=self.progress_line(member),
        )
        news = self.closed_week_news(member, week, weeks_before) if closed else None
        return Reply.of(removed, news)

    @_run.register
    def _repeat_publication(self, command: c.RepeatPublication) -> Reply:
        member = self.existing()
        found = None
        if member is not None and member.id is not None:
            found = self.uow.publications.find(member.id, command.publication_id)
        if member is None or found is None or found.url is not None or found.title is None:
            published = CommandRef.to(Form.PUBLISHED)
            return Reply.of(say(M.REPEAT_GONE, published=published), ok=False)
        refused = self.refuse_day(found.local_day, tk.local_date(self.now, member.tz))
        if refused is not None:
            return refused
        return self.store_publication(member, found.local_day, None, found.title)

    @_run.register
    def _undo(self, command: c.UndoPublication) -> Reply:
        member = self.existing()
        latest = self.uow.publications.latest(member.id) if member and member.id else None
        if member is None or latest is None:
            return Reply.of(say(M.NOTHING_TO_UNDO))
        what = self.described(latest)
        if tk.week_start(latest.local_day, member.week_starts_on) != member.week_of(self.now):
            # A closed week's result was already recapped; a stray tap must not rewrite it.
            return Reply.of(
                say(
                    M.UNDO_CLOSED_WEEK,
                    what=what,
                    day=self.day(latest.local_day),
                    list=CommandRef.to(Form.PUBLISHED_LIST),
                    remove=CommandRef.to(Form.PUBLISHED_REMOVE, number="N"),
                ),
                ok=False,
            )
        return self.remove(member, latest)

    @_run.register
    def _show_streak(self, command: c.ShowStreak) -> Reply:
        member = self.preview()
        streak = self.streak(member)
        return Reply.of(StreakCard(streak, member.goal_label))

    @_run.register
    def _show_nudges(self, command: c.ShowNudges) -> Reply:
        return Reply.of(self.schedule_line(self.preview()))

    @_run.register
    def _set_nudges(self, command: c.SetNudges) -> Reply:
        member = self.member()
        if command.days is not None:
            member.nudge_days = command.days
        if command.minute_of_day is not None:
            member.nudge_minute = command.minute_of_day
        member.nudges_on = True
        self.replan(member)
        return Reply.of(self.schedule_line(member))

    @_run.register
    def _pause(self, command: c.PauseNudges) -> Reply:
        member = self.member()
        today = tk.local_date(self.now, member.tz)
        if command.until is not None:
            until = command.until
            example = grammar.pause_until_example(today)
            if until <= today:
                iso = When(today, DateStyle.ISO)
                return refusal(say(M.PICK_DATE_AFTER_TODAY, today=iso), example)
            if until > today + timedelta(days=366):
                return refusal(say(M.PAUSE_UP_TO_A_YEAR), example)
        else:
            until = today + timedelta(weeks=command.weeks or 0, days=command.days or 0)
        member.paused_until = until
        self.replan(member)
        resume = CommandRef.to(Form.NUDGES_RESUME)
        return Reply.of(say(M.PAUSED, day=self.day(until), resume=resume))

    @_run.register
    def _resume(self, command: c.ResumeNudges) -> Reply:
        member = self.member()
        member.paused_until = None
        member.nudges_on = True
        self.replan(member)
        return Reply.of(say(M.RESUMED, schedule=self.schedule_line(member)))

    @_run.register
    def _nudges_off(self, command: c.NudgesOff) -> Reply:
        member = self.member()
        member.nudges_on = False
        self.replan(member)
        return Reply.of(say(M.NUDGES_OFF, resume=CommandRef.to(Form.NUDGES_RESUME)))

    @_run.register
    def _snooze(self, command: c.Snooze) -> Reply:
        member = self.existing()
        if member is None or member.goal_target is None or not member.nudges_on:
            return Reply.of(say(M.NOTHING_TO_SNOOZE))
        if self.this_week(member).state is not WeekState.IN_PROGRESS:
            return Reply.of(say(M.NO_MORE_NUDGES_TO_SNOOZE))
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
            if scheduled is None:
                return Reply.of(say(M.NO_RECENT_NUDGE))
            next_one, earliest = self.when(scheduled, member), self.when(at, member)
            return Reply.of(say(M.NO_RECENT_NUDGE_NEXT, next=next_one, at=earliest))
        member.next_nudge_at = at
        return Reply.of(say(M.SNOOZED, at=self.when(at, member)))

    @_run.register
    def _smaller(self, command: c.SmallerStep) -> Reply:
        member = self.existing()  # an old button after /habit forget brings nobody back
        if member is None or member.goal_target is None:
            return Reply.of(say(M.NO_STEP_TO_SHRINK, goal=FIRST_GOAL))
        state = self.this_week(member).state
        if state is WeekState.MET:
            return Reply.of(say(M.MET_NOTHING_TO_DO))
        if state is WeekState.REST:
            return Reply.of(say(M.REST_NO_STEPS))
        # Each answer is a rung below the last step given, down to the phase's smallest, which
        # then stays (on the last day that is publishing, even after a shorter mid-week step);
        # the next nudge or check-in brings a regular-sized step again.
        phase = self.phase(member)
        step = coaching.smaller_step(phase, member.last_step)
        message = M.SMALLER_STEP
        if step is None:
            step, message = coaching.smallest_step(phase), M.SMALLEST_STEP
        member.last_step = step.id
        return Reply.of(say(message, step=step_words(step, member.goal_label)))

    @_run.register
    def _show_timezone(self, command: c.ShowTimezone) -> Reply:
        member = self.preview()
        local = When(self.now.astimezone(member.tz), DateStyle.WEEKDAY_TIME)
        return Reply.of(
            say(
                M.YOUR_ZONE,
                zone=member.timezone,
                local=local,
                any=CommandRef.to(Form.TIMEZONE_ANY),
                example=ZONE_EXAMPLE,
            )
        )

    @_run.register
    def _set_timezone(self, command: c.SetTimezone) -> Reply:
        member = self.member()
        member.timezone = command.name
        self.replan(member)
        local = When(self.now.astimezone(member.tz), DateStyle.WEEKDAY_TIME)
        return Reply.of(say(M.ZONE_SET, zone=command.name, local=local))

    @_run.register
    def _help(self, command: c.Help) -> Reply:
        today = tk.local_date(self.now, self.preview().tz)
        card = HelpCard(pause_until=today + timedelta(days=grammar.PAUSE_EXAMPLE_DAYS))
        return Reply.of(card)

    @_run.register
    def _export(self, command: c.Export) -> Reply:
        member = self.existing()
        records = self.adapter_records()
        if (member is None or member.id is None) and not records:
            return Reply.of(say(M.NOTHING_TO_EXPORT))
        data: dict[str, Any] = {"member": None, "publications": []}
        if member is not None:
            data = self.export_data(member)
        data["adapter_records"] = records
        content = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()
        count = len(data["publications"])
        return Reply(
            (say(M.EXPORTED, count=count),),
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
            return Reply.of(say(M.NOTHING_TO_DELETE))
        if command.cancelled:
            return Reply.of(say(M.KEPT))
        if not command.confirmed:
            confirm = CommandRef.to(Form.HABIT_FORGET_CONFIRM)
            # The typed confirmation only where no button does it.
            typed = Say(M.CONFIRM_BY_TYPING, (("command", confirm),), typed_only=True)
            return Reply.of(
                say(M.FORGET_ASK, typed=typed),
                actions=(
                    Action(ActionId.FORGET_CONFIRM, say(M.FORGET_YES), confirm),
                    Action(
                        ActionId.FORGET_CANCEL,
                        say(M.FORGET_NO),
                        CommandRef.to(Form.HABIT_FORGET_CANCEL),
                    ),
                ),
            )
        # In this unit of work: the member's rows and the records naming them go together.
        for hook in self.coach.member_records:
            hook.forget(self.ref, self.uow.records, self.now)
        if member is not None:
            self.uow.members.delete(member)
        self._member = None
        return Reply.of(say(M.FORGOTTEN))

    # --- notices -------------------------------------------------------------------------------

    def nudge_notice(self) -> Notice | None:
        member = self.existing()
        if member is None or member.goal_target is None or not member.nudges_on:
            return None
        if member.unreachable or member.is_paused(tk.local_date(self.now, member.tz)):
            return None
        if self.this_week(member).state is not WeekState.IN_PROGRESS:
            return None
        body = (self.progress_line(member), say(M.TINY_NEXT_STEP, step=self.step_text(member)))
        return Notice(self.ref, DeliveryKind.NUDGE, body, NUDGE_ACTIONS)

    def checkin_notice(self, scheduled_for: datetime) -> Notice | None:
        """The week-opening message: last week's recap (if it had a goal) and a first step."""
        member = self.existing()
        if member is None or member.unreachable or member.goal_target is None:
            return None  # "/goal off" since the sweep logged it: stay quiet
        closed = scheduling.closed_week_of_checkin(member, scheduled_for)
        weeks = self.weeks(member)
        by_start = {w.start: w for w in weeks}
        parts: list[Part] = []
        actions: tuple[Action, ...] = ()
        summary = by_start.get(closed)
        if summary is not None and summary.state is WeekState.REST:
            if not member.is_resting(closed + timedelta(days=7)):  # not while the rest goes on
                parts.append(say(M.WELCOME_BACK))
        elif summary is not None and summary.state in (WeekState.MET, WeekState.MISSED):
            salt = closed.toordinal()
            streak = streaks.streak_through(weeks, closed)
            label = member.goal_label
            result: dict[str, Value] = {"done": summary.count, "target": summary.target or 0}
            if summary.state is WeekState.MET:
                cheer = say(coaching.encouragement(True, salt))
                parts.append(say(M.LAST_WEEK_MET, **result, count=streak, cheer=cheer))
            else:
                cheer = say(coaching.encouragement(False, salt))
                parts.append(say(M.LAST_WEEK_MISSED, **result, cheer=cheer))
                closed_weeks = [w for w in weeks if w.start <= closed]
                if streaks.missed_in_a_row(closed_weeks) >= 2 and member.goal_target:
                    if member.goal_target > 1:
                        smaller = member.goal_target - 1
                        goal = counted(smaller, label)
                        parts.append(say(M.SMALLER_GOAL_HINT, goal=goal))
                        actions = (
                            Action(
                                ActionId.SMALLER_GOAL,
                                say(M.SMALLER_GOAL_BUTTON, goal=goal),
                                CommandRef.to(Form.GOAL_COUNT, count=smaller),
                            ),
                        )
                    else:
                        rest = CommandRef.to(Form.GOAL_REST)
                        parts.append(say(M.SMALLER_STILL, label=MemberText(label), rest=rest))
        if member.goal_target is not None and member.nudges_on:
            today = tk.local_date(self.now, member.tz)
            week = self.this_week(member)
            if not member.is_paused(today) and week.state is WeekState.IN_PROGRESS:
                parts.append(self.progress_line(member))
                parts.append(say(M.FIRST_TINY_STEP, step=self.step_text(member)))
                actions = actions + NUDGE_ACTIONS
        if not parts:
            return None
        return Notice(self.ref, DeliveryKind.RECAP, tuple(parts), actions)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


ZONE_EXAMPLE = CommandRef.to(Form.TIMEZONE, zone="Europe/Berlin")


def described(title: str | None, url: str | None, otherwise: Say) -> Value:
    """A publication as a reply names it: its title in quotes, else its link."""
    if title:
        return say(M.QUOTED, text=MemberText(title))
    return MemberText(url) if url else otherwise


def step_words(step: coaching.Step, label: str) -> Say:
    """A coaching step's words, the member's goal label in them."""
    return say(step.message, label=MemberText(label))


def describe_days(mask: int) -> Value:
    days = tk.mask_days(mask)
    if days == list(range(7)):
        return say(M.EVERY_DAY)
    if days == list(range(5)):
        return say(M.WEEKDAYS)
    if days == [5, 6]:
        return say(M.WEEKENDS)
    return " ".join(tk.DAY_NAMES[d] for d in days)


def time_left(now: datetime, end: datetime, tz: ZoneInfo) -> Say:
    """'3 days left', '5 hours left', 'less than an hour left' (see ``tk.humanize_left``)."""
    days, hours = tk.left_until(now, end, tz)
    if days:
        return say(M.DAYS_LEFT, count=days)
    if hours:
        return say(M.HOURS_LEFT, count=hours)
    return say(M.LESS_THAN_AN_HOUR_LEFT)


def render_streak(streak: Streak, label: str) -> str:
    """The streak card as plain text (the console's)."""
    return render_body((StreakCard(streak, label),), PLAIN)
