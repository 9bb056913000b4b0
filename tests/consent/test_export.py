"""The consent state exported to a warehouse gives, through `pledge decisions sql`, the same audience
as the single decision (issue 3, item 5: a company filters audiences inside its own database)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from pledge.consent import asks
from pledge.consent.export import export_consent_state, warehouse_engine
from pledge.decisions.sql import allowed_subjects_sql
from pledge.policy import CompiledPolicy
from tests.conftest import CliInvoke
from tests.consent.conftest import Record

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

PEOPLE: list[tuple[str, str, list[dict[str, str]]]] = [
    # (identity, residence, the events each one recorded)
    ("ann@example.com", "DE", [{"kind": "consent_granted", "purpose": "newsletter"}]),
    ("bob@example.com", "DE", [{"kind": "consent_granted", "purpose": "newsletter"},
                               {"kind": "consent_withdrawn", "purpose": "newsletter"}]),
    ("cat@example.com", "US-CA", [{"kind": "cookies_accepted", "target": "advertising"}]),
    ("dan@example.com", "US-CA", [{"kind": "cookies_accepted", "target": "advertising"},
                                  {"kind": "opted_out", "target": "sale_share"}]),
    ("eve@example.com", "TH", [{"kind": "consent_granted", "purpose": "ads"}]),
    ("fay@example.com", "FR", [{"kind": "consent_granted", "purpose": "newsletter"},
                               {"kind": "restriction_requested"}]),
    ("gus@example.com", "DE", [{"kind": "objection_raised", "purpose": "analytics"}]),
]


@pytest.fixture
def population(record: Record) -> dict[str, str]:
    """Each person's subject id, after recording their events through the ledger."""
    ids: dict[str, str] = {}
    for identity, residence, events in PEOPLE:
        for event in events:
            recorded = record(subject=identity, residence=residence, occurred_at=NOW, **event)
            ids[identity] = recorded.subject.id
    return ids


@pytest.mark.parametrize("purpose", ["newsletter", "ads", "orders", "analytics"])
def test_the_warehouse_audience_is_the_single_decisions_audience(
        session: Session, consent_policy: CompiledPolicy, population: dict[str, str], tmp_path: Path,
        purpose: str) -> None:
    warehouse = warehouse_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    exported = export_consent_state(session=session, target=warehouse, today=NOW.date())
    assert exported.subjects == len(PEOPLE)

    query = allowed_subjects_sql(consent_policy, "shop", purpose, "sqlite", at=NOW)
    with warehouse.connect() as conn:
        from_sql = {row[0] for row in conn.execute(text(query))}
    warehouse.dispose()

    ask = asks.check_ask(consent_policy, purpose=purpose, notice="shop")
    expected = set()
    for identity, _residence, _events in PEOPLE:
        _found, decision = asks.decide_for(session=session, policy=consent_policy, subject=identity, ask=ask, at=NOW)
        if decision.allowed:
            expected.add(population[identity])
    assert from_sql == expected
    assert 0 < len(from_sql) < len(PEOPLE)  # each audience both includes and leaves out someone


def test_a_failed_export_leaves_the_previous_one_whole(session: Session, consent_policy: CompiledPolicy,
                                                      population: dict[str, str], tmp_path: Path) -> None:
    """Bad input loses nothing: the export replaces the tables in one transaction."""
    warehouse = warehouse_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    export_consent_state(session=session, target=warehouse, today=NOW.date())

    def boom(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        export_consent_state(session=session, target=warehouse, today=NOW.date(), progress=boom)
    with warehouse.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pledge_subject_state")).scalar() == len(PEOPLE)
    warehouse.dispose()


def test_cli_prints_sql_for_each_dialect_and_refuses_an_unknown_purpose(cli: CliInvoke, consent_env: object) -> None:
    for dialect in ("sqlite", "postgresql", "duckdb"):
        result = cli("decisions", "sql", "--purpose", "newsletter", "--dialect", dialect)
        assert result.exit_code == 0, result.output
        assert result.stdout.lstrip().upper().startswith("SELECT")
        assert "pledge_subject_state" in result.stdout
    unknown = cli("decisions", "sql", "--purpose", "telepathy")
    assert unknown.exit_code == 1
    assert "telepathy" in unknown.stderr
    bad_dialect = cli("decisions", "sql", "--purpose", "newsletter", "--dialect", "oracle")
    assert bad_dialect.exit_code == 1 and "oracle" in bad_dialect.stderr


def test_cli_export_then_sql_selects_the_person_who_granted(cli: CliInvoke, consent_env: object,
                                                            tmp_path: Path) -> None:
    """`pledge consent grant`, `pledge decisions export`, then the printed SQL run in the warehouse."""
    granted = cli("consent", "grant", "--subject", "ann@example.com", "--purpose", "newsletter", "--jurisdiction", "DE")
    assert granted.exit_code == 0, granted.output
    cli("consent", "grant", "--subject", "bob@example.com", "--purpose", "newsletter", "--jurisdiction", "DE")
    assert cli("consent", "withdraw", "--subject", "bob@example.com", "--purpose", "newsletter").exit_code == 0
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    exported = cli("decisions", "export", "--url", url)
    assert exported.exit_code == 0, exported.output
    assert "exported 2 subject(s)" in exported.stdout
    query = cli("decisions", "sql", "--purpose", "newsletter", "--dialect", "sqlite").stdout
    shown = cli("subject", "show", "ann@example.com")
    warehouse = warehouse_engine(url)
    with warehouse.connect() as conn:
        audience = [row[0] for row in conn.execute(text(query.rstrip().rstrip(";")))]
    warehouse.dispose()
    assert len(audience) == 1 and audience[0] in shown.stdout


@pytest.mark.parametrize("url", ["garbage", "oracle://warehouse/db"])
def test_cli_export_to_a_url_that_names_no_usable_database_says_so(cli: CliInvoke, consent_env: object,
                                                                   url: str) -> None:
    exported = cli("decisions", "export", "--url", url)
    assert exported.exit_code == 1, exported.output
    assert exported.exception is None or isinstance(exported.exception, SystemExit)
    assert "Traceback" not in exported.output
