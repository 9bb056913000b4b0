"""Published notice versions: the archive of exactly what people were shown, and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pledge.store import Base, JSONDocument, UTCDateTime, utcnow


class NoticeVersion(Base):
    """One published version of a notice, numbered from 1 per notice, never edited after publishing."""

    __tablename__ = "notice_version"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(80), index=True)
    number: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the rendered HTML")
    policy_revision: Mapped[str] = mapped_column(String(64), doc="CompiledPolicy.revision when published")
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDocument, doc="the notice document, as JSON")
    html: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<NoticeVersion {self.notice_id} #{self.number} {self.content_hash[:12]}>"
