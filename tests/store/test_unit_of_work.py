"""The unit of work owns the commit: what a use case does not commit never reaches the database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pledge.notices.models import NoticeVersion
from pledge.store import unit_of_work


def _version(number: int = 1, notice_id: str = "app") -> NoticeVersion:
    return NoticeVersion(notice_id=notice_id, number=number, content_hash="0" * 64, policy_revision="1" * 64,
                         snapshot={"id": notice_id}, html="<p>hi</p>", markdown="hi")


def _count(session_factory: sessionmaker[Session]) -> int:
    with unit_of_work(session_factory) as session:
        return session.scalar(select(func.count()).select_from(NoticeVersion)) or 0


def test_work_not_committed_is_rolled_back(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        session.add(_version())
        session.flush()
    assert _count(session_factory) == 0


def test_committed_work_is_kept(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        session.add(_version())
        session.commit()
    assert _count(session_factory) == 1


def test_an_error_rolls_back_and_propagates(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), unit_of_work(session_factory) as session:
        session.add(_version())
        session.flush()
        raise RuntimeError("use case failed")
    assert _count(session_factory) == 0


def test_work_after_the_commit_is_rolled_back(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        session.add(_version(1))
        session.commit()
        session.add(_version(2))
        session.flush()
    assert _count(session_factory) == 1


def test_a_notice_version_number_is_unique_per_notice(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        session.add_all([_version(1, "app"), _version(1, "web")])
        session.commit()
        session.add(_version(1, "app"))
        with pytest.raises(IntegrityError):
            session.flush()


def test_timestamps_come_back_as_aware_utc(session_factory: sessionmaker[Session]) -> None:
    published = dt.datetime(2024, 3, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with unit_of_work(session_factory) as session:
        version = _version()
        version.published_at = published
        session.add(version)
        session.commit()
    with unit_of_work(session_factory) as session:
        stored = session.scalars(select(NoticeVersion)).one()
        assert stored.published_at == published
        assert stored.published_at.utcoffset() == dt.timedelta(0)
        assert stored.snapshot == {"id": "app"}


def test_naive_timestamps_are_refused(session: Session) -> None:
    version = _version()
    version.published_at = dt.datetime(2024, 3, 1, 12, 0)
    session.add(version)
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_what_was_read_stays_readable_after_the_block(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        session.add(_version())
        session.commit()
    with unit_of_work(session_factory) as session:
        stored = session.scalars(select(NoticeVersion)).one()
    assert (stored.notice_id, stored.number, stored.snapshot) == ("app", 1, {"id": "app"})
