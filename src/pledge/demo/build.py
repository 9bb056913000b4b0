"""Build the demo customer systems: one database per service, filled with synthetic people.

Each dataset is written by its own process (datasets are separate databases, so they never wait
for one another), a chunk of people at a time, with the database's bulk path: ``executemany`` in
one transaction per chunk on SQLite; on PostgreSQL binary ``COPY ... FREEZE`` into tables made in the
same transaction, one transaction for the whole dataset. Indexes (and on PostgreSQL primary and foreign
keys) come after the rows. The result is the same for the same seed and number of people, whatever
the number of processes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import abc, pq, sql
from psycopg._copy_base import format_row_binary  # the C row formatter of Copy.write_row, called without its two

# Python frames per row (a third of the client's time in COPY); psycopg is pinned, and the tests cover it
from psycopg.adapt import Transformer
from psycopg.types.string import BytesBinaryDumper
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, Numeric, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.schema import AddConstraint, CreateColumn

from pledge.datamap.connector import Location, resolve
from pledge.demo.generate import CHUNK, Moments, Pools, Tables, chunk_rows, make_pools, people
from pledge.demo.schema import DATASET_IDS, DemoDataset, build_datasets
from pledge.store import make_engine

#: Rows per INSERT statement on SQLite.
ROWS_PER_INSERT = 32
#: Below this many people a build runs in one process: starting processes would cost more than it saves.
PARALLEL_FROM = 40_000
#: PostgreSQL's statistics target for the build's own ANALYZE (the server's default is 100): a sample of 9,000 rows
#: a table instead of 30,000, a third of the CPU; row and distinct counts and the commonest values are what the
#: data map's look-ups by indexed column need. ``ANALYZE`` at the server's default can always be run afterwards.
ANALYZE_STATISTICS_TARGET = 30
#: PostgreSQL: a table's rows go in one ``COPY`` per this many bytes of binary rows (several chunks), not one per
#: chunk: the server sets up each ``COPY`` (its batch of up to 1,000 tuple slots) at a cost.
COPY_BYTES = 32 << 20


@dataclass(frozen=True)
class BuildReport:
    """What a build made: people, rows per table, where, and how fast."""

    subjects: int
    seed: int
    rows: dict[str, int]  # "dataset.table" -> rows
    locations: dict[str, str]  # dataset -> database URL (password hidden)
    seconds: float

    @property
    def persons_per_second(self) -> float:
        return self.subjects / self.seconds if self.seconds else float("inf")

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _chunks(subjects: int) -> list[tuple[int, int, int]]:
    return [(index, start, min(CHUNK, subjects - start)) for index, start in enumerate(range(0, subjects, CHUNK))]


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    assert database, f"no file in {url}"
    return Path(database)


def _psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _ensure_postgres_database(url: str) -> None:
    """Create the database a per-dataset URL names, if it is not there yet."""
    parsed = make_url(url)
    try:
        psycopg.connect(_psycopg_dsn(url)).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    admin = _psycopg_dsn(parsed.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database or "")))


def _prepare(dataset: DemoDataset, location: Location) -> None:
    """SQLite: an empty file holding the dataset's tables, without their secondary indexes. PostgreSQL: the
    database, if missing; the writer replaces the tables in the one transaction that fills them."""
    if not _is_sqlite(location.url):
        if location.schema is None:
            _ensure_postgres_database(location.url)
        return
    path = _sqlite_path(location.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    fresh = sqlite3.connect(path)
    try:  # larger pages: fewer page splits while millions of rows go in
        fresh.execute("PRAGMA page_size=16384")
        fresh.execute("PRAGMA journal_mode=WAL")
    finally:
        fresh.close()
    engine = make_engine(location.url)
    try:
        with engine.begin() as conn:
            dataset.metadata.create_all(conn)  # SQLite checks no foreign key while the raw loader writes
    finally:
        engine.dispose()


def _index_statements(dataset: DemoDataset, location: Location) -> list[str]:
    unique = [f'CREATE UNIQUE INDEX "ux_{table}_{column}" ON {location.table(table)} ("{column}")'
              for table, column in dataset.unique]
    return unique + [f'CREATE INDEX "ix_{table}_{column}" ON {location.table(table)} ("{column}")'
                     for table, column in dataset.indexes]


#: Binary COPY's signature, flags and header extension length; and its end.
_COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_BINARY_TRAILER = b"\xff\xff"
#: PostgreSQL's day zero for dates and timestamps on the wire.
_PG_EPOCH = np.datetime64("2000-01-01T00:00:00", "s")


def _pg_binary(column: Column[Any]) -> tuple[str, Callable[[Any], list[Any]]]:
    """How a column goes in binary ``COPY``: the type whose dumper writes it, and the conversion of the generator's
    values to what that dumper takes.

    Dates and timestamps go as the integers PostgreSQL keeps (days, or microseconds, since 2000-01-01),
    straight from the generators' numpy datetimes: no text is written for them, and the server parses none.
    Decimals go as the bytes of PostgreSQL's binary ``numeric``, made by numpy for the whole column and written
    as they are (by the ``bytea`` dumper: binary COPY sends no type, the server reads them as the column's).
    """
    kind = column.type
    if isinstance(kind, DateTime):
        return "int8", lambda values: _since_2000(values, with_time=True)
    if isinstance(kind, Date):
        return "int4", lambda values: _since_2000(values, with_time=False)
    if isinstance(kind, Numeric):
        precision, scale = kind.precision or 38, kind.scale or 0
        return "bytea", lambda values: _numerics(values, precision, scale)
    if isinstance(kind, Boolean):
        return "bool", list
    if isinstance(kind, Integer):
        return "int4", list
    return "text", list


def _numerics(values: list[float | None], precision: int, scale: int) -> list[bytes | None]:
    """``numeric(precision, scale)`` in PostgreSQL's binary form, the same width for every value: base-10000
    digits at a fixed weight (leading and trailing zero digits included; the server drops them) and the column's
    scale.

    Each value is the decimal of the float's shortest text (``repr``) rounded half away from zero to the scale,
    as the server rounds that text: straight from the floats when they are such decimals already (numpy-rounded
    prices and coordinates), else by ``Decimal``.
    """
    missing = [i for i, v in enumerate(values) if v is None] if None in values else []
    floats = np.array([0.0 if v is None else v for v in values] if missing else values, dtype=np.float64)
    units = np.rint(floats * 10.0**scale)
    if (np.isfinite(units).all() and (np.abs(units) < 1e15).all()
            and np.array_equal(units / 10.0**scale, floats)):
        scaled = units.astype(np.int64)
    else:
        step = Decimal(10) ** scale
        scaled = np.array([int((Decimal(repr(v)) * step).to_integral_value(ROUND_HALF_UP))
                           for v in floats.tolist()], dtype=np.int64)
    fraction = -(-scale // 4)  # base-10000 digits after the point, and before it
    whole = -(-(precision - scale) // 4)
    count = fraction + whole
    magnitude = np.abs(scaled) * 10 ** (4 * fraction - scale)
    if len(magnitude) and magnitude.max() >= 10_000**count:
        raise ValueError(f"a value too large for numeric({precision}, {scale})")
    wire = np.empty((len(floats), 4 + count), dtype=">u2")  # digit count, weight, sign, scale; digits
    wire[:, 0], wire[:, 1], wire[:, 3] = count, whole - 1, scale
    wire[:, 2] = np.where(scaled < 0, 0x4000, 0)
    for k in range(3 + count, 3, -1):
        magnitude, wire[:, k] = np.divmod(magnitude, 10_000)
    numbers: list[bytes | None] = wire.view(f"V{2 * (4 + count)}").ravel().tolist()
    for i in missing:
        numbers[i] = None
    return numbers


def _since_2000(moments: Moments, with_time: bool) -> list[int | None]:
    """Microseconds (timestamps) or whole days, rounded down as in the ISO text (dates), since 2000-01-01."""
    missing = moments.missing
    seconds = (np.where(missing, _PG_EPOCH, moments.seconds) - _PG_EPOCH).astype(np.int64)
    counts: list[int | None] = (seconds * 1_000_000 if with_time else seconds // 86_400).tolist()
    for i in np.flatnonzero(missing).tolist():
        counts[i] = None
    return counts


def _pg_ddl(element: Any) -> str:
    return str(element.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


class _Writer:
    """Bulk inserts into one dataset's database.

    On PostgreSQL the whole dataset is one transaction: the tables are dropped and made again (without keys or
    indexes), filled with ``COPY ... FREEZE`` chunk after chunk, then given their primary keys, indexes and
    validated foreign keys, and analysed. Made in the transaction that fills them, the tables take frozen rows
    (no hint bits to set and no vacuum to come); a failed build leaves the previous one as it was.
    """

    def __init__(self, dataset: DemoDataset, location: Location) -> None:
        self.dataset = dataset
        self.location = location
        self.sqlite = _is_sqlite(location.url)
        self._pending: dict[str, bytearray] = {}  # PostgreSQL: binary COPY rows gathered per table
        self._dumpers: dict[str, abc.Transformer] = {}
        if self.sqlite:
            self.conn: Any = sqlite3.connect(_sqlite_path(location.url), isolation_level=None)
            # threads: the index sorts after the rows may use a core another process has finished with
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-200000", "temp_store=MEMORY",
                           "locking_mode=EXCLUSIVE", "threads=2"):
                self.conn.execute(f"PRAGMA {pragma}")
        else:
            self.conn = psycopg.connect(_psycopg_dsn(location.url))
            # SET LOCAL: the dataset is one transaction, and nothing outlives it on a pooled server connection
            self.conn.execute("SET LOCAL synchronous_commit = off")
            self.conn.execute("SET LOCAL maintenance_work_mem = '256MB'")  # index sorts after the rows, in memory
            # one process per index build: parallel workers cost more CPU in all (their start, the merge of their
            # sorted runs), and the build's other datasets keep the CPUs busy
            self.conn.execute("SET LOCAL max_parallel_maintenance_workers = 0")
            # binary numerics go as bytes with psycopg's C bytes dumper; the one psycopg picks for the bytea type
            # (the DB-API ``Binary`` one) is Python, a call per value
            self.conn.adapters.register_dumper(bytes, BytesBinaryDumper)
            self._replace_tables()

    def _replace_tables(self) -> None:
        """PostgreSQL: the dataset's tables, empty, in this connection's transaction, with no key to maintain or
        check row by row (an index built from sorted rows costs a fraction of one kept up while they arrive)."""
        if self.location.schema is not None:
            self.conn.execute(f'DROP SCHEMA IF EXISTS "{self.location.schema}" CASCADE')
            self.conn.execute(f'CREATE SCHEMA "{self.location.schema}"')
        else:
            for table in reversed(self.dataset.tables):
                self.conn.execute(f"DROP TABLE IF EXISTS {self.location.table(table.name)} CASCADE")
        for table in self.dataset.tables:
            columns = ", ".join(_pg_ddl(CreateColumn(column)) for column in table.columns)
            self.conn.execute(f"CREATE TABLE {self.location.table(table.name)} ({columns})")

    def write(self, tables: Tables) -> int:
        written = 0
        if self.sqlite:
            self.conn.execute("BEGIN")
        for table in self.dataset.tables:  # parents before children
            columns = tables[table.name]
            names = [c.name for c in table.columns]
            data = [columns[n] for n in names]
            count = len(data[0])
            if not count:
                continue
            if self.sqlite:
                text = [column.iso() if isinstance(column, Moments) else column for column in data]
                column_list = ", ".join(f'"{n}"' for n in names)
                self._insert(f"INSERT INTO {self.location.table(table.name)} ({column_list}) VALUES ", text, count)
            else:
                wire = [_pg_binary(column) for column in table.columns]
                values = [convert(column) for (_, convert), column in zip(wire, data, strict=True)]
                dumpers = self._dumpers.get(table.name)
                if dumpers is None:
                    dumpers = self._dumpers[table.name] = Transformer.from_context(self.conn)
                    dumpers.set_dumper_types([self.conn.adapters.types[kind].oid for kind, _ in wire],
                                             pq.Format.BINARY)
                body = self._pending.setdefault(table.name, bytearray(_COPY_BINARY_HEADER))
                for row in zip(*values, strict=True):
                    format_row_binary(row, dumpers, body)
                if len(body) >= COPY_BYTES:
                    self._copy(table)
            written += count
        if self.sqlite:
            self.conn.execute("COMMIT")
        return written

    def _copy(self, table: Table) -> None:
        """PostgreSQL: one ``COPY`` of the rows gathered for a table."""
        body = self._pending.pop(table.name)
        body += _COPY_BINARY_TRAILER
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        with self.conn.cursor() as cur, cur.copy(f"COPY {self.location.table(table.name)} ({columns}) FROM STDIN "
                                                 "WITH (FORMAT binary, FREEZE)") as copy:
            copy.write(body)

    def _insert(self, head: str, data: list[list[Any]], count: int) -> None:
        """SQLite: rows in statements of several rows each (fewer statement steps than a row per statement)."""
        width = len(data)
        per = max(1, min(ROWS_PER_INSERT, 999 // width))  # within the oldest SQLite's 999 parameters
        row = "(" + ", ".join("?" * width) + ")"
        whole = count // per * per
        if whole:
            flat = list(chain.from_iterable(zip(*data, strict=True)))
            step = per * width
            self.conn.executemany(head + ", ".join([row] * per), (flat[i:i + step] for i in range(0, whole * width,
                                                                                              step)))
        if whole < count:
            self.conn.executemany(head + row, zip(*(column[whole:] for column in data), strict=True))

    def finish(self) -> None:
        """Everything after the rows (keys, indexes, foreign keys, statistics); PostgreSQL commits in ``commit``."""
        if not self.sqlite:
            for table in self.dataset.tables:
                if table.name in self._pending:
                    self._copy(table)
            for table in self.dataset.tables:
                self.conn.execute(_pg_ddl(AddConstraint(table.primary_key)))
        for statement in _index_statements(self.dataset, self.location):
            self.conn.execute(statement)
        if self.sqlite:
            self.conn.execute("PRAGMA journal_mode=WAL")
        else:
            # each foreign key is checked by one anti-join of the referencing column with the referenced key, both
            # indexed by now: merged in index order it costs a third of the hash join the planner would pick
            self.conn.execute("SET LOCAL enable_hashjoin = off")
            for table in self.dataset.tables:
                for constraint in table.foreign_key_constraints:
                    self.conn.execute(_pg_ddl(AddConstraint(constraint)))
            self.conn.execute(f"SET LOCAL default_statistics_target = {ANALYZE_STATISTICS_TARGET}")
            for table in self.dataset.tables:
                self.conn.execute(f"ANALYZE {self.location.table(table.name)}")

    def commit(self) -> None:
        if not self.sqlite:
            self.conn.commit()
        self.conn.close()


def _fill(group: list[str], locations: dict[str, Location], subjects: int, seed: int, pools: Pools, schemas: bool,
          report: Callable[[str, str, int, dict[str, int]], None]) -> None:
    """Write a group of datasets, chunk after chunk: each chunk's people are drawn once for the whole group."""
    definitions = build_datasets(schemas=schemas)
    writers: dict[str, _Writer] = {}
    try:
        for d in group:
            writers[d] = _Writer(definitions[d], locations[d])
        for chunk, start, count in _chunks(subjects):
            crowd = people(seed, chunk, start, count, pools)
            for d in group:
                tables = chunk_rows(d, seed, chunk, start, count, pools, crowd)
                writers[d].write(tables)
                report("chunk", d, count, {f"{d}.{t}": len(c["id"]) for t, c in tables.items()})
        for d in group:  # every dataset of the group checked and indexed before any of them commits
            writers[d].finish()
        for d in group:
            writers[d].commit()
            report("done", d, 0, {})
    finally:
        for writer in writers.values():
            writer.conn.close()  # done after finish(); after a failure, PostgreSQL rolls the dataset back


def _worker(group: list[str], locations: dict[str, Location], subjects: int, seed: int, pools: Pools, schemas: bool,
            events: Any) -> None:
    try:
        _fill(group, locations, subjects, seed, pools, schemas, lambda kind, d, n, rows: events.put((kind, d, n, rows)))
    except BaseException as exc:  # the parent reports it; a worker has no one else to tell
        events.put(("error", ",".join(group), 0, {"error": f"{type(exc).__name__}: {exc}"}))
        raise


#: Rough rows per person of each dataset, to share the work evenly between processes.
WEIGHTS = {"accounts": 3.0, "products": 1.3, "shop": 2.6, "support": 0.5, "community": 0.3, "marketing": 0.8,
           "lumix_pro": 0.3, "smartapp": 1.5, "smart_home": 0.3, "analytics": 2.5}


def _groups(chosen: list[str], count: int) -> list[list[str]]:
    """Datasets shared between ``count`` processes, heaviest first to the lightest-loaded."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(count, len(chosen))))]
    loads = [0.0] * len(groups)
    for d in sorted(chosen, key=lambda x: -WEIGHTS.get(x, 1.0)):
        i = loads.index(min(loads))
        groups[i].append(d)
        loads[i] += WEIGHTS.get(d, 1.0)
    return [sorted(g, key=chosen.index) for g in groups if g]


class DemoBuildError(RuntimeError):
    """A dataset could not be built; the message names it and says why."""


def build(*, url: str, subjects: int, seed: int = 0, datasets: Iterable[str] = DATASET_IDS,
          progress: Callable[[int], None] | None = None, processes: int | None = None) -> BuildReport:
    """Create the demo service databases under the systems URL ``url``, for ``subjects`` people.

    ``progress`` is called with a number of person-datasets done (the total is subjects x datasets).
    """
    if subjects < 0:
        raise ValueError("the number of subjects cannot be negative")
    started = time.perf_counter()
    chosen = [d for d in DATASET_IDS if d in set(datasets)]
    locations = {d: resolve(d, url) for d in chosen}
    schemas = any(loc.schema is not None for loc in locations.values())
    definitions = build_datasets(schemas=schemas)
    for d in chosen:
        _prepare(definitions[d], locations[d])
    pools = make_pools(seed)
    rows: dict[str, int] = {f"{d}.{t.name}": 0 for d in chosen for t in definitions[d].tables}

    def record(kind: str, dataset_id: str, count: int, counts: dict[str, Any]) -> None:
        if kind == "error":
            raise DemoBuildError(f"dataset {dataset_id}: {counts['error']}")
        for key, value in counts.items():
            rows[key] += value
        if progress is not None and count:
            progress(count)

    workers = processes if processes is not None else (
        min(len(chosen), os.cpu_count() or 1) if subjects >= PARALLEL_FROM else 1)
    if workers <= 1:
        _fill(chosen, locations, subjects, seed, pools, schemas, record)
    else:
        _parallel(_groups(chosen, workers), locations, subjects, seed, pools, schemas, record)
    seconds = time.perf_counter() - started
    shown = {d: make_url(loc.url).render_as_string(hide_password=True) + (f" (schema {loc.schema})"
                                                                           if loc.schema else "")
             for d, loc in locations.items()}
    return BuildReport(subjects=subjects, seed=seed, rows=rows, locations=shown, seconds=seconds)


def _parallel(groups: list[list[str]], locations: dict[str, Location], subjects: int, seed: int, pools: Pools,
              schemas: bool, record: Callable[[str, str, int, dict[str, Any]], None]) -> None:
    context = multiprocessing.get_context("fork")
    events = context.Queue()
    processes = [context.Process(target=_worker, args=(group, locations, subjects, seed, pools, schemas, events),
                                 name=f"demo-{group[0]}", daemon=True) for group in groups]
    workers = {d: process for group, process in zip(groups, processes, strict=True) for d in group}
    for process in processes:
        process.start()
    remaining = {d for group in groups for d in group}
    try:
        while remaining:
            try:
                kind, dataset_id, count, counts = events.get(timeout=1.0)
            except queue.Empty:
                dead = [d for d in remaining if not workers[d].is_alive() and workers[d].exitcode not in (0, None)]
                if dead:
                    raise DemoBuildError(f"dataset {dead[0]}: the build process ended with "
                                         f"code {workers[dead[0]].exitcode}") from None
                continue
            if kind == "done":
                remaining.discard(dataset_id)
            record(kind, dataset_id, count, counts)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        events.close()
        events.join_thread()
