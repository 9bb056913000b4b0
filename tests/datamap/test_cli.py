"""`pledge datamap access|plan|erase|rectify`: the executor by hand, for the privacy team."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pledge.datamap import DataMap
from tests.conftest import CliInvoke
from tests.datamap.conftest import NOW, Demo, Oracle, make_demo


@pytest.fixture
def sqlite_demo(datamap: DataMap, tmp_path: Path) -> Iterator[Demo]:
    generator = make_demo(datamap, f"sqlite:///{tmp_path / 'systems'}/{{dataset}}.db")
    demo = next(generator)
    yield demo
    generator.close()


def _subject(demo: Demo) -> tuple[str, Oracle]:
    oracle = Oracle(demo.snapshot())
    customer = sorted(oracle.owner[("shop", "invoices")].values())[0]
    return f"email:{oracle.email_of(customer).upper()}", oracle


def test_access_prints_the_rows_and_their_categories(cli: CliInvoke, sqlite_demo: Demo) -> None:
    subject, oracle = _subject(sqlite_demo)
    result = cli("datamap", "access", "--subject", subject, "--url", sqlite_demo.url, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    customer = oracle.owner[("accounts", "customers")]
    assert report["row_count"] == len(oracle.rows_of(sorted(oracle.owner[("shop", "invoices")].values())[0]))
    assert any(t["table"] == "customers" and t["rows"][0]["values"]["customer_number"] in customer.values()
               for t in report["tables"])
    text = cli("datamap", "access", "--subject", subject, "--url", sqlite_demo.url)
    assert "uk.account" in text.stdout and "row(s) in" in text.stdout


def test_plan_then_erase_then_nothing_left(cli: CliInvoke, sqlite_demo: Demo) -> None:
    subject, _ = _subject(sqlite_demo)
    before = sqlite_demo.snapshot()
    plan = cli("datamap", "plan", "--subject", subject, "--url", sqlite_demo.url)
    assert plan.exit_code == 0 and "Erasure plan for email:" in plan.stdout
    assert sqlite_demo.snapshot() == before
    erased = cli("datamap", "erase", "--yes", "--subject", subject, "--url", sqlite_demo.url)
    assert erased.exit_code == 0, erased.stderr
    assert erased.stdout.strip().splitlines()[-1].startswith("completed:")
    again = cli("datamap", "access", "--subject", subject, "--url", sqlite_demo.url, "--format", "json")
    assert json.loads(again.stdout)["row_count"] == 0
    assert NOW  # erasures by hand use the real clock; the executor tests pin it


def test_erase_asks_before_it_erases(cli: CliInvoke, sqlite_demo: Demo) -> None:
    subject, _ = _subject(sqlite_demo)
    before = sqlite_demo.snapshot()
    result = cli("datamap", "erase", "--subject", subject, "--url", sqlite_demo.url)  # no input: the answer is no
    assert result.exit_code == 1
    assert sqlite_demo.snapshot() == before


def test_rectify_reports_each_field(cli: CliInvoke, sqlite_demo: Demo) -> None:
    subject, _ = _subject(sqlite_demo)
    result = cli("datamap", "rectify", "surname", "Okafor", "--subject", subject, "--url", sqlite_demo.url)
    assert result.exit_code == 0, result.stderr
    assert "accounts.customers.last_name: 1 row(s)" in result.stdout


@pytest.mark.parametrize(("subject", "message"), [
    ("email:not-an-email", "is not an email address"),
    ("shoe_size:42", "is not a customer number"),
])
def test_a_malformed_identity_is_one_line_and_nothing_runs(cli: CliInvoke, sqlite_demo: Demo, subject: str,
                                                           message: str) -> None:
    """Bad input: a malformed identity is a clear error, nothing executed."""
    before = sqlite_demo.snapshot()
    result = cli("datamap", "erase", "--yes", "--subject", subject, "--url", sqlite_demo.url)
    assert result.exit_code == 1 and message in result.stderr
    assert sqlite_demo.snapshot() == before
