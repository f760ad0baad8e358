"""Use cases of publications: log one (today or a past day), list, remove, undo, log it again.

A publication added to or taken from a closed week says what that changed: the week's result
and the streak, both by the streak's own rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from habits import commands as c
from habits import links, streaks
from habits import timekeeping as tk
from habits.catalogue import DateStyle, Form, M
from habits.context import CommandContext, UseCase
from habits.lines import FIRST_GOAL, PUBLISH_EXAMPLE, described, progress_line
from habits.messages import (
    Action,
    ActionId,
    CommandRef,
    MemberText,
    Part,
    Reply,
    Say,
    Value,
    When,
    refusal,
    say,
)
from habits.model import Member, Publication, WeekState, WeekSummary
from habits.ports import DuplicatePublicationError

LISTED_WEEKS = 4  # /published list: this week and the three before it
MAX_LISTED = 20


def log_publication(ctx: CommandContext, command: c.LogPublication) -> Reply:
    member = ctx.member()
    member_id = ctx.member_id(member)
    publications = ctx.uow.publications
    if ctx.request_key is not None and publications.has_request_key(member_id, ctx.request_key):
        return Reply.of(say(M.ALREADY_LOGGED_REQUEST, progress=progress_line(ctx, member)))
    today = ctx.today(member)
    day = command.day.resolve(today) if command.day is not None else today
    refused = refuse_day(ctx, day, today)
    if refused is not None:
        return refused
    if command.url is not None and publications.has_any_url(
        member_id, links.url_variants(command.url)
    ):
        url = MemberText(command.url)
        return Reply.of(say(M.ALREADY_LOGGED_LINK, url=url, progress=progress_line(ctx, member)))
    if command.url is None and command.title is not None:
        title = command.title.casefold()
        for earlier in publications.recent(member_id, since=day):
            same_title = earlier.title is not None and earlier.title.casefold() == title
            if earlier.local_day == day and earlier.url is None and same_title:
                on = say(M.TODAY) if day == today else say(M.ON_DAY, day=ctx.day(day))
                again = CommandRef.to(Form.PUBLISHED_AGAIN, number=earlier.id or 0)
                return Reply.of(
                    say(M.LOG_AGAIN_QUESTION, title=MemberText(command.title), on=on),
                    actions=(Action(ActionId.PUBLISH_AGAIN, say(M.LOG_AGAIN_BUTTON), again),),
                )
    return store(ctx, member, day, command.url, command.title, command.title_shortened)


def refuse_day(ctx: CommandContext, day: date, today: date) -> Reply | None:
    """Why a publication cannot be logged (or removed) for ``day``, if it cannot."""
    back = When(today - timedelta(days=2), DateStyle.ISO)
    example = CommandRef.to(
        Form.PUBLISHED_ON, day=back, url="https://example.com/my-post", title="My first post"
    )
    if day > today:
        return refusal(say(M.DAY_IN_FUTURE, day=ctx.day(day)), example)
    if day < today - timedelta(days=c.MAX_DAYS_BACK):
        earliest = ctx.day(today - timedelta(days=c.MAX_DAYS_BACK))
        too_far = say(
            M.DAY_TOO_FAR_BACK, day=ctx.day(day), max_days=c.MAX_DAYS_BACK, earliest=earliest
        )
        return refusal(too_far, example)
    return None


def store(
    ctx: CommandContext,
    member: Member,
    day: date,
    url: str | None,
    title: str | None,
    title_shortened: bool = False,
) -> Reply:
    """Log a checked publication for the local ``day``: now if it is today, else that day's
    local noon (which every day has, on either side of a clock change)."""
    today = ctx.today(member)
    week = tk.week_start(day, member.week_starts_on)
    closed = week < member.week_of(ctx.now)
    weeks_before = ctx.weeks(member) if closed else []
    before = ctx.this_week(member).state
    ctx.publications_changed()
    at = ctx.now if day == today else tk.to_instant(datetime.combine(day, time(12)), member.tz)
    try:
        ctx.uow.publications.add(
            Publication(
                member_id=ctx.member_id(member),
                published_at=at,
                local_day=day,
                source=ctx.source,
                url=url,
                title=title,
                request_key=ctx.request_key,
            )
        )
    except DuplicatePublicationError:
        # Another replica logged the same request (or link) since the checks above.
        what = say(M.SAME_REQUEST if ctx.request_key else M.EACH_LINK_ONCE)
        return Reply.of(say(M.ALREADY_LOGGED_RACE, what=what, progress=progress_line(ctx, member)))
    ctx.replan(member)
    logged = described(title, url, say(M.YOUR_PUBLICATION))
    progress = progress_line(ctx, member)
    lines: list[Part | None] = [
        say(M.LOGGED, what=logged, progress=progress)
        if day == today
        else say(M.LOGGED_FOR, what=logged, day=ctx.day(day), progress=progress)
    ]
    if closed:
        lines.append(closed_week_news(ctx, member, week, weeks_before))
    after = ctx.this_week(member).state
    if after is WeekState.MET and before is not WeekState.MET:
        lines.append(say(M.STREAK_NOW, count=ctx.streak(member).current))
    if member.goal_target is None:
        lines.append(say(M.SET_GOAL_FOR_STREAK, goal=FIRST_GOAL))
    if title_shortened:
        lines.append(say(M.TITLE_SHORTENED))
    return Reply.of(*lines)


def closed_week_news(
    ctx: CommandContext, member: Member, week: date, before: list[WeekSummary]
) -> Say | None:
    """What a publication logged in (or removed from) the closed ``week`` changed: the
    week's result and the streak, both by the streak's own rules."""
    after = ctx.weeks(member)
    old = next((w for w in before if w.start == week), None)
    new = next((w for w in after if w.start == week), None)
    last_week = member.week_of(ctx.now) - timedelta(days=7)
    name = say(M.LAST_WEEK) if week == last_week else say(M.WEEK_OF, day=ctx.day(week))
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


def recent(ctx: CommandContext, member: Member) -> Sequence[Publication]:
    """This week's publications and those of the weeks just before, newest first: the
    numbers /published list shows and /published remove takes."""
    if member.id is None:
        return []
    since = member.week_of(ctx.now) - timedelta(days=7 * (LISTED_WEEKS - 1))
    return ctx.uow.publications.recent(member.id, since)[:MAX_LISTED]


def named(publication: Publication) -> Value:
    return described(publication.title, publication.url, say(M.NO_TITLE_PUBLICATION))


def list_publications(ctx: CommandContext, command: c.ListPublications) -> Reply:
    member = ctx.existing()
    listed = recent(ctx, member) if member is not None else []
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
                day=ctx.day(publication.local_day),
                **dict(zip(("first", "second"), parts, strict=False)),
            )
        )
    remove_ref = CommandRef.to(Form.PUBLISHED_REMOVE, number="N")
    backdate = CommandRef.to(Form.PUBLISHED_DAY, day="yesterday")
    lines.append(say(M.LIST_FOOTER, remove=remove_ref, max_days=c.MAX_DAYS_BACK, backdate=backdate))
    return Reply(tuple(lines))


def remove_publication(ctx: CommandContext, command: c.RemovePublication) -> Reply:
    member = ctx.existing()
    listed = recent(ctx, member) if member is not None else []
    if member is None or not listed:
        return Reply.of(say(M.NOTHING_TO_REMOVE))
    if command.number > len(listed):
        only = say(M.NUMBERS_ONE) if len(listed) == 1 else say(M.NUMBERS_RANGE, last=len(listed))
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
    if chosen.local_day < ctx.today(member) - timedelta(days=c.MAX_DAYS_BACK):
        day = ctx.day(chosen.local_day)
        return Reply.of(
            say(M.TOO_OLD_TO_REMOVE, what=named(chosen), day=day, max_days=c.MAX_DAYS_BACK),
            ok=False,
        )
    return remove(ctx, member, chosen)


def remove(ctx: CommandContext, member: Member, publication: Publication) -> Reply:
    week = tk.week_start(publication.local_day, member.week_starts_on)
    closed = week < member.week_of(ctx.now)
    weeks_before = ctx.weeks(member) if closed else []
    ctx.publications_changed()
    ctx.uow.publications.remove(publication)
    ctx.replan(member)
    removed = say(
        M.REMOVED,
        what=named(publication),
        day=ctx.day(publication.local_day),
        progress=progress_line(ctx, member),
    )
    news = closed_week_news(ctx, member, week, weeks_before) if closed else None
    return Reply.of(removed, news)


def repeat_publication(ctx: CommandContext, command: c.RepeatPublication) -> Reply:
    member = ctx.existing()
    found = None
    if member is not None and member.id is not None:
        found = ctx.uow.publications.find(member.id, command.publication_id)
    if member is None or found is None or found.url is not None or found.title is None:
        published = CommandRef.to(Form.PUBLISHED)
        return Reply.of(say(M.REPEAT_GONE, published=published), ok=False)
    refused = refuse_day(ctx, found.local_day, ctx.today(member))
    if refused is not None:
        return refused
    return store(ctx, member, found.local_day, None, found.title)


def undo(ctx: CommandContext, command: c.UndoPublication) -> Reply:
    member = ctx.existing()
    latest = ctx.uow.publications.latest(member.id) if member and member.id else None
    if member is None or latest is None:
        return Reply.of(say(M.NOTHING_TO_UNDO))
    if tk.week_start(latest.local_day, member.week_starts_on) != member.week_of(ctx.now):
        # A closed week's result was already in its check-in; a stray tap must not rewrite it.
        return Reply.of(
            say(
                M.UNDO_CLOSED_WEEK,
                what=named(latest),
                day=ctx.day(latest.local_day),
                list=CommandRef.to(Form.PUBLISHED_LIST),
                remove=CommandRef.to(Form.PUBLISHED_REMOVE, number="N"),
            ),
            ok=False,
        )
    return remove(ctx, member, latest)


USE_CASES: dict[type, UseCase] = {
    c.LogPublication: log_publication,
    c.ListPublications: list_publications,
    c.RemovePublication: remove_publication,
    c.RepeatPublication: repeat_publication,
    c.UndoPublication: undo,
}
