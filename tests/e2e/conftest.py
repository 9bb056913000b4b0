"""A real pledge server (``pledge serve`` in a subprocess, on a free loopback port) and Debian's chromium.

The server runs the real Panasonic policy on a fresh SQLite database, migrated first, exactly as
``make demo`` does. The browser is /usr/bin/chromium driven by Playwright; Playwright's own browser
download is never used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from pledge.store import upgrade

REPO = Path(__file__).resolve().parents[2]
PANASONIC_POLICY = REPO / "policies" / "panasonic"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    log: Path

    def url(self, path: str) -> str:
        return self.base_url + path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`pledge serve` on the Panasonic policy; stopped (and waited for) at the end of the session."""
    data_dir = tmp_path_factory.mktemp("e2e-var")
    upgrade(f"sqlite:///{data_dir / 'pledge.db'}")
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLEDGE_")}
    env.update(PLEDGE_DATA_DIR=str(data_dir), PLEDGE_POLICY_DIR=str(PANASONIC_POLICY))
    log_path = data_dir / "server.log"
    for _attempt in range(3):
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "pledge.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None and not _healthy(base + "/healthz"):
            time.sleep(0.2)
        if process.poll() is None and _healthy(base + "/healthz"):
            break
        process.kill()
        process.wait()
    else:
        pytest.fail(f"pledge serve did not start:\n{log_path.read_text(errors='replace')[-3000:]}", pytrace=False)
    try:
        yield LiveServer(base_url=base, log=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian's chromium package)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()
