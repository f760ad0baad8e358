"""One member at one moment in one unit of work: what every use case and notice reads first.

:class:`MemberContext` finds the member and works out their weeks, streak and schedule (notices
need no more); :class:`CommandContext` adds what a command brings (the adapter's zone hint, the
request's key and source) and may create the member on first contact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from habits import coaching, scheduling, streaks
from habits import timekeeping as tk
from habits.catalogue import DateStyle, M
from habits.messages import Reply, Value, When, say
from habits.model import (
    MAX_DISPLAY_NAME,
    DeliveryKind,
    Member,
    MemberRef,
    Source,
    Streak,
    WeekState,
    WeekSummary,
)
from habits.ports import MemberRecords, UnitOfWork

ZONE_SHIFT_MARGIN = timedelta(hours=26)  # the widest gap between two zones' clocks


class MemberContext:
    """The member of ``ref`` as stored, their weeks and schedule, at ``now``."""

    def __init__(self, uow: UnitOfWork, ref: MemberRef, now: datetime):
        self.uow = uow
        self.ref = ref
        self.now = now
        self._member: Member | None = None
        # Publications counted per (member, week, week start) in this run; cleared on change.
        self._counts: dict[tuple[int, date, int], int] = {}

    def existing(self) -> Member | None:
        if self._member is None:
            self._member = self.uow.members.get(self.ref)
        return self._member

    def member_id(self, member: Member) -> int:
        assert member.id is not None, "repositories assign ids on add"
        return member.id

    def day(self, day: date) -> When:
        """'Mon 07 Dec', with the year when it isn't this year's."""
        return When(day, DateStyle.DAY, self.now.year)

    def when(self, instant: datetime | None, member: Member) -> Value:
        if instant is None:
            return say(M.NOT_SCHEDULED)
        return When(instant.astimezone(member.tz), DateStyle.DAY_TIME, self.now.year)

    def today(self, member: Member) -> date:
        return tk.local_date(self.now, member.tz)

    # What was counted before a publication was added or removed no longer holds.
    def publications_changed(self) -> None:
        self._counts.clear()

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
            freezes=member.freezes_enabled,
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
        freezes = streaks.banked_freezes(weeks) if member.freezes_enabled else None
        return streaks.build_streak(
            weeks, total, self.now, self.week_end(member), member.tz, freezes
        )

    def replan(self, member: Member) -> None:
        met = self.this_week(member).state is WeekState.MET
        nudge, checkin = scheduling.plan(member, self.now, met)
        if checkin is not None and member.id is not None:
            week_start, week_end = tk.week_bounds(member.week_of(self.now), member.tz)
            # This week's check-in already went out (a new nudge time or zone would otherwise
            # schedule it again): the next one opens next week. The margin covers a zone change
            # that moved the week's start by up to a day.
            if checkin < week_end and self.uow.deliveries.logged_since(
                member.id, DeliveryKind.CHECKIN, week_start - ZONE_SHIFT_MARGIN
            ):
                checkin = scheduling.next_checkin(member, week_end)
        member.next_nudge_at, member.next_checkin_at = nudge, checkin

    def phase(self, member: Member) -> coaching.Phase:
        today = self.today(member)
        return coaching.phase_for(coaching.days_left_in_week(today, member.week_of(self.now)))

    def step(self, member: Member) -> coaching.Step:
        """A regular-sized step (a nudge's, a check-in's): it restarts the smaller-step ladder."""
        salt = self.today(member).toordinal() + (member.id or 0)
        chosen = coaching.choose_step(self.phase(member), member.last_step, salt)
        member.last_step = chosen.id
        return chosen


class CommandContext(MemberContext):
    """One command's run: a member context that knows who asked, how, and with what hint."""

    def __init__(
        self,
        uow: UnitOfWork,
        ref: MemberRef,
        now: datetime,
        *,
        default_zone: str = "UTC",
        zone_hint: str | None = None,
        source: Source = Source.COMMAND,
        request_key: str | None = None,
        member_records: Sequence[MemberRecords] = (),
    ):
        super().__init__(uow, ref, now)
        self.default_zone = default_zone
        self.zone_hint = zone_hint
        self.source = source
        self.request_key = request_key
        self.member_records = member_records

    def hinted_zone(self) -> str | None:
        """The adapter's guess at a new member's zone (Slack's profile), by its current name."""
        if self.zone_hint is None or self.zone_hint not in tk.known_zone_names():
            return None
        return tk.preferred_zone_name(self.zone_hint)

    def member(self) -> Member:
        """The member, created on first contact with the adapter's best guess at their zone."""
        found = self.existing()
        name = self.ref.display_name[:MAX_DISPLAY_NAME]
        if found is not None:
            if name and found.display_name != name:
                found.display_name = name
            return found
        member = Member(
            platform=self.ref.platform,
            workspace=self.ref.workspace,
            user_id=self.ref.user_id,
            display_name=name,
            created_at=self.now,
            timezone=self.hinted_zone() or self.default_zone,
        )
        self.uow.members.add(member)
        self._member = member
        return member

    def preview(self) -> Member:
        """The member if known, else an unsaved default one (for read-only commands)."""
        found = self.existing()
        if found is not None:
            return found
        return Member(
            platform=self.ref.platform,
            workspace=self.ref.workspace,
            user_id=self.ref.user_id,
            created_at=self.now,
            timezone=self.hinted_zone() or self.default_zone,
        )

    def forgotten(self) -> None:
        """The member was deleted in this unit of work."""
        self._member = None


# A use case: one command's work in a command context, answered with a reply.
UseCase = Callable[[CommandContext, Any], Reply]
