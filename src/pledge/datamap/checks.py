"""Lint dataset annotations like source code, before anything touches a database.

The models catch types and unknown keys while loading. This module finds what a schema cannot:
references to tables or fields that do not exist, data categories the policy does not define,
names that are not safe to put in SQL, tables holding personal data that no identity leads to (the
executor would never find them: a missed system), and strategies that do not fit their field.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from pledge.datamap.graph import split_reference
from pledge.datamap.loader import LoadedDatamap
from pledge.datamap.models import Dataset, DatasetField, FieldType, Generalisation, Strategy, TableErasure
from pledge.policy.loader import NodePath, Problem

#: What a dataset id, a table or a field name may be: it is written into SQL (quoted, but never trusted).
SAFE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

_DATES = (FieldType.DATE, FieldType.DATETIME)


@dataclass
class _Findings:
    loaded: LoadedDatamap
    problems: list[Problem]

    def add(self, severity: str, path: NodePath, code: str, message: str) -> None:
        self.problems.append(Problem(self.loaded.source_map.locate(path), severity, message, code))


def check_datamap(loaded: LoadedDatamap, categories: Collection[str] | None = None) -> list[Problem]:
    """Every error and warning in the annotations, in file order; ``categories`` are the policy's category ids."""
    f = _Findings(loaded, [])
    _check_names(loaded.datasets, f)
    _check_fields(loaded.datasets, f, categories)
    _check_references(loaded.datasets, f)
    _check_identity_paths(loaded.datasets, f)
    return sorted(f.problems, key=lambda p: (p.location.file, p.location.line, p.location.column, p.code))


def _check_names(datasets: tuple[Dataset, ...], f: _Findings) -> None:
    first_dataset: dict[str, int] = {}
    for d_index, dataset in enumerate(datasets):
        if not SAFE_IDENTIFIER.match(dataset.id):
            f.add("error", (d_index, "id"), "unsafe-identifier",
                  f"dataset id {dataset.id!r} is not a safe SQL identifier (letters, digits, '_'; at most 63)")
        if dataset.id in first_dataset:
            where = f.loaded.source_map.locate((first_dataset[dataset.id], "id"))
            f.add("error", (d_index, "id"), "duplicate-id", f"duplicate dataset id {dataset.id!r} (first at {where})")
        first_dataset.setdefault(dataset.id, d_index)
        tables: set[str] = set()
        for t_index, table in enumerate(dataset.tables):
            t_path: NodePath = (d_index, "tables", t_index)
            if not SAFE_IDENTIFIER.match(table.name):
                f.add("error", (*t_path, "name"), "unsafe-identifier",
                      f"table name {table.name!r} is not a safe SQL identifier (letters, digits, '_'; at most 63)")
            if table.name in tables:
                f.add("error", (*t_path, "name"), "duplicate-id", f"duplicate table {table.name!r} in {dataset.id}")
            tables.add(table.name)
            names: set[str] = set()
            for i, field in enumerate(table.fields):
                if not SAFE_IDENTIFIER.match(field.name):
                    f.add("error", (*t_path, "fields", i, "name"), "unsafe-identifier",
                          f"field name {field.name!r} is not a safe SQL identifier (letters, digits, '_'; at most 63)")
                if field.name in names:
                    f.add("error", (*t_path, "fields", i, "name"), "duplicate-id",
                          f"duplicate field {field.name!r} in {dataset.id}.{table.name}")
                names.add(field.name)
            for i, key in enumerate(table.primary_key):
                if key not in names:
                    f.add("error", (*t_path, "primary_key", i), "dangling-reference",
                          f"primary key {key!r} is not a field of {dataset.id}.{table.name}")


def _check_fields(datasets: tuple[Dataset, ...], f: _Findings, categories: Collection[str] | None) -> None:
    for d_index, dataset in enumerate(datasets):
        for t_index, table in enumerate(dataset.tables):
            for i, field in enumerate(table.fields):
                path: NodePath = (d_index, "tables", t_index, "fields", i)
                label = f"{dataset.id}.{table.name}.{field.name}"
                if categories is not None:
                    for c_index, category in enumerate(field.categories):
                        if category not in categories:
                            f.add("error", (*path, "categories", c_index), "unknown-category",
                                  f"{label}: data category {category!r} is not defined in the policy")
                if field.identity and not field.personal:
                    f.add("error", (*path, "identity"), "identity-without-category",
                          f"{label} identifies a person but has no data category")
                if field.erasure is not None and not field.personal and field.erasure.strategy is not Strategy.KEEP:
                    f.add("warning", (*path, "erasure"), "erasure-without-category",
                          f"{label} has an erasure strategy but no data category: it is never erased")
                if field.name in table.primary_key and field.erasure is not None and field.erasure.strategy not in (
                        Strategy.KEEP, Strategy.DELETE_ROW, Strategy.LEGAL_HOLD):
                    f.add("error", (*path, "erasure"), "erases-key",
                          f"{label} is the primary key: it can only go with its row (delete_row) or stay")
                _check_strategy(field, table.fields, path, label, f)


def _check_strategy(field: DatasetField, fields: tuple[DatasetField, ...], path: NodePath, label: str,
                    f: _Findings) -> None:
    erasure = field.erasure
    if erasure is None:
        return
    e_path: NodePath = (*path, "erasure")
    for strategy in (erasure.strategy, erasure.then, erasure.if_kept):
        if strategy is Strategy.HASH and field.type is not FieldType.STRING:
            f.add("error", e_path, "strategy-type", f"{label}: hash needs a string field, not {field.type}")
        if strategy is Strategy.MASK and field.type is not FieldType.STRING:
            f.add("error", e_path, "strategy-type", f"{label}: mask needs a string field, not {field.type}; "
                  "use set_null")
        if strategy is Strategy.GENERALISE:
            if erasure.to in (Generalisation.YEAR, Generalisation.MONTH) and field.type not in _DATES:
                f.add("error", e_path, "strategy-type",
                      f"{label}: generalise to {erasure.to} needs a date field, not {field.type}")
            if erasure.to in (Generalisation.PREFIX, Generalisation.NETWORK) and field.type is not FieldType.STRING:
                f.add("error", e_path, "strategy-type",
                      f"{label}: generalise to {erasure.to} needs a string field, not {field.type}")
    if erasure.until is not None and erasure.until.after is not None:
        after = next((x for x in fields if x.name == erasure.until.after), None)
        if after is None:
            f.add("error", (*e_path, "until", "after"), "dangling-reference",
                  f"{label}: the hold runs from {erasure.until.after!r}, which is not a field of the table")
        elif after.type not in _DATES:
            f.add("error", (*e_path, "until", "after"), "strategy-type",
                  f"{label}: the hold runs from {after.name!r}, which is not a date field")


def _check_references(datasets: tuple[Dataset, ...], f: _Findings) -> None:
    by_id = {d.id: d for d in datasets}
    erased_targets: dict[tuple[str, str, str], str] = {}
    for d_index, dataset in enumerate(datasets):
        for t_index, table in enumerate(dataset.tables):
            for i, field in enumerate(table.fields):
                if field.references is None:
                    continue
                path: NodePath = (d_index, "tables", t_index, "fields", i, "references")
                label = f"{dataset.id}.{table.name}.{field.name}"
                target = field.references.to
                parts = split_reference(target, dataset.id)
                if parts is None:
                    f.add("error", path, "malformed-reference",
                          f"{label}: reference {target!r} is not 'dataset.table.field' or 'table.field'")
                    continue
                d_id, t_name, f_name = parts
                ref_dataset = by_id.get(d_id)
                if ref_dataset is None:
                    f.add("error", path, "dangling-reference", f"{label} references dataset {d_id!r}, not defined")
                    continue
                ref_table = ref_dataset.table(t_name)
                if ref_table is None:
                    f.add("error", path, "dangling-reference", f"{label} references table {d_id}.{t_name}, not defined")
                    continue
                ref_field = ref_table.field(f_name)
                if ref_field is None:
                    f.add("error", path, "dangling-reference",
                          f"{label} references field {d_id}.{t_name}.{f_name}, not defined")
                    continue
                if ref_field.type is not field.type:
                    f.add("warning", path, "reference-type",
                          f"{label} ({field.type}) references {d_id}.{t_name}.{f_name} ({ref_field.type})")
                strategy = ref_field.erasure.strategy if ref_field.erasure else (
                    Strategy.SET_NULL if ref_field.personal else Strategy.KEEP)
                if ref_table.erasure is TableErasure.ANONYMISE and strategy not in (
                        Strategy.KEEP, Strategy.DELETE_ROW, Strategy.LEGAL_HOLD):
                    erased_targets.setdefault((d_id, t_name, f_name), label)
    for d_index, dataset in enumerate(datasets):
        for t_index, table in enumerate(dataset.tables):
            for i, field in enumerate(table.fields):
                by = erased_targets.get((dataset.id, table.name, field.name))
                if by is not None:
                    f.add("warning", (d_index, "tables", t_index, "fields", i), "erases-referenced-field",
                          f"{dataset.id}.{table.name}.{field.name} is referenced by {by}: erasing it in the rows "
                          "this table keeps cuts that link")


def _check_identity_paths(datasets: tuple[Dataset, ...], f: _Findings) -> None:
    tables = {(d.id, t.name): t for d in datasets for t in d.tables}
    reached = {key for key, table in tables.items() if any(x.identity for x in table.fields)}
    follows: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for d in datasets:
        for t in d.tables:
            for x in t.fields:
                if x.references is not None and x.references.follow:
                    parts = split_reference(x.references.to, d.id)
                    if parts is not None and (parts[0], parts[1]) in tables:
                        follows.append(((parts[0], parts[1]), (d.id, t.name)))
    changed = True
    while changed:
        changed = False
        for parent, child in follows:
            if parent in reached and child not in reached:
                reached.add(child)
                changed = True
    for d_index, dataset in enumerate(datasets):
        for t_index, table in enumerate(dataset.tables):
            if (dataset.id, table.name) not in reached and any(x.personal for x in table.fields):
                f.add("error", (d_index, "tables", t_index, "name"), "no-identity-path",
                      f"{dataset.id}.{table.name} holds personal data but no identity field or followed reference "
                      "leads to it: access and erasure would miss it")
