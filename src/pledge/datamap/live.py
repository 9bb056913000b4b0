"""Compare the annotations with the live databases: what the map says exists must exist.

``pledge datamap check DIR --url URL`` adds these findings to the static checks, at the
annotation's file and line: a table or column the map names but the database lacks (an error:
the executor would fail), a column the database has but the map does not describe (a warning:
personal data may hide there, and access would not return it), and an identity or followed
reference field without an index (a warning: every request would scan the table).
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from pledge.datamap.connector import Systems
from pledge.datamap.graph import split_reference
from pledge.datamap.loader import LoadedDatamap
from pledge.policy.loader import NodePath, Problem


def check_live(loaded: LoadedDatamap, systems: Systems) -> list[Problem]:
    """Findings of the annotations against the databases ``systems`` reaches, in file order."""
    problems: list[Problem] = []

    def add(severity: str, path: NodePath, code: str, message: str) -> None:
        problems.append(Problem(loaded.source_map.locate(path), severity, message, code))

    looked_up: set[tuple[str, str, str]] = set()
    for dataset in loaded.datasets:
        for table in dataset.tables:
            for f in table.fields:
                if f.identity:
                    looked_up.add((dataset.id, table.name, f.name))
                if f.references is not None:
                    parts = split_reference(f.references.to, dataset.id)
                    if f.references.follow or (parts is not None and parts[0] == dataset.id):
                        looked_up.add((dataset.id, table.name, f.name))
    for d_index, dataset in enumerate(loaded.datasets):
        location = systems.location(dataset.id)
        try:
            inspector = inspect(systems.engine(dataset.id))
            tables = set(inspector.get_table_names(schema=location.schema))
        except SQLAlchemyError as exc:
            add("error", (d_index, "id"), "database-unreachable",
                f"dataset {dataset.id}: {str(getattr(exc, 'orig', exc) or exc).splitlines()[0]}")
            continue
        for t_index, table in enumerate(dataset.tables):
            t_path: NodePath = (d_index, "tables", t_index)
            if table.name not in tables:
                add("error", (*t_path, "name"), "missing-table",
                    f"{dataset.id}.{table.name} is not in the database")
                continue
            columns = [c["name"] for c in inspector.get_columns(table.name, schema=location.schema)]
            leading: list[list[str | None]] = [
                list(i["column_names"]) for i in inspector.get_indexes(table.name, schema=location.schema)]
            leading += [list(u["column_names"])
                        for u in inspector.get_unique_constraints(table.name, schema=location.schema)]
            indexed = {str(names[0]) for names in leading if names}
            primary = inspector.get_pk_constraint(table.name, schema=location.schema).get("constrained_columns") or []
            if primary:
                indexed.add(primary[0])
            described = {f.name for f in table.fields}
            for i, f in enumerate(table.fields):
                if f.name not in columns:
                    add("error", (*t_path, "fields", i, "name"), "missing-column",
                        f"{dataset.id}.{table.name}.{f.name} is not a column of the table")
                elif (dataset.id, table.name, f.name) in looked_up and f.name not in indexed:
                    add("warning", (*t_path, "fields", i, "name"), "unindexed-lookup",
                        f"{dataset.id}.{table.name}.{f.name} is searched for every request but has no index")
            for column in columns:
                if column not in described:
                    add("warning", (*t_path, "name"), "unannotated-column",
                        f"{dataset.id}.{table.name}.{column} is in the database but not in the annotation")
    return sorted(problems, key=lambda p: (p.location.file, p.location.line, p.location.column, p.code))
