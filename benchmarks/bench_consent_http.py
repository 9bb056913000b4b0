"""Consent events over real HTTP (issue 3, 'Performance'): PostgreSQL, 2 uvicorn worker processes.

What it does, all on this machine's loopback:

1. starts a private PostgreSQL server (Debian's binaries, a temporary folder, a free port; durable
   settings: fsync and synchronous_commit on), migrates a fresh database, creates an API key, and
   seeds the ledger: every person of a pool of ``SUBJECTS`` emails known with one event, and the
   planner's statistics gathered (a live server's autovacuum does that within a minute);
2. serves the app with ``pledge serve --workers 2 --no-jobs`` on the Panasonic policy: 2 uvicorn
   processes, each with its own SO_REUSEPORT listening socket (``pledge/web/server.py``);
3. throughput, a closed loop: ``CONNECTIONS`` keep-alive HTTP/1.1 connections from one process (raw
   sockets on uvloop: no HTTP client library, about 0.1 ms of CPU per request), each sending
   ``POST /api/v1/consent-events`` (a fresh ``Idempotency-Key`` each) as soon as it has the last
   answer: consent granted or withdrawn for UK marketing, or an opt-out of sale and sharing for
   Californians, for people of the pool and, one event in ``NEW_EVERY``, someone never seen. A
   warm-up, then ``SECONDS`` of measurement: writes per second (201 answers / elapsed);
4. latency at the target rate, an open loop: ``TARGET_RATE`` requests per second sent on schedule
   whatever the answers, on up to ``PACED_CONNECTIONS`` connections; each latency runs from the
   moment the request was due, so a server falling behind shows as latency (no coordinated
   omission). In a closed loop the latency is only connections / throughput, so its p99 is
   reported too, but as a detail;
5. then ``POST /api/v1/consent-events/batch`` (``BATCH`` events a request, 8 connections);
6. reports the CPU time per write of the servers, PostgreSQL and the load generator (from /proc:
   on a shared machine the throughput depends on what others leave, the CPU per write does not),
   then checks that every answered event is in the ledger and that ``rebuild --check`` passes.

Knobs (environment): ``PLEDGE_BENCH_SECONDS``, ``PLEDGE_BENCH_CONNECTIONS``, ``PLEDGE_BENCH_BATCH``,
``PLEDGE_BENCH_PREFER_MINIMAL=1`` (answers without receipt and state), ``PLEDGE_BENCH_DURABLE=0``
(PostgreSQL with ``synchronous_commit=off``).

Targets: >= 1,500 writes/s with p99 <= 50 ms. The load generator shares the machine's cores with
the servers and PostgreSQL, so the figure is a floor. Nothing here is asserted in tests.

``python -m benchmarks consent`` runs it alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "panasonic"
WORKERS = 2
CONNECTIONS = int(os.environ.get("PLEDGE_BENCH_CONNECTIONS", "48"))
SECONDS = float(os.environ.get("PLEDGE_BENCH_SECONDS", "15"))
WARMUP = 3.0
SUBJECTS = 20_000
#: One event in this many is about a person pledge has never seen (their subject is created).
NEW_EVERY = 10
BATCH = int(os.environ.get("PLEDGE_BENCH_BATCH", "50"))
#: The rate the issue asks for, offered as an open loop to measure the latency at that rate.
TARGET_RATE = 1500.0
#: Connections the open loop may use at once (a request waits for a free one, and that wait counts).
PACED_CONNECTIONS = 96
MINIMAL = os.environ.get("PLEDGE_BENCH_PREFER_MINIMAL", "") == "1"
#: PLEDGE_BENCH_DURABLE=0 runs PostgreSQL with synchronous_commit=off (a crash may lose the last
#: fraction of a second of commits; nothing is corrupted), to separate the disk's flush time from ours.
DURABLE = os.environ.get("PLEDGE_BENCH_DURABLE", "1") != "0"


def _seed(container: Any) -> None:
    """The steady state of a running ledger: every person of the pool known, with one event each, and
    the planner's statistics gathered (autovacuum does it within a minute on a live server; the
    benchmark's 20 seconds would otherwise run on the plans of an empty database)."""
    from pledge.consent import service
    from pledge.consent.schemas import ConsentEventCreate, RequestContext

    bodies = [json.loads(body) for body in _bodies(SUBJECTS * 2, seed=3)]
    seen: set[str] = set()
    items = []
    for body in bodies:
        if body["subject"] not in seen and int(body["subject"][6:].split("@")[0]) < SUBJECTS:
            seen.add(body["subject"])
            items.append((ConsentEventCreate.model_validate(body), RequestContext()))
    for start in range(0, len(items), 1000):
        with container.unit_of_work() as session:
            service.record_events(session=session, policy=container.policy, items=items[start:start + 1000])
            session.commit()
    with container.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


# --- a private PostgreSQL ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Postgres:
    folder: Path
    durable: bool = True
    port: int = 0
    bin_dir: Path = field(default_factory=lambda: Path("."))

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.folder)

    def start(self) -> str:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql: run `make system-deps`")
        self.bin_dir = found[-1].parent
        if os.geteuid() == 0:
            shutil.chown(self.folder, user="postgres", group="postgres")
        data = self.folder / "data"
        done = self._run(str(self.bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                         "-E", "UTF8", "--locale=C")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        self.port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200 "
                   "-c shared_buffers=256MB" + ("" if self.durable else " -c synchronous_commit=off"))
        done = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"),
                         "-w", "-t", "60", "-o", options, "start")
        if done.returncode:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr}")
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE pledge_bench")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/pledge_bench"

    def postmaster_pid(self) -> int:
        return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")


# --- the load ------------------------------------------------------------------------------------------


def _bodies(count: int, seed: int = 11) -> list[bytes]:
    """Events for people of the pool (known since the seeding) and, one in ``NEW_EVERY``, someone never seen."""
    rng = random.Random(seed)
    bodies = []
    for index in range(count):
        n = rng.randrange(SUBJECTS) if index % NEW_EVERY else SUBJECTS + index
        if n % 4 == 3:
            body = {"subject": f"person{n}@example.com", "residence": "US-CA", "kind": "opted_out",
                    "target": "sale_share", "collection_point": "preference_centre"}
        else:
            body = {"subject": f"person{n}@example.com", "residence": "GB", "notice": "uk", "purpose": "marketing",
                    "kind": rng.choice(["consent_granted", "consent_withdrawn"]), "collection_point": "app",
                    "evidence_hash": "9f" * 32}
        bodies.append(json.dumps(body).encode())
    return bodies


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    uids: list[str] = field(default_factory=list)
    events: int = 0
    errors: int = 0


def _batch_body(bodies: list[bytes], rng: random.Random, size: int) -> bytes:
    items = [json.loads(bodies[rng.randrange(len(bodies))]) | {"idempotency_key": uuid.uuid4().hex}
             for _ in range(size)]
    return json.dumps({"events": items}).encode()


def _request(key: str, body: bytes, *, batch: bool) -> bytes:
    prefer = b"Prefer: return=minimal\r\n" if MINIMAL else b""
    path = b"/api/v1/consent-events/batch" if batch else b"/api/v1/consent-events"
    return (b"POST " + path + b" HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + key.encode() + b"\r\nIdempotency-Key: " + uuid.uuid4().hex.encode()
            + b"\r\n" + prefer + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    """Send one request on a keep-alive connection; its status (0 when the server closed) and body.

    The head is read in one piece and searched as bytes: the generator shares the servers' two
    cores, so its own work per request is kept small (as a load tool in C would).
    """
    writer.write(request)
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return 0, b""
    at = head.lower().find(b"\r\ncontent-length:")
    length = int(head[at + 17:head.index(b"\r\n", at + 2)]) if at >= 0 else 0
    payload = await reader.readexactly(length)
    return int(head[9:12]), payload


def _count(tally: Tally, status: int, payload: bytes, *, batch: bool, measured: bool) -> bool:
    """Note one answer; False when the server closed the connection."""
    if measured:
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
    if status == 201:  # the answer's first uid is its event's (created, then the event, whose first member is uid)
        at = payload.index(b'"uid":"') + 7
        tally.uids.append(payload[at:payload.index(b'"', at)].decode())
    elif status == 200 and batch:
        answer = json.loads(payload)
        tally.uids.extend(event["uid"] for event in answer["events"])
        if measured:
            tally.events += answer["created"]
    elif not status:
        tally.errors += 1
        return False
    return True


async def _connection(port: int, key: str, bodies: list[bytes], start: float, measure_from: float, stop: float,
                      tally: Tally, seed: int, batch: int) -> None:
    """A closed loop: one connection sending its next request as soon as the answer to the last one is in."""
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            body = _batch_body(bodies, rng, batch) if batch else bodies[rng.randrange(len(bodies))]
            sent = time.perf_counter()
            status, payload = await _exchange(reader, writer, _request(key, body, batch=bool(batch)))
            if sent >= measure_from:
                tally.latencies.append(time.perf_counter() - sent)
            if not _count(tally, status, payload, batch=bool(batch), measured=sent >= measure_from):
                return
    finally:
        writer.close()


async def _paced(port: int, key: str, *, rate: float, seconds: float = SECONDS,
                 pool: int = PACED_CONNECTIONS) -> tuple[Tally, float]:
    """An open loop: requests sent at ``rate`` per second whatever the answers, on a pool of connections.

    A request's latency runs from the moment it was due, not from when a free connection took it,
    so a server falling behind shows as latency rather than as fewer requests (no coordinated
    omission). Returns the answers of the measured window and its length.
    """
    bodies = _bodies(50_000)
    rng = random.Random(5)
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(pool):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    tally = Tally()
    start = time.perf_counter() + 0.05
    measure_from = start + WARMUP

    async def one(due: float) -> None:
        connection = await idle.get()
        status, payload = await _exchange(*connection, _request(key, bodies[rng.randrange(len(bodies))], batch=False))
        if due >= measure_from:
            tally.latencies.append(time.perf_counter() - due)
        _count(tally, status, payload, batch=False, measured=due >= measure_from)
        idle.put_nowait(connection)

    sent = []
    for n in range(int((WARMUP + seconds) * rate)):
        due = start + n / rate
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        sent.append(asyncio.create_task(one(due)))
    await asyncio.gather(*sent)
    while not idle.empty():
        idle.get_nowait()[1].close()
    # the answers of the window came in over this long: longer than the window when the server fell behind
    return tally, max(seconds, time.perf_counter() - measure_from)


def _cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process and its descendants, from /proc.

    A descendant that exited and was reaped (a PostgreSQL backend whose connection closed) counts
    in its parent's children's times, which are added too.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = sum(int(value) for value in fields[11:15]) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


@dataclass
class Cpu:
    """CPU seconds spent during the measured window, by the servers, PostgreSQL and the load generator."""

    server: float = 0.0
    postgres: float = 0.0
    generator: float = 0.0


Pids = tuple[tuple[int, ...], int]  # the server processes, PostgreSQL's postmaster


def _servers_cpu(pids: tuple[int, ...]) -> float:
    return sum(_cpu_seconds(pid) for pid in pids)


async def _sample_cpu(pids: Pids, measure_from: float, stop: float, cpu: Cpu) -> None:
    await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
    before = (_servers_cpu(pids[0]), _cpu_seconds(pids[1]), time.process_time())
    await asyncio.sleep(max(0.0, stop - time.perf_counter()))
    cpu.server = _servers_cpu(pids[0]) - before[0]
    cpu.postgres = _cpu_seconds(pids[1]) - before[1]
    cpu.generator = time.process_time() - before[2]


async def _drive(port: int, key: str, *, batch: int = 0, connections: int = CONNECTIONS,
                 seconds: float = SECONDS, pids: Pids | None = None) -> tuple[Tally, float, Cpu]:
    bodies = _bodies(50_000)
    start = time.perf_counter()
    measure_from = start + WARMUP
    stop = measure_from + seconds
    tally = Tally()
    cpu = Cpu()
    probe = [_sample_cpu(pids, measure_from, stop, cpu)] if pids else []
    await asyncio.gather(*probe, *(_connection(port, key, bodies, start, measure_from, stop, tally, seed, batch)
                                   for seed in range(connections)))
    return tally, time.perf_counter() - measure_from, cpu


def _run(coroutine: Any) -> Any:
    """Run the load on uvloop (a leaner event loop: the generator shares the servers' cores), without
    the cyclic garbage collector.

    Why without: the generator keeps every latency and answered id of a run, and a full collection
    over them stopped its event loop for tens of milliseconds, so requests went out late and the
    open loop, which counts latency from when a request was due, charged the servers for the
    generator's pauses (p99 110 ms with the collector, 49 ms without, same servers). A load tool
    in C (wrk) has no such pauses; reference counting still frees what a run drops.
    """
    import gc

    import uvloop

    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        return uvloop.run(coroutine)
    finally:
        gc.enable()
        gc.unfreeze()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def _serve(port: int, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``pledge serve --workers WORKERS`` on ``port``, once every worker answers."""
    server = subprocess.Popen(
        [sys.executable, "-c", "from pledge.cli.main import app; app()", "serve", "--workers", str(WORKERS),
         "--no-jobs", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _wait_healthy(port, server)
    return server


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until every worker process is there and /healthz has answered on a run of fresh connections."""
    import httpx

    deadline = time.monotonic() + timeout
    answered = 0
    while time.monotonic() < deadline and answered < 20:
        if process.poll() is not None:
            raise RuntimeError("pledge serve exited before it served")
        try:
            children = Path("/proc") / str(process.pid) / "task" / str(process.pid) / "children"
            workers = len(children.read_text().split())
            ok = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
            answered = answered + 1 if ok and workers == WORKERS else 0
        except (httpx.HTTPError, OSError):
            answered = 0
        time.sleep(0.05 if answered else 0.2)
    if answered < 20:
        raise RuntimeError("pledge serve did not answer /healthz")


def run() -> Iterator[Mapping[str, object]]:
    from sqlalchemy import func, select

    from pledge.bootstrap import bootstrap
    from pledge.consent import service
    from pledge.consent.models import ConsentEvent
    from pledge.settings import Settings
    from pledge.store import upgrade
    from pledge.web.api import keys

    folder = Path(tempfile.mkdtemp(prefix="pledge-bench-pg-"))
    postgres = Postgres(folder, durable=DURABLE)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        url = postgres.start()
        upgrade(url)
        settings = Settings(data_dir=folder / "var", database_url=url, policy_dir=POLICY)
        with bootstrap(settings) as container, container.unit_of_work() as session:
            _row, key = keys.create_key(session=session, name="bench", scopes=["consent:write"])
            session.commit()
        with bootstrap(settings) as container:
            _seed(container)
        port = _free_port()
        env = {**os.environ, "PLEDGE_DATABASE_URL": url, "PLEDGE_POLICY_DIR": str(POLICY),
               "PLEDGE_DATA_DIR": str(folder / "var")}
        servers = [_serve(port, env)]
        pids = ((servers[0].pid,), postgres.postmaster_pid())  # the workers count as its descendants
        tally, elapsed, cpu = _run(_drive(port, key, pids=pids))
        paced, paced_elapsed = _run(_paced(port, key, rate=TARGET_RATE))
        batched, batch_elapsed, _cpu = _run(_drive(port, key, batch=BATCH, connections=8, seconds=SECONDS / 2))
        created = tally.statuses.get(201, 0)
        answered = [*tally.uids, *paced.uids, *batched.uids][-5000:]
        rate = created / elapsed
        p99 = _percentile(tally.latencies, 0.99) * 1000
        p50 = _percentile(tally.latencies, 0.50) * 1000
        with bootstrap(settings) as container, container.unit_of_work() as session:
            stored = int(session.scalar(select(func.count()).select_from(ConsentEvent)) or 0)
            found = int(session.scalar(select(func.count()).select_from(ConsentEvent)
                                       .where(ConsentEvent.uid.in_(answered))) or 0)
            consistent = service.rebuild(session=session, check=True).consistent
        others = {status: n for status, n in tally.statuses.items() if status != 201}
        flush = "synchronous_commit on" if DURABLE else "synchronous_commit OFF"
        detail = (f"pledge serve --workers {WORKERS} (uvicorn, SO_REUSEPORT), PostgreSQL ({flush}), "
                  f"{CONNECTIONS} keep-alive connections, "
                  f"{SECONDS:.0f} s after {WARMUP:.0f} s warm-up, {SUBJECTS:,} people known (seeded, "
                  f"statistics gathered), 1 event in {NEW_EVERY} from a new person, Panasonic policy"
                  f"{', Prefer: return=minimal' if MINIMAL else ', full answer (event, receipt, state)'}")
        yield {"name": "consent events over HTTP: writes/s", "value": rate, "unit": "writes/s",
               "target": ">= 1,500 writes/s", "met": rate >= 1500, "detail": detail}
        paced_p99 = _percentile(paced.latencies, 0.99) * 1000
        paced_rate = paced.statuses.get(201, 0) / paced_elapsed
        paced_others = {status: n for status, n in paced.statuses.items() if status != 201}
        kept_up = paced_rate >= 0.99 * TARGET_RATE
        yield {"name": f"consent events over HTTP: p99 latency at {TARGET_RATE:,.0f} writes/s offered", "value":
               paced_p99, "unit": "ms", "target": "<= 50 ms", "met": paced_p99 <= 50 and kept_up,
               "detail": f"open loop: a request every {1000 / TARGET_RATE:.2f} ms whatever the answers, on up to "
                         f"{PACED_CONNECTIONS} connections, latency from the moment each was due; {paced_rate:,.0f} "
                         f"answered/s, median {_percentile(paced.latencies, 0.5) * 1000:.1f} ms; non-201 answers: "
                         f"{paced_others or 'none'}; errors: {paced.errors}"}
        yield {"name": "consent events over HTTP: p99 latency, closed loop", "value": p99, "unit": "ms",
               "detail": f"the {CONNECTIONS} connections of the writes/s run, each sending as soon as it has its "
                         f"answer (so latency = connections / throughput); median {p50:.1f} ms; non-201 answers: "
                         f"{others or 'none'}; errors: {tally.errors}"}
        per_write = 1000 / max(created, 1)
        cores = (cpu.server + cpu.postgres + cpu.generator) / elapsed
        yield {"name": "consent events over HTTP: CPU per write", "value": cpu.server * per_write, "unit": "ms",
               "detail": f"uvicorn workers {cpu.server * per_write:.2f} ms, PostgreSQL {cpu.postgres * per_write:.2f} "
                         f"ms, load generator {cpu.generator * per_write:.2f} ms of CPU per write; together "
                         f"{cores:.2f} of {os.cpu_count()} cores busy (the rest: other processes, or idle)"}
        batch_rate = batched.events / batch_elapsed
        batch_p99 = _percentile(batched.latencies, 0.99) * 1000
        yield {"name": f"consent events over HTTP, batches of {BATCH}: writes/s", "value": batch_rate,
               "unit": "writes/s", "target": ">= 1,500 writes/s", "met": batch_rate >= 1500,
               "detail": f"POST /api/v1/consent-events/batch, 8 connections, {SECONDS / 2:.0f} s; p99 per batch "
                         f"{batch_p99:.0f} ms, median {_percentile(batched.latencies, 0.5) * 1000:.0f} ms"}
        checked = len(set(answered))
        yield {"name": "consent events over HTTP: none lost", "value": "yes" if found == checked and consistent
               else "NO", "detail": f"{stored:,} events in the ledger; of the last {checked:,} answered event ids, "
                                    f"{found:,} found; rebuild --check {'passes' if consistent else 'FAILS'}"}
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    for row in run():
        print(row)
