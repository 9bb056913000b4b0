"""One executor for every right that touches the company's databases: access, erasure, rectification.

It reads nothing but the compiled data map. Each use walks the reference graph from the person's
identities (``walk.py``) and then:

- **access** returns every row reached, each field labelled with its data categories;
- **erasure** first makes a plan staff can read (``plan_erasure``), then ``erase`` carries it out
  database by database, one transaction each, databases that reference others first, rows that
  reference others before the rows they reference. A row stays (with its personal fields erased
  field by field) when a legal hold covers one of its fields or when a kept row of the same
  database references it (another person's reply to the post, the invoice kept for tax law of
  the order); legal-hold fields are never touched. Every strategy is idempotent and the plan is
  made afresh from what the databases hold, so running ``erase`` again after a crash finishes
  the job and changes nothing more once it is done;
- **rectification** writes the corrected value into every field the map says holds that attribute.

A database that fails is rolled back whole: the result says which databases were done, which one
failed and why, and which were not reached; it never leaves a table half erased.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from pledge.datamap.connector import Systems, quote
from pledge.datamap.graph import DataMap, TableKey, TableNode
from pledge.datamap.models import Strategy, TableErasure
from pledge.datamap.strategies import apply, field_strategy, hold_active, hold_ends
from pledge.datamap.walk import (
    IN_CHUNK,
    Connections,
    IdentityLike,
    Reached,
    Row,
    RowKey,
    fetch,
    identity_map,
    row_key,
    walk,
)


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


# --- access -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldLabel:
    """A field as the person is shown it: its name, data categories and what it says about them."""

    name: str
    categories: tuple[str, ...]
    identity: str | None
    attribute: str | None
    description: str | None


@dataclass(frozen=True)
class TableRows:
    """The person's rows in one table, with the labels of its fields."""

    dataset: str
    dataset_name: str
    table: str
    description: str | None
    fields: tuple[FieldLabel, ...]
    rows: tuple[Mapping[str, Any], ...]

    @property
    def label(self) -> str:
        return f"{self.dataset}.{self.table}"

    def row_categories(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        """The data categories this row holds: those of its personal fields that have a value."""
        found = {c for f in self.fields if row.get(f.name) is not None for c in f.categories}
        return tuple(sorted(found))

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "dataset_name": self.dataset_name, "table": self.table,
            "description": self.description,
            "fields": [{"name": f.name, "categories": list(f.categories), "identity": f.identity,
                        "attribute": f.attribute, "description": f.description} for f in self.fields],
            "rows": [{"values": {k: _jsonable(v) for k, v in row.items()},
                      "categories": list(self.row_categories(row))} for row in self.rows],
        }


@dataclass(frozen=True)
class AccessReport:
    """Every row the data map leads to from the person's identities, labelled with data categories."""

    identities: Mapping[str, tuple[str, ...]]
    tables: tuple[TableRows, ...]
    elapsed_ms: float

    @property
    def row_count(self) -> int:
        return sum(len(t.rows) for t in self.tables)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for t in self.tables for row in t.rows for c in t.row_categories(row)}))

    def table(self, dataset: str, table: str) -> TableRows | None:
        return next((t for t in self.tables if t.dataset == dataset and t.table == table), None)

    def as_dict(self) -> dict[str, Any]:
        return {"identities": {k: list(v) for k, v in self.identities.items()}, "row_count": self.row_count,
                "categories": list(self.categories), "tables": [t.as_dict() for t in self.tables]}


def _labels(node: TableNode) -> tuple[FieldLabel, ...]:
    return tuple(FieldLabel(f.name, f.categories, f.identity, f.attribute, f.description) for f in node.fields)


def access(*, datamap: DataMap, systems: Systems, identities: Iterable[IdentityLike]) -> AccessReport:
    """Collect every row reachable from the person's identities, each field labelled with its categories."""
    started = time.perf_counter()
    identities = list(identities)
    with ExitStack() as stack:
        reached = walk(datamap, Connections(systems, stack), identities)
    tables = []
    for key in datamap.order[::-1]:
        rows = reached.rows.get(key)
        if not rows:
            continue
        node = datamap.nodes[key]
        tables.append(TableRows(dataset=node.dataset.id, dataset_name=node.dataset.name, table=node.table.name,
                                description=node.table.description, fields=_labels(node),
                                rows=tuple(rows.values())))
    return AccessReport(identities={k: tuple(v) for k, v in identity_map(identities).items()}, tables=tuple(tables),
                        elapsed_ms=(time.perf_counter() - started) * 1000)


# --- erasure plan -----------------------------------------------------------------------------------


class RowAction(StrEnum):
    DELETE = "delete"
    UPDATE = "update"  # kept, its personal fields erased
    KEEP = "keep"  # kept as it is: nothing left to erase (held fields, or already erased)


@dataclass(frozen=True)
class HeldField:
    """A field kept under a legal hold: why, and until when."""

    field: str
    reason: str
    source: str | None
    until: dt.datetime | None  # None: the date the hold runs from is unknown, so it holds

    def describe(self) -> str:
        until = self.until.date().isoformat() if self.until else "a date not recorded (kept)"
        return f"{self.field} kept until {until}: {self.reason}" + (f" ({self.source})" if self.source else "")


@dataclass(frozen=True)
class RowPlan:
    """What erasure does to one row, and why."""

    key: RowKey
    action: RowAction
    changes: Mapping[str, Any] = field(default_factory=dict)  # field -> value left (for UPDATE)
    held: tuple[HeldField, ...] = ()
    kept_because: str | None = None  # why a row of a delete_row table stays

    def as_dict(self) -> dict[str, Any]:
        return {"key": [_jsonable(k) for k in self.key], "action": self.action.value,
                "changes": {k: _jsonable(v) for k, v in self.changes.items()},
                "held": [{"field": h.field, "reason": h.reason, "source": h.source,
                          "until": h.until.isoformat() if h.until else None} for h in self.held],
                "kept_because": self.kept_because}


@dataclass(frozen=True)
class TablePlan:
    dataset: str
    table: str
    rows: tuple[RowPlan, ...]

    @property
    def label(self) -> str:
        return f"{self.dataset}.{self.table}"

    def of(self, action: RowAction) -> tuple[RowPlan, ...]:
        return tuple(r for r in self.rows if r.action is action)


@dataclass(frozen=True)
class ErasurePlan:
    """The dry run: per table, in execution order, which rows go, which stay and what changes in them."""

    identities: Mapping[str, tuple[str, ...]]
    at: dt.datetime
    tables: tuple[TablePlan, ...]
    elapsed_ms: float

    @property
    def deletes(self) -> int:
        return sum(len(t.of(RowAction.DELETE)) for t in self.tables)

    @property
    def updates(self) -> int:
        return sum(len(t.of(RowAction.UPDATE)) for t in self.tables)

    @property
    def kept(self) -> int:
        return sum(len(t.of(RowAction.KEEP)) for t in self.tables)

    @property
    def is_empty(self) -> bool:
        """Nothing left to change: the person's data is erased (or was never there)."""
        return self.deletes == 0 and self.updates == 0

    def as_dict(self) -> dict[str, Any]:
        return {"identities": {k: list(v) for k, v in self.identities.items()}, "at": self.at.isoformat(),
                "deletes": self.deletes, "updates": self.updates, "kept": self.kept,
                "tables": [{"dataset": t.dataset, "table": t.table, "rows": [r.as_dict() for r in t.rows]}
                           for t in self.tables]}

    def describe(self) -> str:
        """The plan in words, for the staff member who approves it."""
        lines = [f"Erasure plan for {', '.join(f'{k}:{v}' for k, vs in self.identities.items() for v in vs)}"
                 f" at {self.at.isoformat(timespec='seconds')}",
                 f"{self.deletes} row(s) deleted, {self.updates} row(s) anonymised, "
                 f"{self.kept} row(s) kept as they are"]
        for table in self.tables:
            lines.append("")
            lines.append(f"{table.label}:")
            for row in table.rows:
                key = ", ".join(str(k) for k in row.key)
                if row.action is RowAction.DELETE:
                    lines.append(f"  delete row {key}")
                    continue
                verb = "anonymise" if row.action is RowAction.UPDATE else "keep"
                because = f" ({row.kept_because})" if row.kept_because else ""
                lines.append(f"  {verb} row {key}{because}")
                for name, value in row.changes.items():
                    lines.append(f"    {name} -> {'NULL' if value is None else repr(_jsonable(value))}")
                for held in row.held:
                    lines.append(f"    {held.describe()}")
        return "\n".join(lines)


def _row_plan(node: TableNode, row: Row, now: dt.datetime, hash_key: bytes, kept_because: str | None) -> RowPlan:
    """A kept row: each personal field erased by its strategy, legal holds honoured."""
    key = row_key(node, row)
    changes: dict[str, Any] = {}
    held: list[HeldField] = []
    for f in node.personal_fields:
        strategy = field_strategy(f)
        erasure = f.erasure
        if strategy is Strategy.LEGAL_HOLD:
            assert erasure is not None and erasure.until is not None
            if hold_active(erasure.until, row, now):
                held.append(HeldField(f.name, erasure.reason or "", erasure.source, hold_ends(erasure.until, row)))
                continue
            strategy = erasure.then or Strategy.SET_NULL
        elif strategy is Strategy.DELETE_ROW:
            strategy = (erasure.if_kept if erasure is not None else None) or Strategy.SET_NULL
        if f.name in node.primary_key:
            continue
        value = row.get(f.name)
        new = apply(strategy, erasure, value, key=key, salt=f"{node.label}.{f.name}", hash_key=hash_key)
        if new != value:
            changes[f.name] = new
    action = RowAction.UPDATE if changes else RowAction.KEEP
    return RowPlan(key=key, action=action, changes=changes, held=tuple(held), kept_because=kept_because)


def _active_holds(node: TableNode, row: Row, now: dt.datetime) -> list[str]:
    names = []
    for f in node.personal_fields:
        e = f.erasure
        if e is not None and e.strategy is Strategy.LEGAL_HOLD and e.until is not None \
                and hold_active(e.until, row, now):
            names.append(f.name)
    return names


def _decide(datamap: DataMap, connections: Connections, reached: Reached, now: dt.datetime) -> dict[
        TableKey, dict[RowKey, str | None]]:
    """Which reached rows are deleted (None) and which stay (the reason), as a fixed point.

    A row stays when its table anonymises, when a legal hold covers one of its fields, or when a row
    of the same database that stays references it: a row of this person that stays, or any row that
    the walk did not reach (another person's).
    """
    fate: dict[TableKey, dict[RowKey, str | None]] = {}
    for key, rows in reached.rows.items():
        node = datamap.nodes[key]
        table_fate: dict[RowKey, str | None] = {}
        for rk, row in rows.items():
            if not node.personal_fields and node.deletes_rows:
                table_fate[rk] = None  # settled last: it goes with what it hangs from
            elif not node.deletes_rows:
                table_fate[rk] = "the table keeps its rows, anonymised"
            elif holds := _active_holds(node, row, now):
                table_fate[rk] = f"legal hold on {', '.join(holds)}"
            else:
                table_fate[rk] = None
        fate[key] = table_fate

    # Rows another person's record (or any row the walk did not reach) needs, through references
    # inside one database: those references a database can enforce.
    for key, rows in reached.rows.items():
        node = datamap.nodes[key]
        for edge in node.children:
            if edge.follow or edge.child[0] != key[0]:
                continue  # a followed reference's rows were all reached: their fate is settled below
            doomed = [row for rk, row in rows.items() if fate[key][rk] is None]
            values = list(dict.fromkeys(r[edge.parent_field] for r in doomed if r[edge.parent_field] is not None))
            if not values:
                continue
            child = datamap.nodes[edge.child]
            ours = reached.rows.get(edge.child, {})
            needed: dict[Any, str] = {}
            for other in _referencing(connections, child, edge.child_field, values):
                if row_key(child, other) not in ours:
                    needed.setdefault(other[edge.child_field],
                                      f"needed by {child.label} row {', '.join(str(k) for k in row_key(child, other))}"
                                      " of another person")
            for rk, row in rows.items():
                if fate[key][rk] is None and row[edge.parent_field] in needed:
                    fate[key][rk] = needed[row[edge.parent_field]]

    # Rows of this person kept in place keep what they reference in the same database.
    changed = True
    while changed:
        changed = False
        for key, rows in reached.rows.items():
            node = datamap.nodes[key]
            if not node.personal_fields:
                continue
            for edge in node.parents:
                if edge.parent[0] != key[0] or edge.parent not in reached.rows:
                    continue
                kept_values = {row[edge.child_field] for rk, row in rows.items()
                               if fate[key][rk] is not None and row[edge.child_field] is not None}
                if not kept_values:
                    continue
                parent_fate = fate[edge.parent]
                for prk, prow in reached.rows[edge.parent].items():
                    if parent_fate[prk] is None and prow[edge.parent_field] in kept_values:
                        parent_fate[prk] = f"needed by a kept row of {node.label}"
                        changed = True

    # Rows with nothing personal in them (an order line) stay with the row they hang from, and go with it.
    for key in datamap.order[::-1]:
        node = datamap.nodes[key]
        if node.personal_fields or not node.deletes_rows or key not in reached.rows:
            continue
        for edge in node.parents:
            if not edge.follow or edge.parent[0] != key[0] or edge.parent not in reached.rows:
                continue
            kept = {prow[edge.parent_field] for prk, prow in reached.rows[edge.parent].items()
                    if fate[edge.parent][prk] is not None}
            for rk, row in reached.rows[key].items():
                if fate[key][rk] is None and row[edge.child_field] in kept:
                    fate[key][rk] = f"holds no personal data and the {datamap.nodes[edge.parent].label} row stays"
    return fate


def _referencing(connections: Connections, child: TableNode, field_name: str, values: Sequence[Any]) -> list[Row]:
    conn = connections.get(child.dataset.id)
    return list(fetch(conn, connections.systems, child, field_name, values))


def _plan(datamap: DataMap, connections: Connections, identities: list[IdentityLike], now: dt.datetime,
          hash_key: bytes) -> list[TablePlan]:
    reached = walk(datamap, connections, identities)
    fate = _decide(datamap, connections, reached, now)
    tables = []
    for key in datamap.order:
        rows = reached.rows.get(key)
        if not rows:
            continue
        node = datamap.nodes[key]
        plans = []
        for rk, row in rows.items():
            because = fate[key][rk]
            if because is None:
                plans.append(RowPlan(key=rk, action=RowAction.DELETE))
            else:
                reason = None if node.table.erasure is TableErasure.ANONYMISE else because
                plans.append(_row_plan(node, row, now, hash_key, reason))
        tables.append(TablePlan(dataset=key[0], table=key[1], rows=tuple(plans)))
    return tables


def plan_erasure(*, datamap: DataMap, systems: Systems, identities: Iterable[IdentityLike],
                 now: dt.datetime | None = None, hash_key: bytes = b"") -> ErasurePlan:
    """The dry run of an erasure: what would be deleted, anonymised and kept (and why), changing nothing."""
    started = time.perf_counter()
    identities = list(identities)
    moment = _now(now)
    with ExitStack() as stack:
        tables = _plan(datamap, Connections(systems, stack), identities, moment, hash_key)
    return ErasurePlan(identities={k: tuple(v) for k, v in identity_map(identities).items()}, at=moment,
                       tables=tuple(tables), elapsed_ms=(time.perf_counter() - started) * 1000)


# --- erasure ----------------------------------------------------------------------------------------


class DatabaseStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"  # rolled back whole
    NOT_REACHED = "not_reached"  # an earlier database failed first


@dataclass(frozen=True)
class DatabaseOutcome:
    """What one database's transaction did."""

    url: str
    datasets: tuple[str, ...]
    status: DatabaseStatus
    deleted: int = 0
    updated: int = 0
    error: str | None = None


class ErasureStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class ErasureResult:
    """The outcome: the plan carried out, and per database what was committed or why not."""

    status: ErasureStatus
    plan: ErasurePlan
    databases: tuple[DatabaseOutcome, ...]
    elapsed_ms: float

    @property
    def deleted(self) -> int:
        return sum(d.deleted for d in self.databases)

    @property
    def updated(self) -> int:
        return sum(d.updated for d in self.databases)

    @property
    def error(self) -> str | None:
        return next((d.error for d in self.databases if d.error), None)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "deleted": self.deleted, "updated": self.updated,
                "elapsed_ms": round(self.elapsed_ms, 3), "plan": self.plan.as_dict(),
                "databases": [{"url": d.url, "datasets": list(d.datasets), "status": d.status.value,
                               "deleted": d.deleted, "updated": d.updated, "error": d.error}
                              for d in self.databases]}


def _where_key(node: TableNode) -> str:
    return " AND ".join(f"{quote(k)} = :k_{i}" for i, k in enumerate(node.primary_key))


def _key_params(node: TableNode, key: RowKey) -> dict[str, Any]:
    return {f"k_{i}": value for i, value in enumerate(key)}


def _delete(conn: Connection, systems: Systems, node: TableNode, keys: Sequence[RowKey]) -> int:
    table = systems.table(*node.key)
    if len(node.primary_key) == 1:
        statement = text(f"DELETE FROM {table} WHERE {quote(node.primary_key[0])} IN :keys").bindparams(
            bindparam("keys", expanding=True))
        count = 0
        for start in range(0, len(keys), IN_CHUNK):
            count += conn.execute(statement, {"keys": [k[0] for k in keys[start:start + IN_CHUNK]]}).rowcount
        return count
    statement = text(f"DELETE FROM {table} WHERE {_where_key(node)}")
    return sum(conn.execute(statement, _key_params(node, k)).rowcount for k in keys)


def _update(conn: Connection, systems: Systems, node: TableNode, rows: Sequence[RowPlan]) -> int:
    table = systems.table(*node.key)
    by_fields: dict[tuple[str, ...], list[RowPlan]] = {}
    for row in rows:
        by_fields.setdefault(tuple(row.changes), []).append(row)
    count = 0
    for names, group in by_fields.items():
        sets = ", ".join(f"{quote(n)} = :v_{i}" for i, n in enumerate(names))
        statement = text(f"UPDATE {table} SET {sets} WHERE {_where_key(node)}")
        params = [{**{f"v_{i}": row.changes[n] for i, n in enumerate(names)}, **_key_params(node, row.key)}
                  for row in group]
        conn.execute(statement, params)
        count += len(group)
    return count


def _carry_out(conn: Connection, systems: Systems, datamap: DataMap, tables: Sequence[TablePlan]) -> tuple[int, int]:
    """One database's share of the plan: anonymise kept rows, then delete, rows that reference first."""
    updated = deleted = 0
    for table in tables:
        node = datamap.node(table.dataset, table.table)
        updates = table.of(RowAction.UPDATE)
        if updates:
            updated += _update(conn, systems, node, updates)
    for table in tables:  # already children first
        node = datamap.node(table.dataset, table.table)
        deletes = [r.key for r in table.of(RowAction.DELETE)]
        if deletes:
            deleted += _delete(conn, systems, node, deletes)
    return deleted, updated


def erase(*, datamap: DataMap, systems: Systems, identities: Iterable[IdentityLike],
          now: dt.datetime | None = None, hash_key: bytes = b"") -> ErasureResult:
    """Erase the person: plan afresh, then each database in one transaction, stopping at the first that fails.

    Run it again after a failure or a crash: it plans from what the databases now hold and
    finishes the job; once done, a further run changes nothing.
    """
    started = time.perf_counter()
    identities = list(identities)
    moment = _now(now)
    outcomes: list[DatabaseOutcome] = []
    failed = False
    with ExitStack() as stack:
        connections = Connections(systems, stack)
        tables = _plan(datamap, connections, identities, moment, hash_key)
        stack.close()  # the walk's read connections: release them before writing (SQLite locks the file)
        plan = ErasurePlan(identities={k: tuple(v) for k, v in identity_map(identities).items()}, at=moment,
                           tables=tuple(tables), elapsed_ms=(time.perf_counter() - started) * 1000)
    by_dataset: dict[str, list[TablePlan]] = {}
    for table in tables:
        by_dataset.setdefault(table.dataset, []).append(table)
    for url, datasets in systems.groups(d for d in datamap.dataset_order if d in by_dataset):
        work = [t for t in tables if t.dataset in datasets]
        if failed:
            outcomes.append(DatabaseOutcome(url=_display(url), datasets=tuple(datasets),
                                            status=DatabaseStatus.NOT_REACHED))
            continue
        if not any(t.of(RowAction.DELETE) or t.of(RowAction.UPDATE) for t in work):
            outcomes.append(DatabaseOutcome(url=_display(url), datasets=tuple(datasets), status=DatabaseStatus.DONE))
            continue
        try:
            with systems.engine(datasets[0]).begin() as conn:
                deleted, updated = _carry_out(conn, systems, datamap, work)
        except SQLAlchemyError as exc:
            failed = True
            outcomes.append(DatabaseOutcome(url=_display(url), datasets=tuple(datasets), status=DatabaseStatus.FAILED,
                                            error=_first_line(exc)))
            continue
        outcomes.append(DatabaseOutcome(url=_display(url), datasets=tuple(datasets), status=DatabaseStatus.DONE,
                                        deleted=deleted, updated=updated))
    return ErasureResult(status=ErasureStatus.FAILED if failed else ErasureStatus.COMPLETED, plan=plan,
                         databases=tuple(outcomes), elapsed_ms=(time.perf_counter() - started) * 1000)


def _display(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip()
    return (message.splitlines() or [type(exc).__name__])[0]


# --- rectification ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRectified:
    dataset: str
    table: str
    field: str
    rows: int
    held: int = 0  # rows left as they are under a legal hold (an invoice stays as issued)


@dataclass(frozen=True)
class RectificationResult:
    attribute: str
    status: ErasureStatus
    fields: tuple[FieldRectified, ...]
    databases: tuple[DatabaseOutcome, ...]
    elapsed_ms: float

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.fields)

    @property
    def error(self) -> str | None:
        return next((d.error for d in self.databases if d.error), None)


def attributes(datamap: DataMap) -> frozenset[str]:
    """Every attribute some field of the data map holds (what rectification can be asked to correct)."""
    return frozenset(f.attribute for node in datamap.nodes.values() for f in node.fields if f.attribute)


def rectify(*, datamap: DataMap, systems: Systems, identities: Iterable[IdentityLike], attribute: str, value: Any,
            now: dt.datetime | None = None) -> RectificationResult:
    """Write the corrected value into every field that holds ``attribute`` in the person's rows.

    Fields under an active legal hold keep what they recorded (an invoice stays as it was issued);
    the result counts them. Raises ValueError when no field of the map holds the attribute.
    """
    if attribute not in attributes(datamap):
        known = ", ".join(sorted(attributes(datamap))) or "none"
        raise ValueError(f"no field of the data map holds the attribute {attribute!r} (known: {known})")
    started = time.perf_counter()
    moment = _now(now)
    identities = list(identities)
    with ExitStack() as stack:
        reached = walk(datamap, Connections(systems, stack), identities)
    work: dict[str, list[tuple[TableNode, str, list[RowKey], int]]] = {}
    for key in datamap.order:
        rows = reached.rows.get(key)
        if not rows:
            continue
        node = datamap.nodes[key]
        for f in node.fields:
            if f.attribute != attribute:
                continue
            held = 0
            keys = []
            for rk, row in rows.items():
                e = f.erasure
                if e is not None and e.strategy is Strategy.LEGAL_HOLD and e.until is not None \
                        and hold_active(e.until, row, moment):
                    held += 1
                elif row.get(f.name) != value:
                    keys.append(rk)
            work.setdefault(key[0], []).append((node, f.name, keys, held))
    fields: list[FieldRectified] = []
    outcomes: list[DatabaseOutcome] = []
    failed = False
    for url, datasets in systems.groups(d for d in datamap.dataset_order if d in work):
        items = [item for d in datasets for item in work[d]]
        if failed:
            outcomes.append(DatabaseOutcome(_display(url), tuple(datasets), DatabaseStatus.NOT_REACHED))
            continue
        try:
            with systems.engine(datasets[0]).begin() as conn:
                for node, name, keys, _held in items:
                    statement = text(f"UPDATE {systems.table(*node.key)} SET {quote(name)} = :value "
                                     f"WHERE {_where_key(node)}")
                    if keys:
                        conn.execute(statement, [{"value": value, **_key_params(node, k)} for k in keys])
        except SQLAlchemyError as exc:
            failed = True
            outcomes.append(DatabaseOutcome(_display(url), tuple(datasets), DatabaseStatus.FAILED,
                                            error=_first_line(exc)))
            continue
        count = 0
        for node, name, keys, held in items:
            fields.append(FieldRectified(node.dataset.id, node.table.name, name, len(keys), held))
            count += len(keys)
        outcomes.append(DatabaseOutcome(_display(url), tuple(datasets), DatabaseStatus.DONE, updated=count))
    return RectificationResult(attribute=attribute, status=ErasureStatus.FAILED if failed else ErasureStatus.COMPLETED,
                               fields=tuple(fields), databases=tuple(outcomes),
                               elapsed_ms=(time.perf_counter() - started) * 1000)


__all__ = [
    "AccessReport",
    "DatabaseOutcome",
    "DatabaseStatus",
    "ErasurePlan",
    "ErasureResult",
    "ErasureStatus",
    "FieldLabel",
    "FieldRectified",
    "HeldField",
    "RectificationResult",
    "RowAction",
    "RowPlan",
    "TablePlan",
    "TableRows",
    "access",
    "attributes",
    "erase",
    "plan_erasure",
    "rectify",
]
