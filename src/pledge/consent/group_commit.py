"""Group commit for the consent ledger: many concurrent requests, one transaction and one disk flush.

Why: a consent event is a small write, and on a durable database most of its cost is fixed per
transaction (a round trip per statement, a flush of the write-ahead log at commit). When requests
arrive together, a writer takes every event waiting (up to ``max_batch``), records them with
``service.record_events`` in one transaction (set-based: a statement per step, whatever the
number of events), builds each request's answer inside that transaction, commits once and then
answers every request. Under light load a batch is one event, so nothing waits for company;
under load the batches grow by themselves (the events that arrived while the last one committed).

Each request keeps the answer it would have had alone: when one event of a batch is bad (an
unknown purpose, an idempotency key reused for another request) or the database refuses the
batch, the batch is rolled back and every event is recorded again in a transaction of its own,
so the good ones are written and the bad one gets its own error. Nothing is answered before its
transaction committed, so an answered event is never lost.

Two ways to run the writers:
- on PostgreSQL, as tasks of the web server's event loop (``record``), so the thread that parses
  requests also does their database work, with no hand-over between threads. A batch goes first
  to ``service.record_events_direct``: psycopg itself on a connection in autocommit, one query to
  find the people and one statement that appends the events, writes the projection and inserts
  the people never seen before (two round trips, no BEGIN or COMMIT, no ORM). A batch that needs
  more (a residence to note, a GPC signal) is recorded by ``service.record_events`` in a
  transaction, through SQLAlchemy's asyncio engine (the same service code, run in a greenlet). A
  failed batch is recorded event by event; an event that fails alone gets one more try in a
  transaction (which finds a person another writer created after the look-up);
- on SQLite (no asyncio driver) and for callers outside an event loop, as threads (``submit``),
  each batch in a transaction.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from pledge.consent import service
from pledge.consent.schemas import ConsentEventCreate, RequestContext
from pledge.policy import CompiledPolicy
from pledge.store import make_async_engine

log = logging.getLogger(__name__)

#: What a caller asks for besides the event (e.g. a short answer) and what it gets back.
Want = TypeVar("Want")
Answer = TypeVar("Answer")

#: The most events one transaction takes: a bound on the latency one batch adds to the next.
MAX_BATCH = 64
#: How long a writer waits for company after a batch of several events (none after a batch of one).
#: Under load the direct path commits so fast that batches stayed at two or three events, and a
#: batch has a fixed cost (its two round trips, their CPU on both sides): at 1,500 writes/s a
#: millisecond's wait made the batches twice as big and cut the CPU a write took by about a tenth,
#: for about a millisecond more latency. After a batch of one (light load) the writer does not wait.
LINGER_SECONDS = 0.001
#: Writers per process. One is best measured here: while it waits for the database, the event loop
#: parses the next requests, so the next batch is bigger and costs less per event (a batch has a
#: fixed cost: its round trips). SQLite takes one writer anyway.
WRITERS = 1


@dataclass
class _Submission(Generic[Want, Answer]):
    event_in: ConsentEventCreate
    context: RequestContext
    want: Want
    future: Future[Answer] = field(default_factory=Future)


class _DirectConnection:
    """One writer's connection for the direct path: a connection of the pool, held in autocommit.

    Each writer has its own (a psycopg connection runs one statement at a time). A connection the
    server cut is noticed at the next batch and replaced.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._held: AsyncConnection | None = None
        self.driver: psycopg.AsyncConnection[Any] | None = None

    async def get(self) -> psycopg.AsyncConnection[Any]:
        if self.driver is None or self.driver.broken or self.driver.closed:
            await self.drop()
            held = await self._engine.connect()
            try:
                await held.execution_options(isolation_level="AUTOCOMMIT")
                driver = (await held.get_raw_connection()).driver_connection
                if not isinstance(driver, psycopg.AsyncConnection) or not driver.autocommit:
                    raise RuntimeError("the direct path needs psycopg's asyncio connection, in autocommit")
                # The statements are prepared (psycopg does it from their fifth run), and their best
                # plan does not depend on the values: with the default plan cache mode PostgreSQL
                # compared the generic plan, costed for ten people, with the custom plans made for the
                # one or two of a small batch, and planned the look-up anew every run. The engine is
                # the committer's own, disposed with it: the setting goes nowhere else.
                await driver.execute("SET plan_cache_mode = force_generic_plan")
            except BaseException:
                with suppress(Exception):  # in an unknown state: dropped from the pool, not given back
                    await held.invalidate()
                    await held.close()
                raise
            self._held, self.driver = held, driver
        return self.driver

    async def drop(self) -> None:
        """Give up the connection (lost, or in an unknown state): the pool forgets it."""
        if self._held is not None:
            with suppress(Exception):
                await self._held.invalidate()
                await self._held.close()
        self._held = self.driver = None

    async def close(self) -> None:
        """Give the connection back to the pool (or drop it if it was lost)."""
        if self.driver is not None and (self.driver.broken or self.driver.closed):
            await self.drop()
        elif self._held is not None:
            with suppress(Exception):
                await self._held.close()
            self._held = self.driver = None


class GroupCommitter(Generic[Want, Answer]):
    """Writers that record the events submitted to them, several per transaction.

    ``answer(session, recorded)`` turns the recorded events (with what each caller wanted) into the
    callers' answers, in the batch's session inside its transaction, so an answer shows the state
    the batch made; the session is None after the direct path, whose every ``Recorded`` carries
    its subject's projection rows (nothing to read). With the ``engine`` of a
    PostgreSQL database, ``record`` runs the writers on the calling event loop (through an asyncio
    engine made on first use, so it belongs to that loop). Writers start at the first submission
    and stop at ``aclose()`` / ``close()``.
    """

    def __init__(self, *, unit_of_work: Callable[[], AbstractContextManager[Session]], policy: CompiledPolicy,
                 answer: Callable[[Session | None, Sequence[tuple[service.Recorded, Want]]], Sequence[Answer]],
                 engine: Engine | None = None, max_batch: int = MAX_BATCH, writers: int = WRITERS) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._answer = answer
        self._engine = engine
        self._async_engine: AsyncEngine | None = None
        self._directs: list[_DirectConnection] = []  # one per event-loop writer
        self._max_batch = max_batch
        self._writers = writers
        self._waiting: queue.SimpleQueue[_Submission[Want, Answer] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._loop_waiting: asyncio.Queue[tuple[_Submission[Want, Answer], asyncio.Future[Answer]] | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: Transactions committed and events recorded, for the benchmark and the console.
        self.transactions = 0
        self.events = 0

    # --- on the event loop ------------------------------------------------------------------------

    async def record(self, event_in: ConsentEventCreate, context: RequestContext, want: Want) -> Answer:
        """Record one event with whatever else is waiting; the answer once committed, or the error that refused it."""
        if self._engine is None or self._engine.dialect.name != "postgresql":
            return await asyncio.wrap_future(self.submit(event_in, context, want))
        if self._closed:
            raise RuntimeError("the consent ledger writer is closed")
        if self._loop_waiting is None:
            self._async_engine = make_async_engine(self._engine)
            self._loop_waiting = asyncio.Queue()
            self._directs = [_DirectConnection(self._async_engine) for _n in range(self._writers)]
            self._tasks = [asyncio.create_task(self._loop_writer(direct), name=f"consent-group-commit-{n}")
                           for n, direct in enumerate(self._directs)]
        answered: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._loop_waiting.put_nowait((_Submission(event_in, context, want), answered))
        return await answered

    async def _loop_writer(self, direct: _DirectConnection) -> None:
        assert self._loop_waiting is not None
        waiting = self._loop_waiting
        company = False  # did the last batch have several events (other requests are coming)?
        while True:
            first = await waiting.get()
            if first is None:  # aclose(): everything queued before it is recorded
                return
            batch = [first]
            # One turn of the loop first: requests whose bytes have already arrived get parsed and
            # queued, and join this batch instead of the next (a bigger batch costs less per event).
            # Under load (the last batch had company) wait a little longer (LINGER_SECONDS).
            await asyncio.sleep(LINGER_SECONDS if company and waiting.qsize() < self._max_batch else 0)
            stop = False
            while len(batch) < self._max_batch and not waiting.empty():
                more = waiting.get_nowait()
                if more is None:
                    stop = True
                    break
                batch.append(more)
            company = len(batch) > 1
            try:
                await self._loop_commit(batch, direct)
            except Exception as exc:  # a defect, not a refusal: its requests fail, the writer goes on
                log.exception("the consent ledger writer failed on a batch of %d events", len(batch))
                for _submission, answered in batch:
                    if not answered.done():
                        answered.set_exception(exc)
            if stop:
                return

    async def _loop_commit(self, batch: list[tuple[_Submission[Want, Answer], asyncio.Future[Answer]]],
                           direct: _DirectConnection, *, lost_before: bool = False) -> None:
        submissions = [submission for submission, _answered in batch]
        outcomes: list[Answer | Exception] | None = None
        failure: Exception | None = None
        try:  # two statements through psycopg, each committed by itself
            outcomes = await self._record_direct(submissions, direct)
        except service.OutcomeUnknown as lost:
            await self._after_lost_write(batch, lost, direct, lost_before=lost_before)
            return
        except Exception as exc:  # nothing written
            failure = exc
        if outcomes is None and (failure is None or len(batch) == 1):
            # a batch that needs a transaction, or one event that failed alone above (a transaction
            # also finds a person another writer created after the look-up)
            try:
                outcomes, failure = await self._record_in_transaction(submissions), None
            except service.OutcomeUnknown as lost:
                await self._after_lost_write(batch, lost, direct, lost_before=lost_before)
                return
            except Exception as exc:  # nothing written
                failure = exc
        if failure is not None and len(batch) > 1:  # each on its own, so the bad one fails alone
            log.debug("a batch of %d consent events failed (%s); recording them one by one", len(batch), failure)
            for one in batch:
                await self._loop_commit([one], direct, lost_before=lost_before)
            return
        if failure is not None:
            outcomes = [failure]  # handed to the waiting request, which reports it
        else:
            self._counted(len(batch))
        assert outcomes is not None
        for (_submission, answered), outcome in zip(batch, outcomes, strict=True):
            if answered.done():  # the request has gone (client closed): the event stays recorded
                continue
            if isinstance(outcome, Exception):
                answered.set_exception(outcome)
            else:
                answered.set_result(outcome)

    async def _after_lost_write(self, batch: list[tuple[_Submission[Want, Answer], asyncio.Future[Answer]]],
                                lost: service.OutcomeUnknown, direct: _DirectConnection, *, lost_before: bool) -> None:
        """The connection went while the batch was being written: it may be recorded, or not.

        Events with an idempotency key are sent once more (a replay answers with the event if the
        lost write had committed); a keyless event, or a second loss, is the request's 503: sent
        again on a guess, a keyless event could be in the ledger twice.
        """
        log.warning("the database connection was lost while %d consent events were being written", len(batch))
        again = [] if lost_before else [one for one in batch if one[0].context.idempotency_key]
        retried = {id(answered) for _submission, answered in again}
        for _submission, answered in batch:
            if id(answered) not in retried and not answered.done():
                answered.set_exception(lost)
        if again:
            await self._loop_commit(again, direct, lost_before=True)

    async def _record_in_transaction(self, batch: list[_Submission[Want, Answer]]) -> list[Answer | Exception]:
        """Record a batch with ``record_events`` in one transaction; on failure it raises, nothing written,
        except ``OutcomeUnknown``: the connection was lost during the COMMIT."""
        assert self._async_engine is not None
        async with AsyncSession(self._async_engine, expire_on_commit=False) as session:
            answers: list[Answer | Exception] = list(await session.run_sync(self._record_in, batch))
            try:
                await session.commit()
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise service.OutcomeUnknown(service.LOST_WRITE) from exc
                raise
        return answers

    async def _record_direct(self, batch: list[_Submission[Want, Answer]],
                             direct: _DirectConnection) -> list[Answer | Exception] | None:
        """Record a batch with ``service.record_events_direct`` and build the answers; None: it needs a transaction.

        It raises only while nothing is written. Once written, the events are committed, so a
        failure of the answers is every request's error, never a reason to record them again.
        """
        connection = await direct.get()
        try:
            recorded = await service.record_events_direct(connection=connection, policy=self._policy,
                                                          items=[(s.event_in, s.context) for s in batch])
        except Exception:
            if connection.broken or connection.closed:  # lost (a restart, a cut): the next batch gets another
                await direct.drop()
            raise
        if recorded is None:
            return None
        done = [(r, s.want) for r, s in zip(recorded, batch, strict=True) if isinstance(r, service.Recorded)]
        try:
            answers = list(self._answer(None, done))  # each Recorded carries its state: nothing to read
            if len(answers) != len(done):
                raise RuntimeError(f"{len(answers)} answers for {len(done)} recorded events")
        except Exception as exc:
            log.exception("consent events recorded, but their answers failed")
            return [exc] * len(batch)
        given = iter(answers)
        return [next(given) if isinstance(r, service.Recorded) else r for r in recorded]

    async def aclose(self) -> None:
        """Stop the event-loop writers once what is queued is recorded, then the threads."""
        self._closed = True
        if self._loop_waiting is not None:
            for _task in self._tasks:  # one stop sign per writer, behind what is queued
                self._loop_waiting.put_nowait(None)
        # a batch in the middle of its commit finishes and answers its requests before the writer stops
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for direct in self._directs:
            await direct.close()
        if self._async_engine is not None:
            await self._async_engine.dispose()
        await asyncio.to_thread(self.close)

    # --- on threads -------------------------------------------------------------------------------

    def submit(self, event_in: ConsentEventCreate, context: RequestContext, want: Want) -> Future[Answer]:
        """Queue one event for a writer thread; the future holds its answer once committed, or the error."""
        submission: _Submission[Want, Answer] = _Submission(event_in, context, want)
        with self._lock:
            if self._closed:
                raise RuntimeError("the consent ledger writer is closed")
            if not self._threads:
                self._threads = [threading.Thread(target=self._run, name=f"consent-group-commit-{n}", daemon=True)
                                 for n in range(self._writers)]
                for thread in self._threads:
                    thread.start()
            self._waiting.put(submission)
        return submission.future

    def close(self, timeout: float = 30.0) -> None:
        """Record what is queued for the threads, then stop them."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
            for _thread in threads:
                self._waiting.put(None)
        for thread in threads:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._waiting.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Submission[Want, Answer]]) -> None:
        try:
            with self._unit_of_work() as session:
                answers = self._record_in(session, batch)
                session.commit()
        except Exception as exc:  # handed to the waiting request, which reports it
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            log.debug("a batch of %d consent events failed (%s); recording them one by one", len(batch), exc)
            for submission in batch:
                self._commit([submission])
            return
        self._counted(len(batch))
        for submission, answer in zip(batch, answers, strict=True):
            submission.future.set_result(answer)

    # --- either way -------------------------------------------------------------------------------

    def _record_in(self, session: Session, batch: list[_Submission[Want, Answer]]) -> Sequence[Answer]:
        """Record a batch in the session's transaction and build the answers; the caller commits."""
        if len(batch) == 1:  # alone: the error names the field without a batch index
            recorded = [service.record_event(session=session, policy=self._policy, event_in=batch[0].event_in,
                                             context=batch[0].context)]
        else:
            recorded = service.record_events(session=session, policy=self._policy,
                                             items=[(s.event_in, s.context) for s in batch])
        return self._answer(session, list(zip(recorded, (s.want for s in batch), strict=True)))

    def _counted(self, events: int) -> None:
        with self._lock:
            self.transactions += 1
            self.events += events
