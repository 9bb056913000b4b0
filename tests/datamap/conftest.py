"""Demo customer systems for executor tests, on SQLite (a file per dataset) and PostgreSQL (a schema per dataset).

``demo`` builds 400 synthetic people (seed 7) into fresh databases for each test; ``Oracle`` says
who owns each row, worked out from the rows themselves with plain joins, independently of the
data map, so a test can compare what the executor found with what it should have found.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pledge.datamap import DataMap, SubjectIdentity, Systems, load_datamap
from pledge.datamap.connector import quote
from pledge.demo.build import build
from pledge.policy import CompiledPolicy, load_compiled
from tests.conftest import BACKENDS, PANASONIC_POLICY, REPO, PostgresServer

DATASETS = REPO / "datasets" / "panasonic"
SUBJECTS = 400
SEED = 7
#: "Now" for erasures in tests: the demo world's day after its reference day, so legal holds are stable.
NOW = dt.datetime(2025, 7, 1)

TableKey = tuple[str, str]
Snapshot = dict[TableKey, dict[tuple[Any, ...], dict[str, Any]]]


@pytest.fixture(scope="session")
def panasonic_policy() -> CompiledPolicy:
    return load_compiled(PANASONIC_POLICY)


@pytest.fixture(scope="session")
def datamap(panasonic_policy: CompiledPolicy) -> DataMap:
    return load_datamap(DATASETS, panasonic_policy)


def _fresh() -> str:
    return f"systems_{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=BACKENDS)
def systems_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where the demo systems of one test live: SQLite files, or one fresh PostgreSQL database with a schema each."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'systems'}/{{dataset}}.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = _fresh()
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def separate_databases_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A systems URL with one database per dataset, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'systems'}/{{dataset}}.db"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    prefix = _fresh()
    yield server.url(f"{prefix}_{{dataset}}")
    with server.admin() as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                (f"{prefix}_%",))]
    for name in names:
        server.drop_database(name)


@dataclass
class Demo:
    datamap: DataMap
    systems: Systems
    url: str

    def snapshot(self) -> Snapshot:
        """Every row of every annotated table, keyed by primary key."""
        out: Snapshot = {}
        for key, node in self.datamap.nodes.items():
            columns = ", ".join(quote(f.name) for f in node.fields)
            with self.systems.engine(key[0]).connect() as conn:
                rows = conn.execute(text(f"SELECT {columns} FROM {self.systems.table(*key)}")).mappings().all()
            out[key] = {tuple(r[k] for k in node.primary_key): dict(r) for r in rows}
        return out

    def execute(self, dataset: str, sql: str) -> None:
        with self.systems.engine(dataset).begin() as conn:
            conn.execute(text(sql))


def make_demo(datamap: DataMap, url: str) -> Iterator[Demo]:
    build(url=url, subjects=SUBJECTS, seed=SEED)
    systems = Systems.from_url([d.id for d in datamap.datasets], url)
    try:
        yield Demo(datamap, systems, url)
    finally:
        systems.dispose()


@pytest.fixture
def demo(datamap: DataMap, systems_url: str) -> Iterator[Demo]:
    """400 people (seed 7) in fresh demo systems."""
    yield from make_demo(datamap, systems_url)


class Oracle:
    """Who owns each row (their customer number), from the rows themselves: plain joins, no data map."""

    def __init__(self, snap: Snapshot) -> None:
        def rows(dataset: str, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
            return snap[(dataset, table)]

        customers = rows("accounts", "customers")
        by_id = {r["id"]: r["customer_number"] for r in customers.values()}
        by_email = {r["email"]: r["customer_number"] for r in customers.values()}
        owner: dict[TableKey, dict[tuple[Any, ...], str]] = {}

        def own(dataset: str, table: str, how: Any) -> dict[Any, str]:
            found = {k: how(r) for k, r in rows(dataset, table).items()}
            owner[(dataset, table)] = found
            return {r["id"]: found[k] for k, r in rows(dataset, table).items()}

        own("accounts", "customers", lambda r: r["customer_number"])
        browsers = own("accounts", "customer_browsers", lambda r: by_id[r["customer_id"]])
        browser_owner = {r["browser_id"]: browsers[r["id"]] for r in rows("accounts", "customer_browsers").values()}
        own("products", "registrations", lambda r: r["customer_number"])
        orders = own("shop", "orders", lambda r: r["customer_number"])
        own("shop", "order_lines", lambda r: orders[r["order_id"]])
        own("shop", "invoices", lambda r: orders[r["order_id"]])
        tickets = own("support", "tickets", lambda r: r["customer_number"] or by_email[r["email"]])
        own("support", "call_recordings", lambda r: tickets[r["ticket_id"]])
        members = own("community", "members", lambda r: r["customer_number"])
        own("community", "posts", lambda r: members[r["member_id"]])
        own("marketing", "newsletter_subscriptions", lambda r: by_email[r["email"]])
        own("marketing", "promotion_entries", lambda r: by_email[r["email"]])
        lumix = own("lumix_pro", "members", lambda r: r["customer_number"])
        own("lumix_pro", "member_products", lambda r: lumix[r["member_id"]])
        devices = own("smartapp", "devices", lambda r: r["customer_number"])
        device_owner = {r["device_id"]: devices[r["id"]] for r in rows("smartapp", "devices").values()}
        own("smartapp", "device_logs", lambda r: device_owner[r["device_id"]])
        own("smartapp", "location_logs", lambda r: device_owner[r["device_id"]])
        own("smart_home", "connections", lambda r: device_owner[r["device_id"]])
        own("analytics", "page_views", lambda r: browser_owner[r["browser_id"]])
        missing = set(snap) - set(owner)
        assert not missing, f"the oracle does not know {missing}: a table was added to the demo"
        self.owner = owner
        self.customers = customers

    def rows_of(self, customer_number: str) -> set[tuple[TableKey, tuple[Any, ...]]]:
        return {(table, key) for table, keys in self.owner.items() for key, who in keys.items()
                if who == customer_number}

    def email_of(self, customer_number: str) -> str:
        return next(r["email"] for r in self.customers.values() if r["customer_number"] == customer_number)

    def identities(self, customer_number: str) -> list[SubjectIdentity]:
        """What a person gives in a request: their email address."""
        return [SubjectIdentity("email", self.email_of(customer_number))]
