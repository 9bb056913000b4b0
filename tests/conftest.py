"""Shared fixtures: real databases (SQLite and a private PostgreSQL server), a small valid policy,
the wired container and the CLI.

Database tests take ``database_url`` (or something built on it: ``engine``, ``session``,
``container``) and run twice, on SQLite and on PostgreSQL, each time on a fresh database migrated
to the newest revision. The PostgreSQL server is started once per test session from Debian's
binaries, as the ``postgres`` user, in a temporary folder, listening on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from pledge.bootstrap import Container, bootstrap
from pledge.policy import CompiledPolicy, load_compiled
from pledge.settings import Settings, get_settings
from pledge.store import make_engine, make_session_factory, unit_of_work, upgrade

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
MINIMAL_POLICY = FIXTURES / "policies" / "minimal"
PANASONIC_POLICY = REPO / "policies" / "panasonic"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


# --- hermetic settings ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _hermetic_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's PLEDGE_* variables or a settings object cached by another test."""
    for name in list(os.environ):
        if name.startswith("PLEDGE_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --- policy ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def minimal_policy() -> CompiledPolicy:
    """tests/fixtures/policies/minimal: one notice, two purposes (``newsletter`` on consent)."""
    return load_compiled(MINIMAL_POLICY)


class PolicyFolder:
    """A writable copy of a policy folder, edited the way a privacy team edits YAML."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def edit(self, relative: str, old: str, new: str) -> PolicyFolder:
        path = self.root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))
        return self

    def compile(self) -> CompiledPolicy:
        return load_compiled(self.root)


@pytest.fixture
def minimal_copy(tmp_path: Path) -> PolicyFolder:
    """A copy of the minimal policy to change; ``.compile()`` gives the changed CompiledPolicy."""
    root = tmp_path / "policy"
    shutil.copytree(MINIMAL_POLICY, root)
    return PolicyFolder(root)


# --- PostgreSQL -----------------------------------------------------------------------------------


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        pytest.fail("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: run `make system-deps`",
                    pytrace=False)
    return found[-1].parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A private PostgreSQL server for this test session; trust authentication on loopback only."""

    bin_dir: Path
    folder: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                               autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.admin() as conn:
            conn.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # PostgreSQL refuses to run as root; the tests do, so its tools run as `postgres`.
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                              check=False, cwd=self.folder)

    def start(self) -> None:
        initdb = self.run(str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
                          "-E", "UTF8", "--locale=C", "--no-sync")
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed: {initdb.stderr or initdb.stdout}", pytrace=False)
        for _attempt in range(5):
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            started = self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                               str(self.folder / "server.log"), "-w", "-t", "60", "-o", options, "start")
            if started.returncode == 0:
                return
            time.sleep(0.2)  # most likely the port was taken between probing and binding: try another
        log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"PostgreSQL did not start: {started.stderr}\n{log}", pytrace=False)

    def stop(self) -> None:
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start PostgreSQL once for the session, in a temp folder owned by ``postgres``; stop it at the end."""
    bin_dir = _postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="pledge-pg-"))
    shutil.chown(folder, user="postgres", group="postgres")
    server = PostgresServer(bin_dir=bin_dir, folder=folder, port=0)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated once per session; each test gets a fresh copy of it."""
    name = "pledge_template"
    upgrade(postgres_server.create_database(name))
    return name


# --- databases --------------------------------------------------------------------------------------


def _fresh_name() -> str:
    return f"pledge_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest migration, on SQLite and then on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pledge.db'}"
        upgrade(url)
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    name = _fresh_name()
    url = server.create_database(name, template=template)
    yield url
    server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no tables at all, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = _fresh_name()
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = make_engine(database_url)
    yield created
    created.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in its own unit of work: whatever the test does not commit is rolled back."""
    with unit_of_work(session_factory) as opened:
        yield opened


# --- wiring -----------------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a test: the fresh database, the minimal policy, a private data folder."""
    return Settings(data_dir=tmp_path / "var", database_url=database_url, policy_dir=MINIMAL_POLICY)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    with bootstrap(settings) as wired:
        yield wired


@pytest.fixture
def pledge_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """Point the environment (what the CLI and the server read) at the test's settings."""
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PLEDGE_POLICY_DIR", str(settings.policy_dir))
    if settings.database_url:
        monkeypatch.setenv("PLEDGE_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    return settings


CliInvoke = Callable[..., Result]


@pytest.fixture
def cli() -> CliInvoke:
    """Run ``pledge ARGS...`` in-process; returns the result with ``stdout``, ``stderr`` and ``exit_code``."""
    from pledge.cli.main import app

    runner = CliRunner(env={"COLUMNS": "250"})  # wide enough that Rich tables never wrap a cell

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        return runner.invoke(app, list(args), catch_exceptions=True)

    return invoke
