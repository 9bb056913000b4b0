"""Rights requests and their log.

``rights_request`` is one request a person (or their authorised agent) made: what right, under
which jurisdiction's rules, about which identity, where it stands, and the dates it must be
confirmed, answered or extended by, computed from the policy when it was received, verified or
extended. ``rights_request_event`` is its transition log: every change of state with the actor,
the time and the reason, plus the other things that happened to it (a code sent, a failed
attempt, an extension, a package built). ``rights_request_document`` keeps the files that came
with it: an agent's signed permission, a signed declaration.

Requests and their log are kept 24 months (11 CCR § 7101(a)); ``retain_until`` says until when.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledge.store import Base, JSONDocument, UTCDateTime, utcnow

#: 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class RightsRequest(Base):
    """One request to exercise a right, from intake to its answer."""

    __tablename__ = "rights_request"
    __table_args__ = (
        Index("ix_rights_request_state_due_on", "state", "due_on"),
        Index("ix_rights_request_identity", "identity_kind", "identity_value"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True, doc="public reference, e.g. R-7KQ2M9XW4TJD")
    request_type: Mapped[str] = mapped_column(String(40), doc="RequestType")
    right: Mapped[str] = mapped_column(String(40), doc="the policy Right the type exercises")
    jurisdiction: Mapped[str] = mapped_column(String(80), doc="policy jurisdiction whose rules apply")
    residence: Mapped[str | None] = mapped_column(String(16), doc="as the requester stated it")
    state: Mapped[str] = mapped_column(String(32), index=True, doc="RequestState")
    channel: Mapped[str] = mapped_column(String(16), doc="api, web, cli, email, phone, post")
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("data_subject.id", ondelete="SET NULL"), index=True,
                                                   doc="the data subject, when pledge knows the identity")
    identity_kind: Mapped[str] = mapped_column(String(24))
    identity_value: Mapped[str] = mapped_column(String(320))
    contact_email: Mapped[str] = mapped_column(String(320), doc="where codes and answers go")
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict,
                                                    doc="type-specific input: field and value to rectify, purposes")
    agent_name: Mapped[str | None] = mapped_column(String(200))
    agent_email: Mapped[str | None] = mapped_column(String(320))
    appeal_of_id: Mapped[int | None] = mapped_column(ForeignKey("rights_request.id", ondelete="SET NULL"))
    policy_revision: Mapped[str] = mapped_column(String(64))

    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    confirmation_due_on: Mapped[dt.date | None] = mapped_column(Date)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verification_level: Mapped[str | None] = mapped_column(String(80), doc="policy verification level id")
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verification_method: Mapped[str | None] = mapped_column(String(40))
    code_hash: Mapped[str | None] = mapped_column(String(64), doc="HMAC of the one-time code, never the code")
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    clock_started_on: Mapped[dt.date | None] = mapped_column(Date)
    due_on: Mapped[dt.date | None] = mapped_column(Date, doc="answer due, extensions included")
    original_due_on: Mapped[dt.date | None] = mapped_column(Date)
    extensions_used: Mapped[int] = mapped_column(Integer, default=0)
    extension_notice_by: Mapped[dt.date | None] = mapped_column(Date)
    deadline_source: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome_reason: Mapped[str | None] = mapped_column(Text, doc="why it was denied, partly done or withdrawn")
    result: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, doc="what was done, per system")
    package_path: Mapped[str | None] = mapped_column(String(500))
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    package_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    retain_until: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    events: Mapped[list[RightsRequestEvent]] = relationship(
        back_populates="request", order_by="RightsRequestEvent.id", cascade="all, delete-orphan",
        passive_deletes=True)
    documents: Mapped[list[RightsRequestDocument]] = relationship(
        back_populates="request", order_by="RightsRequestDocument.id", cascade="all, delete-orphan",
        passive_deletes=True)

    def __repr__(self) -> str:
        return f"<RightsRequest {self.reference} {self.request_type} {self.jurisdiction} {self.state}>"


class RightsRequestEvent(Base):
    """One entry of a request's log: a transition (from_state -> to_state) or another thing that happened."""

    __tablename__ = "rights_request_event"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), doc="transition, code_sent, attempt_failed, extended ...")
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200), doc="subject, agent, staff:<name>, system, worker:<id>")
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[RightsRequest] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return f"<RightsRequestEvent {self.kind} {self.from_state}->{self.to_state} by {self.actor}>"


class RightsRequestDocument(Base):
    """A file that came with a request: an agent's signed permission, a signed declaration."""

    __tablename__ = "rights_request_document"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), doc="agent_permission, signed_declaration")
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    checked: Mapped[bool] = mapped_column(Boolean, default=False, doc="staff confirmed the document")

    request: Mapped[RightsRequest] = relationship(back_populates="documents")

    def __repr__(self) -> str:
        return f"<RightsRequestDocument {self.kind} {self.filename} {self.size} B>"


from pledge.rights import processor_models as processor_models  # noqa: E402  (its tables, for Alembic)
