"""The durable job queue: a job exists when its transaction commits, runs once, reports progress,
is retried when it fails and taken again when its worker dies (issue #4, item 9)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from pledge.bootstrap import Container
from pledge.jobs.models import JobRow
from pledge.jobs.queue import JobState, RedisJobQueue, SqlJobQueue, jobs_for
from pledge.jobs.worker import JobContext, Retry, Worker, task
from pledge.rights.mail import OutboxMailer
from pledge.settings import JobSettings
from pledge.store import unit_of_work, utcnow
from tests.conftest import MINIMAL_POLICY

PLEDGE = Path(sys.executable).parent / "pledge"
FAST = JobSettings(poll_seconds=0.05, lease_seconds=30, max_attempts=3)

calls: list[int] = []


@task("test.flaky")
def flaky(context: JobContext) -> dict[str, Any]:
    calls.append(context.job.id)
    if context.job.attempts < int(context.job.payload["succeed_on"]):
        raise RuntimeError(f"attempt {context.job.attempts} fails")
    return {"attempts": context.job.attempts}


@task("test.steps")
def steps(context: JobContext) -> dict[str, Any]:
    seen = []
    for step in range(1, 4):
        context.progress(step / 4, f"step {step} of 4")
        with unit_of_work(context.container.session_factory) as session:
            row = session.get(JobRow, context.job.id)
            assert row is not None
            seen.append((row.progress, row.progress_message))
    return {"seen": seen}


@task("test.retry")
def retry_later(context: JobContext) -> None:
    raise Retry("not yet", after=0.0)


def _worker(container: Container, queue: SqlJobQueue, name: str = "w1") -> Worker:
    mailer = OutboxMailer(container.settings.data_dir / "outbox", "privacy@example.com")
    return Worker(container=container, queue=queue, mailer=mailer, worker_id=name, retry_delay=lambda _attempt: 0.0)


def _enqueue(factory: sessionmaker[Session], queue: SqlJobQueue, kind: str, commit: bool = True,
             **payload: Any) -> int:
    with unit_of_work(factory) as session:
        job = queue.enqueue(session=session, kind=kind, payload=payload, ref="test:1")
        if commit:
            session.commit()
        return job.id


def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    _enqueue(container.session_factory, queue, "jobs.ping", commit=False)
    assert queue.claim("w1") is None


def test_a_committed_job_runs_once_and_keeps_its_result(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "jobs.ping", echo="hello")

    worker = _worker(container, queue)
    assert worker.run(burst=True) == 1
    assert worker.run(burst=True) == 0

    row = queue.get(job_id)
    assert row is not None
    assert (row.state, row.attempts, row.progress) == ("done", 1, 1.0)
    assert row.result == {"worker": "w1", "echo": "hello"}
    assert row.finished_at is not None and row.locked_by is None


def test_progress_is_visible_to_readers_while_the_job_runs(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "test.steps")
    _worker(container, queue).run(burst=True)
    row = queue.get(job_id)
    assert row is not None and row.result is not None
    assert row.result["seen"] == [[0.25, "step 1 of 4"], [0.5, "step 2 of 4"], [0.75, "step 3 of 4"]]
    with unit_of_work(container.session_factory) as session:
        assert [job.id for job in jobs_for(session=session, ref="test:1")] == [job_id]


def test_a_failing_job_is_retried_until_it_succeeds(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "test.flaky", succeed_on=3)
    assert _worker(container, queue).run(burst=True) == 3
    row = queue.get(job_id)
    assert row is not None and (row.state, row.attempts, row.result) == ("done", 3, {"attempts": 3})


def test_a_job_failing_every_attempt_is_marked_failed_with_its_error(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "test.flaky", succeed_on=99)
    _worker(container, queue).run(burst=True)
    row = queue.get(job_id)
    assert row is not None and (row.state, row.attempts) == ("failed", 3)
    assert row.error == "RuntimeError: attempt 3 fails"


def test_retry_asks_for_another_run_and_counts_as_an_attempt(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "test.retry")
    _worker(container, queue).run(burst=True)
    row = queue.get(job_id)
    assert row is not None and (row.state, row.attempts, row.error) == ("failed", 3, "not yet")


def test_an_unknown_kind_fails_at_once(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "no.such.task")
    _worker(container, queue).run(burst=True)
    row = queue.get(job_id)
    assert row is not None and row.state == "failed" and "no task registered" in (row.error or "")


def test_a_job_whose_worker_died_is_taken_again_when_its_lease_runs_out(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "jobs.ping")
    dead = queue.claim("dead-worker")
    assert dead is not None and queue.claim("w2") is None  # leased: nobody else takes it

    with unit_of_work(container.session_factory) as session:
        session.execute(update(JobRow).where(JobRow.id == job_id)
                        .values(locked_until=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
    again = queue.claim("w2")
    assert again is not None and again.id == job_id and again.attempts == 2


def test_a_delayed_job_waits_for_its_time(container: Container) -> None:
    queue = SqlJobQueue(container.session_factory, FAST)
    with unit_of_work(container.session_factory) as session:
        queue.enqueue(session=session, kind="jobs.ping", run_after=utcnow() + dt.timedelta(hours=1))
        session.commit()
    assert queue.claim("w1") is None


def test_concurrent_workers_never_claim_the_same_job(container: Container) -> None:
    """SKIP LOCKED on PostgreSQL, one write transaction per claim on SQLite."""
    queue = SqlJobQueue(container.session_factory, FAST)
    with unit_of_work(container.session_factory) as session:
        for n in range(40):
            queue.enqueue(session=session, kind="jobs.ping", payload={"echo": n})
        session.commit()
    claimed: dict[str, list[int]] = {}

    def drain(name: str) -> None:
        mine = claimed.setdefault(name, [])
        while (job := queue.claim(name)) is not None:
            mine.append(job.id)
            queue.complete(job.id, {})

    threads = [threading.Thread(target=drain, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [job for jobs in claimed.values() for job in jobs]
    assert len(every) == 40 and len(set(every)) == 40
    with unit_of_work(container.session_factory) as session:
        assert set(session.scalars(select(JobRow.state))) == {"done"}
        assert set(session.scalars(select(JobRow.attempts))) == {1}


# --- Redis ------------------------------------------------------------------------------------------


def test_redis_queue_hears_of_a_job_only_when_its_transaction_commits(container: Container, redis_url: str) -> None:
    queue = RedisJobQueue(container.session_factory, JobSettings(redis_url=redis_url, poll_seconds=0.05))
    try:
        _enqueue(container.session_factory, queue, "jobs.ping", commit=False)
        assert queue.redis.llen(queue.ready_key) == 0
        job_id = _enqueue(container.session_factory, queue, "jobs.ping")
        assert queue.redis.lrange(queue.ready_key, 0, -1) == [str(job_id).encode()]
        _worker(container, queue).run(burst=True)
        row = queue.get(job_id)
        assert row is not None and row.state == JobState.DONE
    finally:
        queue.close()


def test_redis_queue_still_runs_a_job_whose_push_was_lost(container: Container, redis_url: str) -> None:
    """The table is the truth: a crash between commit and push leaves a row a worker's sweep finds."""
    queue = RedisJobQueue(container.session_factory, JobSettings(redis_url=redis_url, poll_seconds=0.05))
    try:
        job_id = _enqueue(container.session_factory, queue, "jobs.ping")
        queue.redis.delete(queue.ready_key)
        assert _worker(container, queue).run(burst=True) == 1
        row = queue.get(job_id)
        assert row is not None and row.state == "done"
    finally:
        queue.close()


def test_redis_queue_runs_a_retried_job_again_after_its_delay(container: Container, redis_url: str) -> None:
    queue = RedisJobQueue(container.session_factory, JobSettings(redis_url=redis_url, poll_seconds=0.05))
    try:
        job_id = _enqueue(container.session_factory, queue, "test.flaky", succeed_on=2)
        worker = _worker(container, queue)
        ran = 0
        for _ in range(50):
            ran += worker.run(burst=True)
            row = queue.get(job_id)
            if row is not None and row.state == "done":
                break
        assert ran == 2
        row = queue.get(job_id)
        assert row is not None and (row.state, row.attempts) == ("done", 2)
    finally:
        queue.close()


def test_several_worker_processes_share_the_redis_queue(container: Container, redis_url: str,
                                                        database_url: str, tmp_path: Path) -> None:
    """Three `pledge worker` processes on one Redis: every job runs exactly once.

    (Which process takes how many depends on which starts first: not asserted.)"""
    queue = RedisJobQueue(container.session_factory, JobSettings(redis_url=redis_url))
    try:
        with unit_of_work(container.session_factory) as session:
            ids = [queue.enqueue(session=session, kind="jobs.ping", payload={"sleep": 0.25, "echo": n}).id
                   for n in range(16)]
            session.commit()
    finally:
        queue.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
    env.update(PLEDGE_DATABASE_URL=database_url, PLEDGE_POLICY_DIR=str(MINIMAL_POLICY),
               PLEDGE_DATA_DIR=str(tmp_path / "var"), PLEDGE_JOBS_BACKEND="redis", PLEDGE_JOBS_REDIS_URL=redis_url,
               PLEDGE_JOBS_POLL_SECONDS="0.2")
    workers = [subprocess.Popen([str(PLEDGE), "worker", "--burst", "--id", f"proc{n}"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(3)]
    for process in workers:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    with unit_of_work(container.session_factory) as session:
        rows = list(session.scalars(select(JobRow).where(JobRow.id.in_(ids))))
    assert {row.state for row in rows} == {"done"}
    assert {row.attempts for row in rows} == {1}
    assert sorted(row.result["echo"] for row in rows if row.result) == list(range(16))


@pytest.mark.parametrize("backend", ["sql", "redis"])
def test_worker_command_runs_queued_jobs(backend: str, container: Container, request: pytest.FixtureRequest,
                                        monkeypatch: pytest.MonkeyPatch, pledge_env: object, cli: Any) -> None:
    queue: SqlJobQueue
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        monkeypatch.setenv("PLEDGE_JOBS_BACKEND", "redis")
        monkeypatch.setenv("PLEDGE_JOBS_REDIS_URL", url)
        queue = RedisJobQueue(container.session_factory, JobSettings(redis_url=url))
    else:
        queue = SqlJobQueue(container.session_factory, FAST)
    job_id = _enqueue(container.session_factory, queue, "jobs.ping", echo=backend)
    queue.close()
    result = cli("worker", "--burst", "--id", "cli-worker")
    assert result.exit_code == 0, result.output
    assert "cli-worker: 1 job(s) run" in result.stdout
    row = queue.get(job_id)
    assert row is not None and row.result == {"worker": "cli-worker", "echo": backend}


def test_a_background_worker_thread_runs_jobs_until_stopped(container: Container) -> None:
    """The embedded set-up: the server process runs its own jobs on a thread."""
    import time

    from pledge.jobs.worker import BackgroundWorker

    queue = SqlJobQueue(container.session_factory, FAST)
    background = BackgroundWorker(_worker(container, queue, "thread"))
    background.start()
    try:
        job_id = _enqueue(container.session_factory, queue, "jobs.ping", echo="bg")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = queue.get(job_id)
            if row is not None and row.state == "done":
                break
            time.sleep(0.02)
        assert row is not None and row.result == {"worker": "thread", "echo": "bg"}
    finally:
        background.stop()
