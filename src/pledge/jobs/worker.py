"""Workers: claim a job, run the task registered for its kind, record the outcome.

A task is a function registered with ``@task("rights.execute")`` in a domain's ``jobs.py``; the
modules in ``TASK_MODULES`` are imported by every worker, so ``pledge worker`` runs any task an
API process or the CLI enqueued. A task reports progress through its ``JobContext``; raising
``Retry`` (or any error, while attempts are left) queues the job again later, and the last failing
attempt marks it failed with the error.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pledge.bootstrap import Container
from pledge.jobs.queue import Job, JobQueue, JobState
from pledge.rights.mail import Mailer

log = logging.getLogger(__name__)

#: Modules whose ``@task`` functions every worker knows.
TASK_MODULES: tuple[str, ...] = ("pledge.jobs.tasks", "pledge.rights.jobs")

TaskFunction = Callable[["JobContext"], dict[str, Any] | None]
_TASKS: dict[str, TaskFunction] = {}


class Retry(Exception):
    """Raise from a task to run the job again after ``after`` seconds (it still counts as an attempt)."""

    def __init__(self, message: str, *, after: float = 5.0) -> None:
        self.after = after
        super().__init__(message)


def task(name: str) -> Callable[[TaskFunction], TaskFunction]:
    """Register a function as the task for jobs of kind ``name``."""
    def register(function: TaskFunction) -> TaskFunction:
        _TASKS[name] = function
        return function
    return register


def load_tasks() -> dict[str, TaskFunction]:
    """Import every task module; returns the registry."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    return dict(_TASKS)


@dataclass
class JobContext:
    """What a task gets: its job, the wired parts, and a way to report progress."""

    job: Job
    queue: JobQueue
    container: Container
    mailer: Mailer
    worker_id: str

    def progress(self, fraction: float, message: str | None = None) -> None:
        self.queue.progress(self.job.id, fraction, message)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff(attempt: int) -> float:
    """Seconds before a failed attempt is tried again: 2, 4, 8 ... at most 5 minutes."""
    return float(min(2 ** attempt, 300))


class Worker:
    """Runs jobs from a queue until told to stop (or, in burst mode, until the queue is empty)."""

    def __init__(self, *, container: Container, queue: JobQueue, mailer: Mailer, worker_id: str | None = None,
                 retry_delay: Callable[[int], float] = backoff) -> None:
        self.container = container
        self.queue = queue
        self.mailer = mailer
        self.worker_id = worker_id or default_worker_id()
        self.retry_delay = retry_delay
        self.tasks = load_tasks()

    def run_job(self, job: Job) -> JobState:
        """Run one claimed job to its outcome: done, queued again, or failed."""
        function = self.tasks.get(job.kind)
        if function is None:
            self.queue.fail(job.id, f"no task registered for jobs of kind {job.kind!r}")
            return JobState.FAILED
        if job.attempts > job.max_attempts:
            self.queue.fail(job.id, f"gave up after {job.max_attempts} attempts (its workers stopped reporting)")
            return JobState.FAILED
        context = JobContext(job=job, queue=self.queue, container=self.container, mailer=self.mailer,
                             worker_id=self.worker_id)
        try:
            result = function(context)
        except Retry as exc:
            if job.attempts >= job.max_attempts:
                self.queue.fail(job.id, str(exc))
                return JobState.FAILED
            self.queue.fail(job.id, str(exc), retry_in=exc.after)
            return JobState.QUEUED
        except Exception as exc:
            log.warning("job %s (%s) failed on attempt %s: %s", job.id, job.kind, job.attempts, exc)
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            if job.attempts >= job.max_attempts:
                self.queue.fail(job.id, detail)
                return JobState.FAILED
            self.queue.fail(job.id, detail, retry_in=self.retry_delay(job.attempts))
            return JobState.QUEUED
        self.queue.complete(job.id, result)
        return JobState.DONE

    def run_once(self, *, timeout: float = 0.0, job_id: int | None = None) -> Job | None:
        """Claim and run one job (job ``job_id``, if given); None when there was none to claim."""
        job = self.queue.claim(self.worker_id, timeout=timeout, job_id=job_id)
        if job is not None:
            self.run_job(job)
        return job

    def run(self, *, burst: bool = False, max_jobs: int | None = None, stop: threading.Event | None = None,
            wait: float | None = None) -> int:
        """Run jobs until ``stop`` is set, ``max_jobs`` ran, or (``burst``) nothing is due; returns how many ran."""
        stop = stop or threading.Event()
        ran = 0
        wait = self.queue_poll() if wait is None else wait
        while not stop.is_set() and (max_jobs is None or ran < max_jobs):
            job = self.run_once(timeout=0.0 if burst else wait)
            if job is None:
                if burst:
                    break
                continue
            ran += 1
        return ran

    def queue_poll(self) -> float:
        settings = getattr(self.queue, "settings", None)
        return float(getattr(settings, "poll_seconds", 1.0))


class BackgroundWorker:
    """A worker on a daemon thread, for the embedded set-up: one ``pledge serve`` process runs its own jobs.

    ``start()`` it when the app starts and ``stop()`` it when the app stops; with several API processes
    or the Redis queue, run ``pledge worker`` processes instead.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.worker.run, kwargs={"stop": self._stop}, daemon=True,
                                        name=f"pledge-worker-{self.worker.worker_id}")
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
