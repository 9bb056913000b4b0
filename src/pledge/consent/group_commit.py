"""Group commit for the consent ledger: many concurrent requests, one transaction and one disk flush.

Why: a consent event is a small write, and on a durable database most of its cost is fixed per
transaction (a round trip per statement, a flush of the write-ahead log at commit) and, in a
threaded web server, a thread hop and a fight for the GIL per statement. When requests arrive
together, the writer thread takes every event waiting (up to ``max_batch``), records them with
``service.record_events`` in one transaction (set-based: a statement per step, whatever the
number of events), builds each request's answer inside that transaction, commits once and then
answers every request. Under light load a batch is one event, so nothing waits for company.

Each request keeps the answer it would have had alone: when one event of a batch is bad (an
unknown purpose, an idempotency key reused for another request) or the database refuses the
batch, the batch is rolled back and every event is recorded again in a transaction of its own,
so the good ones are written and the bad one gets its own error. Nothing is answered before its
transaction committed, so an answered event is never lost.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from pledge.consent import service
from pledge.consent.schemas import ConsentEventCreate, RequestContext
from pledge.policy import CompiledPolicy

log = logging.getLogger(__name__)

#: What a caller asks for besides the event (e.g. a short answer) and what it gets back.
Want = TypeVar("Want")
Answer = TypeVar("Answer")

#: The most events one transaction takes: a bound on the latency one batch adds to the next.
MAX_BATCH = 64
#: Writer threads: while one waits for its commit's flush, another records the next batch.
WRITERS = 3


@dataclass
class _Submission(Generic[Want, Answer]):
    event_in: ConsentEventCreate
    context: RequestContext
    want: Want
    future: Future[Answer] = field(default_factory=Future)


class GroupCommitter(Generic[Want, Answer]):
    """Writer threads that record the events submitted to them, several per transaction.

    ``answer(session, recorded)`` turns the recorded events (with what each caller wanted) into the
    callers' answers; it runs inside the transaction, before the commit, so an answer shows the
    state the commit made. The threads start at the first submission and stop at ``close()``.
    """

    def __init__(self, *, unit_of_work: Callable[[], AbstractContextManager[Session]], policy: CompiledPolicy,
                 answer: Callable[[Session, Sequence[tuple[service.Recorded, Want]]], Sequence[Answer]],
                 max_batch: int = MAX_BATCH, writers: int = WRITERS) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._answer = answer
        self._max_batch = max_batch
        self._writers = writers
        self._waiting: queue.SimpleQueue[_Submission[Want, Answer] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        #: Transactions committed and events recorded, for the benchmark and the console.
        self.transactions = 0
        self.events = 0

    def submit(self, event_in: ConsentEventCreate, context: RequestContext, want: Want) -> Future[Answer]:
        """Queue one event; the future holds its answer once committed, or the error that refused it."""
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
        """Record what is queued, then stop the threads."""
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
            answers = self._record(batch)
        except Exception as exc:  # handed to the waiting request, which reports it
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            log.debug("a batch of %d consent events failed (%s); recording them one by one", len(batch), exc)
            for submission in batch:
                self._commit([submission])
            return
        for submission, answer in zip(batch, answers, strict=True):
            submission.future.set_result(answer)

    def _record(self, batch: list[_Submission[Want, Answer]]) -> Sequence[Answer]:
        with self._unit_of_work() as session:
            if len(batch) == 1:  # alone: the error names the field without a batch index
                recorded = [service.record_event(session=session, policy=self._policy, event_in=batch[0].event_in,
                                                 context=batch[0].context)]
            else:
                recorded = service.record_events(session=session, policy=self._policy,
                                                 items=[(s.event_in, s.context) for s in batch])
            answers = self._answer(session, list(zip(recorded, (s.want for s in batch), strict=True)))
            session.commit()
        self.transactions += 1
        self.events += len(batch)
        return answers
