"""Data map benchmarks (issue 4, 'Performance'): the demo build, and the executor on a large build.

On a demo build of ``PLEDGE_BENCH_DATAMAP_SUBJECTS`` people (default 1,000,000), on SQLite (one
file per dataset) and on PostgreSQL (a schema per dataset):

- demo build speed in people per second (target >= 50,000);
- access for one person: median executor time over a sample of people (target <= 200 ms);
- erasure of one person, plan and execution, median over a sample (target <= 500 ms);
- the baseline beside them, in the same run: the same access done naively, reading every table
  whole and following the references in Python (what a script without a data map graph would do).

PostgreSQL comes from ``PLEDGE_BENCH_POSTGRES_URL`` (a database the benchmark may fill), or else a
private server started from Debian's binaries as in the tests (default ``wal_level``, 128 MB of
shared buffers; ``fsync``, ``synchronous_commit`` and ``full_page_writes`` off); without either, its
rows say why. With the private server the build's row also gives the server's CPU time (its
backends, reaped or not, and its background processes), since on PostgreSQL most of the work is the
server's.

While working on one part, ``PLEDGE_BENCH_DATAMAP_SYSTEMS`` (``sqlite``, ``postgres``, or both, comma-separated;
default both) picks the databases, and ``PLEDGE_BENCH_DATAMAP_EXECUTOR=0`` measures the build alone (no access or
erasure timings).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from pledge.datamap import DataMap, SubjectIdentity, Systems, access, erase, load_datamap
from pledge.datamap.connector import quote
from pledge.demo.build import build
from pledge.policy import load_compiled

ROOT = Path(__file__).resolve().parent.parent
SUBJECTS = int(os.environ.get("PLEDGE_BENCH_DATAMAP_SUBJECTS", "1000000"))
ACCESS_SAMPLE = 50
ERASE_SAMPLE = 20
SEED = 1
SYSTEMS = {s.strip() for s in os.environ.get("PLEDGE_BENCH_DATAMAP_SYSTEMS", "sqlite,postgres").split(",")}
if SYSTEMS - {"sqlite", "postgres"}:
    raise SystemExit(f"PLEDGE_BENCH_DATAMAP_SYSTEMS: {', '.join(sorted(SYSTEMS - {'sqlite', 'postgres'}))} "
                     "is not sqlite or postgres")
EXECUTOR = os.environ.get("PLEDGE_BENCH_DATAMAP_EXECUTOR", "1") != "0"


def _median_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def naive_access(datamap: DataMap, systems: Systems, email: str) -> int:
    """The baseline: read every table whole, then follow identities and references in Python."""
    tables: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for key, node in datamap.nodes.items():
        columns = ", ".join(quote(f.name) for f in node.fields)
        with systems.engine(key[0]).connect() as conn:
            tables[key] = [dict(r) for r in conn.execute(text(f"SELECT {columns} FROM {systems.table(*key)}"))
                           .mappings()]
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for key, node in datamap.nodes.items():
        fields = node.identity_fields.get("email", ())
        found[key] = [r for r in tables[key] if any(r[f] == email for f in fields)]
    changed = True
    while changed:
        changed = False
        for key, node in datamap.nodes.items():
            for edge in node.children:
                if not edge.follow:
                    continue
                values = {r[edge.parent_field] for r in found[key]}
                have = {id(r) for r in found[edge.child]}
                new = [r for r in tables[edge.child] if r[edge.child_field] in values and id(r) not in have]
                if new:
                    found[edge.child].extend(new)
                    changed = True
    return sum(len(rows) for rows in found.values())


def _emails(systems: Systems, count: int, seed: int) -> list[str]:
    with systems.engine("accounts").connect() as conn:
        total = conn.execute(text(f"SELECT max(id) FROM {systems.table('accounts', 'customers')}")).scalar_one()
        ids = random.Random(seed).sample(range(1, int(total) + 1), count)
        return [conn.execute(text(f"SELECT email FROM {systems.table('accounts', 'customers')} WHERE id = :id"),
                             {"id": i}).scalar_one() for i in ids]


def _server_cpu(postmaster: int) -> float:
    """CPU seconds of a local PostgreSQL server: the postmaster, its children that ended, and those still running."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(pid: str | int) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    total = sum(int(x) for x in fields(postmaster)[11:15])  # utime, stime, cutime, cstime
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = fields(pid)
        except OSError:
            continue
        if int(stat[1]) == postmaster:
            total += int(stat[11]) + int(stat[12])
    return total / tick


def _measure(label: str, datamap: DataMap, url: str, detail: str,
             postmaster: int | None = None) -> Iterator[Mapping[str, object]]:
    server_before = _server_cpu(postmaster) if postmaster else 0.0
    before = os.times()
    report = build(url=url, subjects=SUBJECTS, seed=SEED)
    after = os.times()
    # CPU of this process and its build workers, and of the database server when it is ours to see: the wall
    # time depends on what else the machine runs, so the load average is shown beside it
    cpu = sum(after[:4]) - sum(before[:4])
    spent = f"{cpu:.1f} s CPU in the build's processes"
    if postmaster:
        server = _server_cpu(postmaster) - server_before
        spent += (f", {server:.1f} s in the PostgreSQL server: {cpu + server:.1f} s in all, "
                  f"{(cpu + server) / (os.cpu_count() or 1):.1f} s of wall on {os.cpu_count() or 1} idle CPUs at best")
    yield {"name": f"{label}: demo build", "value": round(report.persons_per_second), "unit": "people/s",
           "target": ">= 50,000", "met": report.persons_per_second >= 50_000,
           "detail": f"{SUBJECTS:,} people, {report.total_rows:,} rows in {report.seconds:.1f} s "
                     f"({spent}; load average {os.getloadavg()[0]:.1f}); {detail}"}
    if not EXECUTOR:
        return
    systems = Systems.from_url([d.id for d in datamap.datasets], url)
    try:
        emails = _emails(systems, ACCESS_SAMPLE + ERASE_SAMPLE, seed=11)
        access(datamap=datamap, systems=systems, identities=[SubjectIdentity("email", emails[0])])  # warm up
        timings, rows = [], []
        for email in emails[:ACCESS_SAMPLE]:
            result = access(datamap=datamap, systems=systems, identities=[SubjectIdentity("email", email)])
            timings.append(result.elapsed_ms)
            rows.append(result.row_count)
        median, p95 = _median_p95(timings)
        yield {"name": f"{label}: access, one person (executor)", "value": round(median, 2), "unit": "ms",
               "target": "<= 200 ms", "met": median <= 200,
               "detail": f"median of {ACCESS_SAMPLE} people, p95 {p95:.1f} ms, {statistics.mean(rows):.1f} rows each"}
        started = time.perf_counter()
        naive_rows = naive_access(datamap, systems, emails[0])
        naive_ms = (time.perf_counter() - started) * 1000
        yield {"name": f"{label}: baseline access, full scan of every table", "value": round(naive_ms), "unit": "ms",
               "detail": f"one person ({naive_rows} rows, same as the executor: {naive_rows == rows[0]}); "
                         f"the executor is {naive_ms / max(median, 1e-6):,.0f}x faster"}
        timings = []
        for email in emails[ACCESS_SAMPLE:]:
            result = erase(datamap=datamap, systems=systems, identities=[SubjectIdentity("email", email)])
            timings.append(result.elapsed_ms)
        median, p95 = _median_p95(timings)
        yield {"name": f"{label}: erasure, one person (plan + execution)", "value": round(median, 2), "unit": "ms",
               "target": "<= 500 ms", "met": median <= 500,
               "detail": f"median of {ERASE_SAMPLE} people, p95 {p95:.1f} ms, one transaction per database"}
    finally:
        systems.dispose()


@contextmanager
def _postgres() -> Iterator[tuple[str | None, int | None]]:
    """A PostgreSQL database URL for the benchmark (None when there is none to be had), and the process id of
    its server when the benchmark started it."""
    given = os.environ.get("PLEDGE_BENCH_POSTGRES_URL")
    if given:
        yield given, None
        return
    try:
        from tests.conftest import PostgresServer, _postgres_bin
    except Exception:
        yield None, None
        return
    folder = Path(tempfile.mkdtemp(prefix="pledge-bench-pg-"))
    try:
        shutil.chown(folder, user="postgres", group="postgres")
        server = PostgresServer(bin_dir=_postgres_bin(), folder=folder, port=0)
        server.start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        yield None, None
        return
    try:
        url = server.create_database("bench_datamap")
        yield url, int((server.data_dir / "postmaster.pid").read_text().split()[0])
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def run() -> Iterator[Mapping[str, object]]:
    datamap = load_datamap(ROOT / "datasets" / "panasonic", load_compiled(ROOT / "policies" / "panasonic"))
    cpus = os.cpu_count() or 1
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pledge-bench-")))
        if "sqlite" in SYSTEMS:
            yield from _measure("SQLite", datamap, f"sqlite:///{folder}/{{dataset}}.db",
                                f"a file per dataset, {cpus} CPUs")
        if "postgres" not in SYSTEMS:
            return
        url, postmaster = stack.enter_context(_postgres())
        if url is None:
            yield {"name": "PostgreSQL", "value": "not run",
                   "detail": "set PLEDGE_BENCH_POSTGRES_URL or install PostgreSQL (make system-deps)"}
        else:
            yield from _measure("PostgreSQL", datamap, url, f"a schema per dataset, {cpus} CPUs", postmaster)

