"""Tasks of the job system itself."""

from __future__ import annotations

import time
from typing import Any

from pledge.jobs.worker import JobContext, task


@task("jobs.ping")
def ping(context: JobContext) -> dict[str, Any]:
    """Answer with the worker's id (after ``sleep`` seconds, at most 10): proves a worker is taking jobs."""
    pause = min(float(context.job.payload.get("sleep", 0.0)), 10.0)
    if pause:
        context.progress(0.5, "sleeping")
        time.sleep(pause)
    return {"worker": context.worker_id, "echo": context.job.payload.get("echo")}
