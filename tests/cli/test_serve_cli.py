"""`pledge serve --workers N`: several server processes on one port, each with its own SO_REUSEPORT socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pledge.store import upgrade
from tests.conftest import MINIMAL_POLICY

PLEDGE = Path(sys.executable).parent / "pledge"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    return [int(child) for child in (Path("/proc") / str(pid) / "task" / str(pid) / "children").read_text().split()]


@pytest.fixture
def serve_env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'pledge.db'}"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
    env.update(PLEDGE_DATABASE_URL=url, PLEDGE_POLICY_DIR=str(MINIMAL_POLICY), PLEDGE_DATA_DIR=str(tmp_path / "var"))
    return env


def test_two_workers_share_the_port_and_stop_together(serve_env: dict[str, str]) -> None:
    port = _free_port()
    server = subprocess.Popen([str(PLEDGE), "serve", "--workers", "2", "--no-jobs", "--port", str(port),
                               "--log-level", "warning"], env=serve_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline, answered = time.monotonic() + 60, 0
        while answered < 10 and time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()[1]
            try:
                answered += httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answered == 10
        workers = _children(server.pid)
        assert len(workers) == 2
        # each worker accepts on its own socket: both hold a listening socket on the port
        for worker in workers:
            inodes = {os.readlink(fd) for fd in (Path("/proc") / str(worker) / "fd").iterdir()
                      if os.readlink(fd).startswith("socket:")}
            assert inodes, f"worker {worker} holds no socket"
        assert httpx.get(f"http://127.0.0.1:{port}/privacy", timeout=5).status_code == 200

        server.send_signal(signal.SIGTERM)
        out, _err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0
    assert "with 2 worker processes" in out
    assert not any((Path("/proc") / str(worker)).exists() and "zombie" not in
                   (Path("/proc") / str(worker) / "status").read_text() for worker in workers)


def test_a_port_taken_by_another_program_is_a_one_line_error(serve_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([str(PLEDGE), "serve", "--workers", "2", "--port", str(port)], env=serve_env,
                                capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


#: Where the stand-in workers below note their process ids (set by the test before it forks them).
_PIDS: list[Path] = []


def _serve_until_stopped_or_fail(listening: socket.socket, *, background_jobs: bool, log_level: str) -> None:
    """A stand-in worker: the first (the one given the jobs) serves until stopped, the second fails at once."""
    (_PIDS[0] / str(os.getpid())).touch()
    if not background_jobs:
        raise RuntimeError("the database is unreachable")
    signal.pause()  # SIGTERM's default action ends the process


def test_a_worker_that_fails_stops_the_others_and_the_command_fails(tmp_path: Path,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    from pledge.web.server import serve_workers

    _PIDS[:] = [tmp_path]
    code = serve_workers("127.0.0.1", _free_port(), workers=2, background_jobs=True, log_level="warning",
                         serve=_serve_until_stopped_or_fail)

    assert code == 1
    err = capfd.readouterr().err
    assert "failed: the database is unreachable" in err and "stopping" in err
    workers = [int(path.name) for path in tmp_path.iterdir()]
    assert len(workers) == 2
    for worker in workers:  # both ended and reaped: the one still serving was stopped
        with pytest.raises(ChildProcessError):
            os.waitpid(worker, os.WNOHANG)
