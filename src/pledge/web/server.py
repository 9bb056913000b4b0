"""Serving the app: one uvicorn process, or several sharing one port (``pledge serve --workers N``).

Why several: a process serves on one event loop, so on one core; a consent write is mostly Python
work, and a second process doubles what a 2-core machine answers. Each worker process gets its
own listening socket bound with ``SO_REUSEPORT`` to the same port, and the kernel spreads new
connections over the sockets, as nginx's ``reuseport`` or gunicorn's ``--reuse-port`` do. With
one shared socket (``uvicorn --workers``) whichever process wakes first accepts a whole burst of
connections, and one process ends up serving most of them while the other idles. Not ``uvicorn
--fd`` either: it takes the descriptor for a UNIX socket, so TCP_NODELAY is never set and every
answer written in two parts waits 40 ms for the client's delayed acknowledgement.

The workers are forked before any of them wires pledge (no engine, pool or thread exists yet in
the parent), so each opens its own database connections. Only the first one runs the embedded
job worker, when asked. The parent waits: a signal it receives (Ctrl-C, SIGTERM) is passed to
the workers, which finish what they are answering; a worker that dies stops the others.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from types import FrameType

#: How long the parent waits for workers to finish their requests after asking them to stop.
STOP_SECONDS = 20.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` that other processes may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listening.bind((host, port))
    listening.listen(2048)
    return listening


def serve_on(listening: socket.socket, *, background_jobs: bool, log_level: str) -> None:
    """Serve the app wired from the environment on one listening socket, until a signal stops it."""
    import uvicorn

    from pledge.bootstrap import bootstrap
    from pledge.web.app import create_app

    with bootstrap() as container:
        config = uvicorn.Config(create_app(container, background_jobs=background_jobs, server=True),
                                log_level=log_level, access_log=access_log(log_level))
        uvicorn.Server(config).run(sockets=[listening])


def access_log(log_level: str) -> bool:
    """A line a request only where the level shows it: uvicorn formats each line before the level check."""
    return log_level.lower() in ("trace", "debug", "info")


def serve_workers(host: str, port: int, *, workers: int, background_jobs: bool, log_level: str,
                  serve: Callable[..., None] = serve_on) -> int:
    """Fork ``workers`` processes, each serving on its own SO_REUSEPORT socket; the exit code for the CLI."""
    sockets = [listening_socket(host, port) for _ in range(workers)]
    children: list[int] = []
    for number, listening in enumerate(sockets):
        pid = os.fork()
        if pid == 0:  # the worker: its own socket only, the parent's handlers gone
            for other in sockets:
                if other is not listening:
                    other.close()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                serve(listening, background_jobs=background_jobs and number == 0, log_level=log_level)
            except BaseException as exc:  # one line, no traceback; the parent sees the exit code
                print(f"pledge serve: worker {os.getpid()} failed: {exc}", file=sys.stderr, flush=True)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    for listening in sockets:
        listening.close()  # the workers hold them now
    return _supervise(children)


def _supervise(children: list[int]) -> int:
    stopping: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)
        for pid in children:
            _kill(pid, signal.SIGTERM)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        alive = set(children)
        while alive:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid not in alive:
                continue
            alive.discard(pid)
            if not stopping and (os.waitstatus_to_exitcode(status) != 0 or alive):
                # a worker ended on its own: the others stop too, and the command fails
                print(f"pledge serve: worker {pid} ended ({os.waitstatus_to_exitcode(status)}); stopping",
                      file=sys.stderr, flush=True)
                code = 1
                stopping.append(signal.SIGTERM)
                for other in alive:
                    _kill(other, signal.SIGTERM)
                _reap(alive)
                break
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def _reap(alive: set[int]) -> None:
    """Wait for the workers asked to stop; kill the ones still there after ``STOP_SECONDS``."""
    deadline = time.monotonic() + STOP_SECONDS
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                alive.discard(pid)
        time.sleep(0.05)
    for pid in alive:
        _kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _kill(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signum)
