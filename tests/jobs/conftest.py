"""Fixtures for job tests: a real Redis server from Debian's ``redis-server``, started per test session."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import _free_port


@dataclass
class RedisServer:
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private Redis on a free loopback port, with its data in a temp folder; stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: run `make system-deps`", pytrace=False)
    folder = Path(tempfile.mkdtemp(prefix="pledge-redis-"))
    process: subprocess.Popen[bytes] | None = None
    for _attempt in range(5):
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
             "--appendonly", "yes", "--protected-mode", "yes", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = RedisServer(port=port, folder=folder)
        for _ in range(100):
            if process.poll() is not None:
                break
            try:
                if server.client().ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        if process.poll() is None:
            break
    assert process is not None
    if process.poll() is not None:
        pytest.fail("redis-server did not start", pytrace=False)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The server's URL, emptied before each test."""
    client = redis_server.client()
    client.flushall()
    client.close()
    yield redis_server.url
