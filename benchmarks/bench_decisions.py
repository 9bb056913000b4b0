"""Decision benchmarks (issue 3, 'Performance'): one decision, a million at once, and the loop it replaces.

- ``decide``: median time of one in-process decision on the Panasonic policy, over random subjects
  and every purpose (target <= 5 µs), and the same ask repeated.
- ``decide_many``: 1,000,000 synthetic subjects, one purpose, one pass (target <= 1 s).
- a per-subject SQL-query loop (SQLite: read the subject's rows, build its state, ``decide``) run on a
  sample and scaled to 1,000,000, against ``decide_many`` (target >= 100x).
- the SQL path itself: ``allowed_subjects_sql`` run by SQLite over the same million exported rows.

The Panasonic policy is used when it passes its checks; otherwise the decisions test fixture.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import statistics
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pledge.decisions import (
    ConsentState,
    DecisionAsk,
    StateBatch,
    SubjectState,
    allowed_subjects_sql,
    decide,
    decide_many,
)
from pledge.decisions.engine import rule_table
from pledge.decisions.sql import purpose_rows, subject_row
from pledge.decisions.state import CHANNELS, FLAGS, NO_BIRTH_DATE, NO_EXPIRY, ConsentColumns, epoch_days, epoch_seconds
from pledge.policy import CompiledPolicy, PolicyError, load_compiled
from pledge.policy.checks import DEFAULT_JURISDICTION

ROOT = Path(__file__).resolve().parent.parent
PANASONIC = ROOT / "policies" / "panasonic"
FIXTURE = ROOT / "tests" / "fixtures" / "policies" / "decisions"
AT = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)
MILLION = 1_000_000
LOOP_SAMPLE = 2_000


def load_policy() -> tuple[CompiledPolicy, str]:
    try:
        return load_compiled(PANASONIC), "policies/panasonic"
    except (PolicyError, OSError):
        return load_compiled(FIXTURE), "tests/fixtures/policies/decisions"


def residence_codes(policy: CompiledPolicy) -> tuple[str | None, ...]:
    """Every residence spelling the policy knows, plus a few it does not (they resolve to default)."""
    return (*sorted(policy.jurisdictions), *sorted(policy.member_jurisdiction), "US-NY", "JP", "BR", None)


def heaviest_purpose(policy: CompiledPolicy) -> tuple[str, str]:
    """The (notice, purpose) with the most checks across jurisdictions: the worst case for the engine."""
    table = rule_table(policy)
    codes = [*policy.jurisdictions, DEFAULT_JURISDICTION]

    def weight(key: tuple[str, str]) -> int:
        return sum(len(table.plan(notice=key[0], purpose=key[1], jurisdiction=code).checks) for code in codes)

    return max(sorted(policy.purposes), key=weight)


def synthetic_batch(policy: CompiledPolicy, size: int, seed: int = 7) -> StateBatch:
    """``size`` random subjects column-wise, with consents and objections for every purpose of the policy."""
    rng = np.random.default_rng(seed)
    codes = residence_codes(policy)
    today = epoch_days(AT.date())
    birth_days = rng.integers(today - 90 * 365, today - 8 * 365, size).astype(np.int32)
    birth_days[rng.random(size) < 0.3] = NO_BIRTH_DATE
    cookies = tuple(sorted(policy.cookie_categories))[:64]
    at_seconds = epoch_seconds(AT)
    consents: dict[tuple[str, str], ConsentColumns] = {}
    for key in sorted(policy.purposes):
        expires = np.full(size, NO_EXPIRY, np.int64)
        some = rng.random(size) < 0.3
        expires[some] = at_seconds + rng.integers(-365 * 86_400, 365 * 86_400, int(some.sum()))
        consents[key] = ConsentColumns(
            status=rng.choice(np.array([0, 1, 2, 3], np.uint8), size, p=[0.3, 0.5, 0.1, 0.1]),
            expires_at=expires, objected=rng.random(size) < 0.05)

    def flags(p: float) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return rng.random(size) < p

    return StateBatch(
        subject_ids=np.arange(size, dtype=np.int64),
        jurisdiction_codes=rng.integers(0, len(codes), size).astype(np.int32),
        jurisdictions=codes,
        birth_days=birth_days,
        is_child=flags(0.01), parental_consent=flags(0.5), objects_to_marketing=flags(0.05), restricted=flags(0.01),
        opt_out_sale_share=flags(0.1), opt_out_targeted_advertising=flags(0.1), opt_out_profiling=flags(0.05),
        gpc=flags(0.1), limit_sensitive=flags(0.05),
        channels_off=(rng.integers(0, 1 << len(CHANNELS), size) * flags(0.3)).astype(np.uint8),
        cookie_mask=rng.integers(0, 1 << max(len(cookies), 1), size).astype(np.uint64),
        cookie_categories=cookies,
        consents=consents,
    )


def _per_call(samples: list[float], calls: int) -> float:
    return statistics.median(samples) / calls


def bench_single(policy: CompiledPolicy, batch: StateBatch) -> Iterator[dict[str, object]]:
    keys = sorted(policy.purposes)
    rng = np.random.default_rng(11)
    pairs: list[tuple[SubjectState, DecisionAsk]] = []
    for index in rng.integers(0, len(batch), 20_000):
        notice, purpose = keys[int(index) % len(keys)]
        pairs.append((batch.subject_state(int(index)), DecisionAsk(purpose=purpose, notice=notice, at=AT)))
    for state, ask in pairs:  # warm the plan cache: plans are compiled once per policy, then reused
        decide(policy, state, ask)
    block = 1_000
    cpu: list[float] = []
    wall: list[float] = []
    for start in range(0, len(pairs), block):
        chunk = pairs[start:start + block]
        began, began_cpu = time.perf_counter(), time.process_time()
        for state, ask in chunk:
            decide(policy, state, ask)
        cpu.append(time.process_time() - began_cpu)
        wall.append(time.perf_counter() - began)
    median = _per_call(cpu, block) * 1e6
    yield {"name": "decide: median single decision", "value": median, "unit": "µs", "target": "<= 5 µs",
           "met": median <= 5,
           "detail": f"CPU time; {len(pairs):,} random subjects over {len(keys)} purposes, median of blocks of "
                     f"{block}; wall clock {_per_call(wall, block) * 1e6:.2f} µs"}
    state, ask = pairs[0]
    repeat = []
    for _ in range(7):
        began = time.perf_counter()
        for _ in range(10_000):
            decide(policy, state, ask)
        repeat.append(time.perf_counter() - began)
    yield {"name": "decide: one ask repeated", "value": _per_call(repeat, 10_000) * 1e6, "unit": "µs",
           "detail": f"{ask.notice}/{ask.purpose}, median of 7 x 10,000"}


def bench_bulk(policy: CompiledPolicy, batch: StateBatch, key: tuple[str, str]) -> tuple[float, int]:
    decide_many(policy, key[0], key[1], batch, at=AT)  # warm
    samples = []
    allowed = 0
    for _ in range(5):
        began = time.perf_counter()
        result = decide_many(policy, key[0], key[1], batch, at=AT)
        samples.append(time.perf_counter() - began)
        allowed = int(result.allowed.sum())
    return statistics.median(samples), allowed


def export_to_sqlite(batch: StateBatch, indices: range) -> sqlite3.Connection:
    """The export tables (docs/decisions.md) in an in-memory SQLite database, for the given rows."""
    conn = sqlite3.connect(":memory:")
    subjects: list[dict[str, Any]] = []
    purposes: list[dict[str, Any]] = []
    for i in indices:
        state = batch.subject_state(i)
        subjects.append(subject_row(i, state))
        purposes.extend(purpose_rows(i, state))
    subject_columns = list(subjects[0])
    purpose_columns = list(purposes[0])
    conn.execute(f"CREATE TABLE pledge_subject_state ({', '.join(subject_columns)}, PRIMARY KEY (subject_id))")
    conn.execute(f"CREATE TABLE pledge_purpose_state ({', '.join(purpose_columns)}, "
                 "PRIMARY KEY (subject_id, notice_id, purpose_id))")
    for table, rows, columns in (("pledge_subject_state", subjects, subject_columns),
                                 ("pledge_purpose_state", purposes, purpose_columns)):
        conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                         [[_sqlite_value(row[c]) for c in columns] for row in rows])
    conn.commit()
    return conn


def _sqlite_value(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def bench_sql_loop(policy: CompiledPolicy, conn: sqlite3.Connection, key: tuple[str, str]) -> float:
    """Seconds per subject for the naive integration: query one subject's row and its row for the purpose,
    build its state, decide."""
    conn.row_factory = sqlite3.Row
    ask = DecisionAsk(purpose=key[1], notice=key[0], at=AT)
    began = time.perf_counter()
    for subject_id in range(LOOP_SAMPLE):
        row = conn.execute("SELECT * FROM pledge_subject_state WHERE subject_id = ?", (subject_id,)).fetchone()
        consents = {}
        objections = set()
        for p in conn.execute("SELECT * FROM pledge_purpose_state WHERE subject_id = ? AND notice_id = ? "
                              "AND purpose_id = ?", (subject_id, *key)):
            purpose_key = (p["notice_id"], p["purpose_id"])
            if p["consent_status"]:
                expires = p["consent_expires_at"]
                consents[purpose_key] = ConsentState(
                    p["consent_status"], None if expires is None else dt.datetime.fromtimestamp(expires, dt.UTC))
            if p["objected"]:
                objections.add(purpose_key)
        state = SubjectState(
            jurisdiction=row["jurisdiction"],
            birth_date=dt.date.fromisoformat(row["birth_date"]) if row["birth_date"] else None,
            consents=consents, objections=frozenset(objections),
            channels_off=frozenset(c for c in CHANNELS if row[f"{c.value}_off"]),
            cookie_categories=frozenset(filter(None, (row["cookie_categories"] or "").split(","))),
            **{flag: bool(row[flag]) for flag in FLAGS},
        )
        decide(policy, state, ask)
    return (time.perf_counter() - began) / LOOP_SAMPLE


def bench_sql_path(policy: CompiledPolicy, batch: StateBatch, key: tuple[str, str]) -> tuple[float, int, float]:
    """The emitted SELECT, run by SQLite over every row of the batch (loaded column-wise, not per subject)."""
    conn = sqlite3.connect(":memory:")
    size = len(batch)
    conn.execute("CREATE TABLE pledge_subject_state (subject_id INTEGER PRIMARY KEY, jurisdiction TEXT, "
                 "birth_date TEXT, " + ", ".join(f"{name} INTEGER" for name in FLAGS)
                 + ", " + ", ".join(f"{c.value}_off INTEGER" for c in CHANNELS) + ", cookie_categories TEXT)")
    conn.execute("CREATE TABLE pledge_purpose_state (subject_id INTEGER, notice_id TEXT, purpose_id TEXT, "
                 "consent_status TEXT, consent_expires_at INTEGER, objected INTEGER, "
                 "PRIMARY KEY (subject_id, notice_id, purpose_id))")
    began = time.perf_counter()
    codes = [batch.jurisdictions[c] for c in batch.jurisdiction_codes.tolist()]
    epoch = dt.date(1970, 1, 1)
    births = [None if d == NO_BIRTH_DATE else (epoch + dt.timedelta(days=d)).isoformat()
              for d in batch.birth_days.tolist()]
    flag_columns = [getattr(batch, name).tolist() for name in FLAGS]
    channel_columns = [((batch.channels_off >> i) & 1).astype(bool).tolist() for i in range(len(CHANNELS))]
    cookie_names = batch.cookie_categories
    masks = batch.cookie_mask.tolist()
    cookie_text = [",".join(n for i, n in enumerate(cookie_names) if m >> i & 1) for m in masks]
    conn.executemany(
        f"INSERT INTO pledge_subject_state VALUES ({', '.join('?' * (4 + len(flag_columns) + len(CHANNELS)))})",
        zip(range(size), codes, births, *flag_columns, *channel_columns, cookie_text, strict=True))
    consent = batch.consents[key]
    statuses = ["", "granted", "denied", "withdrawn"]
    status_text = [statuses[s] or None for s in consent.status.tolist()]
    expires = [None if e == NO_EXPIRY else e for e in consent.expires_at.tolist()]
    conn.executemany("INSERT INTO pledge_purpose_state VALUES (?, ?, ?, ?, ?, ?)",
                     zip(range(size), [key[0]] * size, [key[1]] * size, status_text, expires,
                         consent.objected.tolist(), strict=True))
    conn.commit()
    load = time.perf_counter() - began
    query = allowed_subjects_sql(policy, key[0], key[1], "sqlite", at=AT)
    began = time.perf_counter()
    allowed = len(conn.execute(query).fetchall())
    return time.perf_counter() - began, allowed, load


def run() -> Iterator[Mapping[str, object]]:
    policy, where = load_policy()
    key = heaviest_purpose(policy)
    batch = synthetic_batch(policy, MILLION)
    yield from bench_single(policy, batch)
    seconds, allowed = bench_bulk(policy, batch, key)
    yield {"name": "decide_many: 1,000,000 subjects", "value": seconds, "unit": "s", "target": "<= 1 s",
           "met": seconds <= 1, "detail": f"{where}, {key[0]}/{key[1]}, {allowed:,} allowed, median of 5"}
    conn = export_to_sqlite(batch, range(LOOP_SAMPLE))
    per_subject = bench_sql_loop(policy, conn, key)
    loop_million = per_subject * MILLION
    yield {"name": "per-subject SQL loop, scaled to 1,000,000", "value": loop_million, "unit": "s",
           "detail": f"SQLite, {LOOP_SAMPLE:,} subjects measured, {per_subject * 1e6:.0f} µs each"}
    ratio = loop_million / seconds
    yield {"name": "decide_many vs per-subject SQL loop", "value": ratio, "unit": "x", "target": ">= 100x",
           "met": ratio >= 100, "detail": "same purpose, same machine"}
    query_seconds, sql_allowed, load = bench_sql_path(policy, batch, key)
    yield {"name": "allowed_subjects_sql on SQLite, 1,000,000 rows", "value": query_seconds, "unit": "s",
           "detail": f"{sql_allowed:,} allowed ({'agrees' if sql_allowed == allowed else 'DISAGREES'} with "
                     f"decide_many); loading the rows took {load:.1f} s"}
