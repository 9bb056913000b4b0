"""Data subjects and their identities.

A data subject is one person as pledge knows them: a residence (from which the governing policy
jurisdiction follows), a birth date or an age band (from which child status follows), and any
number of identities (email, phone, customer number, device id, browser id, LUMIX PRO membership
number). Every identity is unique per kind, so a lookup by any identity is one index probe.

When an anonymous browser is linked to a customer after login, the browser's subject is merged
into the customer's: its identities move over, ``merged_into_id`` points at the survivor, and its
consent events stay where they were, so both histories are kept and read together.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledge.store import Base, UTCDateTime, utcnow


class DataSubject(Base):
    """One person; ``version`` grows with every write so concurrent writers queue per subject."""

    __tablename__ = "data_subject"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, doc="uuid4 hex")
    residence: Mapped[str | None] = mapped_column(String(16), doc="ISO 3166 code as given: DE, US-CA, TH")
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    age_band: Mapped[str | None] = mapped_column(String(16), doc="e.g. 13-15 or 18+ when no birth date is known")
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("data_subject.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    identities: Mapped[list[SubjectIdentity]] = relationship(
        back_populates="subject", order_by="SubjectIdentity.id",
        foreign_keys="SubjectIdentity.subject_id")

    def __repr__(self) -> str:
        return f"<DataSubject {self.id} {self.residence or '-'}>"


class SubjectIdentity(Base):
    """One normalised identifier of a subject; (kind, value) is unique and indexed."""

    __tablename__ = "subject_identity"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("data_subject.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    subject: Mapped[DataSubject] = relationship(back_populates="identities", foreign_keys=[subject_id])

    def __repr__(self) -> str:
        return f"<SubjectIdentity {self.kind}:{self.value}>"
