"""The consent ledger, its current-state projection, and the disclosures of suppression lists.

``consent_event`` is append-only: pledge inserts rows and never updates or deletes one. Every
event keeps who it is about, which identity they used, what happened to what, under which notice
version, where and by whom it was collected, the evidence, when, and until when.

``consent_state`` is the projection the decision engine reads: one row per (subject, aspect,
notice, target) holding the value of the latest event for it. It is written in the same
transaction as the event, and ``pledge consent rebuild --check`` proves it equals a replay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pledge.store import Base, JSONDocument, UTCDateTime, utcnow

#: 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
LedgerId = BigInteger().with_variant(Integer(), "sqlite")


class ConsentEvent(Base):
    """One thing a person (or their guardian, agent, or our staff) said about the use of their data."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_subject_id_id", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(LedgerId, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, doc="public id: the receipt's record id")
    subject_id: Mapped[str] = mapped_column(ForeignKey("data_subject.id"))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("subject_identity.id"), doc="identity used")
    kind: Mapped[str] = mapped_column(String(32), doc="EventKind")
    target: Mapped[str] = mapped_column(String(120), default="", doc="purpose, channel, cookie category, opt-out")
    notice_id: Mapped[str] = mapped_column(String(80), default="", doc="notice of the purpose, '' when none")
    notice_version: Mapped[int | None] = mapped_column(Integer, doc="published version in force, if any")
    jurisdiction: Mapped[str] = mapped_column(String(80), doc="policy jurisdiction governing the subject then")
    collection_point: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(24))
    actor_ref: Mapped[str | None] = mapped_column(String(200), doc="which guardian, agent or staff member")
    evidence_hash: Mapped[str | None] = mapped_column(String(64), doc="SHA-256 of the text shown")
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), doc="what the idempotency key was used for")
    policy_revision: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<ConsentEvent #{self.id} {self.kind} {self.notice_id}/{self.target} of {self.subject_id}>"


class ConsentStateRow(Base):
    """The current value of one aspect of a subject's choices, as the latest event for it left it."""

    __tablename__ = "consent_state"

    subject_id: Mapped[str] = mapped_column(ForeignKey("data_subject.id"), primary_key=True)
    aspect: Mapped[str] = mapped_column(String(24), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(80), primary_key=True, default="")
    target: Mapped[str] = mapped_column(String(120), primary_key=True, default="")
    value: Mapped[str] = mapped_column(String(24))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(LedgerId)

    def __repr__(self) -> str:
        return f"<ConsentState {self.subject_id} {self.aspect} {self.notice_id}/{self.target}={self.value}>"


class Disclosure(Base):
    """A disclosure of personal data to a recipient, e.g. a suppression list handed to vendors (S0)."""

    __tablename__ = "disclosure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), doc="suppression_list, ...")
    recipient: Mapped[str] = mapped_column(String(200), doc="recipient id or name, as the policy names it")
    notice_id: Mapped[str] = mapped_column(String(80), default="")
    purpose: Mapped[str] = mapped_column(String(80), default="")
    data_categories: Mapped[list[str]] = mapped_column(JSONDocument)
    record_count: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), doc="SHA-256 of exactly what was handed over")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    disclosed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
