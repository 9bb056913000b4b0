"""The reference-graph walk: every row reachable from a person's identities.

It starts at the fields that hold an identity of a kind the person has (their email, their
customer number, a browser id) and follows each reference the annotation marks ``follow`` from
the referenced row to the rows that reference it (customer -> orders -> order lines), across
databases when a reference crosses them, until no new row turns up. Every query is ``WHERE field
IN (...)`` on one table, so with the usual indexes a walk costs a few index look-ups per table.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, text

from pledge.datamap.connector import Systems, quote
from pledge.datamap.graph import DataMap, TableKey, TableNode

#: Values per ``IN (...)`` list; larger sets are read in several queries.
IN_CHUNK = 500

RowKey = tuple[Any, ...]
Row = dict[str, Any]


class IdentityLike(Protocol):
    """Anything with an identity ``kind`` (``email``, ``customer_number`` ...) and a normalised ``value``."""

    @property
    def kind(self) -> Any: ...

    @property
    def value(self) -> str: ...


@dataclass(frozen=True)
class SubjectIdentity:
    """A plain identity, for callers that have no richer type at hand."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def identity_map(identities: Iterable[IdentityLike]) -> dict[str, list[str]]:
    """Identity values grouped by kind, each once, in the order given."""
    grouped: dict[str, list[str]] = {}
    for identity in identities:
        kind = str(getattr(identity.kind, "value", identity.kind))
        values = grouped.setdefault(kind, [])
        if identity.value not in values:
            values.append(identity.value)
    return grouped


@dataclass
class Reached:
    """The rows found for one person, per table, keyed by primary key, in the order found."""

    rows: dict[TableKey, dict[RowKey, Row]] = field(default_factory=dict)

    def add(self, key: TableKey, row_key: RowKey, row: Row) -> bool:
        table = self.rows.setdefault(key, {})
        if row_key in table:
            return False
        table[row_key] = row
        return True

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


class Connections:
    """One open connection per database for the length of a walk (reads only)."""

    def __init__(self, systems: Systems, stack: ExitStack) -> None:
        self.systems = systems
        self._stack = stack
        self._open: dict[str, Connection] = {}

    def get(self, dataset: str) -> Connection:
        url = self.systems.location(dataset).url
        conn = self._open.get(url)
        if conn is None:
            conn = self._stack.enter_context(self.systems.engine(dataset).connect())
            self._open[url] = conn
        return conn


def select_sql(systems: Systems, node: TableNode, where: str) -> Any:
    """``SELECT <declared fields> FROM <table> WHERE <where> IN :values``, values expanding."""
    columns = ", ".join(quote(f.name) for f in node.fields)
    statement = text(f"SELECT {columns} FROM {systems.table(*node.key)} WHERE {quote(where)} IN :values")
    return statement.bindparams(bindparam("values", expanding=True))


def fetch(conn: Connection, systems: Systems, node: TableNode, where: str, values: Sequence[Any]) -> Iterator[Row]:
    """Rows of ``node`` whose ``where`` field holds one of ``values``."""
    statement = select_sql(systems, node, where)
    for start in range(0, len(values), IN_CHUNK):
        chunk = list(values[start:start + IN_CHUNK])
        for row in conn.execute(statement, {"values": chunk}):
            yield dict(row._mapping)


def row_key(node: TableNode, row: Mapping[str, Any]) -> RowKey:
    return tuple(row[k] for k in node.primary_key)


def walk(datamap: DataMap, connections: Connections, identities: Iterable[IdentityLike]) -> Reached:
    """Every row reachable from the identities through followed references."""
    by_kind = identity_map(identities)
    reached = Reached()
    queue: deque[tuple[TableKey, list[Row]]] = deque()
    systems = connections.systems
    for key in datamap.order[::-1]:  # parents first: the order rows are usually found in
        node = datamap.nodes[key]
        found: list[Row] = []
        for kind, fields in node.identity_fields.items():
            values = by_kind.get(kind)
            if not values:
                continue
            conn = connections.get(node.dataset.id)
            for name in fields:
                for row in fetch(conn, systems, node, name, values):
                    if reached.add(key, row_key(node, row), row):
                        found.append(row)
        if found:
            queue.append((key, found))
    while queue:
        key, rows = queue.popleft()
        node = datamap.nodes[key]
        for edge in node.children:
            if not edge.follow:
                continue
            values = list(dict.fromkeys(r[edge.parent_field] for r in rows if r[edge.parent_field] is not None))
            if not values:
                continue
            child = datamap.nodes[edge.child]
            conn = connections.get(child.dataset.id)
            found = [row for row in fetch(conn, systems, child, edge.child_field, values)
                     if reached.add(edge.child, row_key(child, row), row)]
            if found:
                queue.append((edge.child, found))
    return reached
