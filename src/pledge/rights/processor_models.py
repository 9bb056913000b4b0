"""Processors' webhook endpoints and the record of every notification sent to them.

``processor_endpoint`` says where a processor (a policy recipient whose role is ``processor``: a
service provider acting on the company's instructions) takes notifications: its URL, the NAME of the
environment variable that holds the HMAC secret (the secret itself is never stored here), whether
identities go hashed or in clear, and whether the endpoint is active.

``processor_notification`` is one notification about one completed request to one processor: what it
says (the exact payload, and its SHA-256), where it stands (pending, delivered, failed, cancelled) and
``processor_attempt`` keeps each try: when, the HTTP status, the error. GDPR Art. 19 and
11 CCR § 7026(f) ask that processors and third parties are told; this is the proof that they were.
Notifications go with their request when it is purged (11 CCR § 7101: 24 months).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledge.store import Base, JSONDocument, UTCDateTime, utcnow

#: 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class ProcessorEndpoint(Base):
    """Where one processor takes signed notifications; the secret lives in an environment variable."""

    __tablename__ = "processor_endpoint"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    recipient_id: Mapped[str] = mapped_column(String(80), unique=True, doc="policy recipient id (role: processor)")
    url: Mapped[str] = mapped_column(String(2000), doc="https URL notifications are POSTed to")
    secret_env: Mapped[str] = mapped_column(String(128), doc="NAME of the environment variable holding the secret")
    identities: Mapped[str] = mapped_column(String(8), default="hashed", doc="hashed (SHA-256) or clear")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<ProcessorEndpoint {self.recipient_id} {self.url} {'active' if self.active else 'inactive'}>"


class ProcessorNotification(Base):
    """One notification of a completed request to one processor, and where its delivery stands."""

    __tablename__ = "processor_notification"
    __table_args__ = (UniqueConstraint("request_id", "recipient_id"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, doc="public id, the processor's idempotency key")
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_request.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("processor_endpoint.id", ondelete="SET NULL"),
                                                    index=True)
    recipient_id: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(24), doc="delete, restrict, lift_restriction, stop")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, doc="what is sent, exactly")
    body_sha256: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the body as sent")
    state: Mapped[str] = mapped_column(String(16), index=True, doc="pending, delivered, failed, cancelled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(RowId, doc="the job delivering it")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    attempt_log: Mapped[list[ProcessorNotificationAttempt]] = relationship(
        back_populates="notification", order_by="ProcessorNotificationAttempt.id", cascade="all, delete-orphan",
        passive_deletes=True)

    def __repr__(self) -> str:
        return f"<ProcessorNotification {self.uid} {self.recipient_id} {self.action} {self.state}>"


class ProcessorNotificationAttempt(Base):
    """One try at delivering a notification: when, where, the HTTP status, the error."""

    __tablename__ = "processor_attempt"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("processor_notification.id", ondelete="CASCADE"),
                                                 index=True)
    number: Mapped[int] = mapped_column(Integer, doc="1 for the first try")
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    url: Mapped[str] = mapped_column(String(2000))
    status_code: Mapped[int | None] = mapped_column(Integer, doc="HTTP status, none when no answer came")
    error: Mapped[str | None] = mapped_column(Text, doc="why it did not count as delivered")
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)

    notification: Mapped[ProcessorNotification] = relationship(back_populates="attempt_log")

    def __repr__(self) -> str:
        return f"<ProcessorNotificationAttempt #{self.number} {self.status_code} {self.error or 'ok'}>"
