"""The declarative base every table of pledge inherits from."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

#: Deterministic constraint names, so migrations can drop and alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every pledge table; its metadata is what Alembic compares migrations against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def import_all_models() -> MetaData:
    """Import every ``pledge.<domain>.models`` module so ``Base.metadata`` knows every table."""
    import pledge

    # Walk the files, not pkgutil: a domain folder without __init__.py is still a (namespace) package.
    for root in map(Path, pledge.__path__):
        for path in sorted(root.rglob("models.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" not in parts:
                importlib.import_module(".".join(("pledge", *parts)))
    return Base.metadata


ModelT = TypeVar("ModelT", bound=Base)


def unattached(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """An instance of ``model`` holding ``values`` as the ORM holds what it loads, in no session.

    Why: rows read straight through the driver (the consent ledger's hot path) are handed on as the
    models the rest of the code reads. The constructor fires an attribute event per column (about
    20 microseconds for a consent event); the ORM's own loading writes the values into the
    instance's dictionary, and so does this. The columns read as given; the instance is not meant
    for a session.
    """
    instance: ModelT = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(values)
    return instance
