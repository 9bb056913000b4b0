"""allowed_subjects_sql: the decision as a SELECT for the company's own database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import MetaData, create_engine, insert, text

from pledge.decisions import SubjectState, allowed_subjects_sql
from pledge.decisions.sql import (
    DIALECTS,
    purpose_rows,
    purpose_state_table,
    subject_row,
    subject_state_table,
)
from pledge.policy import CompiledPolicy
from tests.decisions.conftest import AT


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_query_names_the_exported_tables_and_the_instant(policy: CompiledPolicy, dialect: str) -> None:
    sql = allowed_subjects_sql(policy, "app", "marketing", dialect, at=AT, channel="email")
    assert sql.startswith("SELECT s.subject_id")
    assert "FROM pledge_subject_state" in sql
    assert "LEFT OUTER JOIN pledge_purpose_state AS p" in sql
    assert f"p.consent_expires_at > {int(AT.timestamp())}" in sql
    assert "email_off" in sql


def test_no_purpose_row_is_joined_when_no_rule_needs_it(policy: CompiledPolicy) -> None:
    sql = allowed_subjects_sql(policy, "web", "orders", "sqlite", at=AT)
    assert "pledge_purpose_state" not in sql


def test_a_purpose_refused_everywhere_selects_nobody(policy: CompiledPolicy) -> None:
    """No legal basis outside the EEA [S2 §4 table]: asked as GB, the query cannot select anyone."""
    engine = create_engine("sqlite://")
    metadata = MetaData()
    subjects = subject_state_table(metadata)
    purpose_state_table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(subjects), [subject_row(1, SubjectState(jurisdiction="GB"))])
        query = allowed_subjects_sql(policy, "app", "survey", "sqlite", at=AT, jurisdiction="GB")
        assert conn.execute(text(query)).all() == []
        query = allowed_subjects_sql(policy, "app", "provide", "sqlite", at=AT)
        assert conn.execute(text(query)).all() == [(1,)]


def test_the_instant_defaults_to_now(policy: CompiledPolicy) -> None:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    sql = allowed_subjects_sql(policy, "app", "wellness", "postgresql")
    cutoff = int(sql.split("p.consent_expires_at > ")[1].split(")")[0])
    assert abs(cutoff - now) < 60


def test_rows_of_a_state() -> None:
    state = SubjectState(jurisdiction="DE", cookie_categories=frozenset({"b", "a"}),
                         objections=frozenset({("app", "improve")}))
    assert subject_row(7, state)["cookie_categories"] == "a,b"
    assert purpose_rows(7, state) == [{"subject_id": 7, "notice_id": "app", "purpose_id": "improve",
                                       "consent_status": None, "consent_expires_at": None, "objected": True}]


def test_an_unknown_dialect_is_an_error(policy: CompiledPolicy) -> None:
    with pytest.raises(ValueError, match="unknown dialect 'oracle'"):
        allowed_subjects_sql(policy, "app", "provide", "oracle", at=AT)
