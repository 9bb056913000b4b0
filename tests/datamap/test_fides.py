"""Fides dataset YAML becomes pledge annotations: interop with a data map a company already keeps (issue 4 item 6)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pledge.datamap import SubjectIdentity, Systems, access, load_datamap
from pledge.datamap.fides import import_fides
from pledge.policy import CompiledPolicy
from tests.conftest import CliInvoke

FIDES = """\
dataset:
  - fides_key: web-shop
    name: Web shop
    description: A Fides dataset in the shape of Fides' own Postgres example.
    collections:
      - name: customer
        fields:
          - name: id
            data_categories: [user.unique_id]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: name
            data_categories: [user.name]
          - name: address_id
            data_categories: [system.operations]
            fides_meta:
              data_type: integer
              references:
                - {dataset: web-shop, field: address.id, direction: to}
      - name: address
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: street
            data_categories: [user.contact.address.street]
          - name: city
            data_categories: [user.contact.address.city]
      - name: orders
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true}
          - name: customer_id
            data_categories: [user.unique_id]
            fides_meta:
              data_type: integer
              references:
                - {dataset: web-shop, field: customer.id, direction: from}
          - name: telescope_serial
            data_categories: [custom.telescope.serial]
"""


def _uk_categories(policy: CompiledPolicy) -> dict[str, tuple[str, ...]]:
    return {c: policy.data_categories[c].fides_categories for c in policy.notices["uk"].data_categories}


def test_fides_categories_identities_and_references_carry_over(panasonic_policy: CompiledPolicy) -> None:
    imported = import_fides(FIDES, _uk_categories(panasonic_policy))
    (dataset,) = imported.datasets
    assert dataset["id"] == "web_shop"
    tables = {t["name"]: {f["name"]: f for f in t["fields"]} for t in dataset["tables"]}
    assert tables["customer"]["email"]["identity"] == "email"
    assert tables["customer"]["email"]["categories"]
    assert tables["orders"]["customer_id"]["references"] == "web_shop.customer.id"
    # direction "to": the address belongs to the customer that points at it
    assert tables["address"]["id"]["references"] == "web_shop.customer.address_id"
    assert "references" not in tables["customer"]["address_id"]
    assert any("custom.telescope.serial" in note for note in imported.notes)
    assert any("'web-shop'" in note for note in imported.notes)


def test_an_imported_fides_map_runs_the_executor(panasonic_policy: CompiledPolicy, tmp_path: Path) -> None:
    """Imported annotations pass the checks and find the person's rows in a real database."""
    imported = import_fides(FIDES, _uk_categories(panasonic_policy))
    imported.write(tmp_path / "datasets")
    datamap = load_datamap(tmp_path / "datasets", panasonic_policy)
    conn = sqlite3.connect(tmp_path / "web_shop.db")
    conn.executescript("""
        CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT, name TEXT, address_id INTEGER);
        CREATE TABLE address (id INTEGER PRIMARY KEY, street TEXT, city TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, telescope_serial TEXT);
        INSERT INTO address VALUES (1, '1 Main St', 'Leeds'), (2, '2 High St', 'York');
        INSERT INTO customer VALUES (1, 'ada@example.com', 'Ada', 1), (2, 'bob@example.com', 'Bob', 2);
        INSERT INTO orders VALUES (10, 1, 'T1'), (11, 2, 'T2'), (12, 1, 'T3');
    """)
    conn.commit()
    conn.close()
    with Systems.from_url(["web_shop"], f"sqlite:///{tmp_path}/{{dataset}}.db") as systems:
        report = access(datamap=datamap, systems=systems, identities=[SubjectIdentity("email", "ada@example.com")])
    found = {(t.table, row["id"]) for t in report.tables for row in t.rows}
    assert found == {("customer", 1), ("address", 1), ("orders", 10), ("orders", 12)}


def test_pledge_datamap_import_fides_writes_and_checks(cli: CliInvoke, tmp_path: Path) -> None:
    source = tmp_path / "fides.yml"
    source.write_text(FIDES)
    result = cli("datamap", "import-fides", str(source), "--out", str(tmp_path / "out"), "--notice", "uk")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (tmp_path / "out" / "web_shop.yaml").exists()
    assert "0 error(s)" in result.stdout and "note:" in result.stdout
