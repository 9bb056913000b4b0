"""Publishing and archiving notices.

A published version records exactly what people were shown (the HTML, the Markdown and the
notice document it came from), when, and under which policy revision, so the company can prove
later what its notice said on any day and tell what changed between two versions.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pledge.notices.diff import NoticeDiff, diff_documents
from pledge.notices.errors import NoticeError, UnknownNotice
from pledge.notices.models import NoticeVersion
from pledge.policy import CompiledPolicy
from pledge.store import utcnow


class UnknownVersion(NoticeError):
    def __init__(self, notice_id: str, number: int) -> None:
        self.notice_id = notice_id
        self.number = number
        super().__init__(f"notice {notice_id!r} has no published version {number}")


class PublishConflict(NoticeError):
    def __init__(self, notice_id: str) -> None:
        self.notice_id = notice_id
        super().__init__(f"notice {notice_id!r} was published by someone else at the same time; try again")


def content_hash(html: str) -> str:
    """SHA-256 of the rendered HTML: two versions are the same notice exactly when this matches."""
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def publish_notice(*, session: Session, policy: CompiledPolicy, notice_id: str) -> NoticeVersion:
    """Archive the notice as the policy renders it now; an unchanged notice keeps its current version."""
    if notice_id not in policy.notices:
        raise UnknownNotice(notice_id, list(policy.notices))
    from pledge.notices.render import notice_document, render_notice

    html = render_notice(policy, notice_id, "html")
    digest = content_hash(html)
    latest = current_version(session=session, notice_id=notice_id)
    if latest is not None and latest.content_hash == digest:
        return latest
    snapshot: dict[str, Any] = notice_document(policy, notice_id)
    version = NoticeVersion(
        notice_id=notice_id,
        number=1 if latest is None else latest.number + 1,
        published_at=utcnow(),
        content_hash=digest,
        policy_revision=policy.revision,
        snapshot=snapshot,
        html=html,
        markdown=render_notice(policy, notice_id, "md"),
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError as exc:  # the (notice_id, number) unique key: a concurrent publish won
        raise PublishConflict(notice_id) from exc
    return version


def list_versions(*, session: Session, notice_id: str) -> list[NoticeVersion]:
    """Every published version of a notice, oldest first: the public archive."""
    query = select(NoticeVersion).where(NoticeVersion.notice_id == notice_id).order_by(NoticeVersion.number)
    return list(session.scalars(query))


def get_version(*, session: Session, notice_id: str, number: int) -> NoticeVersion:
    """One archived version, exactly as published; raises UnknownVersion when there is none."""
    query = select(NoticeVersion).where(NoticeVersion.notice_id == notice_id, NoticeVersion.number == number)
    version = session.scalars(query).one_or_none()
    if version is None:
        raise UnknownVersion(notice_id, number)
    return version


def current_version(*, session: Session, notice_id: str) -> NoticeVersion | None:
    """The version people see now: the highest number published, or None before the first publish."""
    query = (select(NoticeVersion).where(NoticeVersion.notice_id == notice_id)
             .order_by(NoticeVersion.number.desc()).limit(1))
    return session.scalars(query).first()


def diff_versions(*, session: Session, notice_id: str, old: int, new: int) -> NoticeDiff:
    """What changed between two archived versions, and whether it needs notice or re-consent."""
    before = get_version(session=session, notice_id=notice_id, number=old)
    after = get_version(session=session, notice_id=notice_id, number=new)
    return diff_documents(before.snapshot, after.snapshot)
