"""Reach the company's databases by URL, through SQLAlchemy: any SQL database it speaks to.

A *systems URL* says where every dataset of the data map lives:

- with ``{dataset}`` in it, one database per dataset: ``sqlite:///var/systems/{dataset}.db`` or
  ``postgresql://db.internal/{dataset}``; tables are named as they are;
- a PostgreSQL URL without it: one database, one schema per dataset (``"shop"."orders"``);
- a SQLite URL without it names a folder, which holds one file per dataset.

``overrides`` place single datasets elsewhere (``{"shop": "postgresql://erp/shop"}``). Datasets on
the same database share one connection and one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from pledge.datamap.checks import SAFE_IDENTIFIER
from pledge.datamap.graph import DataMap
from pledge.settings import Settings
from pledge.store import make_engine

PLACEHOLDER = "{dataset}"


def default_systems_url(settings: Settings) -> str:
    """Where the customer systems live when nothing says otherwise: one SQLite file per dataset under the data dir."""
    return f"sqlite:///{(settings.data_dir / 'systems').as_posix()}/{PLACEHOLDER}.db"


def quote(name: str) -> str:
    """A checked identifier in double quotes (standard SQL, understood by SQLite and PostgreSQL)."""
    if not SAFE_IDENTIFIER.match(name):
        raise ValueError(f"unsafe SQL identifier {name!r}")
    return f'"{name}"'


@dataclass(frozen=True)
class Location:
    """Where one dataset lives: a database URL and, on a shared PostgreSQL database, a schema."""

    url: str
    schema: str | None

    def table(self, name: str) -> str:
        """The quoted, qualified name of a table of this dataset."""
        return f"{quote(self.schema)}.{quote(name)}" if self.schema else quote(name)


def resolve(dataset: str, url: str) -> Location:
    """Where ``dataset`` lives under the systems URL ``url``."""
    if not SAFE_IDENTIFIER.match(dataset):
        raise ValueError(f"unsafe dataset id {dataset!r}")
    if PLACEHOLDER in url:
        return Location(url.replace(PLACEHOLDER, dataset), None)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        folder = Path(parsed.database or ".")
        return Location(f"sqlite:///{(folder / f'{dataset}.db').as_posix()}", None)
    return Location(url, dataset)


class Systems:
    """Engines for the datasets of a data map, opened lazily and shared per database URL."""

    def __init__(self, locations: Mapping[str, Location], engines: Mapping[str, Engine] | None = None) -> None:
        self.locations = dict(locations)
        self._engines: dict[str, Engine] = dict(engines or {})

    @classmethod
    def from_url(cls, datasets: Iterable[str], url: str, overrides: Mapping[str, str] | None = None) -> Systems:
        """Place each dataset under the systems URL, or at its override."""
        overrides = overrides or {}
        return cls({d: resolve(d, overrides.get(d, url)) for d in datasets})

    @classmethod
    def for_datamap(cls, datamap: DataMap, url: str, overrides: Mapping[str, str] | None = None) -> Systems:
        """Every dataset of the data map, placed under the systems URL (or at its override)."""
        return cls.from_url([d.id for d in datamap.datasets], url, overrides)

    def location(self, dataset: str) -> Location:
        try:
            return self.locations[dataset]
        except KeyError:
            raise KeyError(f"no database is configured for dataset {dataset!r}") from None

    def engine(self, dataset: str) -> Engine:
        """The engine of the database ``dataset`` lives on (one per URL)."""
        url = self.location(dataset).url
        engine = self._engines.get(url)
        if engine is None:
            engine = make_engine(url)
            self._engines[url] = engine
        return engine

    def use_engine(self, url: str, engine: Engine) -> None:
        """Use this engine for a database URL (tests wrap one to fail on purpose)."""
        self._engines[url] = engine

    def table(self, dataset: str, table: str) -> str:
        return self.location(dataset).table(table)

    def groups(self, order: Iterable[str]) -> list[tuple[str, list[str]]]:
        """Datasets grouped by database URL, the groups in the order their first dataset comes in ``order``."""
        grouped: dict[str, list[str]] = {}
        for dataset in order:
            grouped.setdefault(self.location(dataset).url, []).append(dataset)
        return list(grouped.items())

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def __enter__(self) -> Systems:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()
