"""The durable job queue: enqueue in the caller's transaction, claim with a lease, report progress.

``SqlJobQueue`` keeps everything in the ``job`` table. A worker claims the oldest due job with one
statement, ``UPDATE job ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING ...``: on
PostgreSQL, concurrent workers skip each other's rows instead of waiting; on SQLite the statement
runs in one write transaction, so two workers never claim the same job. A claim is a lease: a worker
that dies leaves a job whose lease runs out, and the next claim takes it again.

``RedisJobQueue`` keeps the same table as the truth and adds Redis as the doorbell: a job id is
pushed to a Redis list when the transaction that enqueued it commits, and idle workers wait on
that list (``BRPOP``) instead of polling the database. Every so often a worker also looks in the
table, so a job whose push was lost (a crash between commit and push) still runs.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import and_, event, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from pledge.jobs.models import JobRow
from pledge.settings import JobSettings, Settings
from pledge.store import unit_of_work, utcnow


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """A claimed job, as its worker sees it."""

    id: int
    kind: str
    payload: dict[str, Any]
    ref: str | None
    attempts: int
    max_attempts: int


class JobQueue(Protocol):
    """What services and workers need from a queue, whichever backend holds it."""

    def enqueue(self, *, session: Session, kind: str, payload: dict[str, Any] | None = None, ref: str | None = None,
                run_after: dt.datetime | None = None, max_attempts: int | None = None) -> JobRow: ...

    def claim(self, worker_id: str, *, timeout: float = 0.0, job_id: int | None = None) -> Job | None: ...

    def progress(self, job_id: int, fraction: float, message: str | None = None) -> None: ...

    def complete(self, job_id: int, result: dict[str, Any] | None = None) -> None: ...

    def fail(self, job_id: int, error: str, *, retry_in: float | None = None) -> None: ...

    def get(self, job_id: int) -> JobRow | None: ...

    def close(self) -> None: ...


class SqlJobQueue:
    """The job table as a queue; works on SQLite and PostgreSQL alike."""

    def __init__(self, session_factory: sessionmaker[Session], settings: JobSettings | None = None) -> None:
        self.session_factory = session_factory
        self.settings = settings or JobSettings()

    # --- producing ------------------------------------------------------------------------------------

    def enqueue(self, *, session: Session, kind: str, payload: dict[str, Any] | None = None, ref: str | None = None,
                run_after: dt.datetime | None = None, max_attempts: int | None = None) -> JobRow:
        """Add a job in the caller's transaction: it exists exactly when the caller commits."""
        now = utcnow()
        row = JobRow(kind=kind, payload=dict(payload or {}), ref=ref, state=JobState.QUEUED.value, attempts=0,
                     max_attempts=max_attempts or self.settings.max_attempts, run_after=run_after or now,
                     progress=0.0, created_at=now)
        session.add(row)
        session.flush()
        return row

    # --- consuming ------------------------------------------------------------------------------------

    def claim(self, worker_id: str, *, timeout: float = 0.0, job_id: int | None = None) -> Job | None:
        """The next due job (or job ``job_id``), leased to ``worker_id``; waits up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self._claim_once(worker_id, job_id)
            if job is not None or time.monotonic() >= deadline:
                return job
            time.sleep(min(self.settings.poll_seconds, max(deadline - time.monotonic(), 0.0)))

    def _claim_once(self, worker_id: str, job_id: int | None = None) -> Job | None:
        now = utcnow()
        claimable = or_(and_(JobRow.state == JobState.QUEUED.value, JobRow.run_after <= now),
                        and_(JobRow.state == JobState.RUNNING.value, JobRow.locked_until < now))
        pick = select(JobRow.id).where(claimable)
        if job_id is not None:
            pick = pick.where(JobRow.id == job_id)
        pick = pick.order_by(JobRow.run_after, JobRow.id).limit(1).with_for_update(skip_locked=True)
        statement = (update(JobRow).where(JobRow.id == pick.scalar_subquery(), claimable)
                     .values(state=JobState.RUNNING.value, attempts=JobRow.attempts + 1, locked_by=worker_id,
                             locked_until=now + dt.timedelta(seconds=self.settings.lease_seconds),
                             started_at=now, error=None)
                     .returning(JobRow.id, JobRow.kind, JobRow.payload, JobRow.ref, JobRow.attempts,
                                JobRow.max_attempts)
                     .execution_options(synchronize_session=False))
        with unit_of_work(self.session_factory) as session:
            found = session.execute(statement).first()
            session.commit()
        if found is None:
            return None
        return Job(id=found.id, kind=found.kind, payload=dict(found.payload or {}), ref=found.ref,
                   attempts=found.attempts, max_attempts=found.max_attempts)

    def _set(self, job_id: int, **values: Any) -> None:
        with unit_of_work(self.session_factory) as session:
            session.execute(update(JobRow).where(JobRow.id == job_id).values(**values)
                            .execution_options(synchronize_session=False))
            session.commit()

    def progress(self, job_id: int, fraction: float, message: str | None = None) -> None:
        """Record how far the job is (0 to 1), visible at once to anyone reading it; renews the lease."""
        self._set(job_id, progress=min(max(fraction, 0.0), 1.0), progress_message=message,
                  locked_until=utcnow() + dt.timedelta(seconds=self.settings.lease_seconds))

    def complete(self, job_id: int, result: dict[str, Any] | None = None) -> None:
        self._set(job_id, state=JobState.DONE.value, progress=1.0, result=result or {}, finished_at=utcnow(),
                  locked_by=None, locked_until=None)

    def fail(self, job_id: int, error: str, *, retry_in: float | None = None) -> None:
        """Mark the job failed, or queue it again after ``retry_in`` seconds."""
        now = utcnow()
        if retry_in is None:
            self._set(job_id, state=JobState.FAILED.value, error=error, finished_at=now, locked_by=None,
                      locked_until=None)
        else:
            self._set(job_id, state=JobState.QUEUED.value, error=error, locked_by=None, locked_until=None,
                      run_after=now + dt.timedelta(seconds=retry_in))
            self._requeued(job_id, now + dt.timedelta(seconds=retry_in))

    def _requeued(self, job_id: int, run_after: dt.datetime) -> None:
        """Hook for backends that must be told of a job due again later."""

    # --- reading --------------------------------------------------------------------------------------

    def get(self, job_id: int) -> JobRow | None:
        with unit_of_work(self.session_factory) as session:
            return session.get(JobRow, job_id)

    def close(self) -> None:
        """Release what the queue holds (nothing for the SQL queue)."""


def jobs_for(*, session: Session, ref: str) -> list[JobRow]:
    """Every job about ``ref`` (e.g. ``rights_request:R-...``), oldest first: the progress of one request."""
    return list(session.scalars(select(JobRow).where(JobRow.ref == ref).order_by(JobRow.id)))


class RedisJobQueue(SqlJobQueue):
    """The job table with Redis lists as the doorbell, for several ``pledge worker`` processes."""

    #: How often a worker looks in the table for jobs Redis was never told about.
    SWEEP_SECONDS = 5.0

    def __init__(self, session_factory: sessionmaker[Session], settings: JobSettings | None = None,
                 client: Any | None = None) -> None:
        super().__init__(session_factory, settings)
        if client is None:
            import redis

            client = redis.Redis.from_url(self.settings.redis_url)
        self.redis = client
        self.ready_key = f"{self.settings.redis_prefix}:ready"
        self.delayed_key = f"{self.settings.redis_prefix}:delayed"
        self._last_sweep = 0.0

    def enqueue(self, *, session: Session, kind: str, payload: dict[str, Any] | None = None, ref: str | None = None,
                run_after: dt.datetime | None = None, max_attempts: int | None = None) -> JobRow:
        """Add the job row in the caller's transaction; its id goes to Redis once that transaction commits."""
        row = super().enqueue(session=session, kind=kind, payload=payload, ref=ref, run_after=run_after,
                              max_attempts=max_attempts)
        pending: list[tuple[int, dt.datetime]] = session.info.setdefault("pledge_jobs_redis", [])
        pending.append((row.id, row.run_after))
        if not event.contains(session, "after_commit", self._after_commit):
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_rollback", self._after_rollback)
        return row

    def _after_commit(self, session: Session) -> None:
        for job_id, run_after in session.info.pop("pledge_jobs_redis", []):
            self._push(job_id, run_after)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop("pledge_jobs_redis", None)

    def _push(self, job_id: int, run_after: dt.datetime) -> None:
        if run_after > utcnow():
            self.redis.zadd(self.delayed_key, {str(job_id): run_after.timestamp()})
        else:
            self.redis.lpush(self.ready_key, str(job_id))

    def _requeued(self, job_id: int, run_after: dt.datetime) -> None:
        self._push(job_id, run_after)

    def _promote_delayed(self) -> None:
        """Move delayed job ids whose time has come onto the ready list (each moved by one worker only)."""
        for member in self.redis.zrangebyscore(self.delayed_key, "-inf", time.time()):
            job_id = member.decode() if isinstance(member, bytes) else str(member)
            if self.redis.zrem(self.delayed_key, job_id):
                self.redis.lpush(self.ready_key, job_id)

    def claim(self, worker_id: str, *, timeout: float = 0.0, job_id: int | None = None) -> Job | None:
        """Wait on Redis for a job id, then claim its row; a periodic table sweep catches lost pushes."""
        if job_id is not None:
            return self._claim_once(worker_id, job_id)
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if now - self._last_sweep >= self.SWEEP_SECONDS:
                self._last_sweep = now
                swept = self._claim_once(worker_id)
                if swept is not None:
                    return swept
            self._promote_delayed()
            wait = min(max(deadline - time.monotonic(), 0.0), self.settings.poll_seconds)
            popped = self.redis.brpop([self.ready_key], timeout=wait) if wait > 0 else \
                self.redis.rpop(self.ready_key)
            if popped is not None:
                raw = popped[1] if isinstance(popped, list | tuple) else popped
                claimed = self._claim_once(worker_id, int(raw))
                if claimed is not None:
                    return claimed
                continue  # already claimed through a sweep, or finished: look again
            if time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        self.redis.close()


def queue_from_settings(settings: Settings, session_factory: sessionmaker[Session]) -> SqlJobQueue:
    """The queue ``PLEDGE_JOBS_BACKEND`` asks for."""
    if settings.jobs.backend == "redis":
        return RedisJobQueue(session_factory, settings.jobs)
    return SqlJobQueue(session_factory, settings.jobs)
