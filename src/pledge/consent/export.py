"""Export the consent-state projection to a company's warehouse, for the SQL decision path.

`pledge decisions sql` emits a SELECT over two tables (``pledge_subject_state`` and
``pledge_purpose_state``, columns in docs/decisions.md); this module fills them, in any database
SQLAlchemy reaches, from the same projection the single decision reads. The target tables are
replaced in one transaction: a failed export leaves the previous export whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, String, event, select
from sqlalchemy.orm import Session

from pledge.consent.asks import load_states
from pledge.decisions.sql import purpose_rows, purpose_state_table, subject_row, subject_state_table
from pledge.store import make_engine
from pledge.subjects.models import DataSubject

#: The exported subject ids are pledge's own (uuid4 hex).
SUBJECT_ID_TYPE = String(32)


def warehouse_engine(url: str) -> Engine:
    """An engine on the target database whose transactions also cover DDL.

    Python's sqlite3 driver commits before a CREATE or DROP on its own; handing transactions to
    SQLite itself (``BEGIN`` on every SQLAlchemy begin) makes the drop-create-fill of an export one
    transaction, as it already is on PostgreSQL.
    """
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_driver_autocommit)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


@dataclass(frozen=True)
class ConsentExport:
    subjects: int
    purpose_rows: int


def export_consent_state(*, session: Session, target: Engine, today: dt.date | None = None, batch_size: int = 2000,
                         progress: Callable[[int, int], None] | None = None) -> ConsentExport:
    """Replace the warehouse's consent-state tables with the current projection (merged subjects left out).

    Give ``target`` from ``warehouse_engine`` so a failure half-way leaves the previous export whole.
    """
    metadata = MetaData()
    subjects_table = subject_state_table(metadata, subject_id_type=SUBJECT_ID_TYPE)
    purposes_table = purpose_state_table(metadata, subject_id_type=SUBJECT_ID_TYPE)
    live = DataSubject.merged_into_id.is_(None)
    ids = session.scalars(select(DataSubject.id).where(live).order_by(DataSubject.id)).all()
    written = purposes_written = 0
    with target.begin() as conn:
        metadata.drop_all(conn)
        metadata.create_all(conn)
        for start in range(0, len(ids), batch_size):
            states = load_states(session=session, subject_ids=ids[start:start + batch_size], today=today)
            subject_rows = [subject_row(subject_id, state) for subject_id, state in states.items()]
            rows = [row for subject_id, state in states.items() for row in purpose_rows(subject_id, state)]
            conn.execute(subjects_table.insert(), subject_rows)
            if rows:
                conn.execute(purposes_table.insert(), rows)
            written += len(subject_rows)
            purposes_written += len(rows)
            if progress is not None:
                progress(written, len(ids))
    return ConsentExport(subjects=written, purpose_rows=purposes_written)
