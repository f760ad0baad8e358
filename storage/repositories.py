"""The members, their publications and their goal and rest history, over one SQLAlchemy session.
The repositories never commit: the unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from habits.model import GoalChange, Member, MemberRef, Publication, RestWeek
from habits.ports import DuplicatePublicationError
from storage.tables import deliveries, goal_changes, members, publications, rest_weeks


class SqlMemberRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, ref: MemberRef) -> Member | None:
        query = select(Member).where(
            members.c.platform == str(ref.platform),
            members.c.workspace == ref.workspace,
            members.c.user_id == ref.user_id,
        )
        return self.session.scalars(query).first()

    def get_by_id(self, member_id: int) -> Member | None:
        return self.session.get(Member, member_id)

    def add(self, member: Member) -> None:
        self.session.add(member)
        self.session.flush()  # assigns the id the other repositories key on

    def delete(self, member: Member) -> None:
        member_id = member.id
        for table in (deliveries, publications, rest_weeks, goal_changes):
            self.session.execute(delete(table).where(table.c.member_id == member_id))
        self.session.delete(member)
        self.session.flush()


class SqlPublicationRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, publication: Publication) -> None:
        # A savepoint: losing a race to a replica handling the same request (or link) must
        # leave this unit of work usable for the engine's "already logged" answer.
        try:
            with self.session.begin_nested():
                self.session.add(publication)
        except IntegrityError as exc:
            # The only unique keys on publications are (member, url) and (member, request).
            reason = str(exc.orig).lower()
            if "unique" in reason or "duplicate key" in reason:
                raise DuplicatePublicationError(reason[:200]) from exc
            raise

    def latest(self, member_id: int) -> Publication | None:
        query = (
            select(Publication)
            .where(publications.c.member_id == member_id)
            .order_by(publications.c.id.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()

    def remove(self, publication: Publication) -> None:
        self.session.delete(publication)
        self.session.flush()

    def has_any_url(self, member_id: int, urls: Sequence[str]) -> bool:
        query = select(publications.c.id).where(
            publications.c.member_id == member_id, publications.c.url.in_(list(urls))
        )
        return self.session.execute(query.limit(1)).first() is not None

    def has_request_key(self, member_id: int, key: str) -> bool:
        query = select(publications.c.id).where(
            publications.c.member_id == member_id, publications.c.request_key == key
        )
        return self.session.execute(query.limit(1)).first() is not None

    def local_days(self, member_id: int, since: date | None = None) -> list[date]:
        query = select(publications.c.local_day).where(publications.c.member_id == member_id)
        if since is not None:
            query = query.where(publications.c.local_day >= since)
        return list(self.session.execute(query).scalars())

    def list(self, member_id: int) -> Sequence[Publication]:
        query = (
            select(Publication)
            .where(publications.c.member_id == member_id)
            .order_by(publications.c.id)
        )
        return self.session.scalars(query).all()

    def recent(self, member_id: int, since: date) -> Sequence[Publication]:
        query = (
            select(Publication)
            .where(publications.c.member_id == member_id, publications.c.local_day >= since)
            .order_by(
                publications.c.local_day.desc(),
                publications.c.published_at.desc(),
                publications.c.id.desc(),
            )
        )
        return self.session.scalars(query).all()

    def find(self, member_id: int, publication_id: int) -> Publication | None:
        found = self.session.get(Publication, publication_id)
        return found if found is not None and found.member_id == member_id else None


class SqlHistoryRepository:
    def __init__(self, session: Session):
        self.session = session

    def goal_changes(self, member_id: int) -> list[GoalChange]:
        query = (
            select(GoalChange)
            .where(goal_changes.c.member_id == member_id)
            .order_by(goal_changes.c.id)
        )
        return list(self.session.scalars(query))

    def add_goal_change(self, change: GoalChange) -> None:
        self.session.add(change)

    def rest_weeks(self, member_id: int) -> list[date]:
        query = (
            select(rest_weeks.c.week_start)
            .where(rest_weeks.c.member_id == member_id)
            .order_by(rest_weeks.c.week_start)
        )
        return list(self.session.execute(query).scalars())

    def add_rest_weeks(self, member_id: int, weeks: Sequence[date]) -> None:
        known = set(self.rest_weeks(member_id))
        for week in weeks:
            if week not in known:
                self.session.add(RestWeek(member_id=member_id, week_start=week))

    def remove_rest_weeks(self, member_id: int, weeks: Sequence[date]) -> None:
        self.session.execute(
            delete(rest_weeks).where(
                rest_weeks.c.member_id == member_id, rest_weeks.c.week_start.in_(list(weeks))
            )
        )
