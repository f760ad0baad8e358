"""The unit of work: one session and one transaction per use case."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from habits.ports import (
    DeliveryRepository,
    HistoryRepository,
    MemberRepository,
    PublicationRepository,
    RecordRepository,
    StorageUnavailableError,
)
from storage.database import unavailable
from storage.delivery_log import SqlDeliveryRepository
from storage.records import SqlRecordRepository
from storage.repositories import (
    SqlHistoryRepository,
    SqlMemberRepository,
    SqlPublicationRepository,
)
from storage.tables import map_models


class SqlUnitOfWork:
    members: MemberRepository
    publications: PublicationRepository
    history: HistoryRepository
    deliveries: DeliveryRepository
    records: RecordRepository
    session: Session

    def __init__(self, session_factory: sessionmaker[Session]):
        self._session_factory = session_factory

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.members = SqlMemberRepository(self.session)
        self.publications = SqlPublicationRepository(self.session)
        self.history = SqlHistoryRepository(self.session)
        self.deliveries = SqlDeliveryRepository(self.session)
        self.records = SqlRecordRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Anything not committed explicitly is rolled back: no half-stored state.
        try:
            self.session.rollback()
            self.session.close()
        except DBAPIError as failed:  # the connection is gone; the database forgets the rest
            if exc is None:
                raise StorageUnavailableError(str(failed.orig)) from failed
        # The engine tells a database that is away (it retries) from a bug (it does not).
        if exc is not None and unavailable(exc):
            raise StorageUnavailableError(str(getattr(exc, "orig", exc))) from exc

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class SqlUnitOfWorkFactory:
    """Makes units of work on one engine; the composition root hands it to the engine."""

    def __init__(self, engine: Engine):
        map_models()
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)
