"""The demo customer systems: the seeded company's services, built the same way every time for a seed.

S0, S3 and S4 describe the services: My Panasonic accounts, product registrations, orders and
invoices, support tickets and call recordings, community posts, newsletters, promotions, LUMIX PRO
memberships (tiers by registered products, Black by invitation), SmartApp+ device and location
logs, smart-home connectivity records, website analytics by browser id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, text
from sqlalchemy.engine import make_url

from pledge.datamap import DataMap, Systems
from pledge.datamap.models import FieldType
from pledge.demo import build as build_module
from pledge.demo.build import build
from pledge.demo.generate import tier_for
from pledge.demo.schema import DATASET_IDS, build_datasets
from tests.conftest import CliInvoke, PostgresServer


def _digest(folder: Path) -> dict[str, str]:
    """A hash of every table's rows, per dataset file."""
    out = {}
    for dataset in DATASET_IDS:
        conn = sqlite3.connect(folder / f"{dataset}.db")
        try:
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
                rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
                out[f"{dataset}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
        finally:
            conn.close()
    return out


def _url(folder: Path) -> str:
    return f"sqlite:///{folder}/{{dataset}}.db"


def test_the_same_seed_builds_the_same_rows_and_another_seed_other_rows(tmp_path: Path) -> None:
    """Deterministic by seed, whatever the number of processes that write the datasets."""
    first = build(url=_url(tmp_path / "a"), subjects=300, seed=5)
    build(url=_url(tmp_path / "b"), subjects=300, seed=5, processes=3)
    build(url=_url(tmp_path / "c"), subjects=300, seed=6)
    a, b, c = (_digest(tmp_path / name) for name in "abc")
    assert a == b
    assert a != c and a["accounts.customers"] != c["accounts.customers"]
    assert first.rows["accounts.customers"] == 300 and first.total_rows > 300 * 5


def test_every_service_of_the_seeds_has_its_database(tmp_path: Path) -> None:
    report = build(url=_url(tmp_path), subjects=300, seed=5)
    assert sorted(report.locations) == sorted(DATASET_IDS)
    for table in ("accounts.customers", "products.registrations", "shop.orders", "shop.invoices", "support.tickets",
                  "support.call_recordings", "community.posts", "marketing.newsletter_subscriptions",
                  "marketing.promotion_entries", "lumix_pro.members", "smartapp.device_logs",
                  "smartapp.location_logs", "smart_home.connections", "analytics.page_views"):
        assert report.rows[table] > 0, table


_TYPES = {Integer: FieldType.INTEGER, Date: FieldType.DATE, DateTime: FieldType.DATETIME,
          Numeric: FieldType.DECIMAL, Boolean: FieldType.BOOLEAN}


def test_the_annotations_describe_every_table_and_column_of_the_demo_systems(datamap: DataMap) -> None:
    """No missed system: the data map and the databases agree table for table, column for column, type for type."""
    schema = build_datasets()
    assert sorted(d.id for d in datamap.datasets) == sorted(schema)
    for dataset in datamap.datasets:
        tables = {t.name: t for t in schema[dataset.id].tables}
        assert sorted(tables) == sorted(t.name for t in dataset.tables), dataset.id
        for table in dataset.tables:
            columns = {c.name: c for c in tables[table.name].columns}
            assert [f.name for f in table.fields] == list(columns), f"{dataset.id}.{table.name}"
            assert list(table.primary_key) == [c.name for c in tables[table.name].primary_key.columns]
            for f in table.fields:
                kind = next((v for k, v in _TYPES.items() if isinstance(columns[f.name].type, k)), FieldType.STRING)
                assert f.type is kind, f"{dataset.id}.{table.name}.{f.name}"


def test_lumix_pro_tiers_follow_registered_products_and_black_is_by_invitation(tmp_path: Path) -> None:
    """S4: Red, Silver, Gold, Platinum by the number of registered products; Black by invitation."""
    build(url=_url(tmp_path), subjects=2000, seed=1)
    conn = sqlite3.connect(tmp_path / "lumix_pro.db")
    members = conn.execute("SELECT id, tier, registered_products, invited_by FROM members").fetchall()
    products = dict(conn.execute("SELECT member_id, count(*) FROM member_products GROUP BY member_id").fetchall())
    assert members
    for member_id, tier, registered, invited_by in members:
        assert products[member_id] == registered
        assert tier == ("Black" if invited_by is not None else tier_for(registered))
    assert {"Black", "Red"} <= {m[1] for m in members}


def test_the_systems_agree_on_who_is_who(tmp_path: Path) -> None:
    """Customer numbers, browser ids and device ids used across systems all exist where they come from."""
    build(url=_url(tmp_path), subjects=500, seed=2)

    def values(dataset: str, sql: str) -> set[object]:
        conn = sqlite3.connect(tmp_path / f"{dataset}.db")
        try:
            return {row[0] for row in conn.execute(sql)}
        finally:
            conn.close()

    customers = values("accounts", "SELECT customer_number FROM customers")
    for dataset, table in (("products", "registrations"), ("shop", "orders"), ("community", "members"),
                           ("lumix_pro", "members"), ("smartapp", "devices")):
        assert values(dataset, f"SELECT customer_number FROM {table}") <= customers, dataset
    assert values("support", "SELECT customer_number FROM tickets WHERE customer_number IS NOT NULL") <= customers
    assert values("analytics", "SELECT browser_id FROM page_views") <= values(
        "accounts", "SELECT browser_id FROM customer_browsers")
    assert values("smart_home", "SELECT device_id FROM connections") <= values(
        "smartapp", "SELECT device_id FROM devices")
    emails = values("accounts", "SELECT email FROM customers")
    assert values("marketing", "SELECT email FROM newsletter_subscriptions") <= emails


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = "demo_build_test"
    postgres_server.drop_database(name)
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.mark.postgres
def test_a_postgresql_build_puts_each_dataset_in_its_schema_with_the_same_people(
        postgres_url: str, tmp_path: Path, datamap: DataMap) -> None:
    on_postgres = build(url=postgres_url, subjects=300, seed=5)
    on_sqlite = build(url=_url(tmp_path), subjects=300, seed=5)
    assert on_postgres.rows == on_sqlite.rows
    systems = Systems.from_url([d.id for d in datamap.datasets], postgres_url)
    try:
        with systems.engine("accounts").connect() as conn:
            pg = conn.execute(text('SELECT customer_number, email, birth_date FROM "accounts"."customers" '
                                   "ORDER BY id")).all()
            keys = conn.execute(text("SELECT count(*) FROM information_schema.table_constraints "
                                     "WHERE constraint_type = 'FOREIGN KEY'")).scalar_one()
        expected = sum(len(t.foreign_key_constraints) for d in build_datasets(schemas=True).values() for t in d.tables)
        assert keys == expected > 0  # added after the rows, enforced from then on
    finally:
        systems.dispose()
    conn = sqlite3.connect(tmp_path / "accounts.db")
    lite = conn.execute("SELECT customer_number, email, birth_date FROM customers ORDER BY id").fetchall()
    assert [(a, b, c.isoformat()) for a, b, c in pg] == lite


def test_pledge_demo_build_fills_the_data_dir_and_reports_its_speed(cli: CliInvoke, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "var"))
    result = cli("demo", "build", "--subjects", "250", "--seed", "3")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "var" / "systems" / "accounts.db").exists()
    assert "250 people" in result.stdout and "people/s" in result.stdout and "customers 250" in result.stdout


def test_pledge_demo_build_into_an_unreachable_database_is_one_line(cli: CliInvoke) -> None:
    result = cli("demo", "build", "--subjects", "10", "--url", "postgresql://nobody@127.0.0.1:1/{dataset}")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: demo build into postgresql://nobody@127.0.0.1:1/")


def _plain(value: object) -> object:
    """A PostgreSQL value as the SQLite build keeps it: ISO text for dates and times, floats, 0/1 for booleans."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@pytest.mark.postgres
@pytest.mark.parametrize("copy_bytes", [build_module.COPY_BYTES, 4096], ids=["one COPY a table", "a COPY per 4 KB"])
def test_postgresql_and_sqlite_builds_hold_the_same_rows_in_every_table(postgres_url: str, tmp_path: Path,
                                                                        copy_bytes: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Binary COPY (numerics, dates and timestamps made by numpy) writes what SQLite's INSERTs write, NULLs too,
    whether a table's rows go in one COPY at the end or in several as they pass ``COPY_BYTES``."""
    monkeypatch.setattr(build_module, "COPY_BYTES", copy_bytes)
    copies: list[tuple[int, str]] = []  # (writer, table): table names repeat across datasets
    copy = build_module._Writer._copy

    def counted(writer: build_module._Writer, table: Any) -> None:
        copies.append((id(writer), table.name))
        copy(writer, table)

    monkeypatch.setattr(build_module._Writer, "_copy", counted)
    build(url=postgres_url, subjects=400, seed=8)
    busiest = max(copies.count(copied) for copied in set(copies))
    assert (busiest == 1) if copy_bytes == build_module.COPY_BYTES else (busiest > 1)
    build(url=_url(tmp_path), subjects=400, seed=8)
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as pg:
        for dataset, definition in build_datasets(schemas=True).items():
            lite = sqlite3.connect(tmp_path / f"{dataset}.db")
            try:
                for table in definition.tables:
                    ours = [tuple(map(_plain, row)) for row in pg.execute(
                        f'SELECT * FROM "{dataset}"."{table.name}" ORDER BY id').fetchall()]
                    theirs = lite.execute(f'SELECT * FROM "{table.name}" ORDER BY id').fetchall()
                    assert ours == theirs, f"{dataset}.{table.name}"
            finally:
                lite.close()
