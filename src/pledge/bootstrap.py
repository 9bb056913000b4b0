"""One place that wires pledge together, for the CLI, the web app, workers and tests alike.

``bootstrap(settings)`` builds the real parts from settings; a test passes its own settings (a
temporary database, a fixture policy) or ready-made parts, and gets the same wiring.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pledge.policy import CompiledPolicy, load_compiled
from pledge.settings import Settings, get_settings
from pledge.store import make_engine, make_session_factory, unit_of_work


@dataclass(frozen=True)
class Container:
    """The wired parts of one running pledge: settings, database and the compiled policy."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    policy: CompiledPolicy

    def unit_of_work(self) -> AbstractContextManager[Session]:
        """A session for one use case; the caller commits, anything else is rolled back."""
        return unit_of_work(self.session_factory)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def bootstrap(settings: Settings | None = None, *, policy: CompiledPolicy | None = None,
              engine: Engine | None = None) -> Container:
    """Build the container from settings; ``policy`` and ``engine`` replace the parts settings would build.

    Raises ``pledge.policy.PolicyError`` when the policy folder has errors: pledge never runs on a
    policy that fails ``pledge policy check``.
    """
    settings = settings or get_settings()
    compiled = policy if policy is not None else load_compiled(settings.policy_dir)
    engine = engine if engine is not None else make_engine(settings.effective_database_url)
    return Container(settings=settings, engine=engine, session_factory=make_session_factory(engine),
                     policy=compiled)
