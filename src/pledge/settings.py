"""Settings from the environment (prefix ``PLEDGE_``), shared by the CLI, the server and workers."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MailSettings(BaseSettings):
    """Outgoing mail (verification codes, answers to rights requests): SMTP, or files in an outbox folder."""

    model_config = SettingsConfigDict(env_prefix="PLEDGE_MAIL_", extra="ignore")

    backend: Literal["smtp", "outbox"] = Field(
        default="outbox", description="smtp sends through the server below; outbox writes .eml files to outbox_dir.")
    host: str = Field(default="127.0.0.1", description="SMTP server host.")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    security: Literal["none", "starttls", "ssl"] = Field(
        default="none", description="none, starttls (upgrade a plain connection) or ssl (TLS from the start).")
    username: str | None = Field(default=None, description="SMTP login, when the server asks for one.")
    password: SecretStr | None = Field(default=None, description="SMTP password.")
    sender: str = Field(default="privacy@example.com", description="The From address of every message.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="How long to wait for the SMTP server.")
    outbox_dir: Path | None = Field(default=None, description="Outbox folder; default <data_dir>/outbox.")


class RightsSettings(BaseSettings):
    """Rights requests: verification codes, signed package links, approval and record keeping."""

    model_config = SettingsConfigDict(env_prefix="PLEDGE_RIGHTS_", extra="ignore")

    secret_key: SecretStr | None = Field(
        default=None, description="HMAC key for package links and one-time codes; when unset, a random key is "
        "created once in <data_dir>/secret_key. Set the same value on every server and worker.")
    public_url: str = Field(default="http://127.0.0.1:8000",
                            description="Base URL people reach the API at; package links in emails start with it.")
    link_ttl_hours: int = Field(default=168, ge=1, description="How long a package download link works, in hours.")
    code_ttl_minutes: int = Field(default=30, ge=1, description="How long a one-time verification code works.")
    code_max_attempts: int = Field(
        default=5, ge=1, description="Wrong codes allowed before verification fails and the request is denied.")
    approval_required: list[str] = Field(
        default=["deletion", "rectification"],
        description="Request types whose execution waits for staff approval of the dry-run plan.")
    due_soon_days: int = Field(default=7, ge=0, description="A request due within this many days is 'due soon'.")
    record_retention_months: int = Field(
        default=24, ge=24, description="Closed requests and their log are kept this long (11 CCR § 7101(a): at "
        "least 24 months), then purged.")
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024,
                                  description="Largest agent permission or signed declaration accepted.")
    package_dir: Path | None = Field(default=None,
                                     description="Folder for response packages; default <data_dir>/packages.")
    datasets_dir: Path = Field(default=Path("datasets/panasonic"),
                               description="Dataset annotations the executor walks for access, erasure, rectification.")
    systems_url: str | None = Field(
        default=None, description="Where the company's databases are, '{dataset}' standing for each dataset; "
        "default: SQLite files under <data_dir>/systems (what `pledge demo build` writes).")


class JobSettings(BaseSettings):
    """The background job queue: SQL-backed by default, Redis-backed for several workers."""

    model_config = SettingsConfigDict(env_prefix="PLEDGE_JOBS_", extra="ignore")

    backend: Literal["sql", "redis"] = Field(
        default="sql", description="sql polls the job table; redis hands job ids to waiting workers.")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis server of the redis backend.")
    redis_prefix: str = Field(default="pledge:jobs", description="Prefix of every Redis key the queue uses.")
    poll_seconds: float = Field(default=1.0, gt=0, description="How long an idle worker waits before looking again.")
    lease_seconds: int = Field(
        default=300, ge=5, description="A running job whose worker has not reported for this long is run again.")
    max_attempts: int = Field(default=3, ge=1, description="Runs of a failing job before it is marked failed.")


class ProcessorSettings(BaseSettings):
    """Signed webhooks telling processors (service providers) what to delete or stop (GDPR Art. 19)."""

    model_config = SettingsConfigDict(env_prefix="PLEDGE_PROCESSORS_", extra="ignore")

    max_attempts: int = Field(
        default=8, ge=1, description="Deliveries tried per notification before it is marked failed.")
    backoff_seconds: float = Field(
        default=30.0, ge=0, description="Wait before the first retry; it doubles with every failed attempt.")
    max_backoff_seconds: float = Field(default=3600.0, ge=0, description="The longest wait between two attempts.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="How long to wait for a processor's answer.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLEDGE_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Folder for the SQLite database, outbox and exports.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of pledge's own database; defaults to sqlite:///<data_dir>/pledge.db.")
    policy_dir: Path = Field(default=Path("policies/panasonic"), description="The policy folder to load.")
    mail: MailSettings = Field(default_factory=MailSettings, description="PLEDGE_MAIL_*: outgoing mail.")
    rights: RightsSettings = Field(default_factory=RightsSettings, description="PLEDGE_RIGHTS_*: rights requests.")
    jobs: JobSettings = Field(default_factory=JobSettings, description="PLEDGE_JOBS_*: the job queue.")
    processors: ProcessorSettings = Field(default_factory=ProcessorSettings,
                                          description="PLEDGE_PROCESSORS_*: webhooks to processors.")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pledge.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead."""
    return Settings()
