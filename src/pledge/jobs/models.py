"""The durable job table: every background job, its state, attempts, lease and progress.

The table is the truth in every configuration. The SQL queue claims rows from it directly
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one atomic ``UPDATE ... RETURNING`` on SQLite); the
Redis queue only carries job ids to waiting workers, which then claim the same rows. A job is
enqueued in the caller's transaction, so it exists exactly when the change that asked for it was
committed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pledge.store import Base, JSONDocument, UTCDateTime, utcnow

JobId = BigInteger().with_variant(Integer(), "sqlite")


class JobRow(Base):
    """One background job."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state_run_after", "state", "run_after"),)

    id: Mapped[int] = mapped_column(JobId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(80), doc="the task name, e.g. rights.execute")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    ref: Mapped[str | None] = mapped_column(String(120), index=True, doc="what it works on, e.g. rights_request:R-...")
    state: Mapped[str] = mapped_column(String(16), doc="queued, running, done, failed")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    progress: Mapped[float] = mapped_column(Float, default=0.0, doc="0 to 1")
    progress_message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Job #{self.id} {self.kind} {self.state} {self.progress:.0%}>"
