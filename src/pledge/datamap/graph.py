"""The data map compiled into a graph: tables, their identity fields and the references between them.

Built once from checked annotations; the executor reads only this. Tables are keyed by
``(dataset, table)``. A reference ``child.field -> parent.field`` is an edge; the walk follows it
from parent to child (what belongs to a person hangs off the rows that identify them), and
erasure deletes children before parents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pledge.datamap.models import Dataset, DatasetField, Strategy, Table, TableErasure

TableKey = tuple[str, str]  # (dataset id, table name)


@dataclass(frozen=True)
class Edge:
    """``child.child_field`` holds values of ``parent.parent_field``."""

    child: TableKey
    child_field: str
    parent: TableKey
    parent_field: str
    follow: bool


@dataclass(frozen=True)
class TableNode:
    """One table with everything the executor asks of it, precomputed."""

    dataset: Dataset
    table: Table
    identity_fields: Mapping[str, tuple[str, ...]]  # identity kind -> fields holding it
    parents: tuple[Edge, ...]  # references this table makes
    children: tuple[Edge, ...]  # references made to this table

    @property
    def key(self) -> TableKey:
        return (self.dataset.id, self.table.name)

    @property
    def label(self) -> str:
        return f"{self.dataset.id}.{self.table.name}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        return self.table.primary_key

    @property
    def fields(self) -> tuple[DatasetField, ...]:
        return self.table.fields

    @property
    def deletes_rows(self) -> bool:
        """Whether erasure deletes a person's rows here (unless a kept record needs them)."""
        return self.table.erasure is TableErasure.DELETE_ROW or any(
            f.erasure is not None and f.erasure.strategy is Strategy.DELETE_ROW for f in self.table.fields)

    @property
    def personal_fields(self) -> tuple[DatasetField, ...]:
        return tuple(f for f in self.table.fields if f.personal)


@dataclass(frozen=True)
class DataMap:
    """The compiled data map of an organisation's connected systems."""

    datasets: tuple[Dataset, ...]
    nodes: Mapping[TableKey, TableNode]
    order: tuple[TableKey, ...]  # children before parents: the order rows are deleted in
    dataset_order: tuple[str, ...]  # datasets that reference others first: the order databases are erased in
    root: Path | None = field(default=None)

    def node(self, dataset: str, table: str) -> TableNode:
        return self.nodes[(dataset, table)]

    @property
    def identity_kinds(self) -> frozenset[str]:
        return frozenset(kind for node in self.nodes.values() for kind in node.identity_fields)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(c for node in self.nodes.values() for f in node.fields for c in f.categories)


def split_reference(target: str, dataset: str) -> tuple[str, str, str] | None:
    """``dataset.table.field`` or ``table.field`` (same dataset) -> its three parts, or None if malformed."""
    parts = target.split(".")
    if len(parts) == 2:
        return (dataset, parts[0], parts[1])
    if len(parts) == 3:
        return (parts[0], parts[1], parts[2])
    return None


def compile_datamap(datasets: Iterable[Dataset], root: Path | None = None) -> DataMap:
    """Build the graph. Expects annotations that passed ``check_datamap`` without errors."""
    datasets = tuple(datasets)
    edges: list[Edge] = []
    for dataset in datasets:
        for table in dataset.tables:
            for f in table.fields:
                if f.references is None:
                    continue
                parts = split_reference(f.references.to, dataset.id)
                assert parts is not None, f"unchecked reference {f.references.to!r}"
                edges.append(Edge(child=(dataset.id, table.name), child_field=f.name, parent=(parts[0], parts[1]),
                                  parent_field=parts[2], follow=f.references.follow))
    nodes: dict[TableKey, TableNode] = {}
    for dataset in datasets:
        for table in dataset.tables:
            key = (dataset.id, table.name)
            identity: dict[str, list[str]] = {}
            for f in table.fields:
                if f.identity:
                    identity.setdefault(f.identity, []).append(f.name)
            nodes[key] = TableNode(
                dataset=dataset, table=table,
                identity_fields=MappingProxyType({k: tuple(v) for k, v in identity.items()}),
                parents=tuple(e for e in edges if e.child == key),
                children=tuple(e for e in edges if e.parent == key))
    order = _children_first(list(nodes), edges)
    dataset_rank = {d.id: i for i, d in enumerate(datasets)}
    cross = [Edge((e.child[0], ""), "", (e.parent[0], ""), "", e.follow) for e in edges if e.child[0] != e.parent[0]]
    dataset_order = tuple(k[0] for k in _children_first([(d.id, "") for d in datasets], cross))
    assert set(dataset_order) == set(dataset_rank)
    return DataMap(datasets=datasets, nodes=MappingProxyType(nodes), order=tuple(order),
                   dataset_order=dataset_order, root=root)


def _children_first(keys: list[TableKey], edges: list[Edge]) -> list[TableKey]:
    """A stable topological order where a table comes before every table it references.

    Self-references and cycles do not block: a cycle's members keep their annotation order (one
    statement per table, so a database checks its constraints after the whole statement).
    """
    referenced_by: dict[TableKey, set[TableKey]] = {k: set() for k in keys}
    for e in edges:
        if e.child != e.parent and e.parent in referenced_by and e.child in referenced_by:
            referenced_by[e.parent].add(e.child)
    done: list[TableKey] = []
    placed: set[TableKey] = set()
    remaining = list(keys)
    while remaining:
        progress = False
        for key in list(remaining):
            if referenced_by[key] <= placed:
                done.append(key)
                placed.add(key)
                remaining.remove(key)
                progress = True
        if not progress:  # a cycle: place the first remaining table and go on
            key = remaining.pop(0)
            done.append(key)
            placed.add(key)
    return done
