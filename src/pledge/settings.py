"""Settings from the environment (prefix ``PLEDGE_``), shared by the CLI, the server and workers."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLEDGE_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Folder for the SQLite database, outbox and exports.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of pledge's own database; defaults to sqlite:///<data_dir>/pledge.db.")
    policy_dir: Path = Field(default=Path("policies/panasonic"), description="The policy folder to load.")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pledge.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead."""
    return Settings()
