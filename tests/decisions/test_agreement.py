"""Single, bulk and SQL paths give the same answer on random states [DESIGN principle 4].

The SQL path runs on SQLite and DuckDB here, and on SQLite and PostgreSQL through the shared
``database_url`` fixture (tests/conftest.py), both as a SQLAlchemy statement and as the SQL text
``allowed_subjects_sql`` emits.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, MetaData, Table, create_engine, delete, insert
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.schema import CreateTable

from pledge.decisions import (
    REFUSING_RULES,
    DecisionAsk,
    Rule,
    StateBatch,
    SubjectState,
    allowed_subjects_select,
    allowed_subjects_sql,
    decide,
    decide_many,
)
from pledge.decisions.sql import purpose_rows, purpose_state_table, subject_row, subject_state_table
from pledge.policy import CompiledPolicy
from pledge.policy.models import MarketingChannel
from tests.decisions.strategies import INSTANTS, AskParams, asks, random_state, subject_states

SUBJECTS = "export_subject_state"
PURPOSES = "export_purpose_state"
SqlRunner = Callable[[CompiledPolicy, AskParams], set[int]]


def single(policy: CompiledPolicy, states: Sequence[SubjectState], params: AskParams) -> list[tuple[bool, Rule | None]]:
    answers = []
    for state in states:
        decision = decide(policy, state, DecisionAsk(purpose=params.purpose, notice=params.notice, at=params.at,
                                                     **params.options()))
        answers.append((decision.allowed, None if decision.allowed else decision.reasons[0].rule))
    return answers


def bulk(policy: CompiledPolicy, states: Sequence[SubjectState] | StateBatch,
         params: AskParams) -> list[tuple[bool, Rule | None]]:
    batch = states if isinstance(states, StateBatch) else StateBatch.from_states(states)
    result = decide_many(policy, params.notice, params.purpose, batch, at=params.at, **params.options())
    return [(bool(result.allowed[i]), result.rule_of(i)) for i in range(len(batch))]


class ExportedTables:
    """The two export tables in one database, refilled for each example."""

    def __init__(self) -> None:
        metadata = MetaData()
        self.subjects: Table = subject_state_table(metadata, SUBJECTS)
        self.purposes: Table = purpose_state_table(metadata, PURPOSES)
        self.metadata = metadata

    @staticmethod
    def rows(states: Sequence[SubjectState]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        subjects = [subject_row(i, state) for i, state in enumerate(states)]
        purposes = [row for i, state in enumerate(states) for row in purpose_rows(i, state)]
        return subjects, purposes


def sql_options(params: AskParams) -> dict[str, Any]:
    return {**params.options(), "subject_table": SUBJECTS, "purpose_table": PURPOSES}


class SqlAlchemyDatabase(ExportedTables):
    def __init__(self, engine: Engine, dialect: str) -> None:
        super().__init__()
        self.engine = engine
        self.dialect = dialect
        self.metadata.create_all(engine)

    def load(self, states: Sequence[SubjectState]) -> None:
        subjects, purposes = self.rows(states)
        with self.engine.begin() as conn:
            conn.execute(delete(self.purposes))
            conn.execute(delete(self.subjects))
            if subjects:
                conn.execute(insert(self.subjects), subjects)
            if purposes:
                conn.execute(insert(self.purposes), purposes)

    def allowed(self, policy: CompiledPolicy, params: AskParams) -> set[int]:
        statement = allowed_subjects_select(policy, params.notice, params.purpose, at=params.at, **sql_options(params))
        text = allowed_subjects_sql(policy, params.notice, params.purpose, self.dialect, at=params.at,
                                    **sql_options(params))
        with self.engine.connect() as conn:
            by_statement = {row[0] for row in conn.execute(statement)}
            by_text = {row[0] for row in conn.exec_driver_sql(text)}
        assert by_statement == by_text, text
        return by_text


class DuckDatabase(ExportedTables):
    def __init__(self) -> None:
        super().__init__()
        self.conn = duckdb.connect()
        for table in (self.subjects, self.purposes):
            self.conn.execute(str(CreateTable(table).compile(dialect=PGDialect())))  # type: ignore[no-untyped-call]

    def load(self, states: Sequence[SubjectState]) -> None:
        subjects, purposes = self.rows(states)
        for table, rows in ((self.purposes, purposes), (self.subjects, subjects)):
            self.conn.execute(f"DELETE FROM {table.name}")
            if rows:
                names = list(rows[0])
                placeholders = f"({', '.join('?' * len(names))})"
                for start in range(0, len(rows), 500):  # one statement per 500 rows: executemany is slow
                    chunk = rows[start:start + 500]
                    values = ", ".join([placeholders] * len(chunk))
                    self.conn.execute(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {values}",
                                      [row[name] for row in chunk for name in names])

    def allowed(self, policy: CompiledPolicy, params: AskParams) -> set[int]:
        text = allowed_subjects_sql(policy, params.notice, params.purpose, "duckdb", at=params.at,
                                    **sql_options(params))
        return {row[0] for row in self.conn.execute(text).fetchall()}


@pytest.fixture(scope="module")
def sqlite_db() -> Iterator[SqlAlchemyDatabase]:
    engine = create_engine("sqlite://")
    yield SqlAlchemyDatabase(engine, "sqlite")
    engine.dispose()


@pytest.fixture(scope="module")
def duck_db() -> Iterator[DuckDatabase]:
    database = DuckDatabase()
    yield database
    database.conn.close()


def expected_ids(answers: list[tuple[bool, Rule | None]]) -> set[int]:
    return {i for i, (allowed, _) in enumerate(answers) if allowed}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_single_and_bulk_agree(policy: CompiledPolicy, data: st.DataObject) -> None:
    """Same allowed flag and same first refusing rule, subject by subject."""
    states = data.draw(st.lists(subject_states(policy), max_size=25))
    params = data.draw(asks(policy))
    assert bulk(policy, states, params) == single(policy, states, params)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_single_bulk_and_sql_agree_on_sqlite_and_duckdb(policy: CompiledPolicy, sqlite_db: SqlAlchemyDatabase,
                                                        duck_db: DuckDatabase, data: st.DataObject) -> None:
    states = data.draw(st.lists(subject_states(policy), max_size=25))
    sqlite_db.load(states)
    duck_db.load(states)
    for params in data.draw(st.lists(asks(policy), min_size=1, max_size=4)):
        answers = single(policy, states, params)
        assert bulk(policy, states, params) == answers
        expected = expected_ids(answers)
        assert sqlite_db.allowed(policy, params) == expected, params
        assert duck_db.allowed(policy, params) == expected, params


def test_sql_agrees_on_the_project_databases(policy: CompiledPolicy, database_url: str) -> None:
    """SQLite and PostgreSQL, each a fresh migrated database from tests/conftest.py."""
    engine = create_engine(database_url)
    try:
        database = SqlAlchemyDatabase(engine, engine.dialect.name)

        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(data=st.data())
        def agree(data: st.DataObject) -> None:
            states = data.draw(st.lists(subject_states(policy), max_size=25))
            database.load(states)
            for params in data.draw(st.lists(asks(policy), min_size=1, max_size=4)):
                assert database.allowed(policy, params) == expected_ids(single(policy, states, params)), params

        agree()
    finally:
        engine.dispose()


def test_a_large_random_population_agrees_and_meets_every_rule(policy: CompiledPolicy, sqlite_db: SqlAlchemyDatabase,
                                                               duck_db: DuckDatabase) -> None:
    """Two thousand random people, every purpose of the fixture, a few asks each: the three paths agree,
    and between them the asks meet every refusing rule of the table."""
    rng = random.Random(20250115)
    states = [random_state(rng, policy) for _ in range(2000)]
    batch = StateBatch.from_states(states)
    sqlite_db.load(states)
    duck_db.load(states)
    first_rules: Counter[Rule] = Counter()
    for index, (notice, purpose) in enumerate(sorted(policy.purposes)):
        at = INSTANTS[index % len(INSTANTS)]
        channels = policy.purposes[(notice, purpose)].marketing_channels
        variants = [
            AskParams(notice, purpose, at),
            AskParams(notice, purpose, at, recipient="partners", data_categories=("health",)),
            AskParams(notice, purpose, at, channel=channels[0] if channels else None, recipient="service-providers"),
            AskParams(notice, purpose, at, jurisdiction="US-CA", channel=MarketingChannel.SMS,
                      data_categories=("contact",)),
        ]
        for params in variants:
            answers = single(policy, states, params)
            assert bulk(policy, batch, params) == answers
            expected = expected_ids(answers)
            assert sqlite_db.allowed(policy, params) == expected
            assert duck_db.allowed(policy, params) == expected
            first_rules.update(rule for _, rule in answers if rule is not None)
            for state in states[:200]:
                decision = decide(policy, state, DecisionAsk(purpose=purpose, notice=notice, at=params.at,
                                                             **params.options()))
                first_rules.update(reason.rule for reason in decision.reasons if not decision.allowed)
    assert [rule for rule in REFUSING_RULES if not first_rules[rule]] == []
